"""How the bridge cuts a pull into Dramatiq messages, and when it acks or nacks them."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.router import FIRST_BATCH, MAX_BATCH, Route, batch_bounds
from election.subscriber import PulledMessage


def sizes(count: int) -> list[int]:
    """The batch sizes a pull of ``count`` matching messages goes out in."""
    return [b.stop - b.start for b in batch_bounds(count)]


def test_a_pull_goes_out_as_a_small_first_batch_then_large_ones() -> None:
    assert sizes(250) == [FIRST_BATCH, MAX_BATCH, MAX_BATCH, 250 - FIRST_BATCH - 2 * MAX_BATCH]


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, []), (1, [1]), (FIRST_BATCH, [FIRST_BATCH]), (FIRST_BATCH + 1, [FIRST_BATCH, 1])],
)
def test_a_small_pull_takes_as_few_batches_as_it_needs(count: int, expected: list[int]) -> None:
    assert sizes(count) == expected


def test_every_message_of_a_pull_is_in_exactly_one_batch_in_order() -> None:
    for count in range(0, 3 * MAX_BATCH):
        covered = [i for b in batch_bounds(count) for i in range(count)[b]]
        assert covered == list(range(count))
        assert all(0 < b.stop - b.start <= MAX_BATCH for b in batch_bounds(count))


@pytest.mark.parametrize(("first", "most"), [(0, MAX_BATCH), (FIRST_BATCH, 0), (-1, -1)])
def test_batch_sizes_below_one_are_refused(first: int, most: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        batch_bounds(10, first, most)


class RecordingActor:
    """Stands in for a Dramatiq actor: records each batch sent, fails the ones asked to."""

    actor_name = "recording"

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.failing = failing
        self.sent: list[list[Any]] = []

    def send(self, batch: list[Any]) -> None:
        index = len(self.sent)
        self.sent.append(batch)
        if index in self.failing:
            raise ConnectionError("broker gone")


def pulled(count: int) -> list[PulledMessage]:
    """``count`` pulled ``submit vote`` messages, none settled yet."""
    return [
        PulledMessage(f"vote {i}".encode(), {"function": "submit vote"}, f"m{i}", f"a{i}")
        for i in range(count)
    ]


def test_messages_are_acked_once_their_batches_are_enqueued() -> None:
    actor = RecordingActor()
    messages = pulled(FIRST_BATCH + MAX_BATCH + 1)

    Route("logger", actor, actor).forward_batch(messages)  # type: ignore[arg-type]

    assert [len(batch) for batch in actor.sent] == [FIRST_BATCH, MAX_BATCH, 1]
    assert [args[2] for batch in actor.sent for args in batch] == [m.message_id for m in messages]
    assert all(m.acked is True for m in messages)


def test_a_failed_enqueue_nacks_only_its_own_batch_and_the_rest_go_on() -> None:
    actor = RecordingActor(failing=frozenset({1}))
    messages = pulled(FIRST_BATCH + MAX_BATCH + 1)

    Route("logger", actor, actor).forward_batch(messages)  # type: ignore[arg-type]

    assert len(actor.sent) == 3
    assert all(m.acked is True for m in messages[:FIRST_BATCH])
    assert all(m.acked is False for m in messages[FIRST_BATCH : FIRST_BATCH + MAX_BATCH])
    assert messages[-1].acked is True
