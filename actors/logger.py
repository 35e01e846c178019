"""The voting logger's actors: ``election worker logger`` runs them (Dramatiq queue
``<ns>.logger``)."""

from __future__ import annotations

from typing import Any

import dramatiq

from actors import process
from actors.ballots import BallotTable
from actors.batch import run_batch, split
from actors.broker import settings
from actors.claims import VoterClaims
from actors.dead_letters import DeadLetters
from actors.dedup import VoteLogger
from actors.payload import body_of
from actors.retrying import always
from actors.seal import Watermark, establish_seal
from election.domain.routes import LOGGER
from election.domain.secrecy import VoterSecrets
from election.ops.preflight import durability_problems

#: Longest one vote may take before Dramatiq interrupts it (and retries).
TIME_LIMIT_MS = 60_000
QUEUE = LOGGER.queue(settings.namespace)


def _vote_logger() -> VoteLogger:
    client = process.redis_client.get()
    database = process.database.get()
    secrets = VoterSecrets(settings.require_voter_key())
    seal, floor, _ = establish_seal(client, database, settings.namespace, secrets.key_check)
    claims = VoterClaims(
        client,
        settings.namespace,
        seal,
        config_problems=durability_problems,
        wait_replicas=settings.dedup_wait_replicas,
    )
    claims.floor = floor
    return VoteLogger(
        claims,
        BallotTable(database),
        process.publisher.get(),
        DeadLetters(client, settings.namespace),
        Watermark(database, settings.namespace, floor),
        secrets=secrets,
        signer=process.signer(),
        choices=settings.choices,
        stale_s=settings.claim_stale_s,
    )


_logger = process.PerProcess(_vote_logger)


@dramatiq.actor(
    actor_name="dedup_gave_up", queue_name=QUEUE, time_limit=TIME_LIMIT_MS, retry_when=always
)
def dedup_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """A ``submit vote`` ran out of retries: fence it, dead-letter it, tell the machine."""
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
