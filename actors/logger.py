"""The voting logger's actors: ``election worker logger`` runs them (Dramatiq queue
``<ns>.logger``)."""

from __future__ import annotations

from typing import Any

import dramatiq

from actors import process
from actors.batch import run_batch, split
from actors.broker import settings
from actors.claims import VoterClaims
from actors.dead_letters import DeadLetters
from actors.dedup import VoteLogger
from actors.payload import body_of
from election.signing import Signer, Verifier

#: Longest one vote may take before Dramatiq interrupts it (and retries).
TIME_LIMIT_MS = 60_000
QUEUE = settings.queue_name("logger")


def _vote_logger() -> VoteLogger:
    client = process.redis_client.get()
    return VoteLogger(
        VoterClaims(client, settings.namespace, link_ttl_s=settings.ballot_link_ttl_s),
        process.publisher.get(),
        DeadLetters(client, settings.namespace),
        voter_key=settings.require_voter_key(),
        signer=Signer(*settings.require_signing_key()),
        verifier=Verifier(settings.require_verifying_keys()),
        choices=settings.choices,
    )


_logger = process.PerProcess(_vote_logger)


@dramatiq.actor(actor_name="dedup_gave_up", queue_name=QUEUE, time_limit=TIME_LIMIT_MS)
def dedup_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """A ``submit vote`` ran out of retries: dead-letter it and free its voter."""
    _logger.get().give_up(message, int(retry_info.get("retries", 0)))


@dramatiq.actor(
    actor_name="dedup_vote",
    queue_name=QUEUE,
    time_limit=TIME_LIMIT_MS,
    on_retry_exhausted="dedup_gave_up",
)
def dedup_vote(data: str, attributes: dict[str, str], message_id: str) -> None:
    """Dedup one ``submit vote`` message (``data`` is the Pub/Sub body, base64)."""
    _logger.get().handle_many([(body_of(data), attributes, message_id)])


@dramatiq.actor(actor_name="dedup_votes_split", queue_name=QUEUE, time_limit=TIME_LIMIT_MS)
def dedup_votes_split(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """A batch ran out of retries: each of its votes goes on alone."""
    split(message["args"][0], dedup_vote.send)


@dramatiq.actor(
    actor_name="dedup_votes",
    queue_name=QUEUE,
    time_limit=TIME_LIMIT_MS,
    on_retry_exhausted="dedup_votes_split",
)
def dedup_votes(batch: list[list[Any]]) -> None:
    """Dedup a batch of ``submit vote`` messages; if it fails, each goes on as ``dedup_vote``."""
    worker = _logger.get()
    run_batch(batch, worker.handle_many, worker.publisher.publish_many, dedup_vote.send)


@dramatiq.actor(actor_name="release_claim", queue_name=QUEUE, time_limit=TIME_LIMIT_MS)
def release_claim(data: str, attributes: dict[str, str], message_id: str) -> None:
    """Free the voter of a ballot the record service gave up (a signed event)."""
    _logger.get().release(body_of(data), attributes, message_id)


@dramatiq.actor(actor_name="replay_record", queue_name=QUEUE, time_limit=TIME_LIMIT_MS)
def replay_record(message: dict[str, Any]) -> None:
    """An operator's replay of a dead-lettered record: reclaim the voter, then forward."""
    _logger.get().replay_record(message)
