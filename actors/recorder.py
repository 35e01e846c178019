"""The voting record service's actors: ``election worker recorder`` runs them (Dramatiq
queue ``<ns>.recorder``)."""

from __future__ import annotations

from typing import Any

import dramatiq

from actors import process
from actors.batch import run_batch, split
from actors.broker import settings
from actors.payload import body_of
from actors.recording import VoteRecorder, vote_recorder
from actors.retrying import always
from election.domain.routes import RECORDER

#: Longest one record may take before Dramatiq interrupts it (and retries).
TIME_LIMIT_MS = 60_000
QUEUE = RECORDER.queue(settings.namespace)

_recorder: process.PerProcess[VoteRecorder] = process.PerProcess(
    lambda: vote_recorder(
        settings, process.database.get(), process.redis_client.get(), process.publisher.get()
    )
)


@dramatiq.actor(
    actor_name="record_gave_up", queue_name=QUEUE, time_limit=TIME_LIMIT_MS, retry_when=always
)
def record_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """A record ran out of retries: tombstone it, dead-letter it, tell the machine."""
    _recorder.get().give_up(message, int(retry_info.get("retries", 0)))


@dramatiq.actor(
    actor_name="record_vote",
    queue_name=QUEUE,
    time_limit=TIME_LIMIT_MS,
    on_retry_exhausted="record_gave_up",
)
def record_vote(data: str, attributes: dict[str, str], message_id: str) -> None:
    """Store one ``record vote`` message (``data`` is the Pub/Sub body, base64)."""
    _recorder.get().handle_many([(body_of(data), attributes, message_id)])


@dramatiq.actor(actor_name="record_votes_split", queue_name=QUEUE, time_limit=TIME_LIMIT_MS)
def record_votes_split(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """A batch ran out of retries: each of its records goes on alone."""
    split(message["args"][0], record_vote.send)


@dramatiq.actor(
    actor_name="record_votes",
    queue_name=QUEUE,
    time_limit=TIME_LIMIT_MS,
    on_retry_exhausted="record_votes_split",
)
def record_votes(batch: list[list[Any]]) -> None:
    """Store a batch of ``record vote`` messages; if it fails, each goes on as ``record_vote``."""
    worker = _recorder.get()
    run_batch(batch, worker.handle_many, worker.publisher.publish_many, record_vote.send)
