"""The voting logger's work, apart from Dramatiq: dedup a vote, release a given-up ballot,
give up on a vote, replay a dead-lettered record."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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

    def handle_many(
        self,
        votes: Sequence[tuple[bytes, Mapping[str, str], str]],
        outbox: list[protocol.OutgoingMessage] | None = None,
    ) -> None:
        """Process ``(data, attributes, message_id)`` votes in order: all their claims
        go to Redis in one round trip, and all their answers in one publish (or, given an
        ``outbox``, into it for the caller to publish)."""
        sending: list[protocol.OutgoingMessage] = [] if outbox is None else outbox
        ballots: list[tuple[Ballot, bytes, str]] = []
        for data, attributes, message_id in votes:
            try:
                ballot = parse_submission(data, attributes, choices=self.choices)
            except InvalidVote as invalid:
                reject(sending, invalid, message_id, stage="logger")
                continue
            assert ballot.voter_id is not None
            token = voter_token(self.voter_key, ballot.election_id, ballot.voter_id)
            ballots.append((ballot, token, message_id))
        claims = self.claims.claim_many([(b.election_id, token, b.uuid) for b, token, _ in ballots])
        for (ballot, _, message_id), claim in zip(ballots, claims, strict=True):
            self._settle(ballot, message_id, claim, sending)
        if outbox is None:
            self.publisher.publish_many(sending)

    def _settle(
        self,
        ballot: Ballot,
        message_id: str,
        claim: Claim,
        outbox: list[protocol.OutgoingMessage],
    ) -> None:
        fields = {
            "uuid": ballot.uuid,
            "election_id": ballot.election_id,
            "machine_id": ballot.machine_id,
            "message_id": message_id,
        }
        if claim is Claim.TAKEN:
            outbox.append(
                protocol.result_message(
                    ballot.machine_id, ballot.uuid, protocol.RESULT_ALREADY_VOTED
                )
            )
            log.info("vote.repeat", **fields)
        elif claim is Claim.RELEASED:
            outbox.append(
                protocol.result_message(
                    ballot.machine_id,
                    ballot.uuid,
                    f"{protocol.RESULT_REJECTED_PREFIX} this ballot was given up earlier; "
                    "vote again",
                )
            )
            log.info("vote.given_up_ballot_again", **fields)
        else:
            outbox.append(self.record(ballot))
            log.info("vote.accepted", redelivered=claim is Claim.SAME, **fields)

    def record(self, ballot: Ballot) -> protocol.OutgoingMessage:
        """The signed ``record vote`` for a claimed ballot (without the voter)."""
        message = protocol.OutgoingMessage(
            body=ballot.record_body(),
            attributes={
                protocol.FUNCTION: protocol.RECORD_VOTE,
                protocol.MACHINE_ID: ballot.machine_id,
            },
        )
        return message.with_attributes(self.signer.attributes(message.data()))

    def release(self, data: bytes, attributes: Mapping[str, str], message_id: str) -> None:
        """Process a ``release claim`` event: free the voter, then tell the machine."""
        try:
            self.verifier.verify(data, attributes)
            release = parse_release(data, attributes)
        except (BadSignature, InvalidVote) as exc:
            log.warning("release.refused", reason=str(exc), message_id=message_id)
            return
        freed = self.claims.release(release.election_id, release.uuid)
        self.publisher.publish(
            protocol.result_message(
                release.machine_id,
                release.uuid,
                f"{protocol.RESULT_REJECTED_PREFIX} not recorded ({release.reason}); "
                "the voter may vote again",
            )
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
        self.publisher.publish(
            protocol.result_message(
                ballot.machine_id,
                ballot.uuid,
                f"{protocol.RESULT_REJECTED_PREFIX} not processed ({letter.error}); "
                "the voter may vote again",
            )
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
            self.publisher.publish(
                protocol.result_message(
                    ballot.machine_id,
                    ballot.uuid,
                    f"{protocol.RESULT_REJECTED_PREFIX} the voter has voted again since",
                )
            )
            log.warning("replay.refused", uuid=ballot.uuid, reason="the voter voted again")
            return
        self.publisher.publish(self.record(ballot))
        log.info("replay.forwarded", uuid=ballot.uuid, election_id=ballot.election_id)


def reject(
    outbox: list[protocol.OutgoingMessage], invalid: InvalidVote, message_id: str, *, stage: str
) -> None:
    """Answer a malformed message to its machine if it can be identified, else drop it."""
    if invalid.machine_id is None:
        log.warning("vote.dropped", stage=stage, reason=invalid.reason, message_id=message_id)
        return
    outbox.append(
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
