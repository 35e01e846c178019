"""Outcome rules: what a voting machine shows for the answer it got (or did not get)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from election.domain import protocol
from election.domain.receipts import BadReceipt, parse_receipt


class Kind(enum.Enum):
    """The outcomes a machine can print, with their exact words."""

    RECORDED = "A vote was recorded successfully"
    ALREADY_VOTED = "Already voted"
    TIMED_OUT = "Time out"
    REJECTED = "Rejected"


@dataclass(frozen=True)
class Outcome:
    """One vote's outcome; ``detail`` is the reason of a rejection, ``receipt`` the
    tracking code of a recorded ballot (``election.domain.receipts``), when it came with
    one. The receipt does not take part in comparisons: the outcome is the kind."""

    kind: Kind
    detail: str = ""
    receipt: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.kind is Kind.REJECTED:
            return f"Rejected: {self.detail}" if self.detail else "Rejected"
        return str(self.kind.value)


TIMED_OUT = Outcome(Kind.TIMED_OUT)
#: What a machine shows for an answer whose signature does not hold (it waits on).
FORGED = "Forged answer ignored"


def _readable(receipt: object) -> str | None:
    """A receipt as the machine prints it; ``None`` for anything that is not one."""
    if not isinstance(receipt, str):
        return None
    try:
        return parse_receipt(receipt)
    except BadReceipt:
        return None


def outcome_of(body: Mapping[str, Any]) -> Outcome:
    """Classify a ``result`` message body; anything unknown counts as a rejection."""
    result = body.get("result")
    if result == protocol.RESULT_SUCCESSFUL:
        receipt = body.get(protocol.RECEIPT)
        return Outcome(Kind.RECORDED, receipt=_readable(receipt))
    if result == protocol.RESULT_ALREADY_VOTED:
        return Outcome(Kind.ALREADY_VOTED)
    if isinstance(result, str) and result.startswith(protocol.RESULT_REJECTED_PREFIX):
        return Outcome(Kind.REJECTED, result[len(protocol.RESULT_REJECTED_PREFIX) :].strip())
    return Outcome(Kind.REJECTED, f"unknown answer {result!r}")


@dataclass(frozen=True)
class Summary:
    """Counts of each outcome and reply latencies (seconds) of the answered votes."""

    counts: Mapping[Kind, int]
    p50: float | None
    p95: float | None
    max: float | None

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [f"{kind.value}: {self.counts.get(kind, 0)}" for kind in Kind]
        if self.p50 is None or self.p95 is None or self.max is None:
            out.append("latency: no answers")
        else:
            out.append(
                f"latency: p50 {self.p50 * 1000:.0f} ms, p95 {self.p95 * 1000:.0f} ms, "
                f"max {self.max * 1000:.0f} ms"
            )
        return out


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (which must not be empty)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = min(len(sorted_values), max(1, math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def summarize(outcomes: Sequence[tuple[Outcome, float | None]]) -> Summary:
    """Summarize (outcome, latency) pairs; latency is ``None`` for time-outs."""
    counts: dict[Kind, int] = {}
    for outcome, _ in outcomes:
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
    latencies = sorted(lat for _, lat in outcomes if lat is not None)
    if not latencies:
        return Summary(counts, None, None, None)
    return Summary(counts, percentile(latencies, 0.50), percentile(latencies, 0.95), latencies[-1])
