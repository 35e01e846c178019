"""The bench's summary over several fresh starts: pure arithmetic, no servers."""

from __future__ import annotations

import pytest

from bench.driver import LoadResult
from bench.summary import FLOOR_KIND, compare, summarize


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


FLOOR, SYSTEM, WIDE = FLOOR_KIND, "system (logger=1 recorder=1)", "system (logger=2)"


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
    assert by_view["best"].ratio["throughput"] == pytest.approx(0.85)
    assert by_view["best"].ratio["p50"] == pytest.approx(1.0)
    # Of two starts, the median is the worse one: 90 against 100 votes/s.
    assert by_view["median"].ratio["throughput"] == pytest.approx(0.9)


def test_one_start_gives_one_comparison_per_pair() -> None:
    runs = [(FLOOR, load(100, 50)), (SYSTEM, load(50, 100)), (WIDE, load(75, 80))]
    comparisons = compare(summarize(runs))
    assert [(c.ours, c.base, c.view) for c in comparisons] == [
        (SYSTEM, FLOOR, "best"),
        (WIDE, FLOOR, "best"),
        (WIDE, SYSTEM, "best"),
    ]
    assert comparisons[2].ratio["throughput"] == pytest.approx(1.5)
    assert comparisons[0].ratio["p50"] == pytest.approx(2.0)


def test_a_run_without_answers_has_no_latency_ratio() -> None:
    empty = LoadResult(machines=1, sent=1, answered=0, timed_out=1, seconds=10.0)
    (comparison,) = compare(summarize([(FLOOR, load(10, 50)), (SYSTEM, empty)]))
    assert comparison.ratio["throughput"] == 0.0
    assert comparison.ratio["p50"] is None


def test_of_an_even_number_of_starts_the_median_is_the_worse_of_the_middle_two() -> None:
    (floor,) = summarize([(FLOOR, load(100, 55)), (FLOOR, load(80, 105))])
    assert floor.median.votes_per_s == pytest.approx(80)
    assert floor.median.latency_ms[0.5] == pytest.approx(105)


def test_a_start_without_answers_is_the_worst_latency_not_a_missing_one() -> None:
    empty = LoadResult(machines=1, sent=1, answered=0, timed_out=1, seconds=10.0)
    (floor,) = summarize([(FLOOR, load(10, 50)), (FLOOR, empty), (FLOOR, load(10, 60))])
    assert floor.best.latency_ms[0.5] == pytest.approx(50)
    assert floor.median.latency_ms[0.5] == pytest.approx(60)
    (alone,) = summarize([(FLOOR, empty)])
    assert alone.best.latency_ms[0.5] is None


def split_run(latencies: list[float], lags: list[float | None]) -> LoadResult:
    return LoadResult(
        machines=1,
        sent=len(latencies),
        answered=len(latencies),
        timed_out=0,
        seconds=1.0,
        latencies=latencies,
        answer_lags=lags,
    )


def test_the_split_of_the_p50_adds_up_to_the_answers_around_it() -> None:
    run = split_run([0.1] * 4, [0.05, 0.05, 0.0, 0.0])
    before, after = run.hops_ms(0.5)  # type: ignore[misc]
    assert before + after == pytest.approx(100.0)


def test_the_split_takes_the_answers_ranked_near_the_percentile() -> None:
    latencies = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    lags = [0.001 if t < 0.05 else 0.01 for t in latencies]
    before, after = split_run(latencies, lags).hops_ms(0.99)  # type: ignore[misc]
    assert after == pytest.approx(10.0)
    assert before + after == pytest.approx(97.5, abs=1.0)


def test_unstamped_answers_are_left_out_of_the_split() -> None:
    assert split_run([0.1, 0.2], [None, None]).hops_ms(0.5) is None
    assert split_run([0.1, 0.2], [None, 0.05]).hops_ms(0.5) == pytest.approx((150.0, 50.0))
