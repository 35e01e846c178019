"""Batches of votes: handled together, answers published together; on failure, split into
batches of one, and a batch of one raises (for its retries)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

import pytest
from dramatiq.middleware import TimeLimitExceeded

from actors.batch import run_batch
from election.domain.protocol import OutgoingMessage, result_message

Vote = tuple[bytes, Mapping[str, str], str]


def args(n: int) -> list[object]:
    return [base64.b64encode(f"vote {n}".encode()).decode(), {"function": "submit vote"}, f"m{n}"]


def answering(seen: list[Vote]):  # type: ignore[no-untyped-def]
    def handle_many(votes: Sequence[Vote], outbox: list[OutgoingMessage]) -> None:
        for vote in votes:
            seen.append(vote)
            outbox.append(result_message("1", vote[2], "successful"))

    return handle_many


def test_a_batch_is_handled_at_once_and_its_answers_go_out_in_one_publish() -> None:
    seen: list[Vote] = []
    publishes: list[list[OutgoingMessage]] = []
    sent: list[object] = []

    run_batch(
        [args(1), args(2), args(3)],
        answering(seen),
        lambda messages: publishes.append(list(messages)),
        sent.append,
    )

    assert [vote[0] for vote in seen] == [b"vote 1", b"vote 2", b"vote 3"]
    assert seen[0][1] == {"function": "submit vote"}
    assert len(publishes) == 1
    assert [m.body["UUID"] for m in publishes[0]] == ["m1", "m2", "m3"]
    assert sent == []


def test_when_handling_fails_each_vote_goes_on_as_a_batch_of_one_and_none_is_published() -> None:
    def handle_many(votes: Sequence[Vote], outbox: list[OutgoingMessage]) -> None:
        outbox.append(result_message("1", "m1", "successful"))
        raise ConnectionError("redis down")

    publishes: list[object] = []
    sent: list[object] = []
    run_batch([args(1), args(2)], handle_many, publishes.append, sent.append)

    assert publishes == []
    assert sent == [[args(1)], [args(2)]]


def test_when_the_publish_fails_every_vote_goes_on_as_a_batch_of_one() -> None:
    def publish(messages: Sequence[OutgoingMessage]) -> None:
        raise TimeoutError("publish not confirmed")

    sent: list[object] = []
    run_batch([args(1), args(2)], answering([]), publish, sent.append)

    assert sent == [[args(1)], [args(2)]]


def test_a_batch_of_one_that_fails_raises_for_its_retries_and_sends_nothing() -> None:
    def handle_many(votes: Sequence[Vote], outbox: list[OutgoingMessage]) -> None:
        raise ConnectionError("redis down")

    sent: list[object] = []
    with pytest.raises(ConnectionError):
        run_batch([args(1)], handle_many, list, sent.append)
    assert sent == []


def fails_interrupted(votes: Sequence[Vote], outbox: list[OutgoingMessage]) -> None:
    raise TimeLimitExceeded()


def test_an_interrupted_batch_sends_every_vote_on_alone_and_goes_on_interrupted() -> None:
    sent: list[object] = []
    with pytest.raises(TimeLimitExceeded):
        run_batch([args(1), args(2), args(3)], fails_interrupted, list, sent.append)
    assert sent == [[args(n)] for n in (1, 2, 3)]


def test_an_interrupted_batch_of_one_goes_on_interrupted_and_sends_nothing() -> None:
    sent: list[object] = []
    with pytest.raises(TimeLimitExceeded):
        run_batch([args(1)], fails_interrupted, list, sent.append)
    assert sent == []
