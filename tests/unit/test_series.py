"""Ballots per minute from checkpoint sizes, and the chart drawn from them."""

from __future__ import annotations

from web.series import CHART_MINUTES, MINUTE_MS, bar_chart, per_minute


def test_each_minute_counts_the_growth_of_the_log_since_the_minute_before() -> None:
    assert per_minute([(10, 5), (11, 12), (12, 12)]) == [
        (10 * MINUTE_MS, 5),
        (11 * MINUTE_MS, 7),
        (12 * MINUTE_MS, 0),
    ]


def test_minutes_without_a_checkpoint_are_zeros() -> None:
    assert per_minute([(1, 3), (4, 5)]) == [
        (1 * MINUTE_MS, 3),
        (2 * MINUTE_MS, 0),
        (3 * MINUTE_MS, 0),
        (4 * MINUTE_MS, 2),
    ]


def test_the_series_keeps_the_latest_minutes_only() -> None:
    series = per_minute([(m, m + 1) for m in range(200)])
    assert len(series) == CHART_MINUTES and series[-1] == (199 * MINUTE_MS, 1)


def test_the_chart_has_a_bar_per_minute_scaled_to_the_busiest() -> None:
    svg = bar_chart([(0, 2), (MINUTE_MS, 4)])
    assert svg.count("<rect") == 2
    assert 'height="120.0"' in svg and 'height="60.0"' in svg
    assert "at most 4" in svg


def test_an_empty_series_is_an_empty_chart_that_says_so() -> None:
    assert "no ballots logged yet" in bar_chart([]) and "<rect" not in bar_chart([])


def test_a_young_election_s_few_bars_stay_narrow_and_the_chart_names_its_minutes() -> None:
    svg = bar_chart([(10 * 60 * MINUTE_MS, 3)])  # 10:00 UTC on the epoch's day
    assert 'width="38.0"' in svg  # a fifteenth of the width, less the gap
    assert "from 10:00 to 10:00 UTC" in svg
