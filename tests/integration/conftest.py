"""Fixtures for tests against the machine's real PostgreSQL (a schema per test) and the
emulator (a topic and subscription per test)."""

from __future__ import annotations

import dataclasses
import secrets
import uuid as uuidlib
from collections.abc import Iterator

import pytest
from playhouse.pool import PooledPostgresqlDatabase

from actors.recording import VoteRecorder
from config import Settings, load_settings
from election.models import create_schema, open_database
from election.pubsub import publisher_client, subscriber_client, subscription_path, topic_path
from election.pubsub_calls import PubSubCalls
from election.signing import Signer, Verifier
from tests.support.fakes import KeepingDeadLetters, RecordingPublisher
from tests.support.pubsub import ACK_DEADLINE_S

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


@pytest.fixture
def settings(emulator_host: str) -> Settings:
    name = f"calls{secrets.token_hex(4)}"
    return load_settings(
        {
            "PUBSUB_EMULATOR_HOST": emulator_host,
            "GOOGLE_CLOUD_PROJECT": "election-test",
            "ELECTION_TOPIC": name,
        }
    )


@pytest.fixture
def subscription(settings: Settings) -> Iterator[tuple[PubSubCalls, str, str]]:
    publisher, subscriber = publisher_client(settings), subscriber_client(settings)
    topic = topic_path(settings)
    path = subscription_path(settings, f"{settings.topic}-sub")
    publisher.create_topic(name=topic, timeout=30)
    subscriber.create_subscription(
        name=path, topic=topic, ack_deadline_seconds=ACK_DEADLINE_S, timeout=30
    )
    yield PubSubCalls.of(subscriber), topic, path
    subscriber.delete_subscription(subscription=path, timeout=30)
    publisher.delete_topic(topic=topic, timeout=30)
    subscriber.close()
