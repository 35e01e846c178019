"""Several fresh starts of each phase, summed up: the best and the median, and ratios.

The emulator answers a waiting pull by polling its subscription every 50 ms from the
moment the pull arrived, so the delivery phases of a run are set by when its pulls
start. The same code then lands on a one-cycle or a two-cycle answer (about 55 or 105 ms
at M=1, and as much as 0.5 to 0.9 of the throughput at M=200) for a whole start. One
start is a coin toss; the best and the median of several fresh starts are figures.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.driver import LoadResult

#: The latency percentiles every summary and ratio reports.
PERCENTILES = (0.5, 0.95, 0.99)
#: The phase kind of the trivial-relay floor; every other kind is the system at a scale.
FLOOR_KIND = "floor (2 relays)"


def is_floor(kind: str) -> bool:
    """Whether ``kind`` names the floor."""
    return kind == FLOOR_KIND


@dataclass(frozen=True)
class Figures:
    """Throughput and answer latency percentiles (ms) of one start, or summed up."""

    votes_per_s: float
    latency_ms: dict[float, float | None]

    @classmethod
    def of(cls, load: LoadResult) -> Figures:
        """The figures of one run."""
        return cls(load.votes_per_s, {f: load.latency_ms(f) for f in PERCENTILES})

    def ratio_to(self, base: Figures) -> dict[str, float | None]:
        """Ours over ``base``: ``throughput`` and ``p50``/``p95``/``p99``."""
        out: dict[str, float | None] = {
            "throughput": self.votes_per_s / base.votes_per_s if base.votes_per_s else None
        }
        for fraction in PERCENTILES:
            ours, theirs = self.latency_ms[fraction], base.latency_ms[fraction]
            out[f"p{int(fraction * 100)}"] = ours / theirs if ours and theirs else None
        return out


@dataclass(frozen=True)
class KindSummary:
    """Every start of one phase kind (the floor, or the system at one scale)."""

    kind: str
    starts: int
    #: Highest throughput and lowest of each percentile, each taken on its own.
    best: Figures
    #: The middle start's figures, each taken on its own; of an even number of starts,
    #: the worse of the two in the middle. A start without answers counts as the worst.
    median: Figures


def summarize(kinds_and_loads: Sequence[tuple[str, LoadResult]]) -> list[KindSummary]:
    """Group runs by phase kind, in order of first appearance; best and median of each."""
    grouped: dict[str, list[Figures]] = {}
    for kind, load in kinds_and_loads:
        grouped.setdefault(kind, []).append(Figures.of(load))
    return [
        KindSummary(
            kind,
            len(runs),
            _combine(runs, max, min),
            _combine(runs, statistics.median_low, statistics.median_high),
        )
        for kind, runs in grouped.items()
    ]


def _combine(
    runs: list[Figures],
    throughput: Callable[[list[float]], float],
    latency: Callable[[list[float]], float],
) -> Figures:
    def over(fraction: float) -> float | None:
        # A start without answers has no latency: the worst of all, not a missing one.
        values = [math.inf if (v := r.latency_ms[fraction]) is None else v for r in runs]
        combined = latency(values)
        return None if math.isinf(combined) else combined

    return Figures(throughput([r.votes_per_s for r in runs]), {f: over(f) for f in PERCENTILES})


@dataclass(frozen=True)
class Comparison:
    """``ours`` over ``base`` on the best (or the median) of their starts: ``throughput``
    and ``p50``/``p95``/``p99`` ratios."""

    ours: str
    base: str
    view: str
    ratio: dict[str, float | None]


def compare(summaries: Sequence[KindSummary]) -> list[Comparison]:
    """Each system kind over the floor, then each later scale over the first one."""
    floor = next((s for s in summaries if is_floor(s.kind)), None)
    systems = [s for s in summaries if not is_floor(s.kind)]
    pairs = [(system, floor) for system in systems if floor] + [
        (system, systems[0]) for system in systems[1:]
    ]
    out = []
    for ours, base in pairs:
        views = [("best", ours.best, base.best)]
        if max(ours.starts, base.starts) > 1:
            views.append(("median", ours.median, base.median))
        for view, mine, theirs in views:
            out.append(Comparison(ours.kind, base.kind, view, mine.ratio_to(theirs)))
    return out
