"""Benchmark output: a progress bar while it runs, then a table (or one JSON object)."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any, TextIO

from bench.run import SERVICE_KINDS, Phase
from bench.storage import StorageCost
from bench.summary import PERCENTILES, KindSummary, compare, is_floor, summarize
from election.domain.outcomes import percentile

CPU_KINDS = (
    "bridge",
    "logger",
    "recorder",
    "checkpointer",
    "relay:1",
    "relay:2",
    "emulator",
    "redis",
    "postgres",
    "rabbitmq",
    "bench",
)


class ProgressBar:
    """``label [#####.....] done/total`` on one line of standard error, redrawn in place."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last: tuple[str | None, float] = (None, -1.0)

    def __call__(self, label: str, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        last_label, last_time = self._last
        now = time.monotonic()
        if not self.tty and label == last_label and now - last_time < 5 and done < total:
            return  # in a log, one line every few seconds is plenty
        self._last = (label, now)
        filled = int(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{label:<26} [{bar}] {done}/{total}"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def phases_table(phases: list[Phase]) -> list[str]:
    """The load and CPU figures of each phase, where its p50 went, the summary over
    several starts, and the ratios (the system's to the floor, later scales' to the first)."""
    lines = [
        f"{'phase':<34} {'M':>4} {'votes':>6} {'votes/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'timeouts':>8} {'svc CPU ms/vote':>16}"
    ]
    for phase in phases:
        load = phase.load
        per_vote = phase.service_cpu_ms_per_vote(_service_kinds(phase))
        lines.append(
            f"{phase.name:<34} {load.machines:>4} {load.answered:>6} {load.votes_per_s:>8.1f} "
            f"{_ms(load.latency_ms(0.5)):>7} {_ms(load.latency_ms(0.95)):>7} "
            f"{_ms(load.latency_ms(0.99)):>7} {_ms(load.latency_ms(1.0)):>7} "
            f"{load.timed_out:>8} {'-' if per_vote is None else f'{per_vote:.2f}':>16}"
        )
    summaries = summarize([(phase.kind, phase.load) for phase in phases])
    starts = max((s.starts for s in summaries), default=1)
    sections = [
        ["CPU seconds by process kind during the measured run:"]
        + [
            f"  {phase.name:<32} "
            + "  ".join(f"{kind}={phase.cpu[kind]:.1f}" for kind in CPU_KINDS if kind in phase.cpu)
            for phase in phases
        ],
        _parts_lines(phases),
        _lag_lines(phases),
        _summary_lines(summaries, starts),
        _comparison_lines(summaries, starts),
    ]
    for section in sections:
        if section:
            lines += ["", *section]
    return lines


def _lag_lines(phases: list[Phase]) -> list[str]:
    """The checkpoint lag of each system phase: answer to the first checkpoint with it."""
    lines = []
    for phase in phases:
        if phase.is_floor:
            continue
        lags = sorted(phase.checkpoint_lags)
        if not lags:
            lines.append(f"  {phase.name:<32} no receipt in a checkpoint")
            continue
        lines.append(
            f"  {phase.name:<32} p50 {percentile(lags, 0.5):.2f} s  p95 "
            f"{percentile(lags, 0.95):.2f} s  max {lags[-1]:.2f} s  "
            f"({len(lags)} of {len(phase.load.receipts)} receipts)"
        )
    if not lines:
        return []
    return ["Checkpoint lag (a ballot's answer to the first signed checkpoint holding it):", *lines]


def _lag_json(phase: Phase) -> dict[str, float | int] | None:
    lags = sorted(phase.checkpoint_lags)
    if phase.is_floor or not lags:
        return None
    return {
        "p50_s": round(percentile(lags, 0.5), 3),
        "p95_s": round(percentile(lags, 0.95), 3),
        "max_s": round(lags[-1], 3),
        "receipts": len(phase.load.receipts),
        "measured": len(lags),
    }


def _service_kinds(phase: Phase) -> tuple[str, ...]:
    return ("relay:1", "relay:2") if phase.is_floor else SERVICE_KINDS


def _parts_lines(phases: list[Phase]) -> list[str]:
    parts = [(phase.name, phase.load.hops_ms(0.5)) for phase in phases]
    if all(split is None for _, split in parts):
        return []
    return [
        "Where the p50 went (answers around the p50, mean of each part): the two service "
        "or relay hops until the answer was published, then the answer's hop to the machine:"
    ] + [
        f"  {name:<32} {split[0]:.0f} ms + {split[1]:.0f} ms"
        for name, split in parts
        if split is not None
    ]


def _summary_lines(summaries: list[KindSummary], starts: int) -> list[str]:
    if starts == 1:
        return []
    lines = [f"Over {starts} fresh starts of each (best: highest votes/s, lowest ms):"]
    for summary in summaries:
        for label, figures in (("best", summary.best), ("median", summary.median)):
            lines.append(
                f"  {summary.kind:<32} {label:<6} {figures.votes_per_s:>8.1f} votes/s"
                + "".join(f"  p{int(f * 100)} {_ms(figures.latency_ms[f])}" for f in PERCENTILES)
            )
    return lines


def _comparison_lines(summaries: list[KindSummary], starts: int) -> list[str]:
    lines = []
    for comparison in compare(summaries):
        base = "floor" if is_floor(comparison.base) else comparison.base
        view = f", {comparison.view} of {starts}" if starts > 1 else ""
        lines.append(
            f"{comparison.ours} / {base}{view}: "
            + ", ".join(f"{key} {_times(value)}" for key, value in comparison.ratio.items())
        )
    return lines


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _parts(parts: tuple[float, float] | None) -> dict[str, float] | None:
    if parts is None:
        return None
    return {"until_answer_published": parts[0], "answer_to_machine": parts[1]}


def storage_table(cost: StorageCost) -> list[str]:
    """The storage figures."""
    return [
        f"Redis, {cost.voters:,} voters: {cost.redis_bytes_per_voter:.1f} bytes per voter "
        "(claims, each with its ballot's tag and time)",
        f"PostgreSQL, {cost.ballots:,} votes: {cost.postgres_bytes_per_vote:.1f} bytes per "
        "vote (table and indexes)",
    ]


def as_json(phases: list[Phase], cost: StorageCost | None) -> dict[str, Any]:
    """Everything measured, as one JSON-able object."""
    out: dict[str, Any] = {"phases": []}
    for phase in phases:
        load = phase.load
        out["phases"].append(
            {
                "name": phase.name,
                "kind": phase.kind,
                "start": phase.start,
                "machines": load.machines,
                "sent": load.sent,
                "answered": load.answered,
                "timed_out": load.timed_out,
                "seconds": round(load.seconds, 3),
                "votes_per_s": round(load.votes_per_s, 2),
                "latency_ms": {
                    f"p{int(f * 100)}": load.latency_ms(f) for f in (0.5, 0.95, 0.99, 1.0)
                },
                "latency_parts_ms": {
                    f"p{int(f * 100)}": _parts(load.hops_ms(f)) for f in (0.5, 0.95, 0.99)
                },
                "outcomes": load.outcomes,
                "cpu_seconds": {kind: round(v, 3) for kind, v in phase.cpu.items()},
                "service_cpu_ms_per_vote": phase.service_cpu_ms_per_vote(_service_kinds(phase)),
                "checkpoint_lag": _lag_json(phase),
            }
        )
    summaries = summarize([(phase.kind, phase.load) for phase in phases])
    out["summary"] = [
        {
            "kind": s.kind,
            "starts": s.starts,
            **{
                view: {
                    "votes_per_s": round(figures.votes_per_s, 2),
                    "latency_ms": {f"p{int(f * 100)}": figures.latency_ms[f] for f in PERCENTILES},
                }
                for view, figures in (("best", s.best), ("median", s.median))
            },
        }
        for s in summaries
    ]
    out["comparisons"] = [dataclasses.asdict(c) for c in compare(summaries)]
    if cost is not None:
        out["storage"] = cost.__dict__
    return out
