"""An in-memory stand-in for the publisher, for tests of one service."""

from __future__ import annotations

from collections.abc import Sequence

from election.domain import protocol


class RecordingPublisher:
    """Keeps what would have been published."""

    def __init__(self) -> None:
        self.sent: list[protocol.OutgoingMessage] = []

    def publish(self, message: protocol.OutgoingMessage, timeout: float = 30.0) -> str:
        self.sent.append(message)
        return "1"

    def publish_many(self, messages: Sequence[protocol.OutgoingMessage]) -> list[str]:
        return [self.publish(message) for message in messages]
