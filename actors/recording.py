"""The voting record service's work on one ``record vote`` message, apart from Dramatiq."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import peewee
import structlog

from actors.dedup import reject
from election import protocol
from election.models import Ballot as BallotRow
from election.pubsub import Publisher
from election.votes import InvalidVote, parse_record

log = structlog.get_logger(__name__)


class VoteRecorder:
    """Stores a ballot (once per UUID) and answers ``successful`` to its machine."""

    def __init__(self, database: peewee.Database, publisher: Publisher, *, choices: int) -> None:
        self.database = database
        self.publisher = publisher
        self.choices = choices

    def handle(self, data: bytes, attributes: Mapping[str, str], message_id: str) -> None:
        """Process one ``record vote`` message."""
        try:
            ballot = parse_record(data, attributes, choices=self.choices)
        except InvalidVote as invalid:
            reject(self.publisher, invalid, message_id, stage="recorder")
            return
        with self.database.connection_context():
            inserted = (
                BallotRow.insert(
                    uuid=ballot.uuid,
                    election_id=ballot.election_id,
                    machine_id=ballot.machine_id,
                    choice=ballot.choice,
                    cast_at=dt.datetime.fromtimestamp(
                        min(ballot.timestamp / 1000, 253402300799), dt.UTC
                    ),
                )
                .on_conflict_ignore()
                .execute()
            )
        self.publisher.publish(
            protocol.result_message(ballot.machine_id, ballot.uuid, protocol.RESULT_SUCCESSFUL)
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
