"""The voting logger actor: ``dramatiq actors.logger`` runs it (``election worker logger``)."""

from __future__ import annotations

import base64

import dramatiq

from actors import process
from actors.broker import settings
from actors.claims import VoterClaims
from actors.dedup import VoteLogger

#: Longest one vote may take before Dramatiq interrupts it (and retries).
TIME_LIMIT_MS = 60_000


def _vote_logger() -> VoteLogger:
    claims = VoterClaims(process.redis_client.get(), settings.namespace)
    return VoteLogger(claims, process.publisher.get(), choices=settings.choices)


_logger = process.PerProcess(_vote_logger)


@dramatiq.actor(
    actor_name="dedup_vote", queue_name=settings.queue_name("logger"), time_limit=TIME_LIMIT_MS
)
def dedup_vote(data: str, attributes: dict[str, str], message_id: str) -> None:
    """Dedup one ``submit vote`` message (``data`` is the Pub/Sub body, base64)."""
    _logger.get().handle(base64.b64decode(data), attributes, message_id)
