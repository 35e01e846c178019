"""Tests for election.domain.outcomes: what a voting machine prints, and its run summary."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain import protocol
from election.domain.outcomes import (
    TIMED_OUT,
    Kind,
    Outcome,
    Summary,
    outcome_of,
    percentile,
    summarize,
)

UUID = "0b6f4c1e-9d1c-4c36-8f0e-3b7f0a7e2d11"

# --------------------------------------------------------------------------------------------
# outcome_of and the exact words
# --------------------------------------------------------------------------------------------


def test_a_successful_answer_means_the_vote_was_recorded() -> None:
    outcome = outcome_of({"result": "successful", "UUID": UUID})

    assert outcome == Outcome(Kind.RECORDED)
    assert str(outcome) == "A vote was recorded successfully"


def test_an_already_voted_answer_means_already_voted() -> None:
    outcome = outcome_of({"result": "Already Voted!!!", "UUID": UUID})

    assert outcome == Outcome(Kind.ALREADY_VOTED)
    assert str(outcome) == "Already voted"


def test_a_time_out_prints_time_out() -> None:
    assert Outcome(Kind.TIMED_OUT) == TIMED_OUT
    assert str(TIMED_OUT) == "Time out"


def test_a_rejected_answer_carries_its_reason() -> None:
    outcome = outcome_of({"result": "rejected: voting must be an integer from 0 to 4"})

    assert outcome == Outcome(Kind.REJECTED, "voting must be an integer from 0 to 4")
    assert str(outcome) == "Rejected: voting must be an integer from 0 to 4"


def test_a_rejection_message_reads_back_as_a_rejection_with_its_reason() -> None:
    message = protocol.rejection_message("7", UUID, "body is not valid JSON")

    assert str(outcome_of(message.body)) == "Rejected: body is not valid JSON"


def test_a_result_message_reads_back_as_its_outcome() -> None:
    recorded = protocol.result_message("7", UUID, protocol.RESULT_SUCCESSFUL)
    already = protocol.result_message("7", UUID, protocol.RESULT_ALREADY_VOTED)

    assert outcome_of(recorded.body).kind is Kind.RECORDED
    assert outcome_of(already.body).kind is Kind.ALREADY_VOTED


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (Kind.RECORDED, "A vote was recorded successfully"),
        (Kind.ALREADY_VOTED, "Already voted"),
        (Kind.TIMED_OUT, "Time out"),
    ],
)
def test_the_three_answers_print_exactly_the_words_of_the_spec(kind: Kind, words: str) -> None:
    assert str(Outcome(kind)) == words


@pytest.mark.parametrize(
    "result",
    [
        "maybe",
        "Successful",
        "successful ",
        "Already voted",
        "already voted!!!",
        "Rejected: no",
        "",
        None,
        42,
        ["successful"],
    ],
    ids=repr,
)
def test_an_unknown_answer_counts_as_a_rejection_that_names_it(result: object) -> None:
    outcome = outcome_of({"result": result, "UUID": UUID})

    assert outcome == Outcome(Kind.REJECTED, f"unknown answer {result!r}")
    assert str(outcome) == f"Rejected: unknown answer {result!r}"


def test_an_answer_without_a_result_counts_as_a_rejection() -> None:
    assert str(outcome_of({"UUID": UUID})) == "Rejected: unknown answer None"


def test_a_rejection_without_a_reason_prints_rejected_alone() -> None:
    assert str(outcome_of({"result": "rejected:"})) == "Rejected"


def test_a_rejection_reason_is_stripped_of_surrounding_blanks() -> None:
    assert outcome_of({"result": "rejected:   too late  "}).detail == "too late"


# --------------------------------------------------------------------------------------------
# percentile (nearest rank)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([5.0], 0.95, 5.0),
        ([1.0, 2.0], 0.5, 1.0),
        ([1.0, 2.0, 3.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([float(i) for i in range(1, 11)], 0.5, 5.0),
        ([float(i) for i in range(1, 11)], 0.95, 10.0),
        ([float(i) for i in range(1, 21)], 0.95, 19.0),
        ([float(i) for i in range(1, 101)], 0.95, 95.0),
        ([float(i) for i in range(1, 101)], 0.5, 50.0),
        ([1.0, 2.0, 3.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0], 1.0, 3.0),
    ],
)
def test_percentile_is_the_nearest_rank_value(
    values: list[float], fraction: float, expected: float
) -> None:
    assert percentile(values, fraction) == expected


def test_percentile_of_no_values_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


@given(
    values=st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=300),
    fraction=st.sampled_from([0.5, 0.9, 0.95, 0.99]),
)
def test_percentile_agrees_with_exact_nearest_rank_arithmetic(
    values: list[float], fraction: float
) -> None:
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(str(fraction)) * len(ordered)))

    assert percentile(ordered, fraction) == ordered[rank - 1]


# --------------------------------------------------------------------------------------------
# summarize and Summary.lines
# --------------------------------------------------------------------------------------------

RECORDED = Outcome(Kind.RECORDED)
ALREADY = Outcome(Kind.ALREADY_VOTED)
REJECTED = Outcome(Kind.REJECTED, "bad")


def test_a_summary_of_nothing_has_zero_counts_and_no_latency() -> None:
    summary = summarize([])

    assert summary == Summary({}, None, None, None)
    assert summary.lines() == [
        "A vote was recorded successfully: 0",
        "Already voted: 0",
        "Time out: 0",
        "Rejected: 0",
        "latency: no answers",
    ]


def test_a_summary_of_only_time_outs_counts_them_and_has_no_latency() -> None:
    summary = summarize([(TIMED_OUT, None), (TIMED_OUT, None)])

    assert summary.counts == {Kind.TIMED_OUT: 2}
    assert (summary.p50, summary.p95, summary.max) == (None, None, None)
    assert summary.lines()[-1] == "latency: no answers"


def test_a_summary_counts_each_outcome_and_takes_latency_from_answers_only() -> None:
    results = [
        (RECORDED, 0.4),
        (RECORDED, 0.1),
        (ALREADY, 0.2),
        (TIMED_OUT, None),
        (REJECTED, 0.3),
        (RECORDED, 0.5),
    ]

    summary = summarize(results)

    assert summary.counts == {
        Kind.RECORDED: 3,
        Kind.ALREADY_VOTED: 1,
        Kind.TIMED_OUT: 1,
        Kind.REJECTED: 1,
    }
    assert (summary.p50, summary.p95, summary.max) == (0.3, 0.5, 0.5)
    assert summary.lines() == [
        "A vote was recorded successfully: 3",
        "Already voted: 1",
        "Time out: 1",
        "Rejected: 1",
        "latency: p50 300 ms, p95 500 ms, max 500 ms",
    ]


def test_summary_lines_round_latencies_to_whole_milliseconds() -> None:
    summary = Summary({Kind.RECORDED: 1}, 0.0124, 0.0876, 1.2345)

    assert summary.lines()[-1] == "latency: p50 12 ms, p95 88 ms, max 1234 ms"


def test_summary_lines_list_every_kind_in_a_fixed_order() -> None:
    summary = summarize([(REJECTED, 0.1), (ALREADY, 0.1)])

    assert [line.split(":")[0] for line in summary.lines()[:4]] == [
        "A vote was recorded successfully",
        "Already voted",
        "Time out",
        "Rejected",
    ]
