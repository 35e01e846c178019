"""Can anyone holding what the system stores link a voter to a choice?

An attacker is given everything the system keeps about an election: every table of the
database schema (every column of every row), every Redis key of the namespace, the dedup
Redis' append-only files, the dead letters, and every line every service logged (at
DEBUG). The attacker also knows what an observer at the polling stations knows: who
voted, at which machine, when, with which ballot UUID (machines print it). They do not
hold the keys (``VOTER_KEY``, the signing keys), which the system keeps only in the
processes' environment. Every way in is tried; each must fail.

The order in which rows were stored (PostgreSQL's ``xmin`` and ``ctid`` of each row)
would link them, as docs/SECURITY.md says: the attack through it is tried after
``election mix``, which rewrites the rows in the order of their keyed references.
PostgreSQL's write-ahead log is not tried: it keeps that order (docs/SECURITY.md).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from pathlib import Path

import pytest

from election.domain import protocol
from tests.support.processes import run_election, wait_for
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e

ELECTION = "777"
VOTERS = 40


def aof_bytes(system: ElectionSystem) -> bytes:
    """The dedup Redis' append-only files (its claims' history)."""
    directory = Path(system.redis.config_get("dir")["dir"])
    return b"".join(
        path.read_bytes() for path in directory.rglob("*") if path.is_file() and "aof" in path.name
    )


def test_nothing_the_system_stores_links_a_voter_to_a_choice(system: ElectionSystem) -> None:
    collector = system.collector("lk-")
    observed: list[tuple[str, str, str, int]] = []  # voter, machine, ballot UUID, choice
    for n in range(VOTERS):
        voter, machine, choice = f"citizen-{uuidlib.uuid4().hex[:8]}", f"lk-{n % 3}", n % 4
        observed.append((voter, machine, system.submit(machine, voter, ELECTION, choice), choice))
    # A few come twice (a repeat) and once more as a redelivery of the same ballot.
    for voter, machine, uuid, choice in observed[:5]:
        system.submit(machine, voter, ELECTION, choice, uuid=uuid)
        system.submit(machine, voter, ELECTION, (choice + 1) % 4)
    collector.wait_for([uuid for _, _, uuid, _ in observed], timeout=120)
    wait_for(lambda: len(system.rows(ELECTION)) == VOTERS, 60, "every ballot to be stored")
    collector.close()

    # -- everything stored ---------------------------------------------------------------
    with system.database.connection_context():
        tables = [
            name
            for (name,) in system.database.execute_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (system.name,),
            ).fetchall()
        ]
        dumps = {
            table: [
                str(row)
                for row in system.database.execute_sql(
                    f'SELECT t.*, t.ctid FROM "{system.name}"."{table}" t'
                ).fetchall()
            ]
            for table in tables
        }
        columns = {
            name
            for (name,) in system.database.execute_sql(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'ballots'",
                (system.name,),
            ).fetchall()
        }
        refs = {
            bytes(ref)
            for (ref,) in system.database.execute_sql(
                f'SELECT ref FROM "{system.name}".ballots'
            ).fetchall()
        }
    database_text = "\n".join(line for rows in dumps.values() for line in rows)
    redis_items: list[bytes] = []
    for key in system.redis.scan_iter(f"{system.name}:*"):
        redis_items.append(key)
        if system.redis.type(key) == b"hash":
            for field, value in system.redis.hgetall(key).items():
                redis_items += [field, value]
    redis_bytes = b"\n".join(redis_items) + aof_bytes(system)
    logs = [line for service in system.services.values() for line in service.log().splitlines()]

    # -- the attacks -----------------------------------------------------------------------
    # 1. A row says nothing of where or when: no machine, no time, no UUID. The receipt
    #    and nonce are random; the log position says in which checkpointer pass a ballot
    #    was taken in, never its order within one (docs/SECURITY.md, "The ballot log").
    assert columns == {"ref", "election_id", "choice", "state", "receipt", "nonce", "position"}
    for voter, machine, uuid, _ in observed:
        # 2. No voter ID and no ballot UUID anywhere the system stores data.
        assert voter not in database_text and voter.encode() not in redis_bytes
        assert uuid not in database_text and uuid.encode() not in redis_bytes
        assert uuid.replace("-", "") not in database_text
        assert machine not in database_text
        # 3. No log line names a voter, and none joins a ballot with a choice.
        for line in logs:
            assert voter not in line
            if uuid in line:
                assert not re.search(r"\b(choice|voting)\b", line), line
    # 4. Nothing stored in Redis (claims: voter token -> ballot tag) equals or contains
    #    anything stored in PostgreSQL (ballot references): without VOTER_KEY no claim
    #    joins a row.
    for ref in refs:
        assert ref not in redis_bytes
        assert ref.hex().encode() not in redis_bytes
    for item in redis_items:
        if len(item) >= 8:
            assert item not in refs
            assert item.hex() not in database_text
    # 5. The answers to the machines carry no choice either.
    assert all(
        set(result) <= {protocol.RESULT_SUCCESSFUL, protocol.RESULT_ALREADY_VOTED}
        for result in ({said for _, said in answers} for answers in collector.results.values())
    )


def test_after_a_mix_the_storage_order_of_rows_says_nothing(system: ElectionSystem) -> None:
    collector = system.collector("mx-")
    cast = [system.submit(f"mx-{n % 2}", f"mixed-{n}", ELECTION, n % 4) for n in range(30)]
    collector.wait_for(cast, timeout=120)
    collector.close()
    order = f'SELECT ref, xmin::text FROM "{system.name}".ballots ORDER BY ctid'

    def stored_order() -> list[tuple[bytes, str]]:
        with system.database.connection_context():
            return [(bytes(ref), xmin) for ref, xmin in system.database.execute_sql(order)]

    before = stored_order()
    assert len({xmin for _, xmin in before}) > 1  # the order of storage, for all to read
    done = run_election(["mix", "--election-id", ELECTION], system.env)
    assert done.returncode == 0, done.stderr
    assert "30 rows rewritten" in done.stdout
    after = stored_order()
    # One transaction wrote them all, and their places follow the keyed references.
    assert len({xmin for _, xmin in after}) == 1
    assert [ref for ref, _ in after] == sorted(ref for ref, _ in after)
    assert sorted(after) != before
