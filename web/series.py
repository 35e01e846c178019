"""Ballots per minute, from the signed checkpoints, and the small bar chart that shows them.

A ballot row holds no time (docs/SECURITY.md), so the series comes from the log: each
checkpoint says how many ballots the log held at a moment, and the growth of the largest
size per minute is the ballots logged in that minute. It is what the bulletin publishes
anyway, a second or two behind the answers (the checkpointer's pace). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

MINUTE_MS = 60_000
#: The chart shows at most this many of the latest minutes.
CHART_MINUTES = 60
WIDTH, HEIGHT = 600, 120
#: The chart leaves room for at least this many minutes, so a young election's few bars
#: stay bars instead of filling the width.
MIN_SLOTS = 15


def per_minute(maxima: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(minute start ms, ballots logged in it)`` from ``(minute index, largest size
    checkpointed in it)`` rows in minute order. Minutes with no checkpoint are zeros
    (nothing was logged in them), up to the last one with a checkpoint."""
    series: list[tuple[int, int]] = []
    previous_size = 0
    previous_minute: int | None = None
    for minute, size in maxima:
        if previous_minute is not None:
            series += [((m * MINUTE_MS), 0) for m in range(previous_minute + 1, minute)]
        series.append((minute * MINUTE_MS, max(0, size - previous_size)))
        previous_size, previous_minute = max(previous_size, size), minute
    return series[-CHART_MINUTES:]


def bar_chart(series: Sequence[tuple[int, int]]) -> str:
    """An SVG bar per minute, scaled to the busiest one, each with a tooltip; the same
    drawing ``static/live.js`` makes when a new series arrives."""
    if not series:
        return (
            f'<svg id="per-minute" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            'aria-label="no ballots logged yet"></svg>'
        )
    peak = max(count for _, count in series) or 1
    step = WIDTH / max(len(series), MIN_SLOTS)
    bars = []
    for n, (_, count) in enumerate(series):
        height = round(HEIGHT * count / peak, 1)
        bars.append(
            f'<rect x="{round(n * step + 1, 1)}" y="{round(HEIGHT - height, 1)}" '
            f'width="{round(max(step - 2, 1), 1)}" height="{height}">'
            f"<title>{escape(str(count))} per minute</title></rect>"
        )
    first, last = _clock(series[0][0]), _clock(series[-1][0])
    label = (
        f"ballots logged per minute, {len(series)} minutes from {first} to {last} UTC, "
        f"at most {peak}"
    )
    return (
        f'<svg id="per-minute" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>{"".join(bars)}</svg>'
    )


def _clock(minute_ms: int) -> str:
    """``HH:MM`` (UTC) of a minute's start."""
    minutes = minute_ms // MINUTE_MS
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"
