"""The record service's give-up path against the machine's real PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid as uuidlib
from typing import Any

from playhouse.pool import PooledPostgresqlDatabase

from actors.recording import VoteRecorder
from election import protocol
from election.models import Ballot
from tests.support.fakes import KeepingDeadLetters, RecordingPublisher


def given_up_record(uuid: str) -> dict[str, Any]:
    body = json.dumps(
        {"machine_ID": 4, "voting": 1, "election_ID": 7, "UUID": uuid, "timestamp": 1}
    ).encode()
    return {
        "message_id": "m-1",
        "actor_name": "record_vote",
        "args": [base64.b64encode(body).decode(), {"function": "record vote"}, "p-1"],
        "options": {"traceback": "peewee.OperationalError: the database is down"},
    }


def test_a_given_up_record_that_was_stored_after_all_is_answered_and_its_voter_kept(
    database: PooledPostgresqlDatabase,
    recorder: tuple[VoteRecorder, RecordingPublisher, KeepingDeadLetters],
) -> None:
    uuid = str(uuidlib.uuid4())
    with database.connection_context():
        Ballot.create(
            uuid=uuid, election_id="7", machine_id="4", choice=1, cast_at=dt.datetime.now(dt.UTC)
        )
    vote_recorder, publisher, letters = recorder

    vote_recorder.give_up(given_up_record(uuid), retries=20)

    (answer,) = publisher.sent
    assert answer.attributes[protocol.FUNCTION] == protocol.RESULT
    assert answer.body == {"result": protocol.RESULT_SUCCESSFUL, "UUID": uuid}
    assert letters.kept == []


def test_a_given_up_record_that_is_not_stored_is_dead_lettered_and_its_voter_released(
    database: PooledPostgresqlDatabase,
    recorder: tuple[VoteRecorder, RecordingPublisher, KeepingDeadLetters],
) -> None:
    uuid = str(uuidlib.uuid4())
    vote_recorder, publisher, letters = recorder

    vote_recorder.give_up(given_up_record(uuid), retries=20)

    (release,) = publisher.sent
    assert release.attributes[protocol.FUNCTION] == protocol.RELEASE_CLAIM
    assert release.body["UUID"] == uuid
    assert len(letters.kept) == 1
