"""Start-up checks: can this process reach the services it needs?

A process that cannot reach Redis, PostgreSQL, the Dramatiq broker or Pub/Sub when it
starts says so in one line and exits non-zero, instead of crashing later with a traceback.
``election status`` (``election.ops.health``) runs the same checks, one implementation per
dependency: each raises an ``ElectionError`` whose text says what is wrong and what to do.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import peewee
import redis
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from config import ConfigError, Settings
from election.domain.errors import OperatorDecision, Unavailable
from election.domain.routes import ROUTES, Route
from election.pubsub.client import (
    admin_retry,
    publisher_client,
    subscriber_client,
    subscription_path,
    topic_path,
)
from election.storage.models import MODELS, open_database
from election.storage.redis_client import connect_redis

#: Seconds each check may take.
CHECK_TIMEOUT_S = 10.0


def one_line(exc: BaseException) -> str:
    """An exception's text on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def check_redis(
    url: str,
    what: str = "Redis",
    *,
    variable: str = "REDIS_URL",
    timeout_s: float = CHECK_TIMEOUT_S,
) -> None:
    """Ping Redis at ``url`` (``variable`` names the setting it came from)."""
    client = connect_redis(url, timeout_s=timeout_s)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Unavailable(
            f"cannot reach {what} at {_where(url)}: {one_line(exc)}; "
            f"is it running? check {variable}"
        ) from None
    finally:
        client.close()


#: The settings a dedup Redis must have, and why.
REQUIRED_DEDUP_CONFIG = {
    "appendonly": ("yes", "claims would not survive a restart"),
    "appendfsync": ("always", "a crash would lose the last second of claims"),
    "maxmemory-policy": ("noeviction", "Redis could evict claims when memory runs short"),
}


class UnsafeDedupStore(ConfigError):
    """The dedup Redis could forget who voted; the message names the setting."""


def durability_problems(client: redis.Redis) -> list[str]:
    """What is wrong with the Redis behind ``client`` as the record of who voted: every
    claim must be on disk before the vote goes on, and no key may ever be evicted."""
    try:
        found = client.config_get("*")
    except redis.ResponseError as exc:
        return [f"cannot read Redis' configuration (CONFIG GET refused: {one_line(exc)})"]
    problems = []
    for name, (wanted, why) in REQUIRED_DEDUP_CONFIG.items():
        value = found.get(name) if isinstance(found, dict) else None
        text = value.decode() if isinstance(value, bytes) else str(value)
        if text != wanted:
            problems.append(f"Redis has {name} {text}, needs {wanted}: {why}")
    return problems


