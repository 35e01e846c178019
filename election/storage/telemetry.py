"""A process's counters, added to in memory and flushed into the shared Redis.

Counting a vote must cost next to nothing, so :class:`Telemetry` only adds to a dict under
a lock; a :class:`Flusher` thread moves what was added into the hash ``<ns>:metrics``
every :data:`FLUSH_INTERVAL_S` with one pipeline of ``HINCRBY``/``HINCRBYFLOAT``. Every
process (on any host, and each of Dramatiq's worker processes) adds to the same fields
(``election.domain.metrics``), so the hash holds the deployment's totals. A flush that
fails keeps its amounts for the next one; a process killed loses at most its last
interval's counts. :class:`ProcessTelemetry` runs a process's heartbeat and flusher
together, which is what each long-running process starts.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

import redis
import structlog

from election.domain import metrics
from election.storage.heartbeats import Heartbeat
from election.storage.periodic import Periodic
from election.storage.redis_client import connect_redis

log = structlog.get_logger(__name__)

#: Seconds between two flushes.
FLUSH_INTERVAL_S = 1.0


def metrics_key(namespace: str) -> str:
    """The hash of ``namespace``'s totals."""
    return f"{namespace}:metrics"


def read_totals(client: redis.Redis, namespace: str) -> dict[bytes, bytes]:
    """Every stored total of ``namespace`` (``HGETALL``)."""
    return client.hgetall(metrics_key(namespace))  # type: ignore[return-value]


class Telemetry:
    """This process's counts not flushed yet (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._sums: dict[str, float] = {}

    def count(self, name: str, series_labels: metrics.Labels, amount: int = 1) -> None:
        """Add ``amount`` to a counter."""
        key = _cached(
            ("c", name, *(part for pair in series_labels for part in pair)),
            lambda: metrics.field(name, series_labels),
        )
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + amount

    def answered(self, service: str, answers: Iterable[tuple[str, float]]) -> None:
        """Count ``(outcome, latency_s)`` answers of ``service``: each in
        :data:`~election.domain.metrics.ANSWERS` and in the latency histogram."""
        adds: list[str] = []
        total = 0.0
        for outcome, latency_s in answers:
            adds.append(_answer_field(service, outcome))
            adds.append(_bucket_field(service, metrics.bucket_bound(latency_s)))
            total += latency_s
        if not adds:
            return
        with self._lock:
            for key in adds:
                self._counts[key] = self._counts.get(key, 0) + 1
            key = _sum_field(service)
            self._sums[key] = self._sums.get(key, 0.0) + total

    def take(self) -> tuple[dict[str, int], dict[str, float]]:
        """Everything added since the last take (and forget it here)."""
        with self._lock:
            counts, sums = self._counts, self._sums
            self._counts, self._sums = {}, {}
        return counts, sums

    def give_back(self, counts: Mapping[str, int], sums: Mapping[str, float]) -> None:
        """Add back what a failed flush took, for the next one."""
        with self._lock:
            for key, amount in counts.items():
                self._counts[key] = self._counts.get(key, 0) + amount
            for key, value in sums.items():
                self._sums[key] = self._sums.get(key, 0.0) + value

    def flush(self, client: redis.Redis, namespace: str) -> int:
        """Add what was counted to ``namespace``'s totals in one pipeline; the number of
        fields written. On a Redis error the amounts are kept and the error raised."""
        counts, sums = self.take()
        if not counts and not sums:
            return 0
        key = metrics_key(namespace)
        try:
            # MULTI/EXEC: all of a flush is added or none, so giving it back on an error
            # cannot count twice what was half written.
            pipe = client.pipeline(transaction=True)
            for name, amount in counts.items():
                pipe.hincrby(key, name, amount)
            for name, value in sums.items():
                pipe.hincrbyfloat(key, name, value)
            pipe.execute()
        except redis.RedisError:
            self.give_back(counts, sums)
            raise
        return len(counts) + len(sums)


# Field names of the hot path, built once per (service, outcome, bound).
_FIELDS: dict[tuple[str, ...], str] = {}


def _cached(key: tuple[str, ...], build: Callable[[], str]) -> str:
    found = _FIELDS.get(key)
    if found is None:
        found = _FIELDS[key] = build()
    return found


def _answer_field(service: str, outcome: str) -> str:
    return _cached(
        ("a", service, outcome),
        lambda: metrics.field(metrics.ANSWERS, metrics.labels(outcome=outcome, service=service)),
    )


def _bucket_field(service: str, bound: str) -> str:
    name = metrics.LATENCY + metrics.BUCKET_SUFFIX
    return _cached(
        ("b", service, bound),
        lambda: metrics.field(name, metrics.labels(le=bound, service=service)),
    )


def _sum_field(service: str) -> str:
    name = metrics.LATENCY + metrics.SUM_SUFFIX
    return _cached(("s", service), lambda: metrics.field(name, metrics.labels(service=service)))


class Flusher:
    """Flushes ``telemetry`` every ``interval_s`` until stopped, and once more when
    stopped (what was counted last is not dropped)."""

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        namespace: str,
        telemetry: Telemetry,
        *,
        interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.namespace = namespace
        self.telemetry = telemetry
        self._flushes = Periodic("telemetry-flush", connect, self._flush, interval_s, last_run=True)

    def start(self) -> Flusher:
        self._flushes.start()
        return self

    def stop(self) -> None:
        """Stop, after a last flush of what was counted."""
        self._flushes.stop()

    def _flush(self, client: redis.Redis) -> None:
        self.telemetry.flush(client, self.namespace)


class ProcessTelemetry:
    """A process's heartbeat (kind ``kind``) and its counters' flusher, started and
    stopped together; ``telemetry`` is what the process counts into."""

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        namespace: str,
        kind: str,
        *,
        instance: str | None = None,
        telemetry: Telemetry | None = None,
        interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.telemetry = telemetry or Telemetry()
        self.heartbeat = Heartbeat(connect, namespace, kind, instance=instance)
        self.flusher = Flusher(connect, namespace, self.telemetry, interval_s=interval_s)

    def start(self) -> ProcessTelemetry:
        self.heartbeat.start()
        self.flusher.start()
        return self

    def stop(self) -> None:
        """Flush the last counts, then remove the heartbeat."""
        self.flusher.stop()
        self.heartbeat.stop()


@contextlib.contextmanager
def running(redis_url: str, namespace: str, kind: str) -> Iterator[ProcessTelemetry]:
    """A :class:`ProcessTelemetry` of kind ``kind`` on the Redis at ``redis_url``, for
    as long as the block runs (a process's whole life)."""
    process = ProcessTelemetry(lambda: connect_redis(redis_url), namespace, kind).start()
    try:
        yield process
    finally:
        process.stop()
