"""The voting logger's give-up path, with in-memory stand-ins for Redis and Pub/Sub."""

from __future__ import annotations

import base64
import json
from typing import Any

from actors.dedup import VoteLogger
from election.signing import Signer, Verifier
from tests.support.fakes import KeepingDeadLetters, RecordingPublisher

VOTE = {
    "machine_ID": 3,
    "voter_ID": 4711,
    "voting": 2,
    "election_ID": 9,
    "UUID": "u-1",
    "timestamp": 5,
}


class Claims:
    def __init__(self) -> None:
        self.released: list[tuple[str, str]] = []

    def release(self, election_id: str, uuid: str) -> bool:
        self.released.append((election_id, uuid))
        return True


def logger() -> tuple[VoteLogger, Claims, RecordingPublisher, KeepingDeadLetters]:
    claims, publisher, letters = (
        Claims(),
        RecordingPublisher(),
        KeepingDeadLetters("ConnectionError: Redis is down"),
    )
    vote_logger = VoteLogger(
        claims,
        publisher,
        letters,  # type: ignore[arg-type]
        voter_key=b"k" * 16,
        signer=Signer("k1", b"s" * 16),
        verifier=Verifier({"k1": b"s" * 16}),
        choices=5,
    )
    return vote_logger, claims, publisher, letters


def given_up(body: bytes) -> dict[str, Any]:
    return {
        "message_id": "m-1",
        "actor_name": "dedup_vote",
        "args": [base64.b64encode(body).decode(), {"function": "submit vote"}, "p-1"],
        "options": {"traceback": "ConnectionError: Redis is down"},
    }


def test_a_given_up_vote_frees_its_voter_and_tells_the_machine_to_vote_again() -> None:
    vote_logger, claims, publisher, _ = logger()

    vote_logger.give_up(given_up(json.dumps(VOTE).encode()), retries=20)

    assert claims.released == [("9", "u-1")]
    (answer,) = publisher.sent
    assert answer.attributes == {"function": "result", "machineID": "3"}
    assert answer.body["UUID"] == "u-1"
    assert answer.body["result"].startswith("rejected: not processed")
    assert "vote again" in answer.body["result"]


def test_a_given_up_vote_is_dead_lettered_without_its_voter_id() -> None:
    vote_logger, _, _, letters = logger()

    vote_logger.give_up(given_up(json.dumps(VOTE).encode()), retries=20)

    (kept,) = letters.kept
    body = json.loads(base64.b64decode(kept["args"][0]))
    assert "voter_ID" not in body and body["UUID"] == "u-1"
    assert "4711" not in json.dumps(kept)


def test_a_given_up_message_that_is_not_a_vote_is_only_dead_lettered() -> None:
    vote_logger, claims, publisher, letters = logger()

    vote_logger.give_up(given_up(b"not json"), retries=20)

    assert len(letters.kept) == 1 and claims.released == [] and publisher.sent == []
