"""The page-lag arithmetic of ``election bench-page``."""

from __future__ import annotations

from bench.page_lag import PageLag, lags


def test_the_kth_answer_is_shown_when_the_page_total_first_reaches_k() -> None:
    answers = [10.0, 10.5, 11.0]
    shown = [(9.0, 0), (10.2, 1), (11.3, 3)]
    assert [round(lag, 6) for lag in lags(answers, shown)] == [0.2, 0.8, 0.3]


def test_an_answer_the_page_never_reached_has_no_lag_and_fails_the_run() -> None:
    result = PageLag(lags([1.0, 2.0], [(1.5, 1)]), answered=2)
    assert result.lags == [0.5]
    assert "shown on the page: 1" in result.lines()[0]
