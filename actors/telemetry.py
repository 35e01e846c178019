"""Each Dramatiq worker process's heartbeat and counters, as a middleware.

Dramatiq runs several worker processes per ``election worker ROLE``; each is a process of
its own kind ``ROLE`` with its own instance name, so each boots its own heartbeat and
counter flusher (``election.storage.telemetry``) in :meth:`WorkerTelemetry.after_worker_boot`
and stops them, with a last flush, before it shuts down. The middleware also counts every
message each actor took (``election_actor_messages_total``), and the service actors count
their answers through :meth:`WorkerTelemetry.answered` once those are published.

An answer's latency starts at ``election.domain.metrics.PUBLISHED_OPTION``, the earliest Pub/Sub
``publish_time`` of the batch it answered, which the bridge puts in the Dramatiq message's
options (``bridge.router``); a message without it (a vote split off a failed batch) starts
at the Dramatiq message's own timestamp.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from config import Settings
from election.domain import metrics
from election.domain.protocol import OutgoingMessage
from election.storage.heartbeats import instance_name
from election.storage.redis_client import connect_redis
from election.storage.telemetry import ProcessTelemetry, Telemetry


def worker_instance() -> str:
    """This worker process's instance name: ``instance_name()``, with the process ID
    added under a platform's ``DYNO`` (the dyno's worker processes share its name)."""
    name = instance_name()
    return f"{name}-{os.getpid()}" if os.environ.get("DYNO", "").strip() else name


class WorkerTelemetry(Middleware):
    """Heartbeat, flusher and counters of one worker process of role ``kind``."""

    def __init__(self, settings: Settings, kind: str) -> None:
        self.settings = settings
        self.kind = kind
        self.telemetry = Telemetry()
        self.running: ProcessTelemetry | None = None
        self._current = threading.local()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        url = self.settings.redis_url
        self.running = ProcessTelemetry(
            lambda: connect_redis(url),
            self.settings.namespace,
            self.kind,
            instance=worker_instance(),
            telemetry=self.telemetry,
        ).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._current.message = message

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._current.message = None
        if exception is None:
            outcome = metrics.PROCESSED
        else:  # Retries ran before this: it failed the message if none are left
            outcome = metrics.GAVE_UP if message.failed else metrics.RETRIED
        self.telemetry.count(metrics.ACTOR_MESSAGES, _actor_labels(message.actor_name, outcome))

    def answered(self, service: str, outbox: Sequence[OutgoingMessage]) -> None:
        """Count the answers among ``outbox``, just published by ``service`` for the
        message this thread is processing."""
        now = time.time()
        started = self._started_s()
        answers = [
            (outcome, now - started)
            for message in outbox
            if (outcome := metrics.outcome_label(message)) is not None
        ]
        self.telemetry.answered(service, answers)

    def _started_s(self) -> float:
        message = getattr(self._current, "message", None)
        if message is None:
            return time.time()
        published = message.options.get(metrics.PUBLISHED_OPTION)
        if isinstance(published, int | float):
            return float(published) / 1000
        return float(message.message_timestamp) / 1000


_ACTOR_LABELS: dict[tuple[str, str], metrics.Labels] = {}


def _actor_labels(actor: str, outcome: str) -> metrics.Labels:
    found = _ACTOR_LABELS.get((actor, outcome))
    if found is None:
        found = _ACTOR_LABELS[(actor, outcome)] = metrics.labels(actor=actor, result=outcome)
    return found


def telemetry_of(broker: dramatiq.Broker) -> WorkerTelemetry | None:
    """The broker's :class:`WorkerTelemetry`, if it has one (the workers' broker does)."""
    for each in broker.middleware:
        if isinstance(each, WorkerTelemetry):
            return each
    return None
