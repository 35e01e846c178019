"""Start-up checks: can this process reach the services it needs?

A process that cannot reach Redis, PostgreSQL, the Dramatiq broker or Pub/Sub when it
starts says so in one line and exits non-zero, instead of crashing later with a traceback.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import peewee
import redis
from google.api_core import exceptions as api_exceptions

from config import ConfigError, Settings
from election.domain.errors import OperatorDecision, Unavailable
from election.domain.routes import ROUTES
from election.pubsub.client import admin_retry, subscriber_client, subscription_path
from election.storage.models import open_database
from election.storage.redis_client import connect_redis

#: Seconds each check may take.
CHECK_TIMEOUT_S = 10.0


def one_line(exc: BaseException) -> str:
    """An exception's text on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def check_redis(url: str, what: str = "Redis") -> None:
    """Ping Redis at ``url``."""
    client = connect_redis(url, timeout_s=CHECK_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Unavailable(f"cannot reach {what} at {_where(url)}: {one_line(exc)}") from None
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


def check_dedup_store(url: str) -> None:
    """Refuse a Redis at ``url`` that could lose claims (raises :class:`UnsafeDedupStore`)."""
    client = connect_redis(url, timeout_s=CHECK_TIMEOUT_S)
    try:
        problems = durability_problems(client)
    except redis.RedisError as exc:
        raise Unavailable(f"cannot reach Redis at {_where(url)}: {one_line(exc)}") from None
    finally:
        client.close()
    if problems:
        raise UnsafeDedupStore(
            f"REDIS_URL ({_where(url)}) cannot keep the record of who voted: {problems[0]}"
        )


def check_postgres(settings: Settings) -> None:
    """Open one connection to PostgreSQL and run ``SELECT 1``."""
    database = open_database(settings, max_connections=1)
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1")
    except peewee.DatabaseError as exc:
        raise Unavailable(
            f"cannot reach PostgreSQL at {_where(settings.database_url)}: {one_line(exc)}"
        ) from None
    finally:
        database.close_all()


def check_broker(settings: Settings) -> None:
    """Reach the Dramatiq broker (Redis: PING; RabbitMQ: a TCP connection)."""
    if settings.broker_kind == "redis":
        check_redis(settings.broker_url, "the Dramatiq broker (Redis)")
        return
    parts = urlsplit(settings.broker_url)
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), CHECK_TIMEOUT_S):
            pass
    except OSError as exc:
        raise Unavailable(
            f"cannot reach the Dramatiq broker (RabbitMQ) at {_where(settings.broker_url)}: "
            f"{one_line(exc)}"
        ) from None


def check_subscriptions(settings: Settings) -> None:
    """Make sure Pub/Sub answers and every subscription of the route table exists with
    its filter (``election.domain.routes``)."""
    client = subscriber_client(settings)
    where = settings.emulator_host or "Cloud Pub/Sub"
    try:
        for route in ROUTES:
            name = route.subscription(settings.namespace)
            found = client.get_subscription(
                subscription=subscription_path(settings, name),
                timeout=CHECK_TIMEOUT_S,
                retry=admin_retry(CHECK_TIMEOUT_S),
            )
            if found.filter != route.filter:
                raise OperatorDecision(
                    f"Pub/Sub subscription {name} has the filter {found.filter!r}, expected "
                    f"{route.filter!r}; filters cannot be changed: delete it, then run "
                    "`election provision`"
                )
    except api_exceptions.NotFound:
        raise Unavailable(
            f"Pub/Sub subscription {name} does not exist; run `election provision` first"
        ) from None
    except (api_exceptions.GoogleAPICallError, api_exceptions.RetryError) as exc:
        raise Unavailable(f"cannot reach Pub/Sub at {where}: {type(exc).__name__}") from None
    finally:
        client.close()


def _where(url: str) -> str:
    """A URL without its credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
