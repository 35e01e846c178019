"""Claims that must reach a replica before the vote goes on (``DEDUP_WAIT_REPLICAS``),
against a real primary and replica of the project's Redis build."""

from __future__ import annotations

import subprocess
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from actors.claims import ClaimsNotReplicated, Seal, VoterClaims
from election.domain.secrecy import VoterSecrets
from election.local.emulator import free_port
from election.storage.redis_client import connect_redis
from tests.support.processes import wait_for

SECRETS = VoterSecrets(b"r" * 32)


def server(directory: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    directory.mkdir()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(directory),
            "--logfile",
            str(directory / "redis.log"),
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process


@pytest.fixture
def primary_and_replica(tmp_path: Path) -> Iterator[tuple[redis.Redis, subprocess.Popen[bytes]]]:
    primary_port, replica_port = free_port(), free_port()
    primary = server(tmp_path / "primary", primary_port)
    replica = server(
        tmp_path / "replica", replica_port, "--replicaof", "127.0.0.1", str(primary_port)
    )
    client = connect_redis(f"redis://127.0.0.1:{primary_port}/0")
    replica_client = connect_redis(f"redis://127.0.0.1:{replica_port}/0")

    def linked() -> bool:
        try:
            return replica_client.info("replication").get("master_link_status") == "up"
        except redis.RedisError:
            return False

    wait_for(linked, 30, "the replica to be in sync")
    yield client, replica
    client.close()
    replica_client.close()
    for process in (replica, primary):
        process.kill()
        process.wait(10)


def claims_on(client: redis.Redis) -> VoterClaims:
    prefix = f"t{uuidlib.uuid4().hex[:12]}"
    seal = Seal("s", SECRETS.key_check)
    client.hset(f"{prefix}:dedup", mapping={"id": "s", "key": SECRETS.key_check})
    return VoterClaims(client, prefix, seal, wait_replicas=1, wait_timeout_ms=2000)


def vote(claims: VoterClaims, voter: str) -> None:
    token = SECRETS.voter_token("e", voter)
    claims.claim_many([("e", token, SECRETS.ballot_tag("e", token, "u-1"))])


def test_a_claim_goes_on_once_the_replica_has_it(
    primary_and_replica: tuple[redis.Redis, subprocess.Popen[bytes]],
) -> None:
    client, _ = primary_and_replica
    vote(claims_on(client), "v1")  # returns: the replica confirmed it


def test_a_claim_the_replica_did_not_confirm_is_not_let_through(
    primary_and_replica: tuple[redis.Redis, subprocess.Popen[bytes]],
) -> None:
    client, replica = primary_and_replica
    claims = claims_on(client)
    replica.kill()
    replica.wait(10)
    # Dramatiq retries this (it is a connection error); the retry finds the claim SAME.
    with pytest.raises(ClaimsNotReplicated):
        vote(claims, "v2")
