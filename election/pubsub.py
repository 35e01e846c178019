"""The one Pub/Sub client factory, and the publisher every service uses.

Clients are built from :class:`config.Settings`: against the emulator when
``PUBSUB_EMULATOR_HOST`` is set (an insecure channel, no credentials), otherwise against
Cloud Pub/Sub with Application Default Credentials. gRPC channels do not survive
``fork()``, so callers create clients inside the process that uses them.
"""

from __future__ import annotations

from concurrent.futures import Future

import grpc
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry, if_exception_type
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

from config import Settings
from election.protocol import OutgoingMessage

#: Seconds any single Pub/Sub admin or publish call may take.
CALL_TIMEOUT = 30.0
#: Default batching: a short wait keeps latency low while still batching under load.
DEFAULT_BATCH = pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.005)


def admin_retry(deadline: float = CALL_TIMEOUT) -> Retry:
    """Retry an admin call on transient errors, for at most ``deadline`` seconds in all.

    The client library's own defaults keep retrying for up to ten minutes, which would
    make a command pointed at a dead server hang instead of saying so.
    """
    return Retry(
        predicate=if_exception_type(
            api_exceptions.ServiceUnavailable, api_exceptions.InternalServerError
        ),
        initial=0.1,
        maximum=2.0,
        timeout=deadline,
    )


def publisher_client(
    settings: Settings, batch: pubsub_v1.types.BatchSettings = DEFAULT_BATCH
) -> pubsub_v1.PublisherClient:
    """A publisher client for the configured Pub/Sub (emulator or cloud)."""
    if settings.emulator_host:
        transport = PublisherGrpcTransport(channel=grpc.insecure_channel(settings.emulator_host))
        return pubsub_v1.PublisherClient(batch_settings=batch, transport=transport)
    return pubsub_v1.PublisherClient(batch_settings=batch)


def subscriber_client(settings: Settings) -> pubsub_v1.SubscriberClient:
    """A subscriber client for the configured Pub/Sub (emulator or cloud)."""
    if settings.emulator_host:
        channel = grpc.insecure_channel(settings.emulator_host)
        return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
    return pubsub_v1.SubscriberClient()


def topic_path(settings: Settings) -> str:
    """Full resource name of the election topic."""
    return f"projects/{settings.project}/topics/{settings.topic}"


def subscription_path(settings: Settings, name: str) -> str:
    """Full resource name of a subscription in the configured project."""
    return f"projects/{settings.project}/subscriptions/{name}"


class Publisher:
    """Publishes :class:`OutgoingMessage` objects to the election topic."""

    def __init__(self, settings: Settings, client: pubsub_v1.PublisherClient | None = None):
        self.client = client or publisher_client(settings)
        self.topic = topic_path(settings)

    def publish_async(self, message: OutgoingMessage) -> Future[str]:
        """Start publishing; the future gives the server-assigned message ID."""
        future: Future[str] = self.client.publish(
            self.topic, message.data(), **dict(message.attributes)
        )
        return future

    def publish(self, message: OutgoingMessage, timeout: float = CALL_TIMEOUT) -> str:
        """Publish and wait until Pub/Sub confirms it stored the message."""
        return self.publish_async(message).result(timeout=timeout)

    def publish_or_defer(self, message: OutgoingMessage, pending: list[Future[str]] | None) -> None:
        """Publish and wait, or, given a ``pending`` list, start it and add its future there
        (a batch waits for all its publishes at once)."""
        if pending is None:
            self.publish(message)
        else:
            pending.append(self.publish_async(message))

    def close(self) -> None:
        """Flush pending batches and stop the publisher."""
        self.client.stop()
