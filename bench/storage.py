"""Storage cost: Redis bytes per voter in the dedup store, PostgreSQL bytes per vote.

Voters are loaded through the real claim script (a batch per call, for speed), and Redis'
``used_memory`` is read before and after; ballots are inserted through the real model and
the table's total size (with indexes) is divided by their number. Everything is created
under names of its own and removed afterwards.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass

import redis

from actors.ballots import BallotTable, NewBallot
from actors.claims import Seal, VoterClaims
from config import Settings
from election.domain.receipts import new_nonce, new_receipt
from election.domain.secrecy import REF_BYTES, VoterSecrets
from election.storage.models import create_schema, open_database
from election.storage.redis_client import connect_redis

BATCH = 2000


@dataclass(frozen=True)
class StorageCost:
    """Bytes per voter (their claims, each holding its ballot's tag) and per vote."""

    voters: int
    redis_bytes_per_voter: float
    ballots: int
    postgres_bytes_per_vote: float


def measure(
    settings: Settings, voters: int, ballots: int, progress: Callable[[str, int, int], None]
) -> StorageCost:
    """Load ``voters`` claims into Redis and ``ballots`` rows into PostgreSQL, and weigh."""
    per_voter = _redis(settings, voters, progress)
    per_vote = _postgres(settings, ballots, progress)
    return StorageCost(voters, per_voter, ballots, per_vote)


def _used_memory(client: redis.Redis) -> int:
    info = client.info("memory")
    return int(info["used_memory"])


def _redis(settings: Settings, voters: int, progress: Callable[[str, int, int], None]) -> float:
    client = connect_redis(settings.redis_url, timeout_s=60)
    prefix = f"benchmem{secrets.token_hex(3)}"
    voter_secrets = VoterSecrets(secrets.token_bytes(32))
    seal = Seal(secrets.token_hex(16), voter_secrets.key_check)
    client.hset(f"{prefix}:dedup", mapping={"id": seal.store_id, "key": seal.key_check})
    claims = VoterClaims(client, prefix, seal)
    before = _used_memory(client)
    try:
        for start in range(0, voters, BATCH):
            claims.claim_many(
                [
                    (
                        "1",
                        token := voter_secrets.voter_token("1", str(voter)),
                        voter_secrets.ballot_tag("1", token, uuidlib.uuid4().hex),
                    )
                    for voter in range(start, min(voters, start + BATCH))
                ]
            )
            progress("redis voters", min(voters, start + BATCH), voters)
        return (_used_memory(client) - before) / voters
    finally:
        for stale in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(stale)
        client.close()


def _postgres(settings: Settings, ballots: int, progress: Callable[[str, int, int], None]) -> float:
    schema = f"benchmem{secrets.token_hex(3)}"
    database = open_database(dataclasses.replace(settings, database_schema=schema))
    create_schema(database, schema)
    try:
        with database.connection_context():
            for start in range(0, ballots, BATCH):
                BallotTable(database).insert(
                    [
                        NewBallot(
                            secrets.token_bytes(REF_BYTES), "1", n % 5, new_receipt(), new_nonce()
                        )
                        for n in range(start, min(ballots, start + BATCH))
                    ]
                )
                progress("postgres ballots", min(ballots, start + BATCH), ballots)
            database.execute_sql("ANALYZE ballots")
            (size,) = database.execute_sql("SELECT pg_total_relation_size('ballots')").fetchone()
        return float(size) / ballots
    finally:
        with database.connection_context():
            database.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        database.close_all()
