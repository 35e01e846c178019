"""What the operator console's buttons do, each the same function as its command's
(blocking; the app runs them on threads), and the audit line each one writes.

- Replay and Purge: ``election dead-letters replay|purge`` (``actors.replay.replaying``,
  ``DeadLetters.remove``).
- Open: ``election open`` (``election.ops.open_close.open_election``, which announces it).
- Close: ``election close`` (``election.ops.open_close.close_election``: barrier, announcement,
  drain, seal), waiting as long as the command does by default.

An action never raises for what an operator can act on (a missing election, a server
down, a setting missing): its :class:`Outcome` says what happened, and the audit line
records it.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import peewee
import redis
import structlog

from actors.dead_letters import DeadLetters
from config import Settings
from election.domain.errors import ElectionError
from election.ops.preflight import one_line
from election.storage.redis_client import connect_redis
from web.operator_state import record_audit
from web.reads import DATABASE_ERRORS

log = structlog.get_logger("web.operator")

#: Seconds each Redis call of an action may take.
REDIS_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Outcome:
    """What one action did: whether it did it, and one line saying what happened."""

    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "outcome": self.detail}


def _failure(exc: Exception) -> Outcome:
    if isinstance(exc, ElectionError):
        return Outcome(False, one_line(exc))
    if isinstance(exc, redis.RedisError):
        return Outcome(False, f"cannot reach Redis: {one_line(exc)}")
    return Outcome(False, f"cannot reach PostgreSQL: {one_line(exc)}")


#: What an action turns into a failed :class:`Outcome`.
_HANDLED: tuple[type[Exception], ...] = (ElectionError, redis.RedisError, *DATABASE_ERRORS)


def replay(settings: Settings, database: peewee.Database, letter_id: str) -> Outcome:
    """Replay one dead letter; ``ok`` when its outcome is final (the letter is gone)."""
    from actors.replay import replaying
    from election.ops.reach import reachable

    client = connect_redis(settings.redis_url, timeout_s=REDIS_TIMEOUT_S)
    try:
        letter = DeadLetters(client, settings.namespace).get(letter_id)
        if letter is None:
            return Outcome(False, f"no such dead letter: {letter_id}")
        with database.connection_context(), replaying(settings, client, database) as replayer:
            done = reachable(functools.partial(replayer.replay, letter), settings)
        verb = "replayed" if done.final else "kept"
        return Outcome(done.final, f"{verb} {letter_id} (ballot {letter.ballot}): {done.outcome}")
    except _HANDLED as exc:
        return _failure(exc)
    finally:
        client.close()


def purge(settings: Settings, letter_id: str) -> Outcome:
    """Forget one dead letter."""
    client = connect_redis(settings.redis_url, timeout_s=REDIS_TIMEOUT_S)
    try:
        if DeadLetters(client, settings.namespace).remove(letter_id):
            return Outcome(True, f"purged {letter_id}")
        return Outcome(False, f"no such dead letter: {letter_id}")
    except redis.RedisError as exc:
        return _failure(exc)
    finally:
        client.close()


def open_(settings: Settings, database: peewee.Database, election_id: str) -> Outcome:
    """Open ``election_id`` and announce it, as ``election open`` does."""
    from election.ops.open_close import open_election

    try:
        with database.connection_context():
            record = open_election(settings, database, election_id)
    except _HANDLED as exc:
        return _failure(exc)
    return Outcome(True, f"election {record.election_id} is {record.state().value}")


def close(settings: Settings, database: peewee.Database, election_id: str) -> Outcome:
    """Close, drain and seal ``election_id``, as ``election close`` does."""
    from election.ops.open_close import DRAIN_MARGIN_S, close_election

    client = connect_redis(settings.redis_url, timeout_s=REDIS_TIMEOUT_S)
    try:
        settings.require_voter_key()
        settings.require_signing_key()
        timeout = settings.claim_stale_s + DRAIN_MARGIN_S
        with database.connection_context():
            closed = close_election(settings, database, client, election_id, timeout)
    except _HANDLED as exc:
        return _failure(exc)
    finally:
        client.close()
    detail = f"election {election_id} is closed, sealed with {closed.sealed.total} votes"
    if closed.drained is not None and closed.drained.fenced:
        detail += f" ({closed.drained.fenced} ballots that never arrived fenced)"
    if closed.drained is None:
        detail = f"election {election_id} was sealed already, with {closed.sealed.total} votes"
    return Outcome(True, detail)


def audited(
    settings: Settings, action: str, subject: dict[str, str], outcome: Outcome, client: str
) -> None:
    """Log the action (``operator.action``) and keep it in the audit list; an audit list
    Redis cannot take is logged too, and the action stands."""
    line = {"at": time.time(), "action": action, **subject, **outcome.as_dict(), "client": client}
    log.info("operator.action", **line)
    redis_client = connect_redis(settings.redis_url, timeout_s=REDIS_TIMEOUT_S)
    try:
        record_audit(redis_client, settings.namespace, line)
    except redis.RedisError as exc:
        log.error("operator.audit_unsaved", action=action, error=one_line(exc))
    finally:
        redis_client.close()
