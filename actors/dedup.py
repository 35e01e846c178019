"""The voting logger's work, apart from Dramatiq: dedup a vote, or give up on one."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import peewee
import redis
import structlog

from actors.ballots import BallotTable
from actors.claims import Claim, ClaimBatch, ElectionClosed, StoreSuspended, VoterClaims
from actors.dead_letters import DeadLetters
from actors.election_book import ElectionBook, RegistrySource
from actors.election_feed import ElectionFeed
from actors.payload import from_message, vote_message, with_body
from actors.seal import Watermark, establish_seal
from config import Settings
from election.domain import protocol
from election.domain.ballot_rules import ElectionView, Undeclared, admit, closed_reason
from election.domain.secrecy import VoterSecrets
from election.domain.signing import BALLOT_REF, Signer
from election.domain.votes import Ballot, InvalidVote, check_choice, parse_submission
from election.ops.preflight import durability_problems
from election.pubsub.client import Publisher
from election.storage.close_barrier import close_at
from election.storage.models import BallotState

log = structlog.get_logger(__name__)


class Elections(Protocol):
    """What the logger asks of its election book (``actors.election_book``)."""

    def view(self, election_id: str) -> ElectionView | None: ...


class _Undeclared:
    """The book of a logger that knows no declared election."""

    def view(self, election_id: str) -> ElectionView | None:
        return None


@dataclass(frozen=True)
class _Vote:
    ballot: Ballot
    token: bytes
    tag: bytes
    message_id: str


class VoteLogger:
    """Validates a vote, claims its voter, and passes it on or answers ``Already voted``.

    ``Already voted`` is said only when the voter's earlier ballot is stored, or was
    claimed less than ``stale_s`` ago and so may still be on its way. When the earlier
    ballot is a tombstone (given up) or stayed away longer than that, the logger fences
    it (a tombstone under its reference, so a late copy can never be stored) and claims
    the voter for the new ballot. PostgreSQL decides each such race.

    Every publish is awaited: if it fails, the exception makes Dramatiq retry the message,
    and the retry finds the claim as ``SAME`` and publishes again, so nothing is lost.
    Voter IDs exist here only in memory: Redis sees keyed tokens, logs never see them.

    Before anything is claimed, each vote meets its election's rules (``elections``, this
    process's book: a dict lookup, no query): a refused vote is answered ``rejected:
    <reason>`` and claims nothing. Votes of undeclared elections follow ``undeclared``
    (``ELECTION_UNDECLARED``). The claim script then checks the election's close
    barrier, which a late book cannot miss (``Claim.CLOSED``).
    """

    def __init__(
        self,
        claims: VoterClaims,
        ballots: BallotTable,
        publisher: Publisher,
        dead_letters: DeadLetters,
        watermark: Watermark,
        *,
        secrets: VoterSecrets,
        signer: Signer,
        choices: int,
        stale_s: int,
        elections: Elections | None = None,
        undeclared: Undeclared = Undeclared.ACCEPT,
        feed: ElectionFeed | None = None,
    ) -> None:
        self.elections: Elections = elections or _Undeclared()
        self.undeclared = undeclared
        self.feed = feed
        self.claims = claims
        self.ballots = ballots
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.watermark = watermark
        self.secrets = secrets
        self.signer = signer
        self.choices = choices
        self.stale_s = stale_s

    def handle_many(
        self,
        votes: Sequence[tuple[bytes, Mapping[str, str], str]],
        outbox: list[protocol.OutgoingMessage] | None = None,
    ) -> None:
        """Process ``(data, attributes, message_id)`` votes in order: all their claims
        go to Redis in one round trip, and all their answers in one publish (or, given an
        ``outbox``, into it for the caller to publish)."""
        sending: list[protocol.OutgoingMessage] = [] if outbox is None else outbox
        parsed = [
            vote
            for data, attributes, message_id in votes
            if (vote := self._admitted(data, attributes, message_id, sending)) is not None
        ]
        batch = self.claims.claim_many([(v.ballot.election_id, v.token, v.tag) for v in parsed])
        if batch.problem:
            suspended = sum(r.claim is Claim.SUSPENDED for r in batch.results)
            log.critical("dedup.suspended", reason=batch.problem, votes=suspended, alarm=True)
        if batch.counted:
            self.claims.floor = self.watermark.advance(batch.counted)
        claims = self._settle_taken(parsed, batch)
        stored = self._fence_suspended(parsed, claims)
        for n, (vote, claim) in enumerate(zip(parsed, claims, strict=True)):
            if n in stored:  # a redelivery of a ballot stored before the store went wrong
                ballot = vote.ballot
                sending.append(
                    protocol.successful_message(ballot.machine_id, ballot.uuid, stored[n])
                )
                log.warning("vote.recorded_after_all", uuid=ballot.uuid, suspended=True)
            else:
                self._answer(vote, claim, sending, batch.problem)
        if outbox is None:
            self.publisher.publish_many(sending)

    def _admitted(
        self,
        data: bytes,
        attributes: Mapping[str, str],
        message_id: str,
        outbox: list[protocol.OutgoingMessage],
    ) -> _Vote | None:
        """The vote, if it is well formed and its election's rules let it be claimed;
        otherwise it is answered here (or dropped) and ``None``."""
        try:
            ballot = self._parse(data, attributes)
            view = self.elections.view(ballot.election_id)
            if view is None and self.undeclared is Undeclared.ACCEPT:
                check_choice(ballot, self.choices)  # today's rule: the global range
        except InvalidVote as invalid:
            reject(outbox, invalid, message_id, stage="logger")
            return None
        assert ballot.voter_id is not None
        token = self.secrets.voter_token(ballot.election_id, ballot.voter_id)
        refusal = admit(view, self.undeclared, ballot.choice, token)
        if refusal is not None:
            refused = InvalidVote(refusal, machine_id=ballot.machine_id, uuid=ballot.uuid)
            reject(outbox, refused, message_id, stage="logger")
            return None
        tag = self.secrets.ballot_tag(ballot.election_id, token, ballot.uuid)
        return _Vote(ballot, token, tag, message_id)

    def _parse(self, data: bytes, attributes: Mapping[str, str]) -> Ballot:
        """The vote, with any choice (its election's ballot decides); a malformed one
        raises with the reason of today's rules (the global range), as it always has."""
        try:
            return parse_submission(data, attributes, choices=None)
        except InvalidVote:
            parse_submission(data, attributes, choices=self.choices)
            raise  # not reached: the stricter parse raises too

    def close(self) -> None:
        """Stop this process's election feed (its subscription is deleted)."""
        if self.feed is not None:
            self.feed.close()

    def _settle_taken(self, votes: Sequence[_Vote], batch: ClaimBatch) -> list[Claim]:
        """Each vote's claim, after looking at the rows of the ballots that hold the
        voters of the ``TAKEN`` ones (one query for the batch)."""
        results = batch.results
        claims = [result.claim for result in results]
        taken = [i for i, result in enumerate(results) if result.claim is Claim.TAKEN]
        if not taken:
            return claims
        refs = {i: self.secrets.ballot_ref(results[i].held_tag) for i in taken}
        states = self.ballots.states(set(refs.values()))
        for i in taken:
            vote, result, ref = votes[i], results[i], refs[i]
            state = states.get(ref)
            if state is None and batch.now - result.claimed_at >= self.stale_s:
                # The earlier ballot never arrived: fence it, so it never can.
                if self.ballots.tombstone(ref, vote.ballot.election_id, BallotState.FENCED):
                    log.warning(
                        "vote.fenced",
                        election_id=vote.ballot.election_id,
                        waited_s=batch.now - result.claimed_at,
                    )
                state = self.ballots.states([ref]).get(ref)
            if state in BallotState.TOMBSTONES and self.ballots.supersede(ref):
                claims[i] = self._reclaim(vote, result.held)
        return claims

    def _fence_suspended(
        self, votes: Sequence[_Vote], claims: Sequence[Claim]
    ) -> dict[int, str | None]:
        """Fence the ballot of each vote refused as suspended (one statement), so that its
        answer, "not counted", stays true: Redis may hold a claim of it after all (made,
        but its answer lost when Redis died, then the claims restored), which without the
        fence would lock its voter out as "Already voted" for CLAIM_STALE_S, and let a
        redelivery of it be stored. The receipts of the ballots stored already, by index."""
        refs = {
            n: self.secrets.ballot_ref(votes[n].tag)
            for n, claim in enumerate(claims)
            if claim is Claim.SUSPENDED
        }
        rows = self.ballots.fence_many(
            {ref: votes[n].ballot.election_id for n, ref in refs.items()}
        )
        return {
            n: rows[ref].receipt
            for n, ref in refs.items()
            if ref in rows and rows[ref].state == BallotState.RECORDED
        }

    def _reclaim(self, vote: _Vote, held: bytes) -> Claim:
        """Claim the voter for ``vote`` in place of the tombstone ``held`` names."""
        try:
            if self.claims.reclaim(vote.ballot.election_id, vote.token, held, vote.tag):
                return Claim.NEW
        except StoreSuspended:
            return Claim.SUSPENDED
        except ElectionClosed:
            return Claim.CLOSED
        # Another copy of this very ballot may have been first (a redelivery in parallel).
        now = self.claims.holder(vote.ballot.election_id, vote.token)
        return Claim.SAME if now is not None and now.held_tag == vote.tag else Claim.TAKEN

    def _answer(
        self, vote: _Vote, claim: Claim, outbox: list[protocol.OutgoingMessage], problem: str
    ) -> None:
        ballot = vote.ballot
        fields = {
            "uuid": ballot.uuid,
            "election_id": ballot.election_id,
            "machine_id": ballot.machine_id,
            "message_id": vote.message_id,
        }
        if claim is Claim.SUSPENDED:
            outbox.append(
                protocol.rejection_message(
                    ballot.machine_id,
                    ballot.uuid,
                    f"voting is suspended: {problem or 'the dedup store cannot vouch for itself'}"
                    "; this vote was not counted, try again later",
                )
            )
            log.warning("vote.suspended", **fields)
        elif claim is Claim.CLOSED:
            reason = closed_reason(ballot.election_id)
            outbox.append(protocol.rejection_message(ballot.machine_id, ballot.uuid, reason))
            log.info("vote.closed", **fields)
        elif claim is Claim.TAKEN:
            outbox.append(
                protocol.result_message(
                    ballot.machine_id, ballot.uuid, protocol.RESULT_ALREADY_VOTED
                )
            )
            log.info("vote.repeat", **fields)
        else:
            outbox.append(self.record(ballot, vote.tag))
            log.info("vote.accepted", redelivered=claim is Claim.SAME, **fields)

    def record(self, ballot: Ballot, tag: bytes) -> protocol.OutgoingMessage:
        """The signed ``record vote`` for a claimed ballot (without the voter)."""
        message = protocol.OutgoingMessage(
            body=ballot.record_body(),
            attributes={
                protocol.FUNCTION: protocol.RECORD_VOTE,
                protocol.MACHINE_ID: ballot.machine_id,
                BALLOT_REF: self.secrets.ballot_ref(tag).hex(),
            },
        )
        return protocol.OutgoingMessage(
            message.body, self.signer.attributes(message.data(), message.attributes)
        )

    def give_up(self, message: dict[str, Any], retries: int) -> None:
        """Retries of a ``submit vote`` ran out: fence its ballot, dead-letter it, say so.

        The fence (a tombstone under the ballot's reference) means a record of it that is
        still on its way can never be stored, so the voter can truly vote again. If the
        ballot was stored after all, the machine is told so. The dead letter keeps the
        vote without its voter ID (ballot secrecy): it is for the operator to see, not to
        replay. Errors of the database or Redis make Dramatiq retry this, for as long as
        they last (``actors.retrying``).

        ``message`` is Dramatiq's (``asdict()`` form) of a batch of one vote, or of one
        vote alone (a give-up from before batches of one).
        """
        message = vote_message(message)
        data, attributes = from_message(message)
        try:
            # Any choice: a declared election's ballot may be larger than ELECTION_CHOICES.
            ballot = parse_submission(data, attributes, choices=None)
        except InvalidVote:
            self.dead_letters.add(with_body(message, b"{}"), retries)
            return  # answered when it was refused, and nothing was claimed for it
        assert ballot.voter_id is not None
        token = self.secrets.voter_token(ballot.election_id, ballot.voter_id)
        tag = self.secrets.ballot_tag(ballot.election_id, token, ballot.uuid)
        ref = self.secrets.ballot_ref(tag)
        if not self.ballots.tombstone(ref, ballot.election_id, BallotState.FENCED):
            row = self.ballots.rows([ref]).get(ref)
            if row is not None and row.state == BallotState.RECORDED:
                self.publisher.publish(
                    protocol.successful_message(ballot.machine_id, ballot.uuid, row.receipt)
                )
                log.warning("vote.recorded_after_all", uuid=ballot.uuid, retries=retries)
                return
        kept = json.dumps(ballot.record_body()).encode()
        letter = self.dead_letters.add(
            with_body(message, kept), retries, letter_id=f"vote-{ref.hex()}"
        )
        holder = self.claims.holder(ballot.election_id, token)
        free = holder is None or holder.held_tag == tag
        self.publisher.publish(
            protocol.rejection_message(
                ballot.machine_id,
                ballot.uuid,
                f"not processed ({letter.error})"
                + ("; the voter may vote again" if free else "; the voter has another ballot"),
            )
        )
        log.warning("vote.given_up", uuid=ballot.uuid, retries=retries, voter_free=free)


def vote_logger(
    settings: Settings, database: peewee.Database, client: redis.Redis, publisher: Publisher
) -> VoteLogger:
    """The voting logger's worker for ``settings``, on the given clients (its claims
    sealed: see ``actors.seal``)."""
    secrets = VoterSecrets(settings.require_voter_key())
    seal, floor, _ = establish_seal(client, database, settings.namespace, secrets.key_check)
    claims = VoterClaims(
        client,
        settings.namespace,
        seal,
        config_problems=durability_problems,
        wait_replicas=settings.dedup_wait_replicas,
    )
    claims.floor = floor
    book = ElectionBook(
        RegistrySource(database),
        barrier=lambda election_id, at_ms: close_at(client, settings.namespace, election_id, at_ms),
    )
    feed = ElectionFeed(settings, book)
    feed.start()
    return VoteLogger(
        claims,
        BallotTable(database),
        publisher,
        DeadLetters(client, settings.namespace),
        Watermark(database, settings.namespace, floor),
        secrets=secrets,
        signer=Signer(
            *settings.require_signing_key(), settings.namespace, settings.signature_ttl_s
        ),
        choices=settings.choices,
        stale_s=settings.claim_stale_s,
        elections=book,
        undeclared=settings.undeclared,
        feed=feed,
    )


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
