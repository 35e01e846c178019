"""``/metrics``: the deployment's totals (``election.domain.metrics``) for Prometheus.

Every process flushes its counts into the shared Redis (``election.storage.telemetry``),
so one scrape of any web instance sees the whole deployment: every host's processes and
each Dramatiq worker process. The text is rendered by ``prometheus_client`` from a
collector that reads the hash and the live heartbeats once per scrape, within
:data:`REDIS_TIMEOUT_S`; when Redis does not answer, the scrape is a 503 with a one-line
reason (Prometheus then marks the target down rather than reading zeros).
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from config import Settings
from election.domain import metrics
from election.ops.preflight import one_line
from election.storage.heartbeats import live_instances
from election.storage.redis_client import connect_redis
from election.storage.telemetry import read_totals

log = structlog.get_logger("web")

#: Seconds Redis may take per command of one scrape.
REDIS_TIMEOUT_S = 2.0


class Snapshot:
    """The stored totals and live instance counts of one scrape, as a collector."""

    def __init__(self, totals: metrics.Families, instances: dict[str, int]) -> None:
        self.totals = totals
        self.instances = instances

    def collect(self) -> Iterator[Metric]:
        for name, series in sorted(self.totals.counters.items()):
            help_text = metrics.HELP.get(name, name)
            label_names = [key for key, _ in series[0][0]]
            counter = CounterMetricFamily(name, help_text, labels=label_names)
            for series_labels, value in series:
                counter.add_metric([v for _, v in series_labels], value)
            yield counter
        for name, histograms in sorted(self.totals.histograms.items()):
            label_names = [key for key, _ in histograms[0].labels]
            family = HistogramMetricFamily(name, metrics.HELP[name], labels=label_names)
            for each in histograms:
                family.add_metric([v for _, v in each.labels], each.buckets, sum_value=each.total)
            yield family
        gauge = GaugeMetricFamily(
            metrics.INSTANCES, metrics.HELP[metrics.INSTANCES], labels=["kind"]
        )
        for kind, count in self.instances.items():
            gauge.add_metric([kind], count)
        yield gauge


def scrape(settings: Settings) -> bytes:
    """The exposition text of ``settings``' deployment (raises ``redis.RedisError``)."""
    client = connect_redis(settings.redis_url, timeout_s=REDIS_TIMEOUT_S)
    try:
        totals = metrics.families(read_totals(client, settings.namespace))
        kinds = [each.kind for each in live_instances(client, settings.namespace)]
    finally:
        client.close()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(totals, metrics.instance_counts(kinds)))
    return generate_latest(registry)


async def metrics_endpoint(request: Request) -> Response:
    """``/metrics``: Prometheus text; 503 with one line when Redis does not answer."""
    settings: Settings = request.state.settings
    try:
        body = await run_in_threadpool(scrape, settings)
    except redis.RedisError as exc:
        log.warning("metrics unavailable", error=one_line(exc))
        return PlainTextResponse(f"cannot read the metrics from Redis: {one_line(exc)}\n", 503)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
