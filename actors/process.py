"""Per-process state of the actors: a service's worker and the clients it runs on.

Dramatiq forks its worker processes and gRPC channels do not survive ``fork()``, so each
worker (with its Pub/Sub publisher, Redis and database clients) is built lazily, once per
process, on first use (after the fork), and shared by the worker threads of that process.
Nothing here reads settings of its own: they are given.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import peewee
import redis

from config import Settings
from election.pubsub.client import Publisher
from election.storage.models import open_database
from election.storage.redis_client import connect_redis

T = TypeVar("T")
#: Builds a service's worker for the settings, on the database, Redis and publisher given.
WorkerFactory = Callable[[Settings, peewee.Database, redis.Redis, Publisher], T]


class PerProcess(Generic[T]):
    """A value built by ``factory`` at most once per process, on first use."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._value: T | None = None

    def get(self) -> T:
        """The value for the current process, building it if needed."""
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._value = self._factory()
                    self._pid = pid
        assert self._value is not None
        return self._value


def on_own_clients(factory: WorkerFactory[T]) -> Callable[[Settings], T]:
    """Builds ``factory``'s worker for the settings it is given, on new clients of its own
    (call it once per process, after the fork: see :class:`PerProcess`)."""

    def build(settings: Settings) -> T:
        database, client = open_database(settings), connect_redis(settings.redis_url)
        return factory(settings, database, client, Publisher(settings))

    return build
