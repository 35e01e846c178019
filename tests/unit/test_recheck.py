"""The fault judge (tests/support/recheck.py) must see every way a run can go wrong."""

from __future__ import annotations

from election.domain.outcomes import TIMED_OUT, Kind, Outcome
from tests.support.recheck import Ballot, judge

RECORDED = Outcome(Kind.RECORDED)
ALREADY = Outcome(Kind.ALREADY_VOTED)
SUSPENDED = Outcome(Kind.REJECTED, "voting is suspended: Redis restarted empty; try again")
GIVEN_UP = Outcome(Kind.REJECTED, "not recorded (boom); the voter may vote again")


def test_a_clean_run_has_nothing_lost_doubled_or_wrong() -> None:
    ballots = [
        Ballot("a", 1, RECORDED),
        Ballot("b", 1, ALREADY),
        Ballot("p1", 1, ALREADY, probe=True),
        Ballot("c", 2, TIMED_OUT, late=GIVEN_UP),
        Ballot("p2", 2, RECORDED, probe=True),
    ]
    verdict = judge(ballots, {"a", "p2"}, 0)
    assert (verdict.lost, verdict.doubled, verdict.wrong, verdict.rechecked) == (0, 0, 0, 2)


def test_a_ballot_told_recorded_without_a_row_is_lost() -> None:
    assert judge([Ballot("a", 1, RECORDED)], set(), 0).lost == 1


def test_a_voter_with_two_rows_or_a_row_nobody_cast_is_doubled() -> None:
    ballots = [Ballot("a", 1, RECORDED), Ballot("b", 1, TIMED_OUT, late=RECORDED)]
    assert judge(ballots, {"a", "b"}, 0).doubled == 1
    assert judge([Ballot("a", 1, RECORDED)], {"a"}, 3).doubled == 3


def test_already_voted_with_nothing_stored_or_on_its_way_is_wrong() -> None:
    ballots = [Ballot("a", 1, GIVEN_UP), Ballot("b", 1, ALREADY)]
    assert judge(ballots, set(), 0).wrong == 1


def test_already_voted_after_a_ballot_that_timed_out_is_justified() -> None:
    ballots = [Ballot("a", 1, TIMED_OUT), Ballot("b", 1, ALREADY)]
    assert judge(ballots, set(), 0).wrong == 0


def test_a_locked_out_voter_is_lost_and_a_recorded_voter_let_in_again_is_wrong() -> None:
    locked = [Ballot("a", 1, TIMED_OUT), Ballot("p", 1, ALREADY, probe=True)]
    assert judge(locked, set(), 0).lost == 1
    let_in = [Ballot("a", 1, RECORDED), Ballot("p", 1, RECORDED, probe=True)]
    verdict = judge(let_in, {"a", "p"}, 0)
    assert verdict.doubled == 1


def test_a_suspension_is_a_true_answer_only_where_the_fault_suspends_voting() -> None:
    ballots = [Ballot("a", 1, SUSPENDED), Ballot("p", 1, SUSPENDED, probe=True)]
    assert judge(ballots, set(), 0, suspended_ok=True, still_suspended=True).wrong == 0
    assert judge(ballots, set(), 0).wrong + judge(ballots, set(), 0).lost == 2
    # Suspended during the fault, but the probes after the recovery must vote normally.
    after = judge(ballots, set(), 0, suspended_ok=True)
    assert after.wrong + after.lost == 1
