"""``election check``'s comparison of claims with rows (pure)."""

from __future__ import annotations

from actors.audit import ClaimView, compare
from election.storage.models import BallotState

NOW = 1_800_000_000.0


def claim(n: int, age_s: float = 3600) -> ClaimView:
    return ClaimView(bytes([n]) * 10, bytes([n]) * 16, int(NOW - age_s))


def run(claims: list[ClaimView], rows: dict[bytes, int], in_flight: set[bytes] | None = None):  # type: ignore[no-untyped-def]
    return compare("7", claims, rows, in_flight or set(), now=NOW, stale_s=60)


def test_claims_with_recorded_ballots_or_tombstones_are_consistent() -> None:
    report = run(
        [claim(1), claim(2)],
        {claim(1).ref: BallotState.RECORDED, claim(2).ref: BallotState.GIVEN_UP},
    )
    assert report.consistent
    assert (report.claims, report.recorded, report.tombstones) == (2, 1, 1)


def test_a_recent_claim_or_one_in_the_dead_letters_is_on_its_way() -> None:
    report = run([claim(1, age_s=5), claim(2)], {}, in_flight={claim(2).ref})
    assert report.consistent and report.in_flight == 2


def test_an_old_claim_with_no_ballot_anywhere_is_named() -> None:
    report = run([claim(1)], {})
    assert not report.consistent
    assert claim(1).token.hex() in report.problems[0]


def test_a_recorded_ballot_no_claim_holds_is_named() -> None:
    report = run([], {b"\x09" * 16: BallotState.RECORDED})
    assert not report.consistent
    assert "no claim holds it" in report.problems[0]
