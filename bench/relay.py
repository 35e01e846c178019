"""A trivial relay: the floor the emulator sets for a three-hop answer.

It pulls its subscription with the same client-side filtering as the bridge and
republishes each pull's messages in one publish, unchanged but for the ``function``
attribute, doing no Redis or database work: the same Pub/Sub primitives as the
services. Two relays in a row plus the answer make the same three hops as a vote.
"""

from __future__ import annotations

import threading

import structlog

from config import Settings
from election.domain import protocol
from election.pubsub.client import CALL_TIMEOUT, Publisher, subscriber_client, subscription_path
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage

log = structlog.get_logger(__name__)


def relay_function(hop: int) -> str:
    """The ``function`` attribute a relay of hop ``hop`` (1 or 2) reads."""
    return f"relay {hop}"


def relay_filter(hop: int) -> str:
    """The subscription filter of relay ``hop``."""
    return f'attributes.{protocol.FUNCTION} = "{relay_function(hop)}"'


def relay_subscription(settings: Settings, hop: int) -> str:
    """The subscription name of relay ``hop``."""
    return f"{settings.namespace}-relay-{hop}"


def run_relay(settings: Settings, hop: int, stop: threading.Event) -> None:
    """Relay hop ``hop`` until ``stop`` is set: hop 1 passes to hop 2, hop 2 answers."""
    publisher = Publisher(settings)
    forward = relay_function(2) if hop == 1 else protocol.RESULT

    def relay(messages: list[PulledMessage]) -> None:
        # The same primitives the services use: one publish per pull, then the acks.
        publisher.calls.publish(
            publisher.topic,
            [(m.data, {**m.attributes, protocol.FUNCTION: forward}) for m in messages],
            CALL_TIMEOUT,
        )
        for message in messages:
            message.ack()

    client = subscriber_client(settings)
    subscriber = FilteredSubscriber(
        client,
        subscription_path(settings, relay_subscription(settings, hop)),
        relay,  # and the bridge's flow control: the subscriber's defaults
    )
    subscriber.start()
    log.info("relay.started", hop=hop)
    stop.wait()
    subscriber.stop()
    publisher.close()
    client.close()
