"""Batches of votes: each handled on its own, a failing one sent on alone."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from concurrent.futures import Future

from dramatiq.middleware import TimeLimitExceeded

from actors.batch import run_batch


def args(n: int) -> list[object]:
    return [base64.b64encode(f"vote {n}".encode()).decode(), {"function": "submit vote"}, f"m{n}"]


def test_every_vote_of_a_batch_is_handled_and_its_publishes_awaited_together() -> None:
    handled: list[bytes] = []
    futures: list[Future[str]] = []

    def handle(data: bytes, attributes: Mapping[str, str], mid: str, pending: list) -> None:
        handled.append(data)
        future: Future[str] = Future()
        futures.append(future)
        pending.append(future)
        future.set_result("published")

    alone: list[tuple[object, ...]] = []
    run_batch([args(1), args(2), args(3)], handle, lambda *a: alone.append(a))

    assert handled == [b"vote 1", b"vote 2", b"vote 3"]
    assert alone == []


def test_a_vote_that_raises_goes_on_alone_and_the_others_are_unaffected() -> None:
    handled: list[bytes] = []

    def handle(data: bytes, attributes: Mapping[str, str], mid: str, pending: list) -> None:
        if data == b"vote 2":
            raise ConnectionError("redis down")
        handled.append(data)

    alone: list[tuple[object, ...]] = []
    run_batch([args(1), args(2), args(3)], handle, lambda *a: alone.append(a))

    assert handled == [b"vote 1", b"vote 3"]
    assert alone == [tuple(args(2))]


def test_a_vote_whose_publish_fails_goes_on_alone() -> None:
    def handle(data: bytes, attributes: Mapping[str, str], mid: str, pending: list) -> None:
        future: Future[str] = Future()
        if data == b"vote 1":
            future.set_exception(TimeoutError("publish not confirmed"))
        else:
            future.set_result("ok")
        pending.append(future)

    alone: list[tuple[object, ...]] = []
    run_batch([args(1), args(2)], handle, lambda *a: alone.append(a))

    assert alone == [tuple(args(1))]


def test_an_interrupted_batch_sends_every_vote_on_alone_and_goes_on_interrupted() -> None:
    def handle(data: bytes, attributes: Mapping[str, str], mid: str, pending: list) -> None:
        if data == b"vote 2":
            raise TimeLimitExceeded()

    alone: list[tuple[object, ...]] = []
    try:
        run_batch([args(1), args(2), args(3)], handle, lambda *a: alone.append(a))
    except TimeLimitExceeded:
        pass
    else:
        raise AssertionError("the interruption was swallowed")
    assert alone == [tuple(args(n)) for n in (1, 2, 3)]
