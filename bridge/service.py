"""The bridge process: one :class:`FilteredSubscriber` per entry of the route table
(``election.domain.routes.ROUTES``), started and stopped together; :func:`run` runs a started one.

Flow control is the subscriber's default (``election.pubsub.subscriber.THREADS`` pulling threads
of ``BATCH`` messages each per subscription); the bench's relays use the same.

It heals itself: when a service subscription is found missing (deleted by hand, or lost
with its topic when the emulator restarted, since the emulator keeps everything in
memory), the topic and the service subscriptions are made again exactly as ``election
provision`` makes them (see :meth:`Bridge.recreate`), and pulling goes on, with one log
line per re-creation. What cannot be re-created (no permission, a subscription of that
name with another filter) stops the bridge with one line saying why.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import dramatiq
import structlog
from google.api_core import exceptions as api_exceptions

from bridge.router import Route
from config import Settings
from election.domain import routes
from election.domain.errors import ProcessFailed
from election.domain.protocol import OutgoingMessage
from election.ops.log_signing import answer_signer
from election.ops.provision import (
    SubscriptionSpec,
    ensure_subscription,
    ensure_topic,
    service_subscriptions,
)
from election.pubsub.client import (
    CALL_TIMEOUT,
    Publisher,
    publisher_client,
    subscriber_client,
    subscription_path,
    topic_path,
)
from election.pubsub.subscriber import FilteredSubscriber, NotFoundHook

log = structlog.get_logger(__name__)

#: Seconds the bridge may spend publishing one answer (it holds a pulling thread).
ANSWER_TIMEOUT_S = 10.0


class BridgeFailed(ProcessFailed):
    """A subscription stopped for good; the message says which and why."""


class Bridge:
    """Pulls the service subscriptions into Dramatiq, through ``broker``, until :meth:`stop`.

    ``table`` is the route table (tests give others); each entry's subscription feeds
    its actor's queue (``bridge.router.Route.of``).
    """

    def __init__(
        self,
        settings: Settings,
        broker: dramatiq.Broker,
        table: Sequence[routes.Route] = routes.ROUTES,
    ) -> None:
        self.settings = settings
        self.client = subscriber_client(settings)
        # For re-creating the topic and refusing oversized votes (rare): the channel
        # connects on first use.
        self.publisher = publisher_client(settings)
        self.answers = Publisher(settings, self.publisher, signer=answer_signer(settings))
        self.routes = [Route.of(entry, settings.namespace, broker, self.answer) for entry in table]
        self.stopped = threading.Event()
        provisioned = {spec.name: spec for spec in service_subscriptions(settings)}
        pulled = {route.subscription for route in self.routes}
        #: The provisioned subscriptions the bridge pulls, in the order :meth:`recreate`
        #: makes them (``election.domain.routes.creation_order``).
        self.specs = [spec for spec in provisioned.values() if spec.name in pulled]
        self._recreating = threading.Lock()
        self.subscribers = [
            FilteredSubscriber(
                self.client,
                subscription_path(settings, route.subscription),
                route.forward_batch,
                on_not_found=self.recreator(provisioned.get(route.subscription)),
                pace_s=route.pace_s,
            )
            for route in self.routes
        ]

    def answer(self, message: OutgoingMessage) -> None:
        """Publish an answer to a sender (see ``bridge.router``), confirmed."""
        self.answers.publish(message, timeout=ANSWER_TIMEOUT_S)

    def recreator(self, spec: SubscriptionSpec | None) -> NotFoundHook | None:
        """The hook of a route's subscriber: :meth:`recreate` (``None`` for a route that is
        no service subscription: a missing one is fatal)."""
        return None if spec is None else self.recreate

    def recreate(self) -> bool:
        """Make every service subscription of the bridge again, and the topic if it is
        gone too, as provisioning does, whichever subscription was found missing (after
        an emulator restart all are). One log line names what was created; when another
        subscriber was first, everything exists and nothing is logged. Errors are the
        subscriber's to judge: transient ones are tried again, others stop the bridge.

        Between the topic's creation and a subscription's, whatever is published is lost
        to that subscription. The subscriptions fed by our own services come first: a
        ``record vote`` lost so leaves its voter claimed with no ballot, while a ``submit
        vote`` lost so was never claimed (its machine times out, the voter may vote
        again). The subscriptions machines feed are made last."""
        specs = self.specs
        done: list[str] = []
        with self._recreating:
            for spec in specs:
                try:
                    done.append(ensure_subscription(self.client, self.settings, spec, CALL_TIMEOUT))
                except api_exceptions.NotFound:
                    # The topic is gone too (asked only then: creating topics may need a
                    # permission the bridge lacks where only a subscription was deleted).
                    done.append(
                        ensure_topic(self.publisher, topic_path(self.settings), CALL_TIMEOUT)
                    )
                    done.append(ensure_subscription(self.client, self.settings, spec, CALL_TIMEOUT))
        created = [line for line in done if line.endswith(" created")]
        if created:
            log.warning("bridge.recreated", created=created)
        return True

    def start(self) -> None:
        """Start pulling every subscription."""
        for subscriber in self.subscribers:
            subscriber.start()
        log.info("bridge.started", subscriptions=[r.subscription for r in self.routes])

    def run_until(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Block until ``stop`` is set (by a signal handler) or a subscriber stops for good
        (then :class:`BridgeFailed` says which and why)."""
        while not stop.wait(poll_s):
            dead = [f"{s.subscription}: {s.failure}" for s in self.subscribers if not s.running]
            if dead:
                raise BridgeFailed(f"cannot pull {'; '.join(dead)}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop pulling, finish in-flight forwards; what was not dispatched is nacked."""
        for subscriber in self.subscribers:
            subscriber.stop(timeout)
        self.client.close()
        self.publisher.transport.close()
        log.info("bridge.stopped", filtered_out=sum(s.dropped for s in self.subscribers))


def run(bridge: Bridge, stop: threading.Event) -> None:
    """Pull with a started ``bridge`` until ``stop`` is set (by a signal handler), then
    stop it (in-flight forwards finished, the rest nacked). When a subscription stops for
    good, one ``bridge.failed`` line says why, the bridge is stopped, and
    :class:`BridgeFailed` is raised."""
    try:
        bridge.run_until(stop)
    except BridgeFailed as exc:
        log.error("bridge.failed", error=str(exc))
        raise
    finally:
        bridge.stop()
