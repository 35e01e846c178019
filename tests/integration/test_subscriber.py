"""FilteredSubscriber against the real emulator: its start delay and what it hands over."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from google.cloud import pubsub_v1

from config import Settings
from election.domain.filters import parse_filter
from election.pubsub.calls import PubSubCalls
from election.pubsub.client import subscriber_client
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage


@pytest.fixture
def client(settings: Settings) -> Iterator[pubsub_v1.SubscriberClient]:
    made = subscriber_client(settings)
    yield made
    made.close()


def start_collecting(
    client: pubsub_v1.SubscriberClient, path: str, start_delay_s: float | None
) -> tuple[FilteredSubscriber, list[tuple[float, PulledMessage]], threading.Event]:
    arrived: list[tuple[float, PulledMessage]] = []
    first = threading.Event()

    def collect(messages: list[PulledMessage]) -> None:
        for message in messages:
            arrived.append((time.monotonic(), message))
            message.ack()
        first.set()

    subscriber = FilteredSubscriber(
        client,
        path,
        collect,
        message_filter=parse_filter(""),
        start_delay_s=start_delay_s,
    )
    return subscriber, arrived, first


def test_a_subscriber_pulls_nothing_before_its_start_delay(
    client: pubsub_v1.SubscriberClient, subscription: tuple[PubSubCalls, str, str]
) -> None:
    calls, topic, path = subscription
    calls.publish(topic, [(b"waiting", {"function": "a"})], 10)
    subscriber, arrived, first = start_collecting(client, path, start_delay_s=0.5)
    started = time.monotonic()
    subscriber.start()
    try:
        assert first.wait(10), "the message never arrived"
    finally:
        subscriber.stop()
    # Without the delay the waiting message comes back from the first pull, in a few ms.
    assert arrived[0][0] - started >= 0.5


def test_a_subscriber_stopped_during_its_start_delay_stops_at_once(
    client: pubsub_v1.SubscriberClient, subscription: tuple[PubSubCalls, str, str]
) -> None:
    _, _, path = subscription
    subscriber, _, _ = start_collecting(client, path, start_delay_s=30)
    subscriber.start()
    began = time.monotonic()
    subscriber.stop(timeout=10)
    assert time.monotonic() - began < 5
    assert not subscriber.running


def test_a_pulled_message_carries_its_publish_time(
    client: pubsub_v1.SubscriberClient, subscription: tuple[PubSubCalls, str, str]
) -> None:
    calls, topic, path = subscription
    before = time.time()
    calls.publish(topic, [(b"stamped", {"function": "a"})], 10)
    subscriber, arrived, first = start_collecting(client, path, 0.0)
    subscriber.start()
    try:
        assert first.wait(10), "the message never arrived"
    finally:
        subscriber.stop()
    # The emulator stamps in whole milliseconds, on this machine's clock.
    assert before - 0.002 <= arrived[0][1].publish_time <= time.time()
