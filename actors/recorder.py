"""The voting record actor: ``dramatiq actors.recorder`` runs it (``election worker recorder``)."""

from __future__ import annotations

import base64

import dramatiq

from actors import process
from actors.broker import settings
from actors.recording import VoteRecorder

#: Longest one record may take before Dramatiq interrupts it (and retries).
TIME_LIMIT_MS = 60_000

_recorder = process.PerProcess(
    lambda: VoteRecorder(process.database.get(), process.publisher.get(), choices=settings.choices)
)


@dramatiq.actor(
    actor_name="record_vote", queue_name=settings.queue_name("recorder"), time_limit=TIME_LIMIT_MS
)
def record_vote(data: str, attributes: dict[str, str], message_id: str) -> None:
    """Store one ``record vote`` message (``data`` is the Pub/Sub body, base64)."""
    _recorder.get().handle(base64.b64decode(data), attributes, message_id)
