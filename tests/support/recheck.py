"""Judging a fault run: was every answer true, is every voter counted at most once?

After the fault and the recovery, every voter of the load votes once more (a probe).
Each answer, the load's own and the probe's, must be what the stored rows justify:

- ``A vote was recorded successfully``: that ballot has its row (else it is *lost*);
- ``Already voted``: an earlier ballot of the voter is recorded, or was on its way (it
  timed out, and was recorded or given up later); else the answer was *wrong*;
- ``Rejected: ... may vote again`` and ``Time out``: fine, as long as the ballot has no
  row or was answered again later;
- the probe: ``Already voted`` exactly when the voter has a recorded ballot, and
  ``recorded`` when the voter has none (a free voter can always vote). Where the fault
  suspends voting on purpose, a ballot may be refused as suspended instead.

No voter may have two rows, and no row may be one nobody cast (*doubled*). Pure logic,
unit-tested in tests/unit/test_recheck.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from election.domain.outcomes import Kind, Outcome

SUSPENDED = "voting is suspended"


@dataclass(frozen=True)
class Ballot:
    """One ballot cast in the run (the load's or a probe), in the order cast per voter."""

    uuid: str
    voter: int
    outcome: Outcome
    late: Outcome | None = None
    probe: bool = False


@dataclass
class Verdict:
    """What the judge found."""

    lost: int = 0
    doubled: int = 0
    wrong: int = 0
    rechecked: int = 0
    notes: list[str] = field(default_factory=list)


def judge(
    ballots: Sequence[Ballot],
    recorded: set[str],
    unknown_rows: int,
    *,
    suspended_ok: bool = False,
    still_suspended: bool = False,
) -> Verdict:
    """Judge every ballot against the recorded UUIDs (``unknown_rows``: recorded rows
    that match no ballot of the run). ``suspended_ok``: the fault suspends voting, so the
    load's ballots may be refused as suspended; ``still_suspended``: the probes too."""
    verdict = Verdict()
    by_voter: dict[int, list[Ballot]] = defaultdict(list)
    for ballot in ballots:
        by_voter[ballot.voter].append(ballot)
    rows = Counter(b.voter for b in ballots if b.uuid in recorded)
    for voter, count in rows.items():
        if count > 1:
            verdict.doubled += 1
            verdict.notes.append(f"voter {voter} has {count} rows")
    if unknown_rows:
        verdict.doubled += unknown_rows
        verdict.notes.append(f"{unknown_rows} rows nobody cast")
    for voter, cast in by_voter.items():
        for n, ballot in enumerate(cast):
            allowed = still_suspended if ballot.probe else suspended_ok
            problem = _problem(ballot, cast[:n], recorded, allowed)
            if problem is None:
                continue
            kind, text = problem
            if kind == "lost":
                verdict.lost += 1
            else:
                verdict.wrong += 1
            verdict.notes.append(f"voter {voter}, ballot {ballot.uuid}: {text}")
        verdict.rechecked += any(b.probe for b in cast)
    return verdict


def _problem(
    ballot: Ballot, earlier: Sequence[Ballot], recorded: set[str], suspended_ok: bool
) -> tuple[str, str] | None:
    said = [ballot.outcome, *([ballot.late] if ballot.late is not None else [])]
    kinds = {outcome.kind for outcome in said}
    stored = ballot.uuid in recorded
    if Kind.RECORDED in kinds and not stored:
        return "lost", "told recorded, no row"
    if stored and Kind.RECORDED not in kinds and ballot.outcome.kind is not Kind.TIMED_OUT:
        return "wrong", f"has a row but was told {said[0]}"
    if ballot.probe:
        return _probe_problem(ballot, earlier, recorded, suspended_ok)
    if ballot.outcome.kind is Kind.ALREADY_VOTED and not _justified(earlier, recorded):
        return "wrong", "told already voted, but no earlier ballot is stored or was on its way"
    if ballot.outcome.kind is Kind.REJECTED and not _allowed_rejection(
        ballot.outcome, suspended_ok
    ):
        return "wrong", f"refused: {ballot.outcome}"
    return None


def _probe_problem(
    ballot: Ballot, earlier: Sequence[Ballot], recorded: set[str], suspended_ok: bool
) -> tuple[str, str] | None:
    has_row = any(b.uuid in recorded for b in earlier)
    kind = ballot.outcome.kind
    if suspended_ok and kind is Kind.REJECTED and SUSPENDED in ballot.outcome.detail:
        return None
    if has_row and kind is not Kind.ALREADY_VOTED:
        return "wrong", f"the voter has a row, the probe was told {ballot.outcome}"
    if not has_row and kind is not Kind.RECORDED:
        return (
            "lost",
            f"the voter has no row and is locked out: the probe was told {ballot.outcome}",
        )
    return None


def _justified(earlier: Sequence[Ballot], recorded: set[str]) -> bool:
    """An earlier ballot is stored, or was on its way when this one was answered."""
    return any(
        b.uuid in recorded or b.outcome.kind in (Kind.TIMED_OUT, Kind.ALREADY_VOTED)
        for b in earlier
        if not b.probe
    )


def _allowed_rejection(outcome: Outcome, suspended_ok: bool) -> bool:
    if suspended_ok and SUSPENDED in outcome.detail:
        return True
    return "may vote again" in outcome.detail or "not recorded" in outcome.detail
