"""``election status`` and its checks (``election.ops.health``) against the machine's real
Redis, PostgreSQL and RabbitMQ and the real emulator: a provisioned namespace is healthy,
and each broken dependency fails its own check, and only that one.

"Dead" servers are ports that are bound but not listening, so connections are refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import time
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from config import Settings, load_settings
from election.domain.routes import LOGGER, RECORDER, ROUTES
from election.ops.health import GRACE_S, Check, health
from election.ops.provision import provision
from election.pubsub.client import (
    publisher_client,
    subscriber_client,
    subscription_path,
    topic_path,
)
from election.storage.models import open_database
from tests.support.processes import run_election

#: Seconds each dependency may take in these tests.
TIMEOUT_S = 2.0
REDIS_BROKER = os.environ.get("TEST_REDIS_BROKER_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_BROKER = os.environ.get("TEST_RABBITMQ_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
#: The machine's own Redis: it keeps nothing on disk (the dedup store must).
VOLATILE_REDIS = "redis://127.0.0.1:6379/0"
ALL_CHECKS = ["redis", "postgres", "broker", "pubsub"] + [
    f"pubsub:{route.name or route.service}" for route in ROUTES
]


@dataclass
class Namespace:
    """A provisioned namespace of its own: topic, subscriptions, schema."""

    env: dict[str, str]
    settings: Settings
    subscriber: pubsub_v1.SubscriberClient

    def with_env(self, **variables: str) -> dict[str, str]:
        return {**self.env, **variables}

    def delete_subscription(self, name: str) -> None:
        self.subscriber.delete_subscription(
            subscription=subscription_path(self.settings, name), timeout=30
        )


@contextlib.contextmanager
def provisioned(emulator_host: str) -> Iterator[Namespace]:
    """Provision a fresh namespace (as ``election provision`` does); remove it afterwards."""
    name = f"h{uuidlib.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": emulator_host,
        "GOOGLE_CLOUD_PROJECT": "election-test",
        "ELECTION_TOPIC": name,
        "ELECTION_NAMESPACE": name,
        "DATABASE_SCHEMA": name,
        "DRAMATIQ_BROKER_URL": RABBITMQ_BROKER,
        "LOG_FORMAT": "console",
    }
    for variable in ("REDIS_URL", "DATABASE_URL"):
        env.pop(variable, None)  # the defaults: the durable Redis, the machine's PostgreSQL
    settings = load_settings(env)
    publisher, subscriber = publisher_client(settings), subscriber_client(settings)
    database = open_database(settings, max_connections=1)
    try:
        provision(settings, publisher, subscriber, database, timeout=30)
        yield Namespace(env, settings, subscriber)
    finally:
        for route in ROUTES:
            with contextlib.suppress(api_exceptions.NotFound):
                subscriber.delete_subscription(
                    subscription=subscription_path(settings, route.subscription(name)), timeout=30
                )
        with contextlib.suppress(api_exceptions.NotFound):
            publisher.delete_topic(topic=topic_path(settings), timeout=30)
        with database.connection_context():
            database.execute_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        database.close_all()
        subscriber.close()
        publisher.transport.close()


@pytest.fixture(scope="module")
def shared(emulator_host: str) -> Iterator[Namespace]:
    """A provisioned namespace the tests that only change settings share."""
    with provisioned(emulator_host) as namespace:
        yield namespace


@pytest.fixture
def own(emulator_host: str) -> Iterator[Namespace]:
    """A provisioned namespace for one test to break."""
    with provisioned(emulator_host) as namespace:
        yield namespace


@pytest.fixture(scope="module")
def dead_port() -> Iterator[int]:
    """A local TCP port that refuses connections for as long as the module runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening
        yield sock.getsockname()[1]


def failed(checks: list[Check]) -> dict[str, str]:
    """The failed checks: name -> detail."""
    return {check.name: check.detail for check in checks if not check.ok}


