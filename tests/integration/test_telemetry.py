"""Counters in a real Redis: two processes' counts (two :class:`Telemetry` instances) add
up in the shared hash, a flush that fails keeps its counts for the next, and a real
``election web`` shows the summed totals and the live instances on ``/metrics``, or a
one-line 503 when its Redis does not answer."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import DEFAULT_REDIS_URL
from election.domain import metrics
from election.local.emulator import free_port
from election.storage.heartbeats import Heartbeat
from election.storage.redis_client import connect_redis
from election.storage.telemetry import Flusher, Telemetry, metrics_key, read_totals
from tests.support.processes import Service, election_command, wait_for
from tests.support.scrape import get, samples

LOGGER_RECORDED = metrics.labels(outcome="recorded", service="logger")


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"test-tm-{uuid.uuid4().hex[:8]}"
    yield name
    client = connect_redis(DEFAULT_REDIS_URL)
    for key in client.scan_iter(match=f"{name}:*"):
        client.delete(key)
    client.close()


def totals(namespace: str) -> metrics.Families:
    return metrics.families(read_totals(connect_redis(DEFAULT_REDIS_URL), namespace))


def test_two_writers_counts_add_up_in_the_shared_hash(namespace: str) -> None:
    client = connect_redis(DEFAULT_REDIS_URL)
    first, second = Telemetry(), Telemetry()
    first.answered("logger", [("recorded", 0.003), ("recorded", 0.2)])
    second.answered("logger", [("recorded", 20.0)])
    second.count(metrics.ACTOR_MESSAGES, metrics.labels(actor="dedup_votes", result="processed"))
    assert first.flush(client, namespace) > 0
    assert second.flush(client, namespace) > 0
    assert first.flush(client, namespace) == 0  # nothing new: nothing written
    found = totals(namespace)
    assert dict(found.counters[metrics.ANSWERS]) == {LOGGER_RECORDED: 3}
    (histogram,) = found.histograms[metrics.LATENCY]
    assert dict(histogram.buckets)["0.005"] == 1 and dict(histogram.buckets)["0.25"] == 2
    assert histogram.count == 3 and histogram.total == pytest.approx(20.203)


def test_a_flush_that_fails_keeps_its_counts_for_the_next(namespace: str) -> None:
    telemetry = Telemetry()
    telemetry.answered("recorder", [("recorded", 0.01)])
    dead = connect_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1)
    with pytest.raises(redis.RedisError):
        telemetry.flush(dead, namespace)
    telemetry.flush(connect_redis(DEFAULT_REDIS_URL), namespace)
    recorded = metrics.labels(outcome="recorded", service="recorder")
    assert dict(totals(namespace).counters[metrics.ANSWERS]) == {recorded: 1}


def test_a_stopped_flusher_flushes_what_was_counted_last(namespace: str) -> None:
    telemetry = Telemetry()
    flusher = Flusher(lambda: connect_redis(DEFAULT_REDIS_URL), namespace, telemetry)
    flusher.interval_s = 60.0  # no periodic flush in this test: only the last one
    flusher.start()
    telemetry.answered("logger", [("already_voted", 0.1)])
    flusher.stop()
    already = metrics.labels(outcome="already_voted", service="logger")
    assert dict(totals(namespace).counters[metrics.ANSWERS]) == {already: 1}


def start_web(
    namespace: str, log_dir: Path, redis_url: str = DEFAULT_REDIS_URL
) -> tuple[Service, str]:
    port = free_port()
    env = {
        **os.environ,
        "ELECTION_NAMESPACE": namespace,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
    }
    service = Service("web", election_command("web"), env, log_dir).start()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if not service.alive:
            raise AssertionError(f"election web exited:\n{service.log()[-3000:]}")
        try:
            return get(base + "/healthz")[0] == 200
        except OSError:
            return False

    wait_for(up, 30, "election web to answer /healthz")
    return service, base


def test_the_web_process_shows_two_writers_totals_summed_and_the_live_instances(
    namespace: str, tmp_path: Path
) -> None:
    client = connect_redis(DEFAULT_REDIS_URL)
    for latency in (0.02, 0.7):
        writer = Telemetry()
        writer.answered("logger", [("recorded", latency)])
        writer.flush(client, namespace)
    hearts = [
        Heartbeat(lambda: client, namespace, "logger", instance=f"w{i}", interval_s=0.2).start()
        for i in range(2)
    ]
    service, base = start_web(namespace, tmp_path)
    try:
        status, text = get(base + "/metrics")
        assert status == 200, text
        found = samples(text)
        assert found[("election_answers_total", LOGGER_RECORDED)] == 2
        assert found[("election_answer_latency_seconds_count", (("service", "logger"),))] == 2
        assert (
            found[
                ("election_answer_latency_seconds_bucket", (("le", "0.025"), ("service", "logger")))
            ]
            == 1
        )
        assert found[("election_process_instances", (("kind", "logger"),))] == 2
        # The web process beats too, once its lifespan started.
        wait_for(
            lambda: (
                samples(get(base + "/metrics")[1]).get(
                    ("election_process_instances", (("kind", "web"),))
                )
                == 1
            ),
            15,
            "the web process's own heartbeat",
        )
    finally:
        service.stop()
        for heart in hearts:
            heart.stop()
    assert client.exists(metrics_key(namespace))


def test_metrics_is_a_one_line_503_when_redis_does_not_answer(
    namespace: str, tmp_path: Path
) -> None:
    service, base = start_web(namespace, tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    try:
        status, text = get(base + "/metrics")
    finally:
        service.stop()
    assert status == 503
    assert text.startswith("cannot read the metrics from Redis:") and text.count("\n") == 1
