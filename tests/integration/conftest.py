"""Fixtures for tests against the machine's real PostgreSQL (a schema per test) and the
emulator (a topic and subscription per test)."""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playhouse.pool import PooledPostgresqlDatabase

from actors.ballots import BallotTable
from actors.claims import VoterClaims
from actors.dead_letters import DeadLetters
from actors.dedup import VoteLogger
from actors.recording import VoteRecorder
from actors.seal import Watermark, establish_seal
from config import Settings, load_settings
from election.domain import protocol
from election.domain.ed25519 import new_private_key
from election.domain.secrecy import VoterSecrets
from election.domain.signing import Signer, Verifier
from election.pubsub.calls import PubSubCalls
from election.pubsub.client import (
    publisher_client,
    subscriber_client,
    subscription_path,
    topic_path,
)
from election.storage.models import create_schema, open_database
from election.storage.redis_client import connect_redis
from tests.support.fakes import RecordingPublisher
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


@dataclass
class Services:
    """The voting logger's and the record service's work on real Redis and PostgreSQL,
    answers kept by a recording publisher (no Pub/Sub, no Dramatiq)."""

    logger: VoteLogger
    recorder: VoteRecorder
    publisher: RecordingPublisher
    letters: DeadLetters
    claims: VoterClaims
    ballots: BallotTable
    secrets: VoterSecrets
    signer: Signer
    namespace: str

    def submit(
        self, voter: int | str, uuid: str, *, election: int | str = 7, choice: int = 1
    ) -> list[protocol.OutgoingMessage]:
        """One ``submit vote`` through the logger; what it published."""
        body = {
            "machine_ID": 4,
            "voter_ID": voter,
            "voting": choice,
            "election_ID": election,
            "UUID": uuid,
            "timestamp": 1,
        }
        outbox: list[protocol.OutgoingMessage] = []
        data = json.dumps(body).encode()
        self.logger.handle_many([(data, {protocol.FUNCTION: protocol.SUBMIT_VOTE}, "p")], outbox)
        return outbox

    def store(self, messages: list[protocol.OutgoingMessage]) -> list[protocol.OutgoingMessage]:
        """Hand the ``record vote`` messages among ``messages`` to the recorder; the
        answers, with the logger's own answers among ``messages`` first."""
        answers = [m for m in messages if m.attributes.get(protocol.FUNCTION) == protocol.RESULT]
        records = [
            (m.data(), dict(m.attributes), f"r{n}")
            for n, m in enumerate(messages)
            if m.attributes.get(protocol.FUNCTION) == protocol.RECORD_VOTE
        ]
        if records:
            self.recorder.handle_many(records, answers)
        return answers

    def vote(self, voter: int | str, uuid: str, **kwargs: object) -> str:
        """A vote all the way: the one answer its machine gets."""
        (answer,) = self.store(self.submit(voter, uuid, **kwargs))  # type: ignore[arg-type]
        return str(answer.body["result"])


@pytest.fixture
def services(database: PooledPostgresqlDatabase) -> Iterator[Services]:
    settings = load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"})
    client = connect_redis(settings.redis_url)
    namespace = f"t{uuidlib.uuid4().hex[:12]}"
    voter_secrets = VoterSecrets(b"v" * 32)
    seal, floor, problems = establish_seal(client, database, namespace, voter_secrets.key_check)
    assert problems == []
    claims = VoterClaims(client, namespace, seal)
    claims.floor = floor
    ballots = BallotTable(database)
    publisher = RecordingPublisher()
    letters = DeadLetters(client, namespace)
    signer = Signer("k1", RECORD_KEYS["k1"], namespace, 3600)
    yield Services(
        VoteLogger(
            claims,
            ballots,
            publisher,  # type: ignore[arg-type]
            letters,
            Watermark(database, namespace, floor),
            secrets=voter_secrets,
            signer=signer,
            choices=5,
            stale_s=30,
        ),
        VoteRecorder(
            ballots,
            publisher,  # type: ignore[arg-type]
            letters,
            verifier=Verifier(RECORD_KEYS, namespace),
            choices=5,
        ),
        publisher,
        letters,
        claims,
        ballots,
        voter_secrets,
        signer,
        namespace,
    )
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def settings(emulator_host: str) -> Settings:
    name = f"calls{secrets.token_hex(4)}"
    return load_settings(
        {
            "PUBSUB_EMULATOR_HOST": emulator_host,
            "GOOGLE_CLOUD_PROJECT": "election-test",
            "ELECTION_TOPIC": name,
            "LOG_SIGNING_KEY": new_private_key(),
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
