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
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import dramatiq
import peewee
import redis
import structlog
from dramatiq.middleware import Middleware

from config import Settings
from election.ops.log_signing import answer_signer
from election.pubsub.client import Publisher
from election.storage.models import open_database
from election.storage.redis_client import connect_redis

log = structlog.get_logger(__name__)

T = TypeVar("T")
#: Builds a service's worker for the settings, on the database, Redis and publisher given.
WorkerFactory = Callable[[Settings, peewee.Database, redis.Redis, Publisher], T]
#: The clients a worker runs on: the database (with the models bound), Redis, a publisher.
Clients = tuple[peewee.Database, redis.Redis, Publisher]


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

    def current(self) -> T | None:
        """The value if it was built in this process, else ``None`` (nothing is built)."""
        return self._value if self._pid == os.getpid() else None


@runtime_checkable
class Closeable(Protocol):
    """A worker that holds something to give back when its process stops."""

    def close(self) -> None: ...


class WorkerLifecycle(Middleware):
    """Builds a worker process's service worker when the process boots (so a voting
    logger has its election book and subscription before it takes a message), and
    closes it when the process stops cleanly (its own subscription is deleted). A build
    that fails at boot is logged and tried again on the first message."""

    def __init__(self, worker: PerProcess[Any]) -> None:
        self.worker = worker

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        try:
            self.worker.get()
        except Exception as exc:  # the boot goes on; the first message builds it again
            log.warning("worker.build_failed", error=str(exc)[:300])

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        value = self.worker.current()
        if isinstance(value, Closeable):
            value.close()


def own_clients(settings: Settings) -> Clients:
    """New clients for ``settings`` (once per process, after the fork)."""
    publisher = Publisher(settings, signer=answer_signer(settings))
    return open_database(settings), connect_redis(settings.redis_url), publisher


def on_shared_clients(
    clients: PerProcess[Clients], factory: WorkerFactory[T]
) -> Callable[[Settings], T]:
    """Builds ``factory``'s worker for the settings it is given, on this process's
    ``clients``, which the other services of its worker role share: ``open_database``
    binds the models to its database, so one process has one (a second would take the
    models from under the first's transactions)."""

    def build(settings: Settings) -> T:
        return factory(settings, *clients.get())

    return build
