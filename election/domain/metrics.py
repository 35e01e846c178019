"""The metrics the processes count, how a series is named in the shared store, and how
the stored totals become Prometheus families (``/metrics``). Nothing here does I/O.

Each process adds to its own in-memory totals (``election.storage.telemetry``) and
flushes them into one Redis hash per namespace, so that every process of every host, and
each of Dramatiq's worker processes, adds to the same totals. A hash field is one series:
:func:`field` of the metric's name and its labels (JSON, so any label value round-trips);
its value is the running total.

What is counted:

- :data:`ANSWERS`: the answers (``result`` messages) a service published, by ``service``
  and ``outcome`` (:func:`outcome_label`), counted once Pub/Sub confirmed the publish;
- :data:`LATENCY`: for each of those answers, seconds from the Pub/Sub ``publish_time``
  of the message the service answered (the earliest in its Dramatiq batch; a machine's
  ``submit vote`` for the logger, the logger's ``record vote`` for the recorder) to the
  confirmation of the answer's publish: one service's hop, Pub/Sub delivery, the bridge
  and the broker included. A vote's ``successful`` therefore counts the recorder's hop
  only; the logger's hop of that vote ends at its ``record vote``, which is no answer;
- :data:`ACTOR_MESSAGES`: the Dramatiq messages each actor took, by ``result``
  (:data:`PROCESSED`, :data:`RETRIED`: failed and enqueued again, :data:`GAVE_UP`:
  failed for the last time, handed to the actor's give-up path).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from election.domain import protocol
from election.domain.outcomes import Kind

#: ``election_answers_total{service, outcome}``.
ANSWERS = "election_answers_total"
#: ``election_answer_latency_seconds{service}``, a histogram.
LATENCY = "election_answer_latency_seconds"
#: ``election_actor_messages_total{actor, result}``.
ACTOR_MESSAGES = "election_actor_messages_total"
#: ``election_process_instances{kind}``, a gauge read from the heartbeats.
INSTANCES = "election_process_instances"

PROCESSED, RETRIED, GAVE_UP = "processed", "retried", "gave_up"

#: The Dramatiq message option in which the bridge gives the earliest Pub/Sub
#: ``publish_time`` of a batch (ms since the epoch): where :data:`LATENCY` starts.
PUBLISHED_OPTION = "published_ms"

HELP = {
    ANSWERS: "Answers published to voting machines, by service and outcome.",
    LATENCY: "Seconds from the Pub/Sub publish of the message a service answered to the "
    "confirmed publish of its answer.",
    ACTOR_MESSAGES: "Dramatiq messages taken by each actor, by result "
    "(processed, retried, gave_up).",
    INSTANCES: "Live process instances of each kind (their heartbeats).",
}

#: Upper bounds (seconds) of the latency buckets; ``+Inf`` is implied.
BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
#: The label of a histogram's bucket bound, as Prometheus spells it.
LE = "le"
INF = "+Inf"
#: Suffixes of a histogram's stored series: each bucket's own count (not cumulative) and
#: the sum; its count is the sum of its buckets.
BUCKET_SUFFIX, SUM_SUFFIX = "_bucket", "_sum"

Labels = tuple[tuple[str, str], ...]
#: A series: metric name (with a histogram's suffix) and its sorted labels.
Series = tuple[str, Labels]

_OUTCOME_LABELS = {
    Kind.RECORDED: "recorded",
    Kind.ALREADY_VOTED: "already_voted",
    Kind.REJECTED: "rejected",
    Kind.TIMED_OUT: "timed_out",
}


def labels(**given: str) -> Labels:
    """Labels in their one order (sorted by name), so one series has one field."""
    return tuple(sorted(given.items()))


def field(name: str, series_labels: Labels) -> str:
    """The hash field of one series."""
    return json.dumps([name, [list(pair) for pair in series_labels]], separators=(",", ":"))


def parse_field(text: str) -> Series | None:
    """The series of a hash field; ``None`` for anything :func:`field` did not write."""
    try:
        name, pairs = json.loads(text)
        parsed = tuple((str(k), str(v)) for k, v in pairs)
    except (ValueError, TypeError):
        return None
    return (name, parsed) if isinstance(name, str) else None


def bucket_bound(seconds: float, bounds: tuple[float, ...] = BUCKETS) -> str:
    """The ``le`` label of the one bucket ``seconds`` falls in (the smallest bound not
    below it; a negative value, clocks apart, counts in the first)."""
    index = bisect.bisect_left(bounds, seconds)
    return INF if index == len(bounds) else repr(bounds[index])


def outcome_label(message: protocol.OutgoingMessage) -> str | None:
    """The ``outcome`` label of an answer to a machine; ``None`` for any other message."""
    if message.attributes.get(protocol.FUNCTION) != protocol.RESULT:
        return None
    # As ``outcome_of`` classifies it, without building the outcome (or reading a receipt).
    result = message.body.get("result")
    if result == protocol.RESULT_SUCCESSFUL:
        return _OUTCOME_LABELS[Kind.RECORDED]
    if result == protocol.RESULT_ALREADY_VOTED:
        return _OUTCOME_LABELS[Kind.ALREADY_VOTED]
    return _OUTCOME_LABELS[Kind.REJECTED]


@dataclass
class Histogram:
    """One histogram series, its buckets cumulative as Prometheus wants them."""

    labels: Labels
    buckets: list[tuple[str, float]]
    count: float
    total: float


@dataclass
class Families:
    """The stored totals, grouped for rendering: counters by name, histograms by name."""

    counters: dict[str, list[tuple[Labels, float]]] = dataclass_field(default_factory=dict)
    histograms: dict[str, list[Histogram]] = dataclass_field(default_factory=dict)


def _number(value: bytes | str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def families(stored: Mapping[bytes, bytes] | Mapping[str, str]) -> Families:
    """The families of the stored totals (``HGETALL`` of the metrics hash); a field or
    value that is not ours is skipped."""
    out = Families()
    parts: dict[str, dict[Labels, dict[str, float]]] = {}
    for raw_field, raw_value in stored.items():
        text = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
        series, value = parse_field(text), _number(raw_value)
        if series is None or value is None:
            continue
        name, series_labels = series
        if name == LATENCY + BUCKET_SUFFIX:
            rest = tuple(pair for pair in series_labels if pair[0] != LE)
            bound = dict(series_labels).get(LE, INF)
            parts.setdefault(LATENCY, {}).setdefault(rest, {})[bound] = value
        elif name == LATENCY + SUM_SUFFIX:
            parts.setdefault(LATENCY, {}).setdefault(series_labels, {})[SUM_SUFFIX] = value
        else:
            out.counters.setdefault(name, []).append((series_labels, value))
    for name, by_labels in parts.items():
        out.histograms[name] = [_histogram(ls, got) for ls, got in sorted(by_labels.items())]
    for series_list in out.counters.values():
        series_list.sort()
    return out


def _histogram(series_labels: Labels, got: Mapping[str, float]) -> Histogram:
    running = 0.0
    cumulative: list[tuple[str, float]] = []
    for bound in [*(repr(b) for b in BUCKETS), INF]:
        running += got.get(bound, 0.0)
        cumulative.append((bound, running))
    return Histogram(series_labels, cumulative, running, got.get(SUM_SUFFIX, 0.0))


def instance_counts(kinds: Iterable[str]) -> dict[str, int]:
    """How many live instances of each kind (one kind per live heartbeat given)."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))
