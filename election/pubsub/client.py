"""The one Pub/Sub client factory, and the publisher every service uses.

Clients are built from :class:`config.Settings`: against the emulator when
``PUBSUB_EMULATOR_HOST`` is set (an insecure channel, no credentials), otherwise against
Cloud Pub/Sub with Application Default Credentials. gRPC channels do not survive
``fork()``, so callers create clients inside the process that uses them.

Every channel made here receives responses of up to :data:`MAX_RECEIVE_BYTES`. gRPC's
default is 4 MB, while Pub/Sub (the emulator and Cloud alike) accepts messages of up to
10 MB from any publisher, and the emulator, ignoring filters, delivers each to every
subscription: with the default, a pull whose response would carry such a message fails
with ``RESOURCE_EXHAUSTED`` and the messages around it stay stuck (see also
:mod:`election.pubsub.subscriber`, which falls back to one-message pulls if a response is still
too large).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry, if_exception_type
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2
from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

from config import Settings
from election.domain.answers import AnswerSigner
from election.domain.protocol import OutgoingMessage
from election.pubsub.calls import PubSubCalls

#: Seconds any single Pub/Sub admin or publish call may take.
CALL_TIMEOUT = 30.0

#: Largest message Pub/Sub accepts (the emulator's and Cloud's limit).
MAX_MESSAGE_BYTES = 10 * 1000 * 1000
#: Largest response a channel made here accepts: a pull carrying three of the largest
#: messages still fits (a larger pull falls back to one message at a time).
MAX_RECEIVE_BYTES = 32 * 1024 * 1024
T = TypeVar("T")

#: gRPC options of every channel made here.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
    ("grpc.max_send_message_length", -1),
)


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


def with_channel_options(create: Callable[..., grpc.Channel]) -> Callable[..., grpc.Channel]:
    """A channel factory for a client library transport: ``create`` (the transport's own
    ``create_channel``, with its credentials, TLS and quota project) called with
    :data:`CHANNEL_OPTIONS` over the options the transport asks for."""

    def create_with_options(*args: Any, **kwargs: Any) -> grpc.Channel:
        options = dict(kwargs.pop("options", None) or ())
        options.update(CHANNEL_OPTIONS)
        return create(*args, options=list(options.items()), **kwargs)

    return create_with_options


def _transport(settings: Settings, transport: type[T]) -> T:
    """A gRPC transport for the configured Pub/Sub: a plain channel to the emulator, or
    the transport's own (credentials, TLS) with :data:`CHANNEL_OPTIONS` added."""
    if settings.emulator_host:
        channel = grpc.insecure_channel(settings.emulator_host, options=CHANNEL_OPTIONS)
        return transport(channel=channel)  # type: ignore[call-arg]
    create = with_channel_options(transport.create_channel)  # type: ignore[attr-defined]
    return transport(channel=create)  # type: ignore[call-arg]


def publisher_client(settings: Settings) -> pubsub_v1.PublisherClient:
    """A publisher client for the configured Pub/Sub (emulator or cloud)."""
    return pubsub_v1.PublisherClient(transport=_transport(settings, PublisherGrpcTransport))


def subscriber_client(settings: Settings) -> pubsub_v1.SubscriberClient:
    """A subscriber client for the configured Pub/Sub (emulator or cloud)."""
    return pubsub_v1.SubscriberClient(transport=_transport(settings, SubscriberGrpcTransport))


def topic_path(settings: Settings) -> str:
    """Full resource name of the election topic."""
    return f"projects/{settings.project}/topics/{settings.topic}"


def subscription_path(settings: Settings, name: str) -> str:
    """Full resource name of a subscription in the configured project."""
    return f"projects/{settings.project}/subscriptions/{name}"


#: A process's own subscription (a voting machine's answers, a logger process's election
#: events) is removed by Pub/Sub after this long unused, so a killed process leaves
#: nothing behind for long (one day is the shortest expiration Pub/Sub allows).
OWN_SUBSCRIPTION_TTL_S = 24 * 3600
OWN_ACK_DEADLINE_S = 10


def create_own_subscription(
    client: pubsub_v1.SubscriberClient,
    settings: Settings,
    path: str,
    message_filter: str,
    timeout: float,
) -> None:
    """Create a process's own subscription ``path`` to the topic, filtered on
    ``message_filter``, expiring when unused (``timeout`` bounds it, retries included)."""
    client.create_subscription(
        request={
            "name": path,
            "topic": topic_path(settings),
            "filter": message_filter,
            "ack_deadline_seconds": OWN_ACK_DEADLINE_S,
            "expiration_policy": {"ttl": duration_pb2.Duration(seconds=OWN_SUBSCRIPTION_TTL_S)},
            "message_retention_duration": duration_pb2.Duration(seconds=600),
        },
        timeout=timeout,
        retry=admin_retry(timeout),
    )


class Publisher:
    """Publishes :class:`OutgoingMessage` objects to the election topic.

    Each call is one synchronous ``Publish`` request (see :mod:`election.pubsub.calls`):
    a single answer goes out at once instead of waiting for a batching timer, and a batch
    of votes sends all its answers in one request.
    """

    def __init__(
        self,
        settings: Settings,
        client: pubsub_v1.PublisherClient | None = None,
        *,
        signer: AnswerSigner | None = None,
    ):
        self.client = client or publisher_client(settings)
        self.calls = PubSubCalls.of(self.client)
        self.topic = topic_path(settings)
        #: Our services sign the answers they send machines (``election.domain.answers``).
        self.signer = signer

    def publish(self, message: OutgoingMessage, timeout: float = CALL_TIMEOUT) -> str:
        """Publish and wait until Pub/Sub confirms it stored the message."""
        return self.publish_many([message], timeout)[0]

    def publish_many(
        self, messages: Sequence[OutgoingMessage], timeout: float = CALL_TIMEOUT
    ) -> list[str]:
        """Publish all of ``messages`` in one request; their message IDs, in order."""
        if not messages:
            return []
        if self.signer is not None:
            messages = self.signer.sign(messages)
        return self.calls.publish(self.topic, [(m.data(), m.attributes) for m in messages], timeout)

    def close(self) -> None:
        """Close the client's channel."""
        self.client.transport.close()
