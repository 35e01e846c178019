"""The voting machine: sends votes to the logger and waits for each answer.

This module holds the machine's Pub/Sub side (its answer subscription, how it is named,
made and re-made, and the publish of each vote); what it waits for is in
``election.machine.board`` and the loop that drives it from the command line in
``election.machine.run``.

Each machine reads the ``result`` messages meant for it through a subscription of its
own, filtered on its machine ID, created when it starts and deleted when it stops. Two
machines with the same ID each have their own subscription, so both see every answer for
that ID; each resolves only the ballots it is waiting for. Before it votes, it asks for
its election's ballot on a second subscription of its own (``election.machine.ballot``).

A running machine heals itself: if its subscription disappears (deleted by hand, or lost
when the emulator restarted) it creates it again, the same way, and goes on listening.
The topic is not the machine's to create: a vote whose publish finds it missing raises
:class:`TopicMissing` rather than being reported as a time-out.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from threading import Event

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.api_core import exceptions as api_exceptions

from config import Settings
from election.domain import answers, protocol
from election.domain.answers import answer_is_signed
from election.domain.ballot import ShownBallot
from election.domain.errors import Unavailable
from election.domain.filters import parse_filter
from election.domain.outcomes import TIMED_OUT, Outcome, outcome_of
from election.domain.votes import wire_id
from election.machine.ballot import BallotFetch
from election.machine.board import AnswerBoard, Cast
from election.ops.log_signing import log_public_key
from election.pubsub.client import (
    CALL_TIMEOUT,
    Publisher,
    admin_retry,
    create_own_subscription,
    subscriber_client,
    subscription_path,
    topic_path,
)
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage, RecreateLater, one_by_one

log = structlog.get_logger(__name__)

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.~+-]")


def answer_subscription_name(namespace: str, machine_id: str, kind: str = "machine") -> str:
    """A fresh name for a machine's answer subscription in ``namespace`` (``kind``
    ``"ballot"``: for its ballot).

    The machine ID is kept as far as a Pub/Sub name allows (other characters become
    ``_``, at most 100 of them), and a random suffix gives each machine started with the
    same ID a subscription of its own.
    """
    safe_id = _NAME_UNSAFE.sub("_", machine_id)[:100]
    return f"{namespace}-{kind}-{safe_id}-{secrets.token_hex(4)}"


class TopicMissing(Unavailable):
    """A vote could not be sent: the election topic does not exist (deleted, or the
    emulator restarted and the system is not provisioned again yet). The vote was not
    sent, so its voter has not voted."""


class VotingMachine:
    """A machine with an answer subscription of its own; use as a context manager."""

    def __init__(
        self,
        settings: Settings,
        machine_id: str,
        election_id: str,
        *,
        publisher: Publisher | None = None,
        public_key: Ed25519PublicKey | None = None,
        on_forged: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        #: Every answer must be signed by our services (``election.domain.answers``); by
        #: default with the deployment's log key (``LOG_PUBLIC_KEY``).
        self.public_key = public_key or log_public_key(settings)
        #: Called with ``(UUID, why)`` for each answer whose signature does not hold.
        self.on_forged = on_forged
        self.machine_id = machine_id
        self.election_id = election_id
        self.publisher = publisher or Publisher(settings)
        self._own_publisher = publisher is None
        self.client = subscriber_client(settings)
        self.subscription = subscription_path(
            settings, answer_subscription_name(settings.namespace, machine_id)
        )
        self.board = AnswerBoard()
        #: Answers that came after their ballot timed out, by UUID.
        self.late: dict[str, Outcome] = {}
        self._subscriber: FilteredSubscriber | None = None
        self._ballot: BallotFetch | None = None

    def __enter__(self) -> VotingMachine:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, timeout: float = CALL_TIMEOUT) -> None:
        """Create the answer subscription and start listening on it.

        ``timeout`` bounds the whole attempt, retries included.
        """
        self._subscribe(timeout)
        log.debug("machine.subscribed", subscription=self.subscription)
        self._subscriber = FilteredSubscriber(
            self.client,
            self.subscription,
            one_by_one(self._on_answer),
            message_filter=parse_filter(protocol.machine_filter(self.machine_id)),
            on_not_found=self._resubscribe,
        )
        self._subscriber.start()

    def fetch_ballot(
        self, timeout: float, setup_timeout: float = CALL_TIMEOUT, stop: Event | None = None
    ) -> ShownBallot | None:
        """Ask for the election's ballot on a subscription of its own and wait up to
        ``timeout`` seconds: the ballot, or ``None`` (``election.machine.ballot``)."""
        name = answer_subscription_name(self.settings.namespace, self.machine_id, "ballot")
        self._ballot = BallotFetch(
            self.client,
            self._create_subscription,
            self.publisher,
            subscription_path(self.settings, name),
            self.machine_id,
            self.election_id,
            trusted=self._signed,
        )
        return self._ballot.fetch(timeout, setup_timeout, stop)

    def _signed(self, data: bytes, attributes: Mapping[str, str]) -> bool:
        return answer_is_signed(self.public_key, self.settings.namespace, data, attributes)

    def _subscribe(self, timeout: float) -> None:
        """Create the answer subscription (``timeout`` bounds it, retries included)."""
        self._create_subscription(
            self.subscription, protocol.machine_filter(self.machine_id), timeout
        )

    def _create_subscription(self, name: str, filter_text: str, timeout: float) -> None:
        """Create a subscription of this machine's (``timeout`` bounds it, retries
        included): it expires when unused, and keeps messages ten minutes at most."""
        create_own_subscription(
            self.client,
            self.settings,
            name,
            filter_text,
            timeout,
        )

    def _resubscribe(self) -> bool:
        """The subscriber's ``on_not_found`` hook: the answer subscription is gone, so
        create it again. Answers published while it was gone are lost: their ballots
        time out, and are recorded or leave their voter free like any other time-out."""
        try:
            self._subscribe(CALL_TIMEOUT)
        except api_exceptions.AlreadyExists:
            pass  # it exists again: listen on it
        except api_exceptions.NotFound as exc:
            # The topic is gone too; the bridge or an operator re-creates it: try again.
            raise RecreateLater(f"topic {topic_path(self.settings)} is missing") from exc
        log.warning("machine.resubscribed", subscription=self.subscription)
        return True

    def close(self) -> None:
        """Stop listening and delete the answer subscription (and the ballot's)."""
        if self._ballot is not None:
            self._ballot.close()
        if self._subscriber is not None:
            self._subscriber.stop(timeout=10)
            self._subscriber = None
        # NotFound: already gone (expired, or deleted by an operator).
        with contextlib.suppress(api_exceptions.NotFound):
            self.client.delete_subscription(
                subscription=self.subscription, timeout=CALL_TIMEOUT, retry=admin_retry()
            )
        self.client.close()
        if self._own_publisher:
            self.publisher.close()

    def cast(self, voter_id: int, choice: int, timeout: float) -> Cast:
        """Send one vote and wait up to ``timeout`` seconds for its answer; raise
        :class:`TopicMissing` if the topic does not exist (the vote was not sent)."""
        uuid = str(uuidlib.uuid4())
        body = {
            "machine_ID": wire_id(self.machine_id),
            "voter_ID": voter_id,
            "voting": choice,
            "election_ID": wire_id(self.election_id),
            "UUID": uuid,
            "timestamp": int(time.time() * 1000),
        }
        answer = self.board.expect(uuid)
        started = time.monotonic()
        try:
            self.publisher.publish(
                protocol.OutgoingMessage(
                    body=body,
                    attributes={
                        protocol.FUNCTION: protocol.SUBMIT_VOTE,
                        protocol.MACHINE_ID: self.machine_id,
                    },
                ),
                timeout=max(timeout, 1.0),
            )
        except api_exceptions.NotFound:
            # Not stored anywhere: no time-out, which would suggest it might still count.
            self.board.give_up(uuid)
            raise TopicMissing(
                f"the topic {topic_path(self.settings)} does not exist (deleted, or the "
                "Pub/Sub emulator restarted): run `election provision` (after an emulator "
                "restart a running bridge re-creates it), then vote again"
            ) from None
        except api_exceptions.GoogleAPICallError as exc:
            # Not confirmed in time: it may still arrive; an answer then is logged as late.
            log.warning("vote.publish_unconfirmed", uuid=uuid, error=type(exc).__name__)
            self.board.give_up(uuid)
            return Cast(uuid, voter_id, choice, TIMED_OUT, None)
        remaining = max(0.0, timeout - (time.monotonic() - started))
        try:
            outcome = answer.result(timeout=remaining)
        except FutureTimeout:
            self.board.give_up(uuid)
            return Cast(uuid, voter_id, choice, TIMED_OUT, None)
        return Cast(uuid, voter_id, choice, outcome, time.monotonic() - started)

    def _on_answer(self, message: PulledMessage) -> None:
        message.ack()
        try:
            body = json.loads(message.data)
        except ValueError:
            log.warning("answer.unreadable", message_id=message.message_id)
            return
        if not isinstance(body, Mapping) or not isinstance(body.get("UUID"), str):
            log.warning("answer.unreadable", message_id=message.message_id)
            return
        if not answer_is_signed(
            self.public_key, self.settings.namespace, message.data, message.attributes
        ):
            why = "unsigned" if answers.SIGNATURE not in message.attributes else "bad signature"
            # Never an outcome: the real answer may still come, or the vote times out. Only
            # a forgery about a vote this machine waits for is shown (its UUID is then one
            # this machine made): anything else, whatever its text, is only logged.
            uuid = body["UUID"]
            waited = self.board.waiting_for(uuid)
            log.warning(
                "answer.forged",
                uuid=uuid[:64],
                why=why,
                shown=waited,
                message_id=message.message_id,
            )
            if waited and self.on_forged is not None:
                self.on_forged(uuid, why)
            return
        outcome = outcome_of(body)
        which = self.board.resolve(body["UUID"], outcome)
        if which == "late":
            self.late[body["UUID"]] = outcome
            log.info("answer.late", uuid=body["UUID"], outcome=str(outcome))
        elif which == "foreign":
            log.debug("answer.foreign", uuid=body["UUID"], outcome=str(outcome))
