"""``election check``: do the claims in Redis and the rows in PostgreSQL tell one story?

Every claimed voter should have a ballot recorded, a tombstone (given up or fenced: the
voter may vote again), or a ballot still on its way (claimed less than ``CLAIM_STALE_S``
ago, or held in the dead letters). Every recorded ballot should be held by a claim: one
that is not was never deduplicated (forged, or Redis lost the claim, so its voter could
vote twice). The comparison needs ``VOTER_KEY``, which joins a claim's tag to a row's
reference: whoever runs it can do what the voting logger can, and no more.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import peewee

from actors.ballots import _rows as rows_of
from actors.claims import VoterClaims
from actors.dead_letters import DeadLetters
from election.domain.secrecy import VoterSecrets
from election.domain.signing import BALLOT_REF
from election.storage.models import Ballot, BallotState


@dataclass(frozen=True)
class ClaimView:
    """One claim as the check sees it."""

    token: bytes
    ref: bytes
    claimed_at: int


@dataclass
class CheckReport:
    """What ``election check`` found in one election."""

    election_id: str
    claims: int = 0
    recorded: int = 0
    tombstones: int = 0
    in_flight: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """Whether nothing was found wrong."""
        return not self.problems

    def lines(self) -> list[str]:
        """The report, for people."""
        out = [
            f"election {self.election_id}: {self.claims} voters claimed, "
            f"{self.recorded} ballots recorded, {self.tombstones} given up or fenced, "
            f"{self.in_flight} on their way",
        ]
        out += [f"  PROBLEM: {problem}" for problem in self.problems]
        out.append("  consistent" if self.consistent else f"  {len(self.problems)} problems")
        return out


def compare(
    election_id: str,
    claims: Iterable[ClaimView],
    rows: Mapping[bytes, int],
    in_flight: set[bytes],
    *,
    now: float,
    stale_s: int,
) -> CheckReport:
    """Compare claims with rows (pure): see the module's docstring."""
    report = CheckReport(election_id)
    held: set[bytes] = set()
    for claim in claims:
        report.claims += 1
        held.add(claim.ref)
        state = rows.get(claim.ref)
        if state is not None:
            continue
        if claim.ref in in_flight or now - claim.claimed_at < stale_s:
            report.in_flight += 1
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(claim.claimed_at))
        report.problems.append(
            f"voter {claim.token.hex()} was claimed at {when}Z by ballot {claim.ref.hex()}, "
            "which is neither stored nor on its way (the voter is freed when they vote again)"
        )
    for ref, state in rows.items():
        if state == BallotState.RECORDED:
            report.recorded += 1
            if ref not in held:
                report.problems.append(
                    f"ballot {ref.hex()} is recorded but no claim holds it: it was never "
                    "deduplicated (Redis lost its claim, or it was forged)"
                )
        else:
            report.tombstones += 1
    return report


def claim_views(election_id: str, claims: VoterClaims, secrets: VoterSecrets) -> list[ClaimView]:
    """Every claim of ``election_id`` in Redis, with the reference of the ballot it holds."""
    return [
        ClaimView(token, secrets.ballot_ref(result.held_tag), result.claimed_at)
        for token, result in claims.scan(election_id)
    ]


def election_rows(election_id: str, database: peewee.Database) -> dict[bytes, int]:
    """The state of every row of ``election_id`` in ``ballots``, by reference."""
    with database.connection_context():
        query = Ballot.select(Ballot.ref, Ballot.state).where(Ballot.election_id == election_id)
        return {bytes(ref): int(state) for ref, state in rows_of(query.tuples())}


def check_election(
    election_id: str,
    claims: VoterClaims,
    database: peewee.Database,
    secrets: VoterSecrets,
    dead_letters: DeadLetters,
    *,
    stale_s: int,
) -> CheckReport:
    """Read the claims, rows and dead letters of ``election_id`` and compare them."""
    views = claim_views(election_id, claims, secrets)
    rows = election_rows(election_id, database)
    in_flight: set[bytes] = set()
    for letter in dead_letters.all():
        args = letter.message.get("args") or []
        attributes = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        text = str(attributes.get(BALLOT_REF, letter.message_id))
        if len(text) == 32:
            try:
                in_flight.add(bytes.fromhex(text))
            except ValueError:
                continue
    return compare(election_id, views, rows, in_flight, now=time.time(), stale_s=stale_s)
