"""The record service storing a batch of records with one insert, on real PostgreSQL."""

from __future__ import annotations

import json
import uuid as uuidlib

from playhouse.pool import PooledPostgresqlDatabase

from actors.recording import VoteRecorder
from election import protocol
from election.models import Ballot
from election.signing import SIGNATURE, Signer
from tests.integration.conftest import RECORD_KEYS
from tests.support.fakes import KeepingDeadLetters, RecordingPublisher

Recorder = tuple[VoteRecorder, RecordingPublisher, KeepingDeadLetters]
SIGNER = Signer("k1", RECORD_KEYS["k1"])


def record(uuid: str, choice: int = 1, machine: int = 4) -> tuple[bytes, dict[str, str], str]:
    data = json.dumps(
        {"machine_ID": machine, "voting": choice, "election_ID": 7, "UUID": uuid, "timestamp": 1}
    ).encode()
    attributes = {protocol.FUNCTION: protocol.RECORD_VOTE, **SIGNER.attributes(data)}
    return data, attributes, f"m-{uuid}"


def stored(database: PooledPostgresqlDatabase) -> list[tuple[str, int]]:
    with database.connection_context():
        return [(b.uuid, b.choice) for b in Ballot.select().order_by(Ballot.id)]


def test_a_batch_of_records_is_stored_once_each_and_every_one_answered(
    database: PooledPostgresqlDatabase, recorder: Recorder
) -> None:
    vote_recorder, publisher, _ = recorder
    first, second = str(uuidlib.uuid4()), str(uuidlib.uuid4())

    # The second copy of ``first`` in the same batch is a redelivery: stored once.
    vote_recorder.handle_many([record(first, 1), record(second, 2), record(first, 1)])

    assert stored(database) == [(first, 1), (second, 2)]
    assert [m.body for m in publisher.sent] == [
        {"result": protocol.RESULT_SUCCESSFUL, "UUID": u} for u in (first, second, first)
    ]


def test_a_batch_after_a_redelivery_stores_only_what_is_new(
    database: PooledPostgresqlDatabase, recorder: Recorder
) -> None:
    vote_recorder, publisher, _ = recorder
    old, new = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    vote_recorder.handle_many([record(old)])

    vote_recorder.handle_many([record(old), record(new)])

    assert [uuid for uuid, _ in stored(database)] == [old, new]
    assert len(publisher.sent) == 3


def test_a_forged_record_in_a_batch_is_dropped_and_the_rest_stored(
    database: PooledPostgresqlDatabase, recorder: Recorder
) -> None:
    vote_recorder, publisher, _ = recorder
    good, forged = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    data, attributes, message_id = record(forged)
    attributes = {**attributes, SIGNATURE: "AAAA"}

    vote_recorder.handle_many([record(good), (data, attributes, message_id)])

    assert [uuid for uuid, _ in stored(database)] == [good]
    assert [m.body["UUID"] for m in publisher.sent] == [good]
