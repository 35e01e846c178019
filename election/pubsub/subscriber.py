"""Pulling one subscription and enforcing that subscription's filter ourselves.

Cloud Pub/Sub applies subscription filters on the server; the emulator stores them but
delivers every message to every subscription. Each subscriber here therefore reads its
subscription's filter, evaluates it on every message, and acknowledges and drops what does
not match. On Cloud Pub/Sub that check never fires. The matching messages of each pull go
to the owner's handler as one list (:mod:`election.pubsub.pulled`).

Messages are fetched with long-polling unary ``Pull`` calls from a few threads, not with
``StreamingPull``: the emulator never forgets a streaming-pull stream once opened, even
after the client cancels it or its process exits, and keeps handing new messages to the
dead streams until their ack deadline expires. After one bridge restart a share of all
votes then waits 10 s or more (measured: 3 of 10 messages delayed 10-20 s after two
restarts). Unary pulls hold no server-side state, behave the same on both, and make flow
control explicit: at most ``threads x batch`` messages are outstanding.

No message of any size stops the others. The channels of :mod:`election.pubsub.client` accept
responses far larger than one message of Pub/Sub's maximum size; should a pull's response
still be too large (``RESOURCE_EXHAUSTED``), the subscriber pulls one message at a time
for :data:`SMALL_PULLS_S`, which outlasts the lease the failed pull left on its messages.

A subscription deleted under a running subscriber (or lost with an emulator restart) is
fatal unless its owner gives an ``on_not_found`` hook: the hook re-creates it and returns
``True`` to go on pulling (the bridge re-provisions, a voting machine re-subscribes).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import structlog
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from election.domain.filters import Filter, parse_filter
from election.pubsub.calls import PubSubCalls
from election.pubsub.client import CALL_TIMEOUT, admin_retry
from election.pubsub.pulled import Handler as Handler
from election.pubsub.pulled import PulledMessage as PulledMessage
from election.pubsub.pulled import one_by_one as one_by_one

log = structlog.get_logger(__name__)

#: Seconds one long-polling pull may wait for messages; also bounds how long stop() takes.
PULL_WAIT_S = 2.0
#: Flow control: pulling threads per subscription, and messages per pull. At most
#: THREADS x BATCH messages of a subscription are outstanding at once.
THREADS = 2
BATCH = 100
#: A paced subscriber (``pace_s``) pulls this many messages at most per pull.
PACED_BATCH = 1000
#: A subscriber starts pulling at a random point of this period (see ``FilteredSubscriber``).
START_SPREAD_S = 0.05
#: Back-off bounds after a failed pull (server restarting, network blip).
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.1, 5.0
#: After a pull whose response was too large, pulls take one message each for this long
#: (from the last such failure). The failed pull leased its messages for the
#: subscription's ack deadline (10 s here, see ``election.ops.provision``); the period must
#: outlast it, or the first full-size pull after it fails on the same messages again.
SMALL_PULLS_S = 60.0


class RecreateLater(Exception):
    """Raised by an ``on_not_found`` hook that cannot re-create the subscription yet (its
    topic is gone too, and re-creating that is someone else's job): try again later."""


#: Errors after which a hook's re-creation is tried again (after a back-off) rather than
#: given up: the server is restarting, overloaded, or the topic is not back yet.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    RecreateLater,
    api_exceptions.ServiceUnavailable,
    api_exceptions.InternalServerError,
    api_exceptions.DeadlineExceeded,
    api_exceptions.Aborted,
    api_exceptions.TooManyRequests,
    api_exceptions.RetryError,
)


#: Called when a pull finds the subscription gone: re-creates it and returns ``True`` to go
#: on pulling, or ``False`` to stop. An exception of :data:`TRANSIENT_ERRORS` (such as
#: :class:`RecreateLater`) makes the subscriber try again after a back-off; any other
#: stops it.
NotFoundHook = Callable[[], bool]


