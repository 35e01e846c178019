"""How a FilteredSubscriber gets past pulls that are too large and subscriptions that are
gone. No server is contacted: its calls are replaced by a script."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.types import pubsub as types

from config import load_settings
from election.domain.filters import parse_filter
from election.pubsub import subscriber as subscriber_module
from election.pubsub.client import subscriber_client
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage, PullSize, RecreateLater
from tests.support.processes import wait_for

_Response = types.PullResponse.pb()
_Received = types.ReceivedMessage.pb()
_Message = types.PubsubMessage.pb()


def error(kind: type[Exception], text: str) -> Exception:
    return kind(text)


class ScriptedCalls:
    """Stands in for ``PubSubCalls``: each pull's answer comes from ``answer(max_messages)``
    (a list of message IDs, or an exception to raise)."""

    def __init__(self, answer: Callable[[int], list[str] | Exception]) -> None:
        self.answer = answer
        self.sizes: list[int] = []
        self.acked: list[str] = []
        self._lock = threading.Lock()

    def pull(self, subscription: str, max_messages: int, timeout: float) -> Any:
        with self._lock:
            self.sizes.append(max_messages)
            answer = self.answer(max_messages)
        if isinstance(answer, Exception):
            raise answer
        return _Response(
            received_messages=[
                _Received(ack_id=f"ack-{n}", message=_Message(data=b"{}", message_id=n))
                for n in answer
            ]
        )

    def acknowledge(self, subscription: str, ack_ids: list[str], timeout: float) -> None:
        with self._lock:
            self.acked += ack_ids

    def modify_ack_deadline(
        self, subscription: str, ack_ids: list[str], seconds: int, timeout: float
    ) -> None:
        raise AssertionError("nothing is nacked here")


class Collected:
    """A batch handler that acks and keeps the message IDs it is given."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, messages: list[PulledMessage]) -> None:
        with self._lock:
            self.ids += [m.message_id for m in messages]
        for message in messages:
            message.ack()

    def count(self) -> int:
        with self._lock:
            return len(self.ids)


@pytest.fixture
def client() -> Iterator[pubsub_v1.SubscriberClient]:
    # The channel connects lazily: building a subscriber contacts no server.
    made = subscriber_client(load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:9"}))
    yield made
    made.close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscriber_module, "BACKOFF_MIN_S", 0.01)
    monkeypatch.setattr(subscriber_module, "BACKOFF_MAX_S", 0.02)


def scripted(
    client: pubsub_v1.SubscriberClient,
    calls: ScriptedCalls,
    handler: Collected,
    *,
    threads: int = 1,
    on_not_found: Callable[[], bool] | None = None,
) -> FilteredSubscriber:
    subscriber = FilteredSubscriber(
        client,
        "projects/p/subscriptions/s",
        handler,
        message_filter=parse_filter(""),
        threads=threads,
        start_delay_s=0,
        on_not_found=on_not_found,
    )
    subscriber.calls = calls  # type: ignore[assignment]
    return subscriber


def run_until(subscriber: FilteredSubscriber, condition: Callable[[], object], what: str) -> None:
    subscriber.start()
    try:
        wait_for(condition, 10, what, interval=0.005)
    finally:
        subscriber.stop(timeout=10)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pulls_are_full_size_until_a_response_is_too_large() -> None:
    clock = Clock()
    size = PullSize(100, small_for_s=60, clock=clock)
    assert size.next() == 100
    assert size.too_large() is True
    assert size.next() == 1


def test_small_pulls_last_their_period_from_the_last_response_that_was_too_large() -> None:
    clock = Clock()
    size = PullSize(100, small_for_s=60, clock=clock)
    size.too_large()
    clock.now += 50
    assert size.too_large() is False  # extends the period already running
    clock.now += 59
    assert size.next() == 1
    clock.now += 1
    assert size.next() == 100


