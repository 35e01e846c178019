"""The Dramatiq broker every process shares, chosen by ``DRAMATIQ_BROKER_URL``.

A ``redis://`` URL selects Redis, an ``amqp://`` URL RabbitMQ (with publisher confirms, so
an enqueue returns only once RabbitMQ has the message). Importing this module changes
nothing: :func:`build_broker` makes a broker, and whoever runs the actors sets it
(``actors.entry`` for the workers, the bridge for itself).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import xq_name
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit

from actors.retrying import RetryPolicy
from config import Settings
from election.logs import configure_from_settings, own_stderr

#: Dramatiq keeps a failed message in its own dead-letter queue for a week by default. A
#: failed ``submit vote`` carries a voter ID; keep it no longer than a ballot link (one
#: hour). Our own dead-letter store keeps what an operator needs, without voter IDs.
DEAD_MESSAGE_TTL_MS = 3_600_000
#: Seconds a RabbitMQ connection may stay blocked by a resource alarm before it fails.
BLOCKED_CONNECTION_TIMEOUT_S = 30
#: Worker heartbeat (Redis broker): a killed worker's messages are requeued after this.
HEARTBEAT_TIMEOUT_MS = 15_000
#: Share (per million broker commands) that also look for dead workers. Dramatiq's
#: default (0.1%) can leave a killed worker's messages stranded for many minutes on a
#: quiet queue; 5% finds them within seconds for the cost of one sorted-set range query.
MAINTENANCE_CHANCE = 50_000


class LoggingSetup(Middleware):
    """Sets up structlog in each worker process, once Dramatiq has started it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        queues = ",".join(sorted(broker.get_declared_queues()))
        configure_from_settings(self.settings, process=f"worker[{queues}]", stream=own_stderr())


def middleware(settings: Settings) -> list[Middleware]:
    """The middleware the actors use: time limits, shutdown notices, retries, logging.

    Dramatiq's defaults also include AgeLimit, Callbacks and Pipelines; no actor here uses
    them, and each costs hook calls on every message.

    A failing actor is retried with exponential backoff from 0.1 s up to 10 s; while the
    error says a server is unreachable, for as long as that lasts, otherwise 20 times
    (about two and a half minutes in all); then its ``on_retry_exhausted`` actor gives it
    up (``actors.retrying``; ``ACTOR_MAX_RETRIES``, ``ACTOR_MIN_BACKOFF_MS``,
    ``ACTOR_MAX_BACKOFF_MS``).
    """
    return [
        LoggingSetup(settings),
        TimeLimit(),
        ShutdownNotifications(),
        Retries(
            max_retries=settings.max_retries,
            min_backoff=settings.min_backoff_ms,
            max_backoff=settings.max_backoff_ms,
            retry_when=RetryPolicy(settings.max_retries),
        ),
    ]


class _RabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker, with the dead-message TTL given to it.

    Dramatiq's own reads its TTL from ``dramatiq_dead_message_ttl`` once, when
    ``dramatiq.brokers.rabbitmq`` is first imported: setting the variable later, or after
    anything else imported that module, would be ignored without a word, and a queue
    declared with another TTL than the one RabbitMQ has makes every declaration fail.
    """

    def __init__(self, *, dead_message_ttl: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dead_message_ttl = dead_message_ttl

    def _declare_xq_queue(self, queue_name: str) -> Any:
        return self.channel.queue_declare(
            queue=xq_name(queue_name),
            durable=True,
            # Static: RabbitMQ expires messages in order, from the head of the queue.
            arguments={"x-message-ttl": self.dead_message_ttl},
        )


def rabbitmq_dead_message_ttl_ms(environ: Mapping[str, str] = os.environ) -> int:
    """The dead-letter TTL of RabbitMQ queues: Dramatiq's own ``dramatiq_dead_message_ttl``
    where an operator set it (queues declared with it must keep it: RabbitMQ refuses to
    declare a queue again with another TTL), else :data:`DEAD_MESSAGE_TTL_MS`."""
    given = environ.get("dramatiq_dead_message_ttl", "").strip()
    return int(given) if given.isdigit() else DEAD_MESSAGE_TTL_MS


def build_broker(settings: Settings) -> dramatiq.Broker:
    """A broker for ``settings.broker_url``."""
    if settings.broker_kind == "rabbitmq":
        broker = _RabbitmqBroker(
            url=settings.broker_url,
            confirm_delivery=True,
            middleware=middleware(settings),
            dead_message_ttl=rabbitmq_dead_message_ttl_ms(),
        )
        params = broker.parameters if isinstance(broker.parameters, list) else [broker.parameters]
        for each in params:
            # pika waits forever on a connection RabbitMQ blocks (a memory or disk alarm):
            # an enqueue would hang the bridge silently. Unless the URL says otherwise,
            # give up after a while; the enqueue then fails and Pub/Sub redelivers.
            if each.blocked_connection_timeout is None:
                each.blocked_connection_timeout = BLOCKED_CONNECTION_TIMEOUT_S
        return broker
    return RedisBroker(
        url=settings.broker_url,
        middleware=middleware(settings),
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
        dead_message_ttl=DEAD_MESSAGE_TTL_MS,
        socket_timeout=10,
        socket_connect_timeout=5,
    )
