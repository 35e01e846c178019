"""The hot-path Pub/Sub calls (Pull, Acknowledge, ModifyAckDeadline, Publish) as raw
protobuf RPCs on a client's own gRPC channel.

The client library wraps every call in proto-plus messages, a retry and timeout stack and
(for publishing) a batching thread with a future per message. On this project's load
that wrapping cost more CPU than the work itself: a third of the bridge's CPU went into
building acknowledge requests. These calls use the same channel (so the same emulator or
the same Cloud credentials), the same wire messages and the same routing header, with
none of the per-message machinery. Errors come back as the library's own exception
types, so callers handle both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
from google.api_core import exceptions as api_exceptions
from google.api_core.gapic_v1 import routing_header
from google.api_core.retry import Retry, if_exception_type
from google.cloud import pubsub_v1
from google.protobuf import empty_pb2
from google.pubsub_v1.types import pubsub as types

#: Most messages one Publish request may carry (a Pub/Sub limit).
MAX_PUBLISH_MESSAGES = 1000

_PUBLISH_RETRY = Retry(
    predicate=if_exception_type(
        api_exceptions.ServiceUnavailable,
        api_exceptions.InternalServerError,
        api_exceptions.Aborted,
        api_exceptions.DeadlineExceeded,
        api_exceptions.TooManyRequests,
    ),
    initial=0.05,
    maximum=1.0,
)

# The raw protobuf classes behind the library's proto-plus types.
_PullRequest = types.PullRequest.pb()
_PullResponse = types.PullResponse.pb()
_AcknowledgeRequest = types.AcknowledgeRequest.pb()
_ModifyAckDeadlineRequest = types.ModifyAckDeadlineRequest.pb()
_PublishRequest = types.PublishRequest.pb()
_PublishResponse = types.PublishResponse.pb()
_PubsubMessage = types.PubsubMessage.pb()
_Empty = empty_pb2.Empty

R = TypeVar("R")


class PubSubCalls:
    """Raw Pull/Acknowledge/ModifyAckDeadline/Publish on one gRPC channel.

    Thread-safe, like the channel. Every call takes a timeout; failures raise
    :class:`google.api_core.exceptions.GoogleAPICallError` subclasses.
    """

    def __init__(self, channel: grpc.Channel) -> None:
        def method(path: str, request: Any, response: Any) -> grpc.UnaryUnaryMultiCallable:
            return channel.unary_unary(
                path,
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
            )

        self._pull = method("/google.pubsub.v1.Subscriber/Pull", _PullRequest, _PullResponse)
        self._acknowledge = method(
            "/google.pubsub.v1.Subscriber/Acknowledge", _AcknowledgeRequest, _Empty
        )
        self._modify_ack_deadline = method(
            "/google.pubsub.v1.Subscriber/ModifyAckDeadline", _ModifyAckDeadlineRequest, _Empty
        )
        self._publish = method(
            "/google.pubsub.v1.Publisher/Publish", _PublishRequest, _PublishResponse
        )
        self._headers: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}

    @classmethod
    def of(cls, client: pubsub_v1.SubscriberClient | pubsub_v1.PublisherClient) -> PubSubCalls:
        """Calls on the channel of a client made by :mod:`election.pubsub.client`'s factory."""
        return cls(client.transport.grpc_channel)

    def pull(self, subscription: str, max_messages: int, timeout: float) -> Any:
        """One long-polling pull; the raw ``PullResponse`` (``received_messages``)."""
        request = _PullRequest(subscription=subscription, max_messages=max_messages)
        return self._call(self._pull, request, timeout, self._header("subscription", subscription))

    def acknowledge(self, subscription: str, ack_ids: Sequence[str], timeout: float) -> None:
        """Acknowledge received messages: Pub/Sub will not deliver them again."""
        request = _AcknowledgeRequest(subscription=subscription, ack_ids=ack_ids)
        self._call(self._acknowledge, request, timeout, self._header("subscription", subscription))

    def modify_ack_deadline(
        self, subscription: str, ack_ids: Sequence[str], seconds: int, timeout: float
    ) -> None:
        """Change the lease of received messages (0: give them back for redelivery now)."""
        request = _ModifyAckDeadlineRequest(
            subscription=subscription, ack_ids=ack_ids, ack_deadline_seconds=seconds
        )
        self._call(
            self._modify_ack_deadline, request, timeout, self._header("subscription", subscription)
        )

    def publish(
        self,
        topic: str,
        messages: Iterable[tuple[bytes, Mapping[str, str]]],
        timeout: float,
    ) -> list[str]:
        """Publish ``(data, attributes)`` pairs, in requests of at most 1,000 messages;
        transient failures are retried, all within ``timeout`` (then DeadlineExceeded).
        Returns the message IDs.

        Like the client library, a retried request may store a message twice; every
        consumer here is idempotent.
        """
        wire = [_PubsubMessage(data=data, attributes=attributes) for data, attributes in messages]
        ids: list[str] = []
        metadata = self._header("topic", topic)
        deadline = time.monotonic() + timeout

        def attempt(request: object) -> Any:
            # Every attempt, and every request of a long list, shares the one deadline.
            left = max(0.01, deadline - time.monotonic())
            return self._call(self._publish, request, left, metadata)

        for start in range(0, len(wire), MAX_PUBLISH_MESSAGES):
            chunk = wire[start : start + MAX_PUBLISH_MESSAGES]
            request = _PublishRequest(topic=topic, messages=chunk)
            left = max(0.01, deadline - time.monotonic())
            try:
                response = _PUBLISH_RETRY.with_timeout(left)(attempt)(request)
            except api_exceptions.RetryError as exhausted:
                # Callers handle the library's call errors; a retry budget running out is one.
                raise api_exceptions.DeadlineExceeded(  # type: ignore[no-untyped-call]
                    f"publish not confirmed within {timeout:.0f} s: {exhausted.cause}"
                ) from exhausted
            ids.extend(response.message_ids)
        return ids

    def _header(self, name: str, value: str) -> tuple[tuple[str, str], ...]:
        # The routing header Cloud Pub/Sub expects, built once per resource.
        key = (name, value)
        found = self._headers.get(key)
        if found is None:
            found = (routing_header.to_grpc_metadata(((name, value),)),)  # type: ignore[no-untyped-call]
            self._headers[key] = found
        return found

    @staticmethod
    def _call(
        method: Callable[..., R],
        request: object,
        timeout: float,
        metadata: tuple[tuple[str, str], ...],
    ) -> R:
        try:
            return method(request, timeout=timeout, metadata=metadata)
        except grpc.RpcError as error:
            raise api_exceptions.from_grpc_error(error) from error  # type: ignore[no-untyped-call]
