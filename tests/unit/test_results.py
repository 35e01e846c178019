"""Tests for election.domain.results: counts per named choice, for people and programs."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain.errors import OperatorDecision
from election.domain.lifecycle import State
from election.domain.manifest import Manifest
from election.domain.results import CountsOffBallot, Result, tally, turnout_text

BALLOT = Manifest(
    election_id="4201",
    title="Water board 2027",
    choices=("North", "South", "East"),
    roll_path=None,
    opens_at=None,
    closes_at=None,
    sha256="0" * 64,
)


def result(counts: dict[int, int], roll_size: int | None = 20, sealed: bool = True) -> Result:
    return tally(BALLOT, counts, state=State.CLOSED, sealed=sealed, roll_size=roll_size)


def test_every_choice_is_listed_in_ballot_order_with_zeros() -> None:
    assert result({2: 5}).choices == (("North", 0), ("South", 0), ("East", 5))


def test_no_votes_at_all_is_a_result_of_zeros() -> None:
    empty = result({})
    assert empty.total == 0 and empty.turnout == 0.0
    assert [votes for _, votes in empty.choices] == [0, 0, 0]


def test_the_total_is_the_sum_of_the_counts() -> None:
    assert result({0: 7, 1: 3, 2: 2}).total == 12


def test_turnout_is_the_total_against_the_roll() -> None:
    assert result({0: 7, 1: 3, 2: 2}, roll_size=20).turnout == pytest.approx(0.6)


def test_without_a_roll_there_is_no_turnout() -> None:
    assert result({0: 7}, roll_size=None).turnout is None


def test_more_votes_than_voters_shows_as_over_100_percent_not_hidden() -> None:
    over = result({0: 25}, roll_size=20)
    assert over.turnout == pytest.approx(1.25)
    assert over.to_lines()[-1] == "turnout 25 of 20 (125.0%)"


@pytest.mark.parametrize("index", [3, -1, 99])
def test_a_count_for_an_index_not_on_the_ballot_is_refused_not_dropped(index: int) -> None:
    with pytest.raises(CountsOffBallot, match=rf"^election 4201 has 4 votes for choice {index},"):
        result({0: 1, index: 4})


def test_the_refusal_names_the_ballots_range_and_asks_an_operator() -> None:
    with pytest.raises(OperatorDecision, match=r"which is not on its ballot \(0-2\)$"):
        result({3: 1})


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(CountsOffBallot, match=r"negative count for choice 1$"):
        result({1: -1})


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def test_the_json_object_has_its_keys_in_a_fixed_order() -> None:
    keys = list(result({0: 1}).to_json())
    assert keys == ["election", "title", "state", "sealed", "total", "roll", "turnout", "choices"]


def test_the_json_object_is_the_whole_result() -> None:
    assert result({0: 7, 1: 3, 2: 2}).to_json() == {
        "election": "4201",
        "title": "Water board 2027",
        "state": "closed",
        "sealed": True,
        "total": 12,
        "roll": 20,
        "turnout": 0.6,
        "choices": [
            {"name": "North", "votes": 7},
            {"name": "South", "votes": 3},
            {"name": "East", "votes": 2},
        ],
    }


def test_the_json_object_is_json_and_prints_on_one_line() -> None:
    text = json.dumps(result({0: 1}, roll_size=None, sealed=False).to_json())
    assert "\n" not in text
    assert json.loads(text)["turnout"] is None and json.loads(text)["sealed"] is False


# --------------------------------------------------------------------------------------------
# Lines for people
# --------------------------------------------------------------------------------------------


def test_the_lines_align_names_and_counts_and_end_with_turnout() -> None:
    assert result({0: 7, 1: 3}).to_lines() == [
        "election 4201: Water board 2027 (closed, sealed)",
        "  North   7",
        "  South   3",
        "  East    0",
        "  total  10",
        "turnout 10 of 20 (50.0%)",
    ]


def test_the_heading_says_when_a_result_is_not_sealed() -> None:
    assert result({}, sealed=False).to_lines()[0].endswith("(closed, not sealed)")


def test_counts_are_aligned_on_the_widest_count_and_names_on_the_longest() -> None:
    lines = result({0: 1200, 2: 5}).to_lines()
    assert lines[1:5] == ["  North  1200", "  South     0", "  East      5", "  total  1205"]


def test_the_turnout_line_reads_as_counts_and_a_percentage() -> None:
    assert turnout_text(12, 20) == "turnout 12 of 20 (60.0%)"
    assert turnout_text(1, 3) == "turnout 1 of 3 (33.3%)"
    assert turnout_text(5, None) == "turnout: no roll"


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@given(roll_size=st.integers(1, 200), data=st.data())
def test_turnout_is_never_above_one_when_each_voter_on_the_roll_votes_at_most_once(
    roll_size: int, data: st.DataObject
) -> None:
    voters = data.draw(st.sets(st.integers(0, roll_size - 1)))
    votes = Counter(data.draw(st.integers(0, 2), label=f"voter {v}") for v in sorted(voters))
    outcome = result(dict(votes), roll_size=roll_size)
    assert outcome.turnout is not None and 0.0 <= outcome.turnout <= 1.0
    assert outcome.total == len(voters)


@given(st.dictionaries(st.integers(0, 2), st.integers(0, 10**6)))
def test_every_vote_counted_is_in_the_result(counts: dict[int, int]) -> None:
    outcome = result(counts)
    assert outcome.total == sum(counts.values())
    assert {i: v for i, (_, v) in enumerate(outcome.choices) if v} == {
        i: v for i, v in counts.items() if v
    }
