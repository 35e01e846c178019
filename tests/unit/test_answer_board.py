"""Tests for the machine's AnswerBoard: ballots waiting for answers, resolved by threads."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pytest

from election.domain.outcomes import Kind, Outcome
from election.machine.board import AnswerBoard

RECORDED = Outcome(Kind.RECORDED)
ALREADY = Outcome(Kind.ALREADY_VOTED)
THREADS = 16
JOIN_TIMEOUT_S = 30
T = TypeVar("T")


def run_together(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` on ``count`` threads released at once by a barrier; return results."""
    barrier = threading.Barrier(count)

    def start(index: int) -> T:
        barrier.wait(timeout=JOIN_TIMEOUT_S)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(start, index) for index in range(count)]
        return [future.result(timeout=JOIN_TIMEOUT_S) for future in futures]


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


def test_an_answer_to_an_awaited_ballot_is_current_and_resolves_its_future() -> None:
    board = AnswerBoard()
    future = board.expect("u-1")

    assert not future.done()
    assert board.resolve("u-1", RECORDED) == "current"
    assert future.result(timeout=0) == RECORDED


def test_an_answer_to_a_ballot_never_sent_is_foreign() -> None:
    board = AnswerBoard()
    future = board.expect("u-1")

    assert board.resolve("someone-else", RECORDED) == "foreign"
    assert not future.done()


def test_an_answer_after_giving_up_is_late_and_resolves_nothing() -> None:
    board = AnswerBoard()
    future = board.expect("u-1")
    board.give_up("u-1")

    assert board.resolve("u-1", RECORDED) == "late"
    assert not future.done()


def test_every_repeat_of_a_late_answer_is_still_late() -> None:
    board = AnswerBoard()
    board.expect("u-1")
    board.give_up("u-1")

    assert [board.resolve("u-1", RECORDED) for _ in range(3)] == ["late"] * 3


def test_a_second_answer_to_an_answered_ballot_is_late_not_current() -> None:
    board = AnswerBoard()
    future = board.expect("u-1")
    board.resolve("u-1", RECORDED)

    assert board.resolve("u-1", ALREADY) == "late"
    assert future.result(timeout=0) == RECORDED


def test_giving_up_on_a_ballot_never_awaited_makes_its_answer_late() -> None:
    board = AnswerBoard()
    board.give_up("u-1")

    assert board.resolve("u-1", RECORDED) == "late"


def test_ballots_are_resolved_independently() -> None:
    board = AnswerBoard()
    first, second, third = (board.expect(f"u-{i}") for i in range(3))
    board.give_up("u-2")

    assert board.resolve("u-1", ALREADY) == "current"
    assert board.resolve("u-0", RECORDED) == "current"
    assert board.resolve("u-2", RECORDED) == "late"
    assert (first.result(timeout=0), second.result(timeout=0)) == (RECORDED, ALREADY)
    assert not third.done()


def test_expect_returns_a_fresh_future_each_time() -> None:
    board = AnswerBoard()

    assert isinstance(board.expect("u-1"), Future)
    assert board.expect("u-1") is not board.expect("u-2")


# --------------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------------


def test_many_threads_resolving_different_ballots_resolve_each_exactly_once() -> None:
    board = AnswerBoard()
    per_thread = 200
    uuids = [f"u-{i}" for i in range(THREADS * per_thread)]
    futures = {uuid: board.expect(uuid) for uuid in uuids}

    def resolve_share(index: int) -> list[str]:
        share = uuids[index * per_thread : (index + 1) * per_thread]
        return [board.resolve(uuid, RECORDED) for uuid in share]

    results = run_together(THREADS, resolve_share)

    assert Counter(kind for batch in results for kind in batch) == {"current": len(uuids)}
    assert all(future.result(timeout=0) == RECORDED for future in futures.values())


@pytest.mark.parametrize("round_", range(20))
def test_many_threads_answering_the_same_ballot_make_exactly_one_current(round_: int) -> None:
    board = AnswerBoard()
    future = board.expect("u-1")
    outcomes = [RECORDED if i % 2 else ALREADY for i in range(THREADS)]

    results = run_together(THREADS, lambda i: board.resolve("u-1", outcomes[i]))

    assert Counter(results) == {"current": 1, "late": THREADS - 1}
    assert future.result(timeout=0) == outcomes[results.index("current")]


def test_giving_up_while_answers_arrive_makes_each_ballot_current_or_late_never_both() -> None:
    board = AnswerBoard()
    count = 2000
    uuids = [f"u-{i}" for i in range(count)]
    futures = {uuid: board.expect(uuid) for uuid in uuids}

    def work(index: int) -> list[tuple[str, str]]:
        # Threads 0 and 1 share the even ballots, 2 and 3 the odd ones; in each pair one
        # thread gives up on them front to back while the other answers them back to front.
        share = uuids[index // 2 :: 2]
        if index % 2:
            return [(uuid, board.resolve(uuid, RECORDED)) for uuid in reversed(share)]
        for uuid in share:
            board.give_up(uuid)
        return []

    results = dict(pair for batch in run_together(4, work) for pair in batch)

    assert set(results) == set(uuids)
    for uuid, kind in results.items():
        assert kind in ("current", "late")
        assert futures[uuid].done() is (kind == "current")


def test_the_board_forgets_the_oldest_finished_ballots_beyond_its_memory() -> None:
    board = AnswerBoard()
    board.REMEMBERED = 3
    for n in range(5):
        board.give_up(f"u-{n}")

    assert board.resolve("u-0", RECORDED) == "foreign"
    assert board.resolve("u-4", RECORDED) == "late"