# --------------------------------------------------------------------------------------------
# Healthy
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("broker_url", [RABBITMQ_BROKER, REDIS_BROKER], ids=["rabbitmq", "redis"])
def test_a_provisioned_namespace_passes_every_check(shared: Namespace, broker_url: str) -> None:
    settings = dataclasses.replace(shared.settings, broker_url=broker_url)

    checks = health(settings, timeout_s=TIMEOUT_S)

    assert failed(checks) == {}
    assert [check.name for check in checks] == ALL_CHECKS
    details = {check.name: check.detail for check in checks}
    assert details["pubsub:logger"] == (
        f"{LOGGER.subscription(settings.namespace)} filter {LOGGER.filter}"
    )
    assert f"schema {settings.namespace}, 7 tables" in details["postgres"]


def test_election_status_exits_0_and_prints_one_ok_line_per_check(shared: Namespace) -> None:
    done = run_election(["status"], shared.env, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [["ok", name] for name in ALL_CHECKS]
    assert lines[-1].startswith(f"healthy: all {len(ALL_CHECKS)} checks ok in ")
    assert "guest:***@" in done.stdout and "guest:guest" not in done.stdout


def test_election_status_json_is_one_healthy_object(shared: Namespace) -> None:
    done = run_election(["status", "--json"], shared.env, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is True
    assert [check["name"] for check in report["checks"]] == ALL_CHECKS
    assert all(set(check) == {"name", "ok", "detail", "took_ms"} for check in report["checks"])


# --------------------------------------------------------------------------------------------
# Each broken dependency fails its own check
# --------------------------------------------------------------------------------------------


def test_a_dead_redis_port_fails_the_redis_check_alone(shared: Namespace, dead_port: int) -> None:
    settings = dataclasses.replace(shared.settings, redis_url=f"redis://127.0.0.1:{dead_port}/0")

    problems = failed(health(settings, timeout_s=TIMEOUT_S))

    assert list(problems) == ["redis"]
    assert problems["redis"].startswith(f"cannot reach Redis at redis://127.0.0.1:{dead_port}")
    assert "check REDIS_URL" in problems["redis"]


def test_a_redis_that_keeps_nothing_on_disk_fails_the_redis_check(shared: Namespace) -> None:
    settings = dataclasses.replace(shared.settings, redis_url=VOLATILE_REDIS)

    problems = failed(health(settings, timeout_s=TIMEOUT_S))

    assert list(problems) == ["redis"]
    assert "cannot keep the record of who voted" in problems["redis"]
    assert "appendonly no, needs yes" in problems["redis"]


def test_a_dead_postgres_port_fails_the_postgres_check_alone(
    shared: Namespace, dead_port: int
) -> None:
    url = f"postgresql://127.0.0.1:{dead_port}/postgres"
    settings = dataclasses.replace(shared.settings, database_url=url)

    problems = failed(health(settings, timeout_s=TIMEOUT_S))

    assert list(problems) == ["postgres"]
    assert problems["postgres"].startswith(f"cannot reach PostgreSQL at {url[:-9]}")
    assert "check DATABASE_URL" in problems["postgres"]


def test_an_unprovisioned_schema_fails_the_postgres_check(shared: Namespace) -> None:
    settings = dataclasses.replace(shared.settings, database_schema=f"h{uuidlib.uuid4().hex[:12]}")

    problems = failed(health(settings, timeout_s=TIMEOUT_S))

    assert list(problems) == ["postgres"]
    assert "has none of the tables; run `election provision`" in problems["postgres"]


def test_a_schema_missing_one_table_names_that_table(own: Namespace) -> None:
    database = open_database(own.settings, max_connections=1)
    with database.connection_context():
        database.execute_sql(f'DROP TABLE "{own.settings.database_schema}".log_checkpoints')
    database.close_all()

    problems = failed(health(own.settings, timeout_s=TIMEOUT_S))

    assert list(problems) == ["postgres"]
    assert "lacks the tables log_checkpoints; run `election provision`" in problems["postgres"]


@pytest.mark.parametrize("scheme", ["amqp", "redis"])
def test_a_dead_broker_port_fails_the_broker_check_alone(
    shared: Namespace, dead_port: int, scheme: str
) -> None:
    url = f"{scheme}://guest:brokerpw@127.0.0.1:{dead_port}/"
    settings = dataclasses.replace(shared.settings, broker_url=url)

    problems = failed(health(settings, timeout_s=TIMEOUT_S))

    assert list(problems) == ["broker"]
    assert problems["broker"].startswith("cannot reach the Dramatiq broker")
    assert "check DRAMATIQ_BROKER_URL" in problems["broker"]
    assert "brokerpw" not in problems["broker"]


def test_a_deleted_subscription_fails_its_own_check(own: Namespace) -> None:
    name = RECORDER.subscription(own.settings.namespace)
    own.delete_subscription(name)

    problems = failed(health(own.settings, timeout_s=TIMEOUT_S))

    assert problems == {
        "pubsub:recorder": f"Pub/Sub subscription {name} does not exist; "
        "run `election provision` first"
    }


def test_a_subscription_made_again_with_another_filter_fails_its_own_check(
    own: Namespace,
) -> None:
    name = LOGGER.subscription(own.settings.namespace)
    own.delete_subscription(name)
    own.subscriber.create_subscription(
        request={
            "name": subscription_path(own.settings, name),
            "topic": topic_path(own.settings),
            "filter": 'attributes.function = "record vote"',
        },
        timeout=30,
    )

    problems = failed(health(own.settings, timeout_s=TIMEOUT_S))

    assert list(problems) == ["pubsub:logger"]
    assert problems["pubsub:logger"] == (
        f"Pub/Sub subscription {name} has the filter 'attributes.function = \"record vote\"', "
        f"expected {LOGGER.filter!r}; filters cannot be changed: delete it, then run "
        "`election provision`"
    )


def test_a_missing_topic_fails_the_pubsub_check(shared: Namespace) -> None:
    settings = dataclasses.replace(shared.settings, topic=f"h{uuidlib.uuid4().hex[:12]}")

    problems = failed(health(settings, timeout_s=TIMEOUT_S))

    assert problems == {
        "pubsub": f"Pub/Sub topic {settings.topic} does not exist; run `election provision` first"
    }


def test_a_dead_emulator_fails_every_pubsub_check_within_the_time_out(
    shared: Namespace, dead_port: int
) -> None:
    settings = dataclasses.replace(shared.settings, emulator_host=f"127.0.0.1:{dead_port}")

    started = time.monotonic()
    problems = failed(health(settings, timeout_s=1.0))
    took = time.monotonic() - started

    assert list(problems) == [name for name in ALL_CHECKS if name.startswith("pubsub")]
    assert all(
        detail.startswith(f"cannot reach Pub/Sub at 127.0.0.1:{dead_port}")
        for detail in problems.values()
    )
    assert took < 1.0 + GRACE_S + 0.5  # four Pub/Sub checks at once, not one after another


def test_election_status_exits_4_naming_the_dead_broker_without_its_password(
    shared: Namespace, dead_port: int
) -> None:
    env = shared.with_env(DRAMATIQ_BROKER_URL=f"amqp://guest:brokerpw@127.0.0.1:{dead_port}/")

    human = run_election(["status", "--timeout", str(TIMEOUT_S)], env, timeout=60)
    as_json = run_election(["status", "--json", "--timeout", str(TIMEOUT_S)], env, timeout=60)

    assert (human.returncode, as_json.returncode) == (4, 4)
    assert any(line.startswith("FAIL broker ") for line in human.stdout.splitlines())
    assert human.stdout.splitlines()[-1].startswith("unhealthy: 1 of 7 checks failed (broker)")
    assert json.loads(as_json.stdout)["healthy"] is False
    for run in (human, as_json):
        assert "brokerpw" not in run.stdout + run.stderr
        assert "Traceback" not in run.stderr
