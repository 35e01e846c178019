"""The voting record service's work, apart from Dramatiq: store a ballot, or give it up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from concurrent.futures import Future
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
from election.votes import InvalidVote, parse_record

log = structlog.get_logger(__name__)

#: The latest moment Python's datetime can hold; later timestamps are clamped to it.
_MAX_EPOCH_S = 253402300799


def _insert_statement() -> str:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` for one ballot, from the model."""
    now = dt.datetime.now(dt.UTC)
    query = (
        BallotRow.insert(
            uuid="", election_id="", machine_id="", choice=0, cast_at=now, recorded_at=now
        )
        .on_conflict_ignore()
        .returning(BallotRow.id)
    )
    sql = str(query.sql()[0])
    # handle() binds the values in this order.
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
        # Peewee writes the statement once; building it per vote was a seventh of the
        # recorder's CPU. Values are bound as parameters.
        self._insert_sql = _insert_statement()

    def handle(
        self,
        data: bytes,
        attributes: Mapping[str, str],
        message_id: str,
        pending: list[Future[str]] | None = None,
    ) -> None:
        """Process one ``record vote`` message (``pending``: see Publisher.publish_or_defer)."""
        try:
            self.verifier.verify(data, attributes)
        except BadSignature as forged:
            log.warning(
                "record.forged",
                reason=str(forged),
                message_id=message_id,
                machine_id=attributes.get(protocol.MACHINE_ID),
            )
            return
        try:
            ballot = parse_record(data, attributes, choices=self.choices)
        except InvalidVote as invalid:
            reject(self.publisher, invalid, message_id, stage="recorder")
            return
        # Each worker thread keeps its own connection between messages (checking one out
        # of the pool per message cost a fifth of the recorder's CPU); a connection that
        # failed is closed, so the retry opens a fresh one.
        self.database.connect(reuse_if_open=True)
        try:
            cursor = self.database.execute_sql(
                self._insert_sql,
                (
                    ballot.uuid,
                    ballot.election_id,
                    ballot.machine_id,
                    ballot.choice,
                    dt.datetime.fromtimestamp(min(ballot.timestamp / 1000, _MAX_EPOCH_S), dt.UTC),
                    dt.datetime.now(dt.UTC),
                ),
            )
            inserted = cursor.fetchone()
        except (peewee.OperationalError, peewee.InterfaceError):
            self.database.close()
            raise
        self.publisher.publish_or_defer(
            protocol.result_message(ballot.machine_id, ballot.uuid, protocol.RESULT_SUCCESSFUL),
            pending,
        )
        log.info(
            "vote.recorded",
            uuid=ballot.uuid,
            election_id=ballot.election_id,
            machine_id=ballot.machine_id,
            choice=ballot.choice,
            message_id=message_id,
            duplicate=inserted is None,
        )

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
