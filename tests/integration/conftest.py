"""Fixtures for tests against the machine's real PostgreSQL: a schema per test."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Iterator

import pytest
from playhouse.pool import PooledPostgresqlDatabase

from actors.recording import VoteRecorder
from config import load_settings
from election.models import create_schema, open_database
from election.signing import Signer, Verifier
from tests.support.fakes import KeepingDeadLetters, RecordingPublisher

#: The key the test recorder signs and verifies records with.
RECORD_KEYS = {"k1": b"s" * 16}


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


@pytest.fixture
def recorder(
    database: PooledPostgresqlDatabase,
) -> tuple[VoteRecorder, RecordingPublisher, KeepingDeadLetters]:
    publisher, letters = (
        RecordingPublisher(),
        KeepingDeadLetters("OperationalError: the database is down"),
    )
    keys = RECORD_KEYS
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
