"""The system heals itself, against the real emulator: messages too large for one pull's
response, and subscriptions deleted while they are being pulled."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import grpc
import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

from config import Settings
from election.domain import protocol
from election.domain.filters import parse_filter
from election.domain.outcomes import Kind
from election.machine.board import Cast
from election.machine.voting import VotingMachine
from election.ops.log_signing import answer_signer
from election.pubsub.calls import PubSubCalls
from election.pubsub.client import subscriber_client
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage
from tests.support.processes import wait_for
from tests.support.pubsub import ACK_DEADLINE_S

#: A body of about 5 MB: two of them make a response larger than gRPC's default 4 MB.
LARGE = b"x" * (5 * 1000 * 1000)
SMALL = 60


@pytest.fixture
def client(settings: Settings) -> Iterator[pubsub_v1.SubscriberClient]:
    made = subscriber_client(settings)
    yield made
    made.close()


class Collector:
    """A batch handler that acks and keeps the bodies of what it is given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, messages: list[PulledMessage]) -> None:
        with self._lock:
            self.bodies += [m.data for m in messages]
        for message in messages:
            message.ack()

    def small(self) -> set[bytes]:
        with self._lock:
            return {body for body in self.bodies if len(body) < 100}


def collecting(
    client: pubsub_v1.SubscriberClient, path: str, **options: object
) -> tuple[FilteredSubscriber, Collector]:
    collected = Collector()
    subscriber = FilteredSubscriber(
        client,
        path,
        collected,
        message_filter=parse_filter(""),
        start_delay_s=0,
        **options,  # type: ignore[arg-type]
    )
    return subscriber, collected


def publish_backlog(calls: PubSubCalls, topic: str) -> set[bytes]:
    """Two large messages among ``SMALL`` small ones, all waiting; the small bodies."""
    small = [f"vote {n}".encode() for n in range(SMALL)]
    calls.publish(topic, [(body, {"function": "submit vote"}) for body in small[:20]], 30)
    calls.publish(topic, [(LARGE, {"function": "submit vote"})], 30)
    calls.publish(topic, [(body, {"function": "submit vote"}) for body in small[20:40]], 30)
    calls.publish(topic, [(LARGE, {"function": "record vote"})], 30)
    calls.publish(topic, [(body, {"function": "submit vote"}) for body in small[40:]], 30)
    return set(small)


def test_a_backlog_with_two_5_mb_messages_delivers_every_small_one(
    client: pubsub_v1.SubscriberClient, subscription: tuple[PubSubCalls, str, str]
) -> None:
    calls, topic, path = subscription
    expected = publish_backlog(calls, topic)
    subscriber, collected = collecting(client, path)
    subscriber.start()
    try:
        # With gRPC's default 4 MB limit, every pull of this backlog fails and none arrive.
        wait_for(lambda: collected.small() == expected, 20, f"the {SMALL} small messages")
    finally:
        subscriber.stop()
    assert subscriber.failure is None


def test_a_response_too_large_for_the_channel_is_pulled_one_message_at_a_time(
    settings: Settings, subscription: tuple[PubSubCalls, str, str]
) -> None:
    calls, topic, path = subscription
    expected = publish_backlog(calls, topic)
    # A channel that takes one large message, not two: every full-size pull is too large.
    limit = [("grpc.max_receive_message_length", 6 * 1024 * 1024)]
    assert settings.emulator_host
    channel = grpc.insecure_channel(settings.emulator_host, options=limit)
    narrow = pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
    subscriber, collected = collecting(narrow, path)
    subscriber.start()
    try:
        # The failed pull leased the whole backlog: it comes back after the ack deadline.
        wait_for(
            lambda: collected.small() == expected and len(collected.bodies) == SMALL + 2,
            ACK_DEADLINE_S + 30,
            f"the {SMALL} small and the 2 large messages",
        )
    finally:
        subscriber.stop()
        narrow.close()
    assert subscriber.failure is None


def test_a_deleted_subscription_is_recreated_by_the_hook_and_delivers_what_comes_after(
    client: pubsub_v1.SubscriberClient, subscription: tuple[PubSubCalls, str, str]
) -> None:
    calls, topic, path = subscription
    recreated = threading.Event()

    def recreate() -> bool:
        client.create_subscription(
            name=path, topic=topic, ack_deadline_seconds=ACK_DEADLINE_S, timeout=30
        )
        recreated.set()
        return True

    subscriber, collected = collecting(client, path, on_not_found=recreate)
    subscriber.start()
    try:
        calls.publish(topic, [(b"before", {})], 10)
        wait_for(lambda: collected.small() == {b"before"}, 10, "the first message")
        client.delete_subscription(subscription=path, timeout=30)
        assert recreated.wait(15), "the hook was not called"
        calls.publish(topic, [(b"after", {})], 10)
        wait_for(lambda: b"after" in collected.small(), 10, "the message published after")
    finally:
        subscriber.stop()
    assert subscriber.failure is None
    assert subscriber.running is False


def find_vote(calls: PubSubCalls, path: str, machine_id: str, within_s: float = 15.0) -> str:
    """The UUID of the next ``submit vote`` of ``machine_id`` on ``path`` (acked)."""
    found: list[str] = []

    def pulled() -> bool:
        try:
            received = calls.pull(path, 100, timeout=1.0).received_messages
        except api_exceptions.DeadlineExceeded:
            return False
        if received:
            calls.acknowledge(path, [r.ack_id for r in received], 10)
        for item in received:
            if item.message.attributes.get(protocol.FUNCTION) == protocol.SUBMIT_VOTE:
                body = json.loads(item.message.data)
                if str(body["machine_ID"]) == machine_id:
                    found.append(body["UUID"])
        return bool(found)

    wait_for(pulled, within_s, f"a vote from machine {machine_id}")
    return found[0]


def test_a_voting_machine_recreates_its_deleted_answer_subscription_and_gets_answers(
    settings: Settings,
    client: pubsub_v1.SubscriberClient,
    subscription: tuple[PubSubCalls, str, str],
) -> None:
    calls, topic, path = subscription
    machine = VotingMachine(settings, "heal-7", "e1")
    machine.open()
    try:
        own = machine.subscription
        client.delete_subscription(subscription=own, timeout=30)

        def exists() -> bool:
            try:
                client.get_subscription(subscription=own, timeout=10)
            except api_exceptions.NotFound:
                return False
            return True

        wait_for(exists, 20, "the machine's subscription to be made again", interval=0.1)
        found = client.get_subscription(subscription=own, timeout=10)
        assert found.filter == protocol.machine_filter("heal-7")
        assert found.topic == topic

        result: Future[Cast] = Future()
        voting = threading.Thread(
            target=lambda: result.set_result(machine.cast(1234, 1, timeout=20)), daemon=True
        )
        voting.start()
        uuid = find_vote(calls, path, "heal-7")
        unsigned = protocol.result_message("heal-7", uuid, protocol.RESULT_SUCCESSFUL)
        (answer,) = answer_signer(settings).sign([unsigned])  # as our services sign it
        calls.publish(topic, [(answer.data(), answer.attributes)], 10)
        cast = result.result(timeout=25)
    finally:
        machine.close()
    assert cast.uuid == uuid
    assert cast.outcome.kind is Kind.RECORDED
