"""One voting logger process's own subscription to ``election changed`` events.

The route table declares it (``election.domain.routes.ELECTIONS``): each process makes
``<ns>-elections-<8 hex>``, filtered on ``function = "election changed"``, with a one-day
expiration like a voting machine's (so a killed process's subscription goes away), and
deletes it when it stops cleanly. Provisioning does not make it and the bridge does not
pull it. The subscription is made *before* the book first reads PostgreSQL, so no change
can fall between the read and the first event.

Every event's signature is checked (``RECORD_SIGNING_KEYS``, this namespace, not expired,
``function = "election changed"``); a forged, unsigned or other namespace's event is
dropped with one ``election_event.forged`` line. A valid one only makes the book read that
election again (``actors.election_book``). On the emulator, which does not apply filters,
the subscription receives every message of the topic and drops what does not match.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time

import structlog
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from actors.election_book import ElectionBook
from config import Settings
from election.domain import protocol
from election.domain.filters import parse_filter
from election.domain.routes import ELECTIONS
from election.domain.signing import BadSignature, Verifier, now_ms
from election.pubsub.client import (
    CALL_TIMEOUT,
    admin_retry,
    create_own_subscription,
    subscriber_client,
    subscription_path,
    topic_path,
)
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage, RecreateLater

log = structlog.get_logger(__name__)


class ElectionFeed:
    """Feeds ``book`` from this process's own ``election changed`` subscription."""

    def __init__(
        self,
        settings: Settings,
        book: ElectionBook,
        client: pubsub_v1.SubscriberClient | None = None,
    ) -> None:
        self.settings = settings
        self.book = book
        self.verifier = Verifier(settings.require_verifying_keys(), settings.namespace)
        self.client = client or subscriber_client(settings)
        name = ELECTIONS.subscription(settings.namespace, secrets.token_hex(4))
        self.subscription = subscription_path(settings, name)
        self._subscriber: FilteredSubscriber | None = None

    def start(self) -> None:
        """Make the subscription, load the book from PostgreSQL, then start pulling."""
        self._subscribe(CALL_TIMEOUT)
        self.book.load()
        self._subscriber = FilteredSubscriber(
            self.client,
            self.subscription,
            self.handle,
            message_filter=parse_filter(ELECTIONS.filter),
            pace_s=ELECTIONS.pace_s,
            start_delay_s=0.0,
            on_not_found=self._resubscribe,
        )
        self._subscriber.start()
        log.info("election_feed.started", subscription=self.subscription)

    def close(self) -> None:
        """Stop pulling and delete the subscription (a clean stop of the process)."""
        if self._subscriber is not None:
            self._subscriber.stop(timeout=10)
            self._subscriber = None
        with contextlib.suppress(api_exceptions.NotFound, api_exceptions.GoogleAPICallError):
            self.client.delete_subscription(
                subscription=self.subscription, timeout=CALL_TIMEOUT, retry=admin_retry()
            )
        self.client.close()
        log.info("election_feed.stopped", subscription=self.subscription)

    def handle(self, messages: list[PulledMessage]) -> None:
        """The subscriber's handler: each event in turn (a failure to read PostgreSQL
        raises, and the events not yet settled come back)."""
        for message in messages:
            self._event(message)

    def _event(self, message: PulledMessage) -> None:
        try:
            self.verifier.verify(
                message.data, message.attributes, function=protocol.ELECTION_CHANGED, at_ms=now_ms()
            )
        except BadSignature as bad:
            message.ack()
            log.warning("election_event.forged", reason=str(bad), message_id=message.message_id)
            return
        event = _body(message.data)
        if event is None:
            message.ack()
            log.warning("election_event.unreadable", message_id=message.message_id)
            return
        election_id, seq = event
        started = time.monotonic()
        outcome = self.book.learn(election_id, seq)
        message.ack()
        view = self.book.view(election_id) if outcome == "applied" else None
        log.info(
            f"election_event.{outcome}",
            election_id=election_id,
            seq=seq,
            state=None if view is None else view.state.value,
            read_ms=round((time.monotonic() - started) * 1000, 1),
            message_id=message.message_id,
        )

    def _subscribe(self, timeout: float) -> None:
        create_own_subscription(
            self.client, self.settings, self.subscription, ELECTIONS.filter, timeout
        )

    def _resubscribe(self) -> bool:
        """The subscription is gone (an emulator restart): make it again, and read every
        election again, since events may have been missed meanwhile."""
        try:
            self._subscribe(CALL_TIMEOUT)
        except api_exceptions.AlreadyExists:
            pass
        except api_exceptions.NotFound as exc:
            raise RecreateLater(f"topic {topic_path(self.settings)} is missing") from exc
        self.book.refresh()
        log.warning("election_feed.resubscribed", subscription=self.subscription)
        return True


def _body(data: bytes) -> tuple[str, int] | None:
    """The election ID and ``seq`` of an event's body, or ``None``."""
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    election_id, seq = body.get("election_ID"), body.get("seq")
    if not isinstance(election_id, str) or not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return election_id, seq
