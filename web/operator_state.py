"""What the operator console shows, read as JSON-ready objects (blocking; run on threads).

Each section is one function; each bounds its own calls with ``timeout_s`` and turns an
unreachable server into an ``error`` field rather than an exception, so one dependency
down still leaves the rest of the console readable.

- **Subscriptions**: the route table's, with their filters. Their backlog is shown as
  unknown: the emulator cannot tell it, and on Cloud Pub/Sub it is a Cloud Monitoring
  metric (``subscription/num_undelivered_messages``), a service this project does not use.
- **Queues**: each service's Dramatiq queue, its delay queue (``.DQ``, retries waiting
  their backoff) and Dramatiq's own dead-letter queue (``.XQ``). RabbitMQ: a passive
  ``queue_declare``'s message count (a queue no worker declared yet is "not declared").
  Redis broker: the length of the list of waiting message IDs (``dramatiq:<queue>`` and
  ``dramatiq:<queue>.DQ``) and of the sorted set of dead ones (``dramatiq:<queue>.XQ``).
- **Instances**: the live heartbeats (``election.storage.heartbeats``), by process type.
- **Dead letters**: reason, retries and age; the ballot UUID, never a voter ID.
- **Audit**: the console's last actions (``<ns>:operator-audit``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from pika.exceptions import AMQPError

from actors.dead_letters import DeadLetters
from config import Settings
from election.domain.routes import ROUTES, SERVICES
from election.ops.preflight import one_line
from election.storage.heartbeats import live_instances
from election.storage.redis_client import connect_redis

#: How many audit lines Redis keeps and the console shows.
AUDIT_KEEP = 50
#: The key prefix of Dramatiq's Redis broker (its default namespace, which build_broker keeps).
REDIS_BROKER_PREFIX = "dramatiq"
#: Each queue's parts: the queue itself, its delay queue and Dramatiq's dead-letter queue.
QUEUE_PARTS = (("ready", ""), ("delayed", ".DQ"), ("dead", ".XQ"))


def audit_key(namespace: str) -> str:
    """The Redis list of the console's audit lines, newest first."""
    return f"{namespace}:operator-audit"


def backlog_note(settings: Settings) -> str:
    """Why the backlog of a subscription is not shown."""
    if settings.emulator_host:
        return "unknown (emulator)"
    return "unknown (Cloud Pub/Sub tells it only through Cloud Monitoring, not used here)"


def subscriptions(settings: Settings) -> list[dict[str, Any]]:
    """Each route's subscription, filter, queue and actor; the backlog where known."""
    return [
        {
            "subscription": route.subscription(settings.namespace),
            "filter": route.filter,
            "queue": route.queue(settings.namespace),
            "actor": route.actor,
            "backlog": None,
            "backlog_note": backlog_note(settings),
        }
        for route in ROUTES
    ]


def service_queues(namespace: str) -> list[str]:
    """Every service's Dramatiq queue in ``namespace``."""
    return [f"{namespace}.{service}" for service in SERVICES]


def queues(settings: Settings, timeout_s: float) -> dict[str, Any]:
    """``{"broker": kind, "queues": [{"queue", "ready", "delayed", "dead"}], "error"}``;
    a count is ``None`` for a queue the broker has not declared."""
    names = service_queues(settings.namespace)
    try:
        if settings.broker_kind == "rabbitmq":
            rows = _rabbitmq_depths(settings.broker_url, names, timeout_s)
        else:
            rows = _redis_depths(settings.broker_url, names, timeout_s)
    except (OSError, redis.RedisError, AMQPError) as exc:
        return {"broker": settings.broker_kind, "queues": [], "error": one_line(exc)}
    return {"broker": settings.broker_kind, "queues": rows, "error": None}


def _redis_depths(url: str, names: list[str], timeout_s: float) -> list[dict[str, Any]]:
    client = connect_redis(url, timeout_s=timeout_s)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            key = f"{REDIS_BROKER_PREFIX}:{name}"
            pipe.llen(key)
            pipe.llen(f"{key}.DQ")
            pipe.zcard(f"{key}.XQ")
        counts = pipe.execute()
    finally:
        client.close()
    return [
        {"queue": name, "ready": ready, "delayed": delayed, "dead": dead}
        for name, ready, delayed, dead in zip(
            names, counts[0::3], counts[1::3], counts[2::3], strict=True
        )
    ]


def _rabbitmq_depths(url: str, names: list[str], timeout_s: float) -> list[dict[str, Any]]:
    import pika
    from pika.exceptions import ChannelClosedByBroker

    params = pika.URLParameters(url)
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s
    params.blocked_connection_timeout = timeout_s
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    try:
        rows = []
        for name in names:
            row: dict[str, Any] = {"queue": name}
            for part, suffix in QUEUE_PARTS:
                # A passive declare of a missing queue closes its channel: one per queue.
                channel = connection.channel()
                try:
                    declared = channel.queue_declare(queue=name + suffix, passive=True)
                except ChannelClosedByBroker:
                    row[part] = None
                    continue
                row[part] = declared.method.message_count
                channel.close()
            rows.append(row)
        return rows
    finally:
        connection.close()


def redis_sections(settings: Settings, timeout_s: float) -> dict[str, Any]:
    """Instances, dead letters and the audit lines, from the election's Redis."""
    client = connect_redis(settings.redis_url, timeout_s=timeout_s)
    try:
        now = time.time()
        instances: dict[str, list[dict[str, Any]]] = {}
        for instance in live_instances(client, settings.namespace):
            row = {**instance.as_dict(), "age_s": round(instance.age_s(now), 1)}
            instances.setdefault(instance.kind, []).append(row)
        letters = [
            {
                "id": letter.message_id,
                "actor": letter.actor,
                "ballot": letter.ballot,
                "retries": letter.retries,
                "error": letter.error,
                "failed_at": letter.failed_at,
                "age_s": round(max(0.0, now - letter.failed_at), 1),
            }
            for letter in DeadLetters(client, settings.namespace).all()
        ]
        audit = [_audit_line(raw) for raw in client.lrange(audit_key(settings.namespace), 0, -1)]
        return {"instances": instances, "dead_letters": letters, "audit": audit, "error": None}
    except redis.RedisError as exc:
        error = f"cannot read Redis: {one_line(exc)}"
        return {"instances": {}, "dead_letters": [], "audit": [], "error": error}
    finally:
        client.close()


def _audit_line(raw: bytes | str) -> dict[str, Any]:
    try:
        line = json.loads(raw)
    except ValueError:
        return {"unreadable": raw if isinstance(raw, str) else raw.decode(errors="replace")}
    return line if isinstance(line, dict) else {"unreadable": str(line)}


def record_audit(client: redis.Redis, namespace: str, line: dict[str, Any]) -> None:
    """Keep ``line`` first in the audit list, and only the last :data:`AUDIT_KEEP`."""
    pipe = client.pipeline(transaction=True)
    pipe.lpush(audit_key(namespace), json.dumps(line, sort_keys=True))
    pipe.ltrim(audit_key(namespace), 0, AUDIT_KEEP - 1)
    pipe.execute()