def check_dedup_store(url: str, *, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Refuse a Redis at ``url`` that could lose claims (raises :class:`UnsafeDedupStore`)."""
    client = connect_redis(url, timeout_s=timeout_s)
    try:
        problems = durability_problems(client)
    except redis.RedisError as exc:
        raise Unavailable(
            f"cannot reach Redis at {_where(url)}: {one_line(exc)}; is it running? check REDIS_URL"
        ) from None
    finally:
        client.close()
    if problems:
        raise UnsafeDedupStore(
            f"REDIS_URL ({_where(url)}) cannot keep the record of who voted: {problems[0]}; "
            "point it at a durable Redis (scripts/services.sh starts one)"
        )


def check_postgres(
    settings: Settings, *, provisioned: bool = False, timeout_s: float = CHECK_TIMEOUT_S
) -> int:
    """Open one connection to PostgreSQL and run ``SELECT 1``; with ``provisioned``, also
    make sure every table is in ``DATABASE_SCHEMA``. Returns how many tables it found
    (none looked for without ``provisioned``)."""
    # Not bound: in a running process (the web's /readyz) the models stay on its own pool.
    database = open_database(settings, max_connections=1, bind=False)
    try:
        with database.connection_context():
            database.execute_sql(f"SET statement_timeout = {max(1, int(timeout_s * 1000))}")
            database.execute_sql("SELECT 1")
            found = _tables(database, settings.database_schema) if provisioned else set()
    except peewee.DatabaseError as exc:
        raise Unavailable(
            f"cannot reach PostgreSQL at {_where(settings.database_url)}: {one_line(exc)}; "
            "is it running? check DATABASE_URL"
        ) from None
    finally:
        database.close_all()
    missing = [table for table in _table_names() if table not in found]
    if provisioned and missing:
        lacks = f"lacks the tables {', '.join(missing)}" if found else "has none of the tables"
        raise Unavailable(
            f'PostgreSQL schema "{settings.database_schema}" {lacks}; run `election provision` '
            "(or check DATABASE_SCHEMA)"
        )
    return len(found)


def _table_names() -> list[str]:
    return [model._meta.table_name for model in MODELS]


def _tables(database: peewee.Database, schema: str) -> set[str]:
    """Which of the models' tables exist in ``schema``."""
    cursor = database.execute_sql(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = %s AND table_name = ANY(%s)",
        (schema, _table_names()),
    )
    return {row[0] for row in cursor.fetchall()}


def check_broker(settings: Settings, *, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Reach the Dramatiq broker (Redis: PING; RabbitMQ: a TCP connection)."""
    if settings.broker_kind == "redis":
        check_redis(
            settings.broker_url,
            "the Dramatiq broker (Redis)",
            variable="DRAMATIQ_BROKER_URL",
            timeout_s=timeout_s,
        )
        return
    parts = urlsplit(settings.broker_url)
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout_s):
            pass
    except OSError as exc:
        raise Unavailable(
            f"cannot reach the Dramatiq broker (RabbitMQ) at {_where(settings.broker_url)}: "
            f"{one_line(exc)}; is it running? check DRAMATIQ_BROKER_URL"
        ) from None


def check_topic(settings: Settings, *, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Make sure Pub/Sub answers and the election topic exists."""
    client = publisher_client(settings)
    try:
        with _pubsub_errors(settings, f"topic {settings.topic}"):
            client.get_topic(
                topic=topic_path(settings), timeout=timeout_s, retry=admin_retry(timeout_s)
            )
    finally:
        client.transport.close()


def check_subscription(
    client: pubsub_v1.SubscriberClient,
    settings: Settings,
    route: Route,
    *,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> None:
    """Make sure the subscription of ``route`` exists with the route's filter (the
    emulator stores filters without applying them, so the text is compared)."""
    name = route.subscription(settings.namespace)
    with _pubsub_errors(settings, f"subscription {name}"):
        found = client.get_subscription(
            subscription=subscription_path(settings, name),
            timeout=timeout_s,
            retry=admin_retry(timeout_s),
        )
    if found.filter != route.filter:
        raise OperatorDecision(
            f"Pub/Sub subscription {name} has the filter {found.filter!r}, expected "
            f"{route.filter!r}; filters cannot be changed: delete it, then run "
            "`election provision`"
        )


def check_subscriptions(settings: Settings, *, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Make sure Pub/Sub answers and every subscription of the route table exists with
    its filter (``election.domain.routes``)."""
    client = subscriber_client(settings)
    try:
        for route in ROUTES:
            check_subscription(client, settings, route, timeout_s=timeout_s)
    finally:
        client.close()


@contextlib.contextmanager
def _pubsub_errors(settings: Settings, what: str) -> Iterator[None]:
    """Pub/Sub's errors as one line each: ``what`` (a topic or subscription) is missing,
    or Pub/Sub cannot be reached."""
    try:
        yield
    except api_exceptions.NotFound:
        raise Unavailable(
            f"Pub/Sub {what} does not exist; run `election provision` first"
        ) from None
    except (api_exceptions.GoogleAPICallError, api_exceptions.RetryError) as exc:
        if settings.emulator_host:
            where, hint = (
                settings.emulator_host,
                "is the emulator running? check PUBSUB_EMULATOR_HOST",
            )
        else:
            where, hint = "Cloud Pub/Sub", "check GOOGLE_CLOUD_PROJECT and the credentials"
        raise Unavailable(
            f"cannot reach Pub/Sub at {where}: {type(exc).__name__}; {hint}"
        ) from None


def _where(url: str) -> str:
    """A URL without its credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
