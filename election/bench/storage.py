"""Storage cost: Redis bytes per voter in the dedup store, PostgreSQL bytes per vote.

Voters are loaded through the real claim script (a batch per call, for speed), and Redis'
``used_memory`` is read before and after; ballots are inserted through the real model and
the table's total size (with indexes) is divided by their number. Everything is created
under names of its own and removed afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass

import redis

from actors.claims import VoterClaims
from config import Settings
from election.models import Ballot, create_schema, open_database
from election.secrecy import voter_token

BATCH = 2000


@dataclass(frozen=True)
class StorageCost:
    """Bytes per voter (claims alone, and with the hour's ballot links) and per vote."""

    voters: int
    redis_bytes_per_voter: float
    redis_bytes_per_voter_with_links: float
    ballots: int
    postgres_bytes_per_vote: float


def measure(
    settings: Settings, voters: int, ballots: int, progress: Callable[[str, int, int], None]
) -> StorageCost:
    """Load ``voters`` claims into Redis and ``ballots`` rows into PostgreSQL, and weigh."""
    per_voter, with_links = _redis(settings, voters, progress)
    per_vote = _postgres(settings, ballots, progress)
    return StorageCost(voters, per_voter, with_links, ballots, per_vote)


def _used_memory(client: redis.Redis) -> int:
    info = client.info("memory")
    return int(info["used_memory"])


def _redis(
    settings: Settings, voters: int, progress: Callable[[str, int, int], None]
) -> tuple[float, float]:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=60)
    prefix = f"benchmem{secrets.token_hex(3)}"
    claims = VoterClaims(client, prefix, link_ttl_s=settings.ballot_link_ttl_s)
    key = secrets.token_bytes(32)
    before = _used_memory(client)
    try:
        for start in range(0, voters, BATCH):
            claims.claim_many(
                [
                    ("1", voter_token(key, "1", str(voter)), uuidlib.uuid4().hex)
                    for voter in range(start, min(voters, start + BATCH))
                ]
            )
            progress("redis voters", min(voters, start + BATCH), voters)
        with_links = _used_memory(client) - before
        for link_key in client.scan_iter(f"{prefix}:l:*", count=1000):
            client.delete(link_key)
        claims_only = _used_memory(client) - before
    finally:
        for stale in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(stale)
        client.close()
    return claims_only / voters, with_links / voters


def _postgres(settings: Settings, ballots: int, progress: Callable[[str, int, int], None]) -> float:
    schema = f"benchmem{secrets.token_hex(3)}"
    database = open_database(dataclasses.replace(settings, database_schema=schema))
    create_schema(database, schema)
    now = dt.datetime.now(dt.UTC)
    try:
        with database.connection_context():
            for start in range(0, ballots, BATCH):
                rows = [
                    {
                        "uuid": str(uuidlib.uuid4()),
                        "election_id": "1",
                        "machine_id": str(n % 50),
                        "choice": n % 5,
                        "cast_at": now,
                    }
                    for n in range(start, min(ballots, start + BATCH))
                ]
                Ballot.insert_many(rows).execute()
                progress("postgres ballots", min(ballots, start + BATCH), ballots)
            database.execute_sql("ANALYZE ballots")
            (size,) = database.execute_sql("SELECT pg_total_relation_size('ballots')").fetchone()
        return float(size) / ballots
    finally:
        with database.connection_context():
            database.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        database.close_all()
