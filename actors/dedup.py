"""The voting logger's work on one ``submit vote`` message, apart from Dramatiq."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from actors.claims import Claim, VoterClaims
from election import protocol
from election.pubsub import Publisher
from election.votes import InvalidVote, parse_submission

log = structlog.get_logger(__name__)


class VoteLogger:
    """Validates a vote, claims its voter, and passes it on or answers ``Already voted``.

    Every publish is awaited: if it fails, the exception makes Dramatiq retry the message,
    and the retry finds the claim as ``SAME`` and publishes again, so nothing is lost.
    """

    def __init__(self, claims: VoterClaims, publisher: Publisher, *, choices: int) -> None:
        self.claims = claims
        self.publisher = publisher
        self.choices = choices

    def handle(self, data: bytes, attributes: Mapping[str, str], message_id: str) -> None:
        """Process one ``submit vote`` message."""
        try:
            ballot = parse_submission(data, attributes, choices=self.choices)
        except InvalidVote as invalid:
            reject(self.publisher, invalid, message_id, stage="logger")
            return
        assert ballot.voter_id is not None
        claim = self.claims.claim(ballot.election_id, ballot.voter_id, ballot.uuid)
        if claim is Claim.TAKEN:
            self.publisher.publish(
                protocol.result_message(
                    ballot.machine_id, ballot.uuid, protocol.RESULT_ALREADY_VOTED
                )
            )
            log.info(
                "vote.repeat",
                uuid=ballot.uuid,
                election_id=ballot.election_id,
                machine_id=ballot.machine_id,
                message_id=message_id,
            )
            return
        self.publisher.publish(
            protocol.OutgoingMessage(
                body=ballot.record_body(),
                attributes={
                    protocol.FUNCTION: protocol.RECORD_VOTE,
                    protocol.MACHINE_ID: ballot.machine_id,
                },
            )
        )
        log.info(
            "vote.accepted",
            uuid=ballot.uuid,
            election_id=ballot.election_id,
            machine_id=ballot.machine_id,
            message_id=message_id,
            redelivered=claim is Claim.SAME,
        )


def reject(publisher: Publisher, invalid: InvalidVote, message_id: str, *, stage: str) -> None:
    """Answer a malformed message to its machine if it can be identified, else drop it."""
    if invalid.machine_id is None:
        log.warning("vote.dropped", stage=stage, reason=invalid.reason, message_id=message_id)
        return
    publisher.publish(
        protocol.rejection_message(invalid.machine_id, invalid.uuid or "", invalid.reason)
    )
    log.warning(
        "vote.rejected",
        stage=stage,
        reason=invalid.reason,
        machine_id=invalid.machine_id,
        uuid=invalid.uuid,
        message_id=message_id,
    )