class PullSize:
    """How many messages the next pull asks for: ``batch``, or 1 for ``small_for_s``
    seconds after a response was too large. Thread-safe; ``clock`` is injectable."""

    def __init__(
        self,
        batch: int,
        small_for_s: float = SMALL_PULLS_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.batch = batch
        self.small_for_s = small_for_s
        self.clock = clock
        self._small_until = float("-inf")
        self._lock = threading.Lock()

    def next(self) -> int:
        """The ``max_messages`` of the next pull."""
        with self._lock:
            return 1 if self.clock() < self._small_until else self.batch

    def too_large(self) -> bool:
        """A response was too large: pull small from now on (again); whether this starts
        a period of small pulls (rather than extending one)."""
        with self._lock:
            now = self.clock()
            starting = now >= self._small_until
            self._small_until = now + self.small_for_s
            return starting


class FilteredSubscriber:
    """Delivers the messages of one subscription that match its filter to ``handler``:
    every match of one pull at once, as one list (one path for any number; see
    :func:`one_by_one` for per-message work).

    A message the handler leaves unsettled, returning or raising, is nacked so Pub/Sub
    redelivers it.

    Its first pull waits ``start_delay_s`` (by default a random point of 50 ms). The
    emulator answers a waiting pull by polling every 50 ms from when the pull arrived. The
    bridge's subscriptions, started together, used to poll in step: a message published
    a few ms after their shared poll then waited nearly 50 ms for the next hop's poll.
    A random start gives each subscription a phase of its own, as separate processes have.
    On Cloud Pub/Sub it only delays the start by at most 50 ms.

    With ``pace_s`` (by default one thread pulling :data:`PACED_BATCH`) each pulling
    thread starts its next pull no sooner than ``pace_s`` after its last one began. For
    subscriptions that select rare messages: on the emulator, which delivers everything,
    an unpaced pull returns as soon as any message is there, so under load it costs one
    pull and one acknowledge per few dropped messages; paced, the drops of ``pace_s``
    share one of each. Their matches wait up to ``pace_s`` longer; on Cloud Pub/Sub
    nothing is dropped and a paced pull returns as soon as a match arrives, as any other.
    """

    def __init__(
        self,
        client: pubsub_v1.SubscriberClient,
        subscription: str,
        handler: Handler,
        *,
        message_filter: Filter | None = None,
        threads: int | None = None,
        batch: int | None = None,
        start_delay_s: float | None = None,
        on_not_found: NotFoundHook | None = None,
        pace_s: float = 0.0,
    ) -> None:
        self.client = client
        self.calls = PubSubCalls.of(client)
        self.subscription = subscription
        self.handler = handler
        self.message_filter = message_filter
        # Paced: one thread of large pulls (they are mostly dropped on the emulator).
        self.threads = threads or (1 if pace_s else THREADS)
        self.batch = batch or (PACED_BATCH if pace_s else BATCH)
        self.pull_size = PullSize(self.batch)
        self.on_not_found = on_not_found
        self.pace_s = pace_s
        self.start_delay_s = (
            random.uniform(0, START_SPREAD_S) if start_delay_s is None else start_delay_s
        )
        self.dropped = 0
        self.failure: BaseException | None = None
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        # Re-creations are made one at a time; ``_recreated`` counts them, so a thread whose
        # pull failed before another thread's re-creation just pulls again.
        self._heal_lock = threading.Lock()
        self._recreated = 0

    def start(self) -> None:
        """Read the subscription's filter (unless given) and start pulling."""
        if self.message_filter is None:
            found = self.client.get_subscription(
                subscription=self.subscription, timeout=CALL_TIMEOUT, retry=admin_retry()
            )
            self.message_filter = parse_filter(found.filter)
        self._stopping.clear()
        self._workers = [
            threading.Thread(target=self._pull_loop, name=f"pull-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop pulling; messages being handled are finished and settled first."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in self._workers):
            log.warning("subscriber.stop_timeout", subscription=self.subscription)
        self._workers = []

    @property
    def running(self) -> bool:
        """Whether it is pulling (false after :meth:`stop` or a fatal error)."""
        return self.failure is None and any(w.is_alive() for w in self._workers)

    def _pull_loop(self) -> None:
        if self._stopping.wait(self.start_delay_s):
            return
        backoff = BACKOFF_MIN_S
        began = float("-inf")
        while not self._stopping.is_set():
            if self.pace_s and self._stopping.wait(began + self.pace_s - time.monotonic()):
                return
            began = time.monotonic()
            size = self.pull_size.next()
            generation = self._recreated
            try:
                response = self.calls.pull(self.subscription, size, PULL_WAIT_S)
            except api_exceptions.DeadlineExceeded:
                continue  # the long poll found nothing: poll again
            except api_exceptions.ResourceExhausted as exc:
                if size > 1:
                    # The response was too large for the channel: take one at a time.
                    if self.pull_size.too_large():
                        log.warning(
                            "subscriber.pulling_small",
                            subscription=self.subscription,
                            error=str(exc),
                            max_messages=1,
                            for_s=self.pull_size.small_for_s,
                        )
                    continue
                # Even one message is too much, or a quota: back off like any failure.
                self.pull_size.too_large()
                backoff = self._failed_pull(exc, backoff)
                continue
            except api_exceptions.NotFound as exc:
                then = self._heal(exc, generation)
                if then == "stop":
                    return
                if then == "wait":
                    self._stopping.wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            except api_exceptions.PermissionDenied as exc:
                self._fail(exc)
                return
            except api_exceptions.GoogleAPICallError as exc:
                backoff = self._failed_pull(exc, backoff)
                continue
            backoff = BACKOFF_MIN_S
            matching, dropped = self._split(response.received_messages)
            self._deliver(matching)
            self._settle(matching, dropped)

    def _failed_pull(self, exc: BaseException, backoff: float) -> float:
        """Log a failed pull, wait ``backoff`` (or until stopped); the next back-off."""
        log.warning(
            "subscriber.pull_failed",
            subscription=self.subscription,
            error=str(exc),
            retry_in_s=backoff,
        )
        self._stopping.wait(backoff)
        return min(backoff * 2, BACKOFF_MAX_S)

    def _fail(self, exc: BaseException) -> None:
        """Stop pulling for good, with one line saying why."""
        self.failure = exc
        self._stopping.set()  # the other pulling threads stop too
        log.error("subscriber.failed", subscription=self.subscription, error=str(exc))

    def _heal(
        self, missing: api_exceptions.NotFound, generation: int
    ) -> Literal["pull", "wait", "stop"]:
        """The subscription is gone: let the owner's hook re-create it. Then pull again at
        once (another thread re-created it), wait a back-off first, or stop."""
        if self.on_not_found is None:
            self._fail(missing)
            return "stop"
        with self._heal_lock:
            if self._recreated != generation:
                return "pull"  # another thread re-created it after this pull began
            try:
                go_on = self.on_not_found()
            except TRANSIENT_ERRORS as exc:
                # Not now (the server is restarting, the topic is not back yet): again
                # after a back-off, since ``_recreated`` is left as it was.
                log.warning(
                    "subscriber.recreate_failed", subscription=self.subscription, error=str(exc)
                )
                return "wait"
            except Exception as exc:  # the hook's own boundary: anything else is fatal
                self._fail(exc)
                return "stop"
            if not go_on:
                self._fail(missing)
                return "stop"
            self._recreated += 1
        # A back-off before pulling it: should the new subscription not be visible yet
        # (Cloud Pub/Sub may take a moment), the next re-creation waits longer.
        return "wait"

    def _split(self, received: Sequence[Any]) -> tuple[list[PulledMessage], list[str]]:
        """The messages that match the filter, and the ack IDs of those that do not (what
        Cloud Pub/Sub would have acknowledged for us). The filter reads the protobuf's own
        attribute map: most messages on the emulator are dropped, unconverted."""
        assert self.message_filter is not None
        matching: list[PulledMessage] = []
        dropped: list[str] = []
        # Asked once per pull: a disabled debug call still costs 2 us for its arguments,
        # and on the emulator most messages are dropped (a tenth of the bridge's CPU).
        tracing = log.is_enabled_for(logging.DEBUG)
        for item in received:
            message = item.message
            attributes = message.attributes
            if self.message_filter.matches(attributes):
                stamp = message.publish_time
                published = stamp.seconds + stamp.nanos * 1e-9 if stamp.seconds else None
                matching.append(
                    PulledMessage(
                        message.data, attributes, message.message_id, item.ack_id, published
                    )
                )
                continue
            dropped.append(item.ack_id)
            if tracing:
                log.debug(
                    "message.filtered_out",
                    subscription=self.subscription,
                    message_id=message.message_id,
                    function=attributes.get("function"),
                )
        if dropped:
            with self._lock:
                self.dropped += len(dropped)
        return matching, dropped

    def _deliver(self, messages: list[PulledMessage]) -> None:
        """Hand a pull's matching messages to the handler; nack what it left unsettled
        when it raised (what it left when it returned is nacked by :meth:`_settle`)."""
        if not messages:
            return
        try:
            self.handler(messages)
        except Exception:  # handler boundary: logged, and the messages come back
            log.exception(
                "message.handler_failed", subscription=self.subscription, messages=len(messages)
            )
            for message in messages:
                if message.acked is None:
                    message.nack()

    def _settle(self, messages: list[PulledMessage], dropped: list[str]) -> None:
        acked = dropped + [m.ack_id for m in messages if m.acked]
        nacked = [m.ack_id for m in messages if not m.acked]
        try:
            if acked:
                self.calls.acknowledge(self.subscription, acked, CALL_TIMEOUT)
            if nacked:
                self.calls.modify_ack_deadline(self.subscription, nacked, 0, CALL_TIMEOUT)
        except api_exceptions.GoogleAPICallError as exc:
            # Unsettled messages come back after their ack deadline: at least once.
            log.warning(
                "subscriber.settle_failed",
                subscription=self.subscription,
                error=str(exc),
                acked=len(acked),
                nacked=len(nacked),
            )
