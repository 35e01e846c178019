"""The channels the Pub/Sub client factory makes accept responses far above one message
of Pub/Sub's maximum size. No server is contacted: channels connect lazily."""

from __future__ import annotations

from typing import Any

import grpc
from google.auth.credentials import AnonymousCredentials
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

from election.pubsub.client import (
    CHANNEL_OPTIONS,
    MAX_MESSAGE_BYTES,
    MAX_RECEIVE_BYTES,
    with_channel_options,
)


def test_the_receive_limit_holds_several_of_the_largest_messages() -> None:
    assert dict(CHANNEL_OPTIONS)["grpc.max_receive_message_length"] == MAX_RECEIVE_BYTES
    assert MAX_RECEIVE_BYTES >= 3 * MAX_MESSAGE_BYTES


def test_a_cloud_transport_makes_its_channel_with_our_limits_over_its_own_options() -> None:
    made: list[dict[str, Any]] = []

    def create(host: str, **kwargs: Any) -> grpc.Channel:
        made.append({"host": host, **kwargs})
        return grpc.insecure_channel("127.0.0.1:9")

    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    transport = SubscriberGrpcTransport(channel=with_channel_options(create), credentials=anonymous)
    transport.close()  # type: ignore[no-untyped-call]

    (call,) = made
    options = dict(call["options"])
    assert options["grpc.max_receive_message_length"] == MAX_RECEIVE_BYTES
    # What the library asks for besides stays (keepalive, metadata size), and so do the
    # credentials it passes.
    assert "grpc.keepalive_time_ms" in options
    assert call["host"].startswith("pubsub.googleapis.com")
    assert isinstance(call["credentials"], AnonymousCredentials)
