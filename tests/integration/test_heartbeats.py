"""Heartbeats in a real Redis: a beating instance is listed, a stopped one is gone at once,
a killed one (no more beats) is gone once its key expires, and garbage is skipped."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from config.settings import DEFAULT_REDIS_URL
from election.storage.heartbeats import Heartbeat, beat, key_prefix, live_instances
from election.storage.redis_client import connect_redis
from tests.support.processes import wait_for


@pytest.fixture
def client_and_namespace() -> Iterator[tuple[redis.Redis, str]]:
    client = connect_redis(DEFAULT_REDIS_URL)
    namespace = f"test-hb-{uuid.uuid4().hex[:8]}"
    yield client, namespace
    for key in client.scan_iter(match=f"{key_prefix(namespace)}*"):
        client.delete(key)


def test_a_beating_instance_is_listed_and_a_stopped_one_is_gone_at_once(
    client_and_namespace: tuple[redis.Redis, str],
) -> None:
    client, namespace = client_and_namespace
    heart = Heartbeat(lambda: client, namespace, "bridge", instance="bridge.1", interval_s=0.1)
    heart.start()
    wait_for(
        lambda: [i.instance for i in live_instances(client, namespace)] == ["bridge.1"],
        10,
        "the instance's first beat",
    )
    (found,) = live_instances(client, namespace)
    assert found.kind == "bridge" and found.age_s() < 5
    heart.stop()
    assert live_instances(client, namespace) == []


def test_an_instance_that_stops_beating_expires(
    client_and_namespace: tuple[redis.Redis, str],
) -> None:
    client, namespace = client_and_namespace
    beat(client, namespace, "logger", "logger.1", time.time())
    ttl = client.ttl(f"{key_prefix(namespace)}logger:logger.1")
    assert 0 < ttl <= 7  # so a SIGKILLed process leaves the list within TTL_S


def test_unreadable_heartbeats_are_skipped(client_and_namespace: tuple[redis.Redis, str]) -> None:
    client, namespace = client_and_namespace
    client.set(f"{key_prefix(namespace)}web:x", b"not json", ex=5)
    beat(client, namespace, "web", "web.1", time.time())
    assert [i.instance for i in live_instances(client, namespace)] == ["web.1"]
