"""Per-process clients for the actors: a Pub/Sub publisher, Redis, the database.

Dramatiq forks its worker processes and gRPC channels do not survive ``fork()``, so each
client is created lazily, once per process, on first use (after the fork), and shared by
the worker threads of that process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from playhouse.pool import PooledPostgresqlDatabase

from actors.broker import settings
from election.domain.signing import Signer
from election.pubsub.client import Publisher
from election.storage.models import open_database
from election.storage.redis_client import connect_redis

T = TypeVar("T")


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


publisher: PerProcess[Publisher] = PerProcess(lambda: Publisher(settings))
redis_client: PerProcess[redis.Redis] = PerProcess(lambda: connect_redis(settings.redis_url))
database: PerProcess[PooledPostgresqlDatabase] = PerProcess(lambda: open_database(settings))


def signer() -> Signer:
    """The signer of this process's messages (the voting logger's records)."""
    return Signer(*settings.require_signing_key(), settings.namespace, settings.signature_ttl_s)