def test_a_pull_too_large_for_the_channel_falls_back_to_one_message_at_a_time(
    client: pubsub_v1.SubscriberClient,
) -> None:
    backlog = [str(n) for n in range(30)]

    def answer(max_messages: int) -> list[str] | Exception:
        if max_messages > 1:
            return error(api_exceptions.ResourceExhausted, "Received message larger than max")
        return [backlog.pop(0)] if backlog else error(api_exceptions.DeadlineExceeded, "idle")

    calls, collected = ScriptedCalls(answer), Collected()
    subscriber = scripted(client, calls, collected)
    run_until(subscriber, lambda: collected.count() == 30, "the 30 messages")

    assert collected.ids == [str(n) for n in range(30)]
    assert calls.sizes[0] == 100
    assert set(calls.sizes[1:]) == {1}
    assert subscriber.failure is None


def test_a_subscription_gone_is_fatal_without_a_hook(client: pubsub_v1.SubscriberClient) -> None:
    calls = ScriptedCalls(lambda _: error(api_exceptions.NotFound, "no subscription"))
    subscriber = scripted(client, calls, Collected(), threads=2)
    run_until(subscriber, lambda: subscriber.failure is not None, "the subscriber to fail")
    assert isinstance(subscriber.failure, api_exceptions.NotFound)
    assert not subscriber.running


def test_a_hook_that_recreates_the_subscription_lets_pulling_go_on(
    client: pubsub_v1.SubscriberClient,
) -> None:
    exists = threading.Event()
    recreated: list[int] = []

    def recreate() -> bool:
        recreated.append(1)
        exists.set()
        return True

    def answer(max_messages: int) -> list[str] | Exception:
        if not exists.is_set():
            return error(api_exceptions.NotFound, "no subscription")
        return ["after"] if len(recreated) == 1 and not collected.ids else []

    calls, collected = ScriptedCalls(answer), Collected()
    subscriber = scripted(client, calls, collected, threads=2, on_not_found=recreate)
    run_until(subscriber, lambda: collected.ids == ["after"], "the message after re-creation")

    assert subscriber.failure is None
    # Both threads found it gone; it was made again once.
    assert recreated == [1]


def test_a_hook_that_cannot_recreate_it_yet_is_asked_again(
    client: pubsub_v1.SubscriberClient,
) -> None:
    tries: list[int] = []

    def recreate() -> bool:
        tries.append(1)
        if len(tries) < 3:
            raise RecreateLater("the topic is missing")
        return True

    def answer(max_messages: int) -> list[str] | Exception:
        return error(api_exceptions.NotFound, "no subscription") if len(tries) < 3 else []

    subscriber = scripted(client, ScriptedCalls(answer), Collected(), on_not_found=recreate)
    run_until(subscriber, lambda: len(tries) >= 3, "three tries")
    assert subscriber.failure is None


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(False, id="the hook says stop"),
        pytest.param(error(api_exceptions.PermissionDenied, "no"), id="permission denied"),
        pytest.param(ValueError("a filter of another kind"), id="any other error"),
    ],
)
def test_a_hook_that_gives_up_stops_the_subscriber(
    client: pubsub_v1.SubscriberClient, outcome: bool | Exception
) -> None:
    def recreate() -> bool:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    calls = ScriptedCalls(lambda _: error(api_exceptions.NotFound, "no subscription"))
    subscriber = scripted(client, calls, Collected(), threads=2, on_not_found=recreate)
    run_until(subscriber, lambda: subscriber.failure is not None, "the subscriber to fail")
    assert not subscriber.running
    if isinstance(outcome, Exception):
        assert subscriber.failure is outcome


def test_permission_denied_stops_the_subscriber_even_with_a_hook(
    client: pubsub_v1.SubscriberClient,
) -> None:
    def recreate() -> bool:
        raise AssertionError("not a missing subscription")

    calls = ScriptedCalls(lambda _: error(api_exceptions.PermissionDenied, "denied"))
    subscriber = scripted(client, calls, Collected(), on_not_found=recreate)
    run_until(subscriber, lambda: subscriber.failure is not None, "the subscriber to fail")
    assert isinstance(subscriber.failure, api_exceptions.PermissionDenied)
