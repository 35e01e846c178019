"""The bridge process: one :class:`FilteredSubscriber` per route, started and stopped together.

Flow control is the subscriber's default (``election.subscriber.THREADS`` pulling threads
of ``BATCH`` messages each per subscription); the bench's relays use the same.
"""

from __future__ import annotations

import threading

import structlog

from bridge.router import Route
from config import Settings
from election.pubsub import subscriber_client, subscription_path
from election.subscriber import FilteredSubscriber

log = structlog.get_logger(__name__)


class Bridge:
    """Streams the service subscriptions into Dramatiq until :meth:`stop`."""

    def __init__(self, settings: Settings, routes: list[Route]) -> None:
        self.settings = settings
        self.routes = routes
        self.client = subscriber_client(settings)
        self.stopped = threading.Event()
        self.subscribers = [
            FilteredSubscriber(
                self.client,
                subscription_path(settings, route.subscription),
                batch_handler=route.forward_batch,
            )
            for route in routes
        ]

    def start(self) -> None:
        """Open every stream."""
        for subscriber in self.subscribers:
            subscriber.start()
        log.info("bridge.started", subscriptions=[r.subscription for r in self.routes])

    def run_until(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Block until ``stop`` is set (by a signal handler) or a stream dies."""
        while not stop.wait(poll_s):
            dead = [f"{s.subscription}: {s.failure}" for s in self.subscribers if not s.running]
            if dead:
                raise RuntimeError(f"streaming pull ended unexpectedly: {', '.join(dead)}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop pulling, finish in-flight forwards; what was not dispatched is nacked."""
        for subscriber in self.subscribers:
            subscriber.stop(timeout)
        self.client.close()
        log.info("bridge.stopped", filtered_out=sum(s.dropped for s in self.subscribers))
