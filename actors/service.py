"""One service's actor set, declared on a broker by :func:`declare_service`.

Each service (``election.domain.routes``) has two actors on its queue:

- the work actor (``route.actor``), which takes a batch of votes (``args``:
  ``[[[data_b64, attributes, message_id], ...]]``, what the bridge enqueues) and hands it
  to the service's worker (``actors.batch.run_batch``). A failed batch of more than one
  goes on as batches of one to this same actor; a failed batch of one is retried by
  Dramatiq with backoff (``actors.retrying``) and, when its retries run out, goes to
- the give-up actor (``route.gave_up``), which gives up that one vote through the worker
  (``give_up(message, retries)``), retried for as long as that fails. A batch of more
  than one whose retries ran out (it was interrupted each time) is split instead.

The worker is built once per process, on first use (``actors.process``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import dramatiq
import structlog

from actors.batch import Vote, run_batch, split
from actors.payload import votes_of
from actors.process import Clients, PerProcess, WorkerFactory, on_shared_clients, own_clients
from actors.retrying import always
from actors.telemetry import telemetry_of
from config import Settings
from election.domain.protocol import OutgoingMessage
from election.domain.routes import Route

log = structlog.get_logger(__name__)

#: Longest one batch may take before Dramatiq interrupts it (and retries).
TIME_LIMIT_MS = 60_000


class Publishes(Protocol):
    def publish_many(self, messages: Sequence[OutgoingMessage], /) -> object: ...


class ServiceWorker(Protocol):
    """What a service's actors need of its worker (``VoteLogger``, ``VoteRecorder``)."""

    @property
    def publisher(self) -> Publishes: ...

    def handle_many(self, votes: Sequence[Vote], outbox: list[OutgoingMessage], /) -> object:
        """Handle the votes, adding their answers to ``outbox``; raise if that fails."""

    def give_up(self, message: dict[str, Any], retries: int, /) -> None:
        """Give up the one vote of ``message`` (Dramatiq's ``asdict()`` form)."""


@dataclass(frozen=True)
class ServiceActors:
    """A service's actors on one broker; ``worker`` is this process's worker."""

    work: dramatiq.Actor[[list[list[Any]]], None]
    gave_up: dramatiq.Actor[[dict[str, Any], Mapping[str, Any]], None]
    worker: PerProcess[ServiceWorker]


def declare_service(
    broker: dramatiq.Broker,
    route: Route,
    worker_factory: Callable[[Settings], ServiceWorker],
    settings: Settings,
) -> ServiceActors:
    """Declare ``route``'s work and give-up actors on ``broker``, on the queue
    ``route.queue(settings.namespace)``, running the worker ``worker_factory`` builds."""
    worker: PerProcess[ServiceWorker] = PerProcess(lambda: worker_factory(settings))
    queue = route.queue(settings.namespace)

    def send(batch: list[list[object]]) -> None:
        work.send(batch)

    # The workers' broker counts answers (``actors.telemetry``); a test's may not.
    telemetry = telemetry_of(broker)

    def handle(batch: list[list[Any]]) -> None:
        each = worker.get()
        if telemetry is None:
            run_batch(batch, each.handle_many, each.publisher.publish_many, send)
            return

        def publish(outbox: Sequence[OutgoingMessage]) -> None:
            each.publisher.publish_many(outbox)
            telemetry.answered(route.service, outbox)

        run_batch(batch, each.handle_many, publish, send)

    def give_up(message: dict[str, Any], retry_info: Mapping[str, Any]) -> None:
        votes = votes_of(message)
        if len(votes) != 1:
            log.warning("batch.split", votes=len(votes), reason="retries ran out")
            split(votes, send)
            return
        worker.get().give_up(message, int(retry_info.get("retries", 0)))

    work = dramatiq.actor(
        broker=broker,
        actor_name=route.actor,
        queue_name=queue,
        time_limit=TIME_LIMIT_MS,
        on_retry_exhausted=route.gave_up,
    )(handle)
    gave_up = dramatiq.actor(
        broker=broker,
        actor_name=route.gave_up,
        queue_name=queue,
        time_limit=TIME_LIMIT_MS,
        retry_when=always,
    )(give_up)
    return ServiceActors(work, gave_up, worker)


#: Declares a worker role's actors (those of each of its services) on a broker, for the
#: settings given.
DeclareRole = Callable[[dramatiq.Broker, Settings], tuple[ServiceActors, ...]]


def declaring_role(*services: tuple[Route, WorkerFactory[ServiceWorker]]) -> DeclareRole:
    """:func:`declare_service` for each ``(route, worker_factory)`` of a worker role, given
    the broker and the settings later (by the worker's entry point, or a test). The
    role's workers share one set of clients per process (``actors.process``)."""

    def declare(broker: dramatiq.Broker, settings: Settings) -> tuple[ServiceActors, ...]:
        clients: PerProcess[Clients] = PerProcess(lambda: own_clients(settings))
        return tuple(
            declare_service(broker, route, on_shared_clients(clients, factory), settings)
            for route, factory in services
        )

    return declare
