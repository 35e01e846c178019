"""The bench's summary over several fresh starts: pure arithmetic, no servers."""

from __future__ import annotations

import pytest

from election.bench.driver import LoadResult
from election.bench.summary import compare, summarize


def load(votes_per_s: float, latency_ms: float) -> LoadResult:
    """A run of 100 answers in ``100 / votes_per_s`` seconds, all ``latency_ms`` late."""
    return LoadResult(
        machines=10,
        sent=100,
        answered=100,
        timed_out=0,
        seconds=100 / votes_per_s,
        latencies=[latency_ms / 1000] * 100,
    )


FLOOR, SYSTEM, WIDE = "floor (2 relays)", "system (logger=1 recorder=1)", "system (logger=2)"


def test_summary_keeps_the_order_of_first_appearance_and_counts_starts() -> None:
    runs = [(FLOOR, load(100, 60)), (SYSTEM, load(90, 60)), (FLOOR, load(100, 60))]
    summaries = summarize(runs)
    assert [(s.kind, s.starts) for s in summaries] == [(FLOOR, 2), (SYSTEM, 1)]


def test_best_takes_the_highest_throughput_and_the_lowest_latency_each_on_its_own() -> None:
    (floor,) = summarize([(FLOOR, load(100, 105)), (FLOOR, load(80, 55)), (FLOOR, load(90, 60))])
    assert floor.best.votes_per_s == pytest.approx(100)
    assert floor.best.latency_ms[0.5] == pytest.approx(55)
    assert floor.median.votes_per_s == pytest.approx(90)
    assert floor.median.latency_ms[0.5] == pytest.approx(60)


def test_system_is_compared_with_the_floor_on_best_and_median_of_several_starts() -> None:
    runs = [
        (FLOOR, load(100, 50)),
        (SYSTEM, load(90, 100)),
        (FLOOR, load(200, 100)),
        (SYSTEM, load(170, 50)),
    ]
    by_view = {c.view: c for c in compare(summarize(runs))}
    assert set(by_view) == {"best", "median"}
    assert by_view["best"].ours == SYSTEM and by_view["best"].base == FLOOR
    assert by_view["best"].ratios["throughput"] == pytest.approx(0.85)
    assert by_view["best"].ratios["p50"] == pytest.approx(1.0)
    assert by_view["median"].ratios["throughput"] == pytest.approx(130 / 150)


def test_one_start_gives_one_comparison_per_pair() -> None:
    runs = [(FLOOR, load(100, 50)), (SYSTEM, load(50, 100)), (WIDE, load(75, 80))]
    comparisons = compare(summarize(runs))
    assert [(c.ours, c.base, c.view) for c in comparisons] == [
        (SYSTEM, FLOOR, "best"),
        (WIDE, FLOOR, "best"),
        (WIDE, SYSTEM, "best"),
    ]
    assert comparisons[2].ratios["throughput"] == pytest.approx(1.5)
    assert comparisons[0].ratios["p50"] == pytest.approx(2.0)


def test_a_run_without_answers_has_no_latency_ratio() -> None:
    empty = LoadResult(machines=1, sent=1, answered=0, timed_out=1, seconds=10.0)
    (comparison,) = compare(summarize([(FLOOR, load(10, 50)), (SYSTEM, empty)]))
    assert comparison.ratios["throughput"] == 0.0
    assert comparison.ratios["p50"] is None


def test_latency_splits_at_the_answers_publish() -> None:
    run = LoadResult(
        machines=1,
        sent=3,
        answered=3,
        timed_out=0,
        seconds=1.0,
        latencies=[0.1, 0.1, 0.1],
        answer_lags=[0.02, 0.02, 0.02],
    )
    assert run.hops_ms(0.5) == pytest.approx((80.0, 20.0))
    assert LoadResult(machines=1, sent=1, answered=0, timed_out=1, seconds=1.0).hops_ms(0.5) is None
