"""The voting logger's work, apart from Dramatiq: dedup a vote, release a given-up ballot,
give up on a vote, replay a dead-lettered record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import structlog

from actors.claims import Claim, VoterClaims
from actors.dead_letters import DeadLetters
from actors.payload import from_message, with_body
from election import protocol
from election.pubsub import Publisher
from election.secrecy import voter_token
from election.signing import BadSignature, Signer, Verifier
from election.votes import (
    Ballot,
    InvalidVote,
    parse_record,
    parse_release,
    parse_submission,
)

log = structlog.get_logger(__name__)


class VoteLogger:
    """Validates a vote, claims its voter, and passes it on or answers ``Already voted``.

    Every publish is awaited: if it fails, the exception makes Dramatiq retry the message,
    and the retry finds the claim as ``SAME`` and publishes again, so nothing is lost.
    Voter IDs exist here only in memory: Redis sees keyed tokens, logs never see them.
    """

    def __init__(
        self,
        claims: VoterClaims,
        publisher: Publisher,
        dead_letters: DeadLetters,
        *,
        voter_key: bytes,
        signer: Signer,
        verifier: Verifier,
        choices: int,
    ) -> None:
        self.claims = claims
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.voter_key = voter_key
        self.signer = signer
        self.verifier = verifier
        self.choices = choices

    def handle(
        self,
        data: bytes,
        attributes: Mapping[str, str],
        message_id: str,
        pending: list[Future[str]] | None = None,
    ) -> None:
        """Process one ``submit vote`` message (``pending``: see Publisher.publish_or_defer)."""
        try:
            ballot = parse_submission(data, attributes, choices=self.choices)
        except InvalidVote as invalid:
            reject(self.publisher, invalid, message_id, stage="logger")
            return
        assert ballot.voter_id is not None
        token = voter_token(self.voter_key, ballot.election_id, ballot.voter_id)
        claim = self.claims.claim(ballot.election_id, token, ballot.uuid)
        fields = {
            "uuid": ballot.uuid,
            "election_id": ballot.election_id,
            "machine_id": ballot.machine_id,
            "message_id": message_id,
        }
        if claim is Claim.TAKEN:
            self._answer(ballot.machine_id, ballot.uuid, protocol.RESULT_ALREADY_VOTED, pending)
            log.info("vote.repeat", **fields)
        elif claim is Claim.RELEASED:
            self._answer(
                ballot.machine_id,
                ballot.uuid,
                f"{protocol.RESULT_REJECTED_PREFIX} this ballot was given up earlier; vote again",
                pending,
            )
            log.info("vote.given_up_ballot_again", **fields)
        else:
            self.forward(ballot, pending)
            log.info("vote.accepted", redelivered=claim is Claim.SAME, **fields)

    def forward(self, ballot: Ballot, pending: list[Future[str]] | None = None) -> None:
        """Publish the signed ``record vote`` for a claimed ballot (without the voter)."""
        message = protocol.OutgoingMessage(
            body=ballot.record_body(),
            attributes={
                protocol.FUNCTION: protocol.RECORD_VOTE,
                protocol.MACHINE_ID: ballot.machine_id,
            },
        )
        self.publisher.publish_or_defer(
            message.with_attributes(self.signer.attributes(message.data())), pending
        )

    def release(self, data: bytes, attributes: Mapping[str, str], message_id: str) -> None:
        """Process a ``release claim`` event: free the voter, then tell the machine."""
        try:
            self.verifier.verify(data, attributes)
            release = parse_release(data, attributes)
        except (BadSignature, InvalidVote) as exc:
            log.warning("release.refused", reason=str(exc), message_id=message_id)
            return
        freed = self.claims.release(release.election_id, release.uuid)
        self._answer(
            release.machine_id,
            release.uuid,
            f"{protocol.RESULT_REJECTED_PREFIX} not recorded ({release.reason}); "
            "the voter may vote again",
        )
        log.warning(
            "vote.released",
            uuid=release.uuid,
            election_id=release.election_id,
            machine_id=release.machine_id,
            freed=freed,
            reason=release.reason,
        )

    def give_up(self, message: dict[str, Any], retries: int) -> None:
        """Retries of a ``submit vote`` ran out: dead-letter it, free its voter, say so.

        The dead letter keeps the vote without its voter ID (ballot secrecy): it is for
        the operator to see, not to replay; the voter is told to vote again instead.
        """
        data, attributes = from_message(message)
        try:
            ballot = parse_submission(data, attributes, choices=self.choices)
        except InvalidVote:
            ballot = None
        kept = ballot.record_body() if ballot is not None else {}
        letter = self.dead_letters.add(with_body(message, json.dumps(kept).encode()), retries)
        if ballot is None:
            return  # nothing was claimed for it
        self.claims.release(ballot.election_id, ballot.uuid)
        self._answer(
            ballot.machine_id,
            ballot.uuid,
            f"{protocol.RESULT_REJECTED_PREFIX} not processed ({letter.error}); "
            "the voter may vote again",
        )

    def replay_record(self, message: dict[str, Any]) -> None:
        """An operator replays a dead-lettered record: claim its voter again, then forward.

        The record service gave the ballot up and its voter was freed; the voter may have
        voted since, so the ballot is recorded only if its claim can be taken back.
        """
        data, attributes = from_message(message)
        ballot = parse_record(data, attributes, choices=self.choices)
        try:
            claim = self.claims.reclaim(ballot.election_id, ballot.uuid)
        except LookupError:
            log.warning("replay.refused", uuid=ballot.uuid, reason="ballot link expired")
            return
        if claim is Claim.TAKEN:
            self._answer(
                ballot.machine_id,
                ballot.uuid,
                f"{protocol.RESULT_REJECTED_PREFIX} the voter has voted again since",
            )
            log.warning("replay.refused", uuid=ballot.uuid, reason="the voter voted again")
            return
        self.forward(ballot)
        log.info("replay.forwarded", uuid=ballot.uuid, election_id=ballot.election_id)

    def _answer(
        self, machine_id: str, uuid: str, result: str, pending: list[Future[str]] | None = None
    ) -> None:
        self.publisher.publish_or_defer(protocol.result_message(machine_id, uuid, result), pending)


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
