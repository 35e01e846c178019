"""Whether the dedup store (Redis) can vouch that it knows every voter who has voted.

Redis is the only record of who voted. Two things guard it:

- ``election.ops.preflight.durability_problems`` reads Redis' configuration: every claim
  must be on disk before the vote goes on (``appendonly yes`` with ``appendfsync
  always``), and no key may ever be evicted (``maxmemory-policy noeviction``). The
  voting logger refuses to start otherwise, and stops accepting votes if the
  configuration changes under it.
- the **seal**: a random store ID and the check of the ``VOTER_KEY`` the claims were made
  with, kept both in Redis (``<ns>:dedup``) and in PostgreSQL (``dedup_stores``). Each
  claim call checks Redis' copy (``actors.claims``). A Redis that restarted empty, was
  flushed or swapped has no seal or another one; a logger given a new ``VOTER_KEY`` (whose
  tokens match no earlier claim) has another key check. Either way voting stops, with a
  ``rejected:`` answer and an alarm in the logs, until an operator restores the store
  (docs/RELIABILITY.md, "When the dedup store cannot vouch for itself").
"""

from __future__ import annotations

import secrets
import threading
import time

import peewee
import redis
import structlog

from actors.claims import Seal
from election.storage.models import DedupStore

log = structlog.get_logger(__name__)


def seal_key(namespace: str) -> str:
    """The Redis key of a namespace's seal."""
    return f"{namespace}:dedup"


def establish_seal(
    client: redis.Redis, database: peewee.Database, namespace: str, key_check: str
) -> tuple[Seal, int, list[str]]:
    """The seal this logger expects, the watermark (the fewest claims Redis must have
    counted), and the problems found (an alarm each).

    A fresh deployment (no seal anywhere) gets a new one. A seal only in Redis (the
    database is new) is copied to PostgreSQL. A seal only in PostgreSQL means Redis lost
    its claims; it is never re-created here: the claim script then refuses every vote.
    """
    key = seal_key(namespace)
    with database.connection_context():
        row = DedupStore.get_or_none(DedupStore.namespace == namespace)
        held = _held(client, key)
        if row is None:
            if held is None:
                client.hsetnx(key, "id", secrets.token_hex(16))
                client.hsetnx(key, "key", key_check)
                held = _held(client, key)
            if held is not None:
                DedupStore.insert(
                    namespace=namespace, store_id=held[0], key_check=held[1]
                ).on_conflict_ignore().execute()
            row = DedupStore.get(DedupStore.namespace == namespace)
    problems = []
    if held is None:
        problems.append(
            f"Redis has no seal, but claims were made since {row.sealed_at:%Y-%m-%d %H:%M}Z: "
            "it lost them (restarted empty or was flushed)"
        )
    elif held[0] != row.store_id:
        problems.append("Redis holds another dedup store than the one PostgreSQL names")
    elif _counted(client, key) < row.claims:
        problems.append(
            f"Redis has counted {_counted(client, key)} claims, fewer than the {row.claims} "
            "PostgreSQL saw: it was restored from an older copy"
        )
    if row.key_check != key_check:
        problems.append("VOTER_KEY is not the key this election's claims were made with")
    for problem in problems:
        log.critical("dedup.store_alarm", namespace=namespace, problem=problem, alarm=True)
    return Seal(row.store_id, key_check), int(row.claims), problems


def reseal(client: redis.Redis, database: peewee.Database, namespace: str, key_check: str) -> str:
    """Seal the store anew, as it is now, for this voter key; the new store ID.

    Only for an operator who has restored the claims, or who accepts that voters whose
    claims were lost can vote again (docs/RELIABILITY.md). Running loggers keep the seal
    they started with: restart them.
    """
    store_id = secrets.token_hex(16)
    client.hset(seal_key(namespace), mapping={"id": store_id, "key": key_check})
    counted = _counted(client, seal_key(namespace))
    with database.connection_context():
        DedupStore.insert(
            namespace=namespace, store_id=store_id, key_check=key_check, claims=counted
        ).on_conflict(
            conflict_target=[DedupStore.namespace],
            update={
                DedupStore.store_id: store_id,
                DedupStore.key_check: key_check,
                DedupStore.claims: counted,
            },
        ).execute()
    log.warning("dedup.resealed", namespace=namespace, store_id=store_id)
    return store_id


def _held(client: redis.Redis, key: str) -> tuple[str, str] | None:
    found = client.hmget(key, ["id", "key"])
    if not found or not isinstance(found[0], bytes) or not isinstance(found[1], bytes):
        return None
    return found[0].decode(), found[1].decode()


def _counted(client: redis.Redis, key: str) -> int:
    value = client.hget(key, "n")
    return int(value) if isinstance(value, bytes) else 0


#: Seconds between two writes of the watermark by one logger process.
WATERMARK_EVERY_S = 5.0


class Watermark:
    """Keeps in PostgreSQL the most claims Redis was seen to have counted.

    A Redis restored from a copy older than the last claims has counted fewer; the claim
    script compares its count with the watermark this returns and stops voting. Written
    at most every :data:`WATERMARK_EVERY_S` per process, so it trails the truth by that
    much; the canary (``actors.claims``) covers the claims a running logger made since.
    """

    def __init__(self, database: peewee.Database, namespace: str, floor: int = 0) -> None:
        self.database = database
        self.namespace = namespace
        self.floor = floor
        self._seen = floor
        self._written_at = float("-inf")
        self._lock = threading.Lock()

    def advance(self, counted: int) -> int:
        """Note that Redis has counted ``counted`` claims; the watermark to hold it to."""
        with self._lock:
            self._seen = max(self._seen, counted)
            due = time.monotonic() - self._written_at >= WATERMARK_EVERY_S
            if due:
                self._written_at = time.monotonic()
            seen = self._seen
        if due:
            try:
                self.floor = max(self.floor, self._write(seen))
            except (peewee.OperationalError, peewee.InterfaceError) as exc:
                # The votes are claimed already; the watermark is written next time.
                log.warning("dedup.watermark_not_written", error=repr(exc)[:200])
        return self.floor

    def _write(self, seen: int) -> int:
        with self.database.connection_context():
            query = (
                DedupStore.update(claims=peewee.fn.GREATEST(DedupStore.claims, seen))
                .where(DedupStore.namespace == self.namespace)
                .returning(DedupStore.claims)
            )
            rows = list(query.execute())
        return int(rows[0].claims) if rows else seen
