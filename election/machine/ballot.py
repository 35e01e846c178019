"""A voting machine asks for its election's ballot, once, when it starts.

The machine makes a subscription of its own for the answer, filtered on
``function = "ballot" AND machineID = <its ID>`` (``protocol.ballot_filter``: its answer
subscription keeps SPEC's filter, ``function = "result" AND machineID = ...``), with the
same expiration as its answer subscription, then publishes a ``ballot request`` and waits
for the answer, at most ``timeout`` seconds. The subscription is removed as soon as the
wait is over, in the background (a pull may hold it for up to two seconds), and the
machine waits for that removal when it closes.

No answer in time (no logger worker running, an older deployment) is not an error: the
machine then votes as on an undeclared election, as the reference machine does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping

import structlog
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from election.domain import protocol
from election.domain.ballot import ShownBallot, parse_ballot
from election.domain.filters import parse_filter
from election.pubsub.client import CALL_TIMEOUT, Publisher, admin_retry
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage, one_by_one

log = structlog.get_logger(__name__)

#: Seconds a machine waits for its ballot by default (``--ballot-timeout``).
BALLOT_TIMEOUT_S = 10.0
#: How often the wait looks whether the machine was asked to stop.
_STOP_POLL_S = 0.1
#: Makes a subscription: ``create(name, filter, timeout)``, as the machine makes its own.
Create = Callable[[str, str, float], object]
#: Whether a message (its data and attributes) carries our services' signature.
Trusted = Callable[[bytes, Mapping[str, str]], bool]


class BallotFetch:
    """One machine's ballot request and the subscription it is answered on."""

    def __init__(
        self,
        client: pubsub_v1.SubscriberClient,
        create: Create,
        publisher: Publisher,
        subscription: str,
        machine_id: str,
        election_id: str,
        *,
        trusted: Trusted,
    ) -> None:
        self.client = client
        #: Whether a ballot is signed by our services (``election.domain.answers``).
        self.trusted = trusted
        self.create = create
        self.publisher = publisher
        self.subscription = subscription
        self.machine_id = machine_id
        self.election_id = election_id
        self.ballot: ShownBallot | None = None
        self._arrived = threading.Event()
        self._cleanup: threading.Thread | None = None

    def fetch(
        self, timeout: float, setup_timeout: float, stop: threading.Event | None = None
    ) -> ShownBallot | None:
        """Ask for the ballot; the answer, or ``None`` after ``timeout`` seconds (or once
        ``stop`` is set). ``setup_timeout`` bounds making the subscription and the
        publish; their errors are raised (the caller words them)."""
        self.create(self.subscription, protocol.ballot_filter(self.machine_id), setup_timeout)
        subscriber = FilteredSubscriber(
            self.client,
            self.subscription,
            one_by_one(self._on_ballot),
            message_filter=parse_filter(protocol.ballot_filter(self.machine_id)),
            start_delay_s=0,
        )
        subscriber.start()
        try:
            request = protocol.ballot_request_message(self.machine_id, self.election_id)
            self.publisher.publish(request, timeout=setup_timeout)
            self._wait(timeout, stop or threading.Event())
        finally:
            self._cleanup = threading.Thread(
                target=self._remove, args=(subscriber,), name="ballot-cleanup", daemon=True
            )
            self._cleanup.start()
        if self.ballot is None:
            log.info("ballot.no_answer", election=self.election_id, waited_s=timeout)
        return self.ballot

    def _wait(self, timeout: float, stop: threading.Event) -> None:
        deadline = time.monotonic() + timeout
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self._arrived.wait(min(_STOP_POLL_S, left)):
                return

    def _on_ballot(self, message: PulledMessage) -> None:
        message.ack()
        if not self.trusted(message.data, message.attributes):
            # A forged ballot could show other names for the choices: never shown.
            log.warning("ballot.forged", message_id=message.message_id)
            return
        ballot = parse_ballot(message.data, self.election_id)
        if ballot is None:
            log.warning("ballot.unreadable", message_id=message.message_id)
            return
        if self.ballot is None:
            self.ballot = ballot
            self._arrived.set()

    def _remove(self, subscriber: FilteredSubscriber) -> None:
        subscriber.stop(timeout=10)
        # NotFound: already gone (expired, or deleted by an operator).
        with contextlib.suppress(api_exceptions.NotFound, api_exceptions.GoogleAPICallError):
            self.client.delete_subscription(
                subscription=self.subscription, timeout=CALL_TIMEOUT, retry=admin_retry()
            )

    def close(self, timeout: float = 15.0) -> None:
        """Wait until the subscription is removed (call before closing the client)."""
        if self._cleanup is not None:
            self._cleanup.join(timeout)
            self._cleanup = None
