"""What the bridge enqueues for each entry of the route table, and what it does when the
broker refuses: the Dramatiq messages are those the actors' own ``send(batch)`` would
make, so the workers see no difference. No server is contacted: the broker is Dramatiq's
in-memory StubBroker, and the Pub/Sub channels are never used."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from actors.payload import to_args
from bridge.router import FIRST_BATCH, Route
from bridge.service import Bridge
from config import Settings, load_settings
from election.domain.ed25519 import new_private_key
from election.domain.routes import ROUTES
from election.domain.routes import Route as TableRoute
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage

NAMESPACE = "fwd"


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        {
            "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
            "ELECTION_NAMESPACE": NAMESPACE,
            "LOG_SIGNING_KEY": new_private_key(),
        }
    )


@pytest.fixture
def broker() -> StubBroker:
    made = StubBroker()
    for entry in ROUTES:
        made.declare_queue(entry.queue(NAMESPACE))
    return made


def bridge_of(settings: Settings, broker: dramatiq.Broker) -> Iterator[Bridge]:
    made = Bridge(settings, broker)
    yield made
    made.client.close()
    made.publisher.transport.close()


@pytest.fixture
def bridge(settings: Settings, broker: StubBroker) -> Iterator[Bridge]:
    yield from bridge_of(settings, broker)


@pytest.fixture
def refusing(settings: Settings) -> Iterator[Bridge]:
    """A bridge whose broker knows none of the queues: every enqueue fails."""
    yield from bridge_of(settings, StubBroker())


def pulled(count: int, function: str) -> list[PulledMessage]:
    """``count`` pulled messages, none settled yet; the bodies are not valid UTF-8."""
    return [
        PulledMessage(b"\xff body %d" % i, {"function": function, "n": str(i)}, f"m{i}", f"a{i}")
        for i in range(count)
    ]


def subscriber_of(bridge: Bridge, entry: TableRoute) -> FilteredSubscriber:
    """The subscriber that pulls ``entry``'s subscription."""
    path = entry.subscription(NAMESPACE)
    (found,) = [s for s in bridge.subscribers if s.subscription.endswith(f"/{path}")]
    return found


@pytest.mark.parametrize("entry", ROUTES, ids=[entry.service for entry in ROUTES])
def test_each_route_enqueues_its_batch_to_its_actor_on_its_queue_then_acks(
    bridge: Bridge, broker: StubBroker, entry: TableRoute
) -> None:
    messages = pulled(3, "any")

    subscriber_of(bridge, entry).handler(messages)

    queue = broker.queues[entry.queue(NAMESPACE)]
    (sent,) = [dramatiq.Message.decode(queue.get_nowait()) for _ in range(queue.qsize())]
    assert (sent.queue_name, sent.actor_name) == (entry.queue(NAMESPACE), entry.actor)
    expected = [list(to_args(m.data, m.attributes, m.message_id)) for m in messages]
    assert sent.args == (expected,)
    assert (sent.kwargs, sent.options) == ({}, {})
    assert all(m.acked is True for m in messages)
    others = [q for name, q in broker.queues.items() if name != entry.queue(NAMESPACE)]
    assert all(q.empty() for q in others)


@pytest.mark.parametrize("entry", ROUTES, ids=[entry.service for entry in ROUTES])
def test_a_batch_is_the_message_the_actors_own_send_would_make(
    settings: Settings, entry: TableRoute
) -> None:
    broker = StubBroker()

    @dramatiq.actor(broker=broker, actor_name=entry.actor, queue_name=entry.queue(NAMESPACE))
    def actor(batch: list[Any]) -> None:
        """Stands in for the service's batch actor."""

    batch = [to_args(b"v", {"function": "submit vote"}, "m0")]

    made = Route.of(entry, settings.namespace, broker).message(batch)

    # What Actor.send(batch) enqueues (Actor.send_with_options -> message_with_options).
    wanted = actor.message_with_options(args=(batch,), kwargs={})
    ignored = {"message_id": "", "message_timestamp": 0}
    assert {**made.asdict(), **ignored} == {**wanted.asdict(), **ignored}


def test_a_failed_enqueue_nacks_its_whole_batch(refusing: Bridge) -> None:
    messages = pulled(FIRST_BATCH, "submit vote")  # one batch

    subscriber_of(refusing, ROUTES[0]).handler(messages)

    assert all(m.acked is False for m in messages)
