"""How a FilteredSubscriber hands a pull's matches to its one handler: as one list, a
single message as a list of one, and what a handler leaves unsettled comes back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.cloud import pubsub_v1

from config import load_settings
from election.domain.filters import parse_filter
from election.pubsub.client import subscriber_client
from election.pubsub.subscriber import FilteredSubscriber, Handler, PulledMessage, one_by_one


@pytest.fixture
def client() -> Iterator[pubsub_v1.SubscriberClient]:
    # The channel connects lazily: building a subscriber contacts no server.
    made = subscriber_client(load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:9"}))
    yield made
    made.close()


def subscriber(client: pubsub_v1.SubscriberClient, handler: Handler) -> FilteredSubscriber:
    return FilteredSubscriber(
        client, "projects/p/subscriptions/s", handler, message_filter=parse_filter("")
    )


def pulled(count: int) -> list[PulledMessage]:
    return [PulledMessage(b"{}", {}, f"m{i}", f"a{i}") for i in range(count)]


def test_a_single_match_is_a_list_of_one_and_no_match_calls_nothing(
    client: pubsub_v1.SubscriberClient,
) -> None:
    given: list[list[str]] = []
    made = subscriber(client, lambda messages: given.append([m.message_id for m in messages]))

    made._deliver(pulled(1))
    made._deliver([])

    assert given == [["m0"]]


def test_a_handler_that_raises_gets_what_it_left_unsettled_nacked(
    client: pubsub_v1.SubscriberClient,
) -> None:
    def handle(messages: list[PulledMessage]) -> None:
        messages[0].ack()
        raise RuntimeError("handler broke")

    messages = pulled(3)
    subscriber(client, handle)._deliver(messages)

    assert [m.acked for m in messages] == [True, False, False]


def test_one_message_that_fails_its_handler_is_nacked_and_the_others_go_on(
    client: pubsub_v1.SubscriberClient,
) -> None:
    def handle(message: PulledMessage) -> None:
        message.ack()
        if message.message_id == "m1":
            raise RuntimeError("handler broke")

    messages = pulled(3)
    subscriber(client, one_by_one(handle))._deliver(messages)

    assert [m.acked for m in messages] == [True, False, True]
