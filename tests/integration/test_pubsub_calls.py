"""The raw hot-path Pub/Sub calls against the real emulator: publish, pull, ack, nack."""

from __future__ import annotations

import time

import grpc
import pytest
from google.api_core import exceptions as api_exceptions

from election.local.emulator import free_port
from election.pubsub.calls import PubSubCalls
from tests.support.pubsub import ACK_DEADLINE_S


def pull_all(calls: PubSubCalls, path: str, want: int, within_s: float = 10.0) -> list[object]:
    """Pull until ``want`` messages came (or the time is up)."""
    received: list[object] = []
    deadline = time.monotonic() + within_s
    while len(received) < want and time.monotonic() < deadline:
        try:
            received += list(calls.pull(path, 100, timeout=1.0).received_messages)
        except api_exceptions.DeadlineExceeded:
            continue
    return received


def test_published_messages_arrive_with_their_data_and_attributes(
    subscription: tuple[PubSubCalls, str, str],
) -> None:
    calls, topic, path = subscription

    ids = calls.publish(topic, [(b"one", {"function": "a"}), (b"two", {"function": "b"})], 10)

    received = pull_all(calls, path, 2)
    assert len(ids) == 2
    assert sorted((r.message.data, dict(r.message.attributes)) for r in received) == [  # type: ignore[attr-defined]
        (b"one", {"function": "a"}),
        (b"two", {"function": "b"}),
    ]


def test_an_acknowledged_message_is_not_delivered_again(
    subscription: tuple[PubSubCalls, str, str],
) -> None:
    calls, topic, path = subscription
    calls.publish(topic, [(b"once", {})], 10)
    (first,) = pull_all(calls, path, 1)

    calls.acknowledge(path, [first.ack_id], 10)  # type: ignore[attr-defined]
    calls.modify_ack_deadline(path, [first.ack_id], 0, 10)  # a late nack changes nothing

    assert pull_all(calls, path, 1, within_s=ACK_DEADLINE_S + 3) == []


def test_a_nacked_message_is_delivered_again_at_once(
    subscription: tuple[PubSubCalls, str, str],
) -> None:
    calls, topic, path = subscription
    calls.publish(topic, [(b"again", {})], 10)
    (first,) = pull_all(calls, path, 1)

    calls.modify_ack_deadline(path, [first.ack_id], 0, 10)

    (second,) = pull_all(calls, path, 1, within_s=ACK_DEADLINE_S - 3)
    assert second.message.message_id == first.message.message_id  # type: ignore[attr-defined]


def test_a_call_to_a_missing_subscription_raises_the_library_error(
    subscription: tuple[PubSubCalls, str, str],
) -> None:
    calls, _, path = subscription
    with pytest.raises(api_exceptions.NotFound):
        calls.pull(path + "-missing", 10, timeout=5)


def test_a_publish_nobody_answers_fails_with_deadline_exceeded_within_its_timeout() -> None:
    # Nothing listens on this port: every attempt is UNAVAILABLE and retried until the
    # one deadline; callers catch the library's call errors, so that is what comes out.
    calls = PubSubCalls(grpc.insecure_channel(f"127.0.0.1:{free_port()}"))
    started = time.monotonic()

    with pytest.raises(api_exceptions.DeadlineExceeded):
        calls.publish("projects/p/topics/t", [(b"x", {})], timeout=1.0)

    assert time.monotonic() - started < 5.0
