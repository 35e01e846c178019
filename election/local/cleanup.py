"""Removing everything one namespace stored: its database schema, its Redis keys, and its
Dramatiq queues (Redis lists or RabbitMQ queues). For throwaway systems: bench phases and
tests."""

from __future__ import annotations

import pika

from config import Settings
from election.domain.routes import ROUTES
from election.storage.models import open_database
from election.storage.redis_client import connect_redis

#: Seconds any one clean-up call may take.
TIMEOUT_S = 10
#: The queues Dramatiq makes for each route's queue (itself, delayed, dead).
QUEUE_SUFFIXES = ("", ".DQ", ".XQ")


def drop_namespace(settings: Settings) -> None:
    """Drop the schema, Redis keys and Dramatiq queues of ``settings.namespace``."""
    database = open_database(settings, max_connections=1)
    with database.connection_context():
        # A large schema may take longer than the pool's statement time-out to drop.
        database.execute_sql("SET statement_timeout = 0")
        database.execute_sql(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')
    database.close_all()
    patterns = [f"{settings.namespace}:*"]
    if settings.broker_kind == "redis":
        patterns += [
            f"dramatiq:{settings.namespace}.*",
            f"dramatiq:__acks__.*.{settings.namespace}.*",
        ]
    _delete_keys(settings.redis_url, patterns)
    if settings.broker_kind == "redis" and settings.broker_url != settings.redis_url:
        _delete_keys(settings.broker_url, patterns[1:])
    if settings.broker_kind == "rabbitmq":
        _delete_queues(settings)


def _delete_keys(url: str, patterns: list[str]) -> None:
    client = connect_redis(url, timeout_s=TIMEOUT_S)
    try:
        for pattern in patterns:
            for key in client.scan_iter(pattern, count=1000):
                client.delete(key)
    finally:
        client.close()


def _delete_queues(settings: Settings) -> None:
    parameters = pika.URLParameters(settings.broker_url)
    parameters.socket_timeout = TIMEOUT_S
    parameters.blocked_connection_timeout = TIMEOUT_S
    connection = pika.BlockingConnection(parameters)
    try:
        channel = connection.channel()
        # Routes of one role share its queue: each queue once.
        for queue in dict.fromkeys(route.queue(settings.namespace) for route in ROUTES):
            for suffix in QUEUE_SUFFIXES:
                channel.queue_delete(queue + suffix)
    finally:
        connection.close()
