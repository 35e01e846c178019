"""The voting record service's work, apart from Dramatiq: store a ballot, or give it up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import peewee
import structlog

from actors.dead_letters import DeadLetters
from actors.dedup import reject
from actors.payload import from_message
from election import protocol
from election.models import Ballot as BallotRow
from election.pubsub import Publisher
from election.signing import BadSignature, Signer, Verifier
from election.votes import Ballot, InvalidVote, parse_record

log = structlog.get_logger(__name__)

#: The latest moment Python's datetime can hold; later timestamps are clamped to it.
_MAX_EPOCH_S = 253402300799


def _insert_statement(rows: int) -> str:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING uuid`` for ``rows`` ballots, from the
    model (the models must be bound to a database)."""
    now = dt.datetime.now(dt.UTC)
    row = {
        "uuid": "",
        "election_id": "",
        "machine_id": "",
        "choice": 0,
        "cast_at": now,
        "recorded_at": now,
    }
    query = BallotRow.insert_many([row] * rows).on_conflict_ignore().returning(BallotRow.uuid)
    sql = str(query.sql()[0])
    # handle_many() binds the values in this order.
    columns = '("uuid", "election_id", "machine_id", "choice", "cast_at", "recorded_at")'
    if columns not in sql:
        raise RuntimeError(f"unexpected ballot insert: {sql}")
    return sql


class VoteRecorder:
    """Stores a ballot (once per UUID) and answers ``successful`` to its machine.

    Only ``record vote`` messages signed by the voting logger are accepted: anything else
    could be ballot stuffing, and is logged and dropped without a trace in the database.
    """

    def __init__(
        self,
        database: peewee.Database,
        publisher: Publisher,
        dead_letters: DeadLetters,
        *,
        verifier: Verifier,
        signer: Signer,
        choices: int,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.verifier = verifier
        self.signer = signer
        self.choices = choices
        # Peewee writes the statement once per batch size; building it per vote was a
        # seventh of the recorder's CPU. Values are bound as parameters.
        self._insert_sql: dict[int, str] = {}

    def handle_many(
        self,
        records: Sequence[tuple[bytes, Mapping[str, str], str]],
        outbox: list[protocol.OutgoingMessage] | None = None,
    ) -> None:
        """Store ``(data, attributes, message_id)`` records with one multi-row insert,
        then answer each in one publish (or, given an ``outbox``, into it for the caller
        to publish). A failure stores none of them, and raises."""
        sending: list[protocol.OutgoingMessage] = [] if outbox is None else outbox
        ballots: list[tuple[Ballot, str]] = []
        for data, attributes, message_id in records:
            try:
                self.verifier.verify(data, attributes)
            except BadSignature as forged:
                log.warning(
                    "record.forged",
                    reason=str(forged),
                    message_id=message_id,
                    machine_id=attributes.get(protocol.MACHINE_ID),
                )
                continue
            try:
                ballots.append((parse_record(data, attributes, choices=self.choices), message_id))
            except InvalidVote as invalid:
                reject(sending, invalid, message_id, stage="recorder")
        inserted = self._insert([ballot for ballot, _ in ballots])
        for ballot, message_id in ballots:
            sending.append(
                protocol.result_message(ballot.machine_id, ballot.uuid, protocol.RESULT_SUCCESSFUL)
            )
            log.info(
                "vote.recorded",
                uuid=ballot.uuid,
                election_id=ballot.election_id,
                machine_id=ballot.machine_id,
                choice=ballot.choice,
                message_id=message_id,
                duplicate=ballot.uuid not in inserted,
            )
        if outbox is None:
            self.publisher.publish_many(sending)

    def _insert(self, ballots: Sequence[Ballot]) -> set[str]:
        """Insert the ballots in one statement; the UUIDs that were new."""
        if not ballots:
            return set()
        sql = self._insert_sql.get(len(ballots))
        if sql is None:
            sql = self._insert_sql[len(ballots)] = _insert_statement(len(ballots))
        now = dt.datetime.now(dt.UTC)
        values: list[object] = []
        for ballot in ballots:
            cast_at = dt.datetime.fromtimestamp(min(ballot.timestamp / 1000, _MAX_EPOCH_S), dt.UTC)
            values += [
                ballot.uuid,
                ballot.election_id,
                ballot.machine_id,
                ballot.choice,
                cast_at,
                now,
            ]
        # Each worker thread keeps its own connection between messages (checking one out
        # of the pool per message cost a fifth of the recorder's CPU); a connection that
        # failed is closed, so the retry opens a fresh one.
        self.database.connect(reuse_if_open=True)
        try:
            cursor = self.database.execute_sql(sql, values)
            return {str(row[0]) for row in cursor.fetchall()}
        except (peewee.OperationalError, peewee.InterfaceError):
            self.database.close()
            raise

    def give_up(self, message: dict[str, Any], retries: int) -> None:
        """Retries of a record ran out: dead-letter it and ask the logger to free the voter.

        Unless the ballot is stored after all (its insert committed, then the answer could
        not be published; or another copy of it got through): then it is answered
        ``successful`` and its voter stays claimed. If the database cannot say, this
        raises, and Dramatiq retries the give-up, so a voter is never freed by guesswork.
        """
        data, attributes = from_message(message)
        try:
            ballot = parse_record(data, attributes, choices=self.choices)
        except InvalidVote:
            self.dead_letters.add(message, retries)
            return  # invalid records are answered at once and never retried
        self.database.connect(reuse_if_open=True)
        try:
            stored = BallotRow.select().where(BallotRow.uuid == ballot.uuid).exists()
        except (peewee.OperationalError, peewee.InterfaceError):
            self.database.close()
            raise
        if stored:
            self.publisher.publish(
                protocol.result_message(ballot.machine_id, ballot.uuid, protocol.RESULT_SUCCESSFUL)
            )
            log.warning("vote.recorded_after_all", uuid=ballot.uuid, retries=retries)
            return
        letter = self.dead_letters.add(message, retries)
        release = protocol.release_message(
            ballot.machine_id, ballot.election_id, ballot.uuid, letter.error[:200]
        )
        self.publisher.publish(release.with_attributes(self.signer.attributes(release.data())))
