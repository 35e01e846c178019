"""The record service's give-up path against the machine's real PostgreSQL."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import pytest
from playhouse.pool import PooledPostgresqlDatabase

from actors.recording import VoteRecorder
from config import load_settings
from election import protocol
from election.models import Ballot, create_schema, open_database
from election.signing import Signer, Verifier
from tests.support.fakes import KeepingDeadLetters, RecordingPublisher


@pytest.fixture
def database() -> Iterator[PooledPostgresqlDatabase]:
    schema = f"t{uuidlib.uuid4().hex[:12]}"
    settings = dataclasses.replace(
        load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}), database_schema=schema
    )
    db = open_database(settings, max_connections=2)
    create_schema(db, schema)
    yield db
    with db.connection_context():
        db.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    db.close_all()


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


def recorder(
    database: PooledPostgresqlDatabase,
) -> tuple[VoteRecorder, RecordingPublisher, KeepingDeadLetters]:
    publisher, letters = (
        RecordingPublisher(),
        KeepingDeadLetters("OperationalError: the database is down"),
    )
    keys = {"k1": b"s" * 16}
    return (
        VoteRecorder(
            database,
            publisher,
            letters,  # type: ignore[arg-type]
            verifier=Verifier(keys),
            signer=Signer("k1", keys["k1"]),
            choices=5,
        ),
        publisher,
        letters,
    )


def test_a_given_up_record_that_was_stored_after_all_is_answered_and_its_voter_kept(
    database: PooledPostgresqlDatabase,
) -> None:
    uuid = str(uuidlib.uuid4())
    with database.connection_context():
        Ballot.create(
            uuid=uuid, election_id="7", machine_id="4", choice=1, cast_at=dt.datetime.now(dt.UTC)
        )
    vote_recorder, publisher, letters = recorder(database)

    vote_recorder.give_up(given_up_record(uuid), retries=20)

    (answer,) = publisher.sent
    assert answer.attributes[protocol.FUNCTION] == protocol.RESULT
    assert answer.body == {"result": protocol.RESULT_SUCCESSFUL, "UUID": uuid}
    assert letters.kept == []


def test_a_given_up_record_that_is_not_stored_is_dead_lettered_and_its_voter_released(
    database: PooledPostgresqlDatabase,
) -> None:
    uuid = str(uuidlib.uuid4())
    vote_recorder, publisher, letters = recorder(database)

    vote_recorder.give_up(given_up_record(uuid), retries=20)

    (release,) = publisher.sent
    assert release.attributes[protocol.FUNCTION] == protocol.RELEASE_CLAIM
    assert release.body["UUID"] == uuid
    assert len(letters.kept) == 1
