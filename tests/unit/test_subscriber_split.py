"""What a FilteredSubscriber keeps and drops of one pull, and what it logs of the drops.

No server is contacted: the pull's messages are built here as the raw protobufs a Pull
returns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from google.cloud import pubsub_v1
from google.pubsub_v1.types import pubsub as types
from structlog.testing import LogCapture

from config import load_settings
from election.domain.filters import parse_filter
from election.pubsub import subscriber as subscriber_module
from election.pubsub.client import subscriber_client
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage

_Received = types.ReceivedMessage.pb()
_Message = types.PubsubMessage.pb()


def received(function: str, n: int) -> object:
    """One pulled message whose ``function`` attribute is ``function``."""
    return _Received(
        ack_id=f"ack-{n}",
        message=_Message(data=b"{}", attributes={"function": function}, message_id=str(n)),
    )


def ignore(messages: list[PulledMessage]) -> None:
    raise AssertionError("nothing is delivered here")


@pytest.fixture
def client() -> Iterator[pubsub_v1.SubscriberClient]:
    # The channel connects lazily: building a subscriber contacts no server.
    made = subscriber_client(load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:9"}))
    yield made
    made.close()


def split_with(
    wrapper_class: type, client: pubsub_v1.SubscriberClient, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], list[str], list[dict[str, object]]]:
    """Split a pull of two votes and three other messages, logging through
    ``wrapper_class``: the kept message IDs, the dropped ack IDs, and the log events."""
    capture = LogCapture()
    logger = structlog.wrap_logger(None, processors=[capture], wrapper_class=wrapper_class)
    monkeypatch.setattr(subscriber_module, "log", logger)
    subscriber = FilteredSubscriber(
        client,
        "projects/p/subscriptions/logger",
        ignore,
        message_filter=parse_filter('attributes.function = "submit vote"'),
    )
    pull = [
        received("submit vote", 1),
        received("record vote", 2),
        received("result", 3),
        received("submit vote", 4),
        received("result", 5),
    ]
    kept, dropped = subscriber._split(pull)
    return [m.message_id for m in kept], dropped, capture.entries


def test_a_pull_keeps_what_the_filter_selects_and_drops_the_rest(
    client: pubsub_v1.SubscriberClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = structlog.make_filtering_bound_logger(logging.INFO)
    kept, dropped, _ = split_with(info, client, monkeypatch)
    assert kept == ["1", "4"]
    assert dropped == ["ack-2", "ack-3", "ack-5"]


def test_each_dropped_message_is_logged_when_debug_is_on(
    client: pubsub_v1.SubscriberClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    debug = structlog.make_filtering_bound_logger(logging.DEBUG)
    _, _, events = split_with(debug, client, monkeypatch)
    assert [(e["event"], e["message_id"], e["function"]) for e in events] == [
        ("message.filtered_out", "2", "record vote"),
        ("message.filtered_out", "3", "result"),
        ("message.filtered_out", "5", "result"),
    ]


def test_at_info_a_dropped_message_costs_no_debug_call(
    client: pubsub_v1.SubscriberClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A filtered-out debug() still builds its arguments; at INFO it must not be called.
    called: list[str] = []
    info = structlog.make_filtering_bound_logger(logging.INFO)

    class CountingDebugCalls(info):  # type: ignore[misc, valid-type]
        def debug(self, event: str, *args: object, **kw: object) -> None:
            called.append(event)

    split_with(CountingDebugCalls, client, monkeypatch)
    assert called == []
