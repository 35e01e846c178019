"""In-memory stand-ins for the publisher and the dead-letter store, for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from election import protocol


class RecordingPublisher:
    """Keeps what would have been published."""

    def __init__(self) -> None:
        self.sent: list[protocol.OutgoingMessage] = []

    def publish(self, message: protocol.OutgoingMessage, timeout: float = 30.0) -> str:
        self.sent.append(message)
        return "1"

    def publish_many(self, messages: Sequence[protocol.OutgoingMessage]) -> list[str]:
        return [self.publish(message) for message in messages]


class _Letter:
    def __init__(self, error: str) -> None:
        self.error = error


class KeepingDeadLetters:
    """Keeps dead letters in a list; each reports ``error`` as its cause."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.kept: list[dict[str, Any]] = []

    def add(self, message: dict[str, Any], retries: int) -> _Letter:
        self.kept.append(message)
        return _Letter(self.error)
