"""The ballot log on the real PostgreSQL, a schema per test: concurrent appenders that
never give a position twice, positions in leaf-hash order, the seal that names the final
checkpoint, the audit that names every tampered row, checkpoint and leaf, and receipts
proved from a bulletin's files and verified offline with the public key alone.

The CLI runs as a subprocess with the test's schema and log key (``run_election``); the
tampering is plain SQL on real rows, as someone with the database's password would do it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import peewee
import pytest
from playhouse.pool import PooledPostgresqlDatabase

from actors.ballots import BallotTable, NewBallot
from config import Settings, load_settings
from election.domain.bulletin import PublicLeaf, prove
from election.domain.checkpoints import SignedCheckpoint, verify_checkpoint
from election.domain.ed25519 import load_private_key, new_private_key, public_key_text
from election.domain.manifest import Definition, load_definition
from election.domain.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
)
from election.domain.proofs import verify_proof_document
from election.domain.receipts import (
    commitment,
    leaf_data,
    new_nonce,
    new_receipt,
    parse_receipt,
)
from election.domain.secrecy import VoterSecrets
from election.ops.checkpointer import Checkpointer
from election.ops.log_signing import checkpoint_signer
from election.storage.ballot_log import BallotLog
from election.storage.elections import ElectionRegistry
from election.storage.models import BallotState, open_database
from tests.support.manifests import MANIFEST
from tests.support.processes import run_election, wait_for

ELECTION = "4201"
SECRETS = VoterSecrets(b"v" * 32)
VOTERS = ("voter-quill-7731", "voter-zephyr-42", "voter-wren-9")
#: The sealed election of the audit and proof tests: its ballots, taken into the log in
#: three appends (so there are checkpoints of 7, 15 and 20 leaves to hold against each other).
SEALED_BALLOTS = 20
APPENDS_AT = (7, 15)
#: Its counts: ballot n is for choice n % 3.
SEALED_COUNTS = (7, 7, 6)
CLI_TIMEOUT_S = 60
#: Settings need an emulator or a project; nothing here talks to Pub/Sub.
NO_PUBSUB = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}


# --------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def log_key() -> str:
    """A fresh log key per test: a checkpoint signed in another test never verifies here."""
    return new_private_key()


@pytest.fixture
def settings(database: PooledPostgresqlDatabase, log_key: str) -> Settings:
    """The settings of the test's schema (``database`` made it) and log key."""
    schema = str(database.execute_sql("SELECT current_schema()").fetchone()[0])
    return load_settings({**NO_PUBSUB, "DATABASE_SCHEMA": schema, "LOG_SIGNING_KEY": log_key})


@pytest.fixture
def ballot_log(database: PooledPostgresqlDatabase, settings: Settings) -> BallotLog:
    """The test's one appender, signing with the test's log key."""
    return BallotLog(database, checkpoint_signer(settings))


@pytest.fixture
def cli_env(settings: Settings, log_key: str) -> dict[str, str]:
    """What ``election`` needs to read the test's schema and check its signatures."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DATABASE_URL": settings.database_url,
        "DATABASE_SCHEMA": settings.database_schema,
        "LOG_SIGNING_KEY": log_key,
        **NO_PUBSUB,
    }


def definition() -> Definition:
    """Election 4201 of tests/support/manifests.py, with its roll."""
    return load_definition(MANIFEST.encode(), lambda _: "\n".join(VOTERS), SECRETS)


def new_ballot(election_id: str, choice: int) -> NewBallot:
    """A ballot as the voting logger hands it on: a fresh ref, receipt and nonce."""
    return NewBallot(os.urandom(32), election_id, choice, new_receipt(), new_nonce())


def leaf_of(election_id: str, receipt: str, choice: int, nonce: bytes) -> bytes:
    """The leaf hash a ballot's row must have in the log."""
    return leaf_hash(leaf_data(election_id, receipt, commitment(choice, nonce)))


@dataclass(frozen=True)
class Row:
    """A recorded ballot's row as stored."""

    election_id: str
    ref: bytes
    position: int | None
    receipt: str | None
    choice: int
    nonce: bytes | None

    @property
    def leaf(self) -> bytes:
        """The leaf hash recomputed from the row."""
        assert self.receipt is not None and self.nonce is not None
        return leaf_of(self.election_id, self.receipt, self.choice, self.nonce)


def recorded_rows(database: peewee.Database, election_id: str) -> list[Row]:
    """Every recorded row of the election, in position order (unlogged ones last)."""
    cursor = database.execute_sql(
        "SELECT ref, position, receipt, choice, nonce FROM ballots "
        "WHERE election_id = %s AND state = %s ORDER BY position NULLS LAST",
        (election_id, BallotState.RECORDED),
    )
    return [
        Row(
            election_id,
            bytes(ref),
            None if position is None else int(position),
            None if receipt is None else str(receipt),
            int(choice),
            None if nonce is None else bytes(nonce),
        )
        for ref, position, receipt, choice, nonce in cursor.fetchall()
    ]


def assert_log_is_whole(
    database: peewee.Database, ballot_log: BallotLog, election_id: str, public_key: Any
) -> list[SignedCheckpoint]:
    """Positions 0..n-1, one per row, leaves recomputed from the rows, and every
    checkpoint signed, of the stored leaves, and consistent with the latest."""
    rows = recorded_rows(database, election_id)
    assert [row.position for row in rows] == list(range(len(rows)))
    leaves = ballot_log.leaf_hashes(election_id)
    assert leaves == [row.leaf for row in rows]
    checkpoints = ballot_log.checkpoints(election_id)
    assert checkpoints, "no checkpoint at all"
    latest = checkpoints[-1].checkpoint
    assert latest.size == len(rows)
    tree = MerkleTree(leaves)
    for signed in checkpoints:
        c = signed.checkpoint
        assert verify_checkpoint(signed, public_key), c
        assert c.root == root_from_leaf_hashes(leaves[: c.size]), c
        proof = tree.consistency_proof(c.size)
        assert verify_consistency(c.size, latest.size, c.root, latest.root, proof), c
    # Appends take turns under the lock: a larger checkpoint is never an older one.
    stamps = [signed.checkpoint.timestamp_ms for signed in checkpoints]
    assert stamps == sorted(stamps)
    return checkpoints


def seal_election(database: peewee.Database, ballot_log: BallotLog) -> list[NewBallot]:
    """Election 4201 declared, opened, voted in (three appends), closed and sealed with its
    log; its ballots."""
    registry = ElectionRegistry(database)
    registry.create(definition())
    registry.open(ELECTION)
    table = BallotTable(database)
    ballots = [new_ballot(ELECTION, n % 3) for n in range(SEALED_BALLOTS)]
    start = 0
    for end in APPENDS_AT:
        table.insert(ballots[start:end])
        assert ballot_log.append(ELECTION) is not None
        start = end
    table.insert(ballots[start:])  # the close takes these in
    registry.close(ELECTION)
    sealed = registry.seal(ELECTION, ballot_log)
    assert (sealed.log_size, sealed.counts) == (SEALED_BALLOTS, SEALED_COUNTS)
    return ballots


def row_at(database: peewee.Database, position: int) -> tuple[bytes, int]:
    """The ref and choice of the row at ``position``."""
    ref, choice = database.execute_sql(
        "SELECT ref, choice FROM ballots WHERE election_id = %s AND position = %s",
        (ELECTION, position),
    ).fetchone()
    return bytes(ref), int(choice)


@dataclass(frozen=True)
class Audit:
    """What ``election audit`` said."""

    returncode: int
    output: str

    @property
    def findings(self) -> list[str]:
        """Its findings, one per ``FAILED`` line."""
        return [
            line[len("FAILED ") :]
            for line in self.output.splitlines()
            if line.startswith("FAILED ")
        ]

    def leaves_named(self) -> set[int]:
        """Every leaf position a finding names as ``leaf P``."""
        return {int(p) for finding in self.findings for p in re.findall(r"\bleaf (-?\d+)", finding)}


def run_audit(env: dict[str, str]) -> Audit:
    """``election audit`` of election 4201, as a subprocess."""
    done = run_election(["audit", "--election-id", ELECTION], env, timeout=CLI_TIMEOUT_S)
    print(f"\n$ election audit --election-id {ELECTION}  (exit {done.returncode})\n{done.stdout}")
    return Audit(done.returncode, done.stdout + done.stderr)


def cli(args: Sequence[str], env: dict[str, str]) -> tuple[int, str]:
    """One ``election`` command as a subprocess: its exit code and output."""
    done = run_election(list(args), env, timeout=CLI_TIMEOUT_S)
    return done.returncode, done.stdout + done.stderr


def flip_hex(text: str) -> str:
    """``text`` with its first hex digit changed."""
    return format(int(text[0], 16) ^ 1, "x") + text[1:]


# --------------------------------------------------------------------------------------------
# Appending: one order, whoever appends
# --------------------------------------------------------------------------------------------

#: Two elections, so that each checkpointer pass has more than one log to append to.
CONCURRENT_ELECTIONS = ("31", "32")
WRITERS = 4
#: Each writer stores at least this many batches, and goes on until each checkpointer
#: process has signed at least ``MIN_APPENDS`` checkpoints of new rows while rows arrived.
MIN_BATCHES = 60
MIN_APPENDS = 5
WRITE_TIMEOUT_S = 60.0
PROCESS_TIMEOUT_S = 60.0


def checkpointer_process(
    database_url: str,
    schema: str,
    log_key: str,
    started: Any,
    stop: Any,
    appended: Synchronized[int],
) -> None:
    """One checkpointer process (spawned: its own interpreter, models and connection
    pool), passing over the behind elections as fast as it can until ``stop``."""
    settings = load_settings(
        {
            **NO_PUBSUB,
            "DATABASE_URL": database_url,
            "DATABASE_SCHEMA": schema,
            "LOG_SIGNING_KEY": log_key,
        }
    )
    database = open_database(settings, max_connections=1)
    checkpointer = Checkpointer(BallotLog(database, checkpoint_signer(settings)))
    started.set()
    try:
        while not stop.is_set():
            made = checkpointer.pass_once()
            with appended.get_lock():
                appended.value += len(made)
    finally:
        database.close_all()


def test_rows_recorded_while_two_checkpointer_processes_append_get_positions_0_to_n_minus_1(
    settings: Settings, log_key: str
) -> None:
    """Two processes append the same elections' logs while four threads record ballots:
    every row ends with its own position, 0..n-1, and every checkpoint, whichever process
    signed it, is of the stored leaves and consistent with the latest."""
    # The threads need a connection each; a second pool in this process rebinds the models
    # to it (same schema), so everything here goes through it, the final append included.
    pool = open_database(settings, max_connections=WRITERS + 1)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    processes, counters = [], []
    for n in range(2):
        started, appended = context.Event(), context.Value("i", 0)
        process = context.Process(
            target=checkpointer_process,
            args=(
                settings.database_url,
                settings.database_schema,
                log_key,
                started,
                stop,
                appended,
            ),
            name=f"checkpointer-{n}",
            daemon=True,
        )
        process.start()
        processes.append((process, started))
        counters.append(appended)
    recorded: dict[str, set[bytes]] = {election: set() for election in CONCURRENT_ELECTIONS}
    try:
        for process, started in processes:
            assert started.wait(PROCESS_TIMEOUT_S), f"{process.name} did not start"
        deadline = time.monotonic() + WRITE_TIMEOUT_S

        def both_appended() -> bool:
            return all(counter.value >= MIN_APPENDS for counter in counters)

        def write(writer: int) -> dict[str, set[bytes]]:
            table = BallotTable(pool)
            mine: dict[str, set[bytes]] = {election: set() for election in CONCURRENT_ELECTIONS}
            batches = 0
            try:
                while batches < MIN_BATCHES or not both_appended():
                    # A checkpointer that died (a position given twice, say) ends the wait.
                    dead = [p.name for p, _ in processes if not p.is_alive()]
                    assert not dead, f"{dead} exited while rows were recorded"
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"writer {writer}: the checkpointers appended only "
                            f"{[c.value for c in counters]} times in {WRITE_TIMEOUT_S:.0f} s"
                        )
                    election = CONCURRENT_ELECTIONS[(writer + batches) % 2]
                    batch = [new_ballot(election, (writer + k) % 3) for k in range(1 + batches % 4)]
                    assert table.insert(batch) == {ballot.ref for ballot in batch}
                    mine[election] |= {ballot.ref for ballot in batch}
                    batches += 1
            finally:
                pool.close()  # the thread's connection back to the pool
            return mine

        with ThreadPoolExecutor(WRITERS) as threads:
            for mine in threads.map(write, range(WRITERS)):
                for election, refs in mine.items():
                    recorded[election] |= refs
    finally:
        stop.set()
        for process, _ in processes:
            process.join(PROCESS_TIMEOUT_S)
            if process.is_alive():  # only ever our own child
                process.kill()
                process.join(10)
    assert [process.exitcode for process, _ in processes] == [0, 0]
    try:
        final_log = BallotLog(pool, checkpoint_signer(settings))
        public_key = load_private_key(log_key).public_key()
        for election in CONCURRENT_ELECTIONS:
            final_log.append(election, final=True)
            rows = recorded_rows(pool, election)
            assert {row.ref for row in rows} == recorded[election]
            checkpoints = assert_log_is_whole(pool, final_log, election, public_key)
            assert len(checkpoints) >= 2
        # Both processes signed checkpoints of new rows while the rows arrived.
        assert all(counter.value >= MIN_APPENDS for counter in counters)
        assert final_log.behind() == []
    finally:
        pool.close_all()


def test_one_append_orders_its_rows_by_leaf_hash_and_gives_a_row_without_receipt_one(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, log_key: str
) -> None:
    """An append orders its rows by leaf hash, never by when they were stored, and gives a
    row stored before receipts existed its receipt and nonce; the next append goes on
    after it and orders only its own rows."""
    table = BallotTable(database)
    first = [new_ballot(ELECTION, n % 3) for n in range(12)]
    # Stored one by one against the hash order, so insert order cannot pass for it.
    hashes = {b.ref: leaf_of(ELECTION, b.receipt, b.choice, b.nonce) for b in first}
    for ballot in sorted(first, key=lambda b: hashes[b.ref], reverse=True):
        table.insert([ballot])
    older = os.urandom(32)
    # A row as an older version stored it, or as a restore left it: no receipt, no nonce.
    database.execute_sql(
        "INSERT INTO ballots (ref, election_id, choice, state) VALUES (%s, %s, %s, %s)",
        (older, ELECTION, 2, BallotState.RECORDED),
    )

    appended = ballot_log.append(ELECTION)

    assert appended is not None and appended.taken == len(first) + 1
    rows = recorded_rows(database, ELECTION)
    assert [row.position for row in rows] == list(range(len(first) + 1))
    leaves = [row.leaf for row in rows]
    assert leaves == sorted(leaves)
    assert leaves == ballot_log.leaf_hashes(ELECTION)
    assert appended.signed.checkpoint.root == root_from_leaf_hashes(leaves)
    (restored,) = [row for row in rows if row.ref == older]
    assert restored.receipt is not None and parse_receipt(restored.receipt) == restored.receipt
    assert restored.nonce is not None and len(restored.nonce) == 32
    assert restored.receipt not in {b.receipt for b in first}
    assert {row.receipt for row in rows if row.ref != older} == {b.receipt for b in first}
    position = restored.position
    assert position is not None
    public = ballot_log.leaves(ELECTION)[position]
    assert (public.receipt, public.leaf_hash) == (restored.receipt, restored.leaf)

    second = [new_ballot(ELECTION, n % 3) for n in range(5)]
    table.insert(second)
    again = ballot_log.append(ELECTION)

    assert again is not None and again.taken == len(second)
    after = recorded_rows(database, ELECTION)
    assert after[: len(rows)] == rows  # the first append's rows kept their places
    added = after[len(rows) :]
    assert [row.position for row in added] == list(range(len(rows), len(rows) + len(second)))
    assert [row.leaf for row in added] == sorted(row.leaf for row in added)
    assert_log_is_whole(database, ballot_log, ELECTION, load_private_key(log_key).public_key())
    assert ballot_log.append(ELECTION) is None  # nothing new: no checkpoint


# --------------------------------------------------------------------------------------------
# Sealing
# --------------------------------------------------------------------------------------------


def test_the_sealed_result_names_the_final_checkpoint_and_counts_the_logged_rows(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, log_key: str
) -> None:
    """The seal takes the last ballots into the log first: its size and root are the final
    checkpoint's, and its counts are those of the rows that checkpoint holds."""
    registry = ElectionRegistry(database)
    registry.create(definition())
    registry.open(ELECTION)
    table = BallotTable(database)
    logged = [new_ballot(ELECTION, choice) for choice in (0, 2, 2, 1, 2, 0, 2, 2)]
    table.insert(logged)
    assert ballot_log.append(ELECTION) is not None
    late = [new_ballot(ELECTION, choice) for choice in (1, 1, 2, 0, 1)]
    table.insert(late)  # still unlogged when the close comes
    for _ in range(2):  # tombstones: never counted, never leaves
        assert table.tombstone(os.urandom(32), ELECTION, BallotState.GIVEN_UP)
    registry.close(ELECTION)

    sealed = registry.seal(ELECTION, ballot_log)

    latest = ballot_log.latest(ELECTION)
    assert latest is not None
    assert (sealed.log_size, sealed.log_root) == (latest.checkpoint.size, latest.checkpoint.root)
    assert sealed.log_size == len(logged) + len(late)
    rows = recorded_rows(database, ELECTION)
    held = Counter(row.choice for row in rows if row.position is not None)
    assert sealed.counts == tuple(held.get(choice, 0) for choice in range(3)) == (3, 4, 6)
    assert sealed.total == len(rows)
    checkpoints = assert_log_is_whole(
        database, ballot_log, ELECTION, load_private_key(log_key).public_key()
    )
    assert [signed.checkpoint.size for signed in checkpoints] == [len(logged), sealed.log_size]
    # Sealing again changes nothing and signs nothing.
    assert registry.seal(ELECTION, ballot_log) == sealed
    assert ballot_log.checkpoints(ELECTION) == checkpoints


def test_a_seal_after_every_row_is_logged_names_the_latest_checkpoint_without_signing_again(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog
) -> None:
    """Nothing new at the close: the final checkpoint is the latest one, not a new one of
    the same size."""
    registry = ElectionRegistry(database)
    registry.create(definition())
    registry.open(ELECTION)
    BallotTable(database).insert([new_ballot(ELECTION, n % 3) for n in range(4)])
    appended = ballot_log.append(ELECTION)
    assert appended is not None
    registry.close(ELECTION)

    sealed = registry.seal(ELECTION, ballot_log)

    assert ballot_log.checkpoints(ELECTION) == [appended.signed]
    assert (sealed.log_size, sealed.log_root) == (4, appended.signed.checkpoint.root)
    assert sealed.counts == (2, 1, 1)


def test_an_election_without_ballots_seals_with_a_signed_checkpoint_of_the_empty_log(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, log_key: str
) -> None:
    registry = ElectionRegistry(database)
    registry.create(definition())
    registry.close(ELECTION)

    sealed = registry.seal(ELECTION, ballot_log)

    assert (sealed.counts, sealed.total) == ((0, 0, 0), 0)
    assert (sealed.log_size, sealed.log_root) == (0, EMPTY_ROOT)
    (final,) = ballot_log.checkpoints(ELECTION)
    assert (final.checkpoint.size, final.checkpoint.root) == (0, EMPTY_ROOT)
    assert verify_checkpoint(final, load_private_key(log_key).public_key())
    assert ballot_log.leaf_hashes(ELECTION) == []


# --------------------------------------------------------------------------------------------
# The audit names every tampered row, leaf and checkpoint
# --------------------------------------------------------------------------------------------


def test_the_audit_of_an_untampered_sealed_election_says_the_record_is_whole(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    seal_election(database, ballot_log)

    audit = run_audit(cli_env)

    assert (audit.returncode, audit.findings) == (0, []), audit.output
    assert "the record is whole" in audit.output
    assert f"{SEALED_BALLOTS} leaves, 3 checkpoints, {SEALED_BALLOTS} recorded rows (sealed)" in (
        audit.output
    )


def test_the_audit_names_the_leaf_of_a_row_whose_choice_was_changed(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    seal_election(database, ballot_log)
    ref, choice = row_at(database, 5)
    database.execute_sql("UPDATE ballots SET choice = %s WHERE ref = %s", ((choice + 1) % 3, ref))

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert (
        "leaf 5: its row was altered (its choice, receipt or nonce no longer gives the "
        "logged leaf)" in audit.findings
    )
    assert audit.leaves_named() == {5}
    # The recount of the final checkpoint's rows no longer gives the sealed counts either.
    new = (choice + 1) % 3
    assert sorted(f for f in audit.findings if f.startswith("choice ")) == sorted(
        [
            f"choice {choice}: sealed {SEALED_COUNTS[choice]}, the logged rows hold "
            f"{SEALED_COUNTS[choice] - 1}",
            f"choice {new}: sealed {SEALED_COUNTS[new]}, the logged rows hold "
            f"{SEALED_COUNTS[new] + 1}",
        ]
    )
    assert len(audit.findings) == 3


def test_the_audit_names_the_leaf_of_a_deleted_row(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    seal_election(database, ballot_log)
    ref, choice = row_at(database, 11)
    database.execute_sql("DELETE FROM ballots WHERE ref = %s", (ref,))

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert "leaf 11: its row was deleted" in audit.findings
    assert audit.leaves_named() == {11}
    assert [f for f in audit.findings if f.startswith("choice ")] == [
        f"choice {choice}: sealed {SEALED_COUNTS[choice]}, "
        f"the logged rows hold {SEALED_COUNTS[choice] - 1}"
    ]
    assert len(audit.findings) == 2


def test_the_audit_names_rows_inserted_after_the_seal_with_no_position_or_one_not_in_the_log(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    """One row as a late insert leaves it (no position), one forged with the next position;
    neither is counted, so the sealed counts still hold and only the rows are named."""
    seal_election(database, ballot_log)
    unlogged = new_ballot(ELECTION, 1)
    BallotTable(database).insert([unlogged])
    beyond = new_ballot(ELECTION, 2)
    database.execute_sql(
        "INSERT INTO ballots (ref, election_id, choice, state, receipt, nonce, position) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            beyond.ref,
            ELECTION,
            beyond.choice,
            BallotState.RECORDED,
            beyond.receipt,
            beyond.nonce,
            SEALED_BALLOTS,
        ),
    )

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert sorted(audit.findings) == sorted(
        [
            f"a row not in the log ({unlogged.receipt}): inserted after the final checkpoint",
            f"leaf {SEALED_BALLOTS}: a row claims it, the log has none",
        ]
    )


def test_the_audit_names_both_leaves_of_two_rows_whose_positions_were_swapped(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    seal_election(database, ballot_log)
    first, _ = row_at(database, 3)
    second, _ = row_at(database, 14)
    # Through a free position: the unique index is checked row by row.
    with database.atomic():
        for ref, position in ((first, -1), (second, 3), (first, 14)):
            database.execute_sql("UPDATE ballots SET position = %s WHERE ref = %s", (position, ref))

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert sorted(audit.findings) == [
        "leaf 14: its row is the one logged at leaf 3 (reordered)",
        "leaf 3: its row is the one logged at leaf 14 (reordered)",
    ]


@pytest.mark.parametrize(
    ("column", "change"),
    [
        ("root", "root = decode(md5('forged') || md5('root'), 'hex')"),
        ("size", "size = size + 1"),
        ("timestamp", "timestamp_ms = timestamp_ms + 1"),
    ],
    ids=["root", "size", "timestamp"],
)
def test_the_audit_names_a_checkpoint_whose_root_size_or_timestamp_was_edited(
    database: PooledPostgresqlDatabase,
    ballot_log: BallotLog,
    cli_env: dict[str, str],
    column: str,
    change: str,
) -> None:
    """The middle checkpoint (of 15 leaves) edited: its signature no longer holds, and
    every finding is about that checkpoint alone."""
    seal_election(database, ballot_log)
    middle = APPENDS_AT[1]
    database.execute_sql(
        f"UPDATE log_checkpoints SET {change} WHERE election_id = %s AND size = %s",
        (ELECTION, middle),
    )
    # An edited size is what the row now claims, and what the finding names.
    claimed = middle + 1 if column == "size" else middle

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert any(
        f.startswith(f"checkpoint of size {claimed}: its signature does not hold")
        for f in audit.findings
    ), audit.findings
    assert all(f.startswith(f"checkpoint of size {claimed}: ") for f in audit.findings), (
        audit.findings
    )
    if column == "timestamp":
        assert len(audit.findings) == 1  # the tree is untouched: only the signature tells


def test_the_audit_names_a_stored_leaf_changed_alone_as_such(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    """Leaf 9 of ``log_leaves`` overwritten, its row untouched: the row still gives every
    signed checkpoint's root, so the finding is the stored hash, and only it."""
    seal_election(database, ballot_log)
    changed = 9
    database.execute_sql(
        "UPDATE log_leaves SET leaf_hash = decode(md5('a') || md5('b'), 'hex') "
        "WHERE election_id = %s AND position = %s",
        (ELECTION, changed),
    )

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert audit.findings == [
        f"leaf {changed}: its stored hash was altered (the row still gives the signed checkpoints)"
    ]


def test_the_audit_names_the_range_of_a_row_changed_together_with_its_stored_leaf(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    """Row 9 given another choice and log_leaves made to agree with it (as an operator
    covering their tracks would): only the signed roots tell, and each checkpoint over
    leaf 9 names a range of positions that holds it."""
    seal_election(database, ballot_log)
    changed = 9
    receipt, choice, nonce = database.execute_sql(
        "SELECT receipt, choice, nonce FROM ballots WHERE election_id = %s AND position = %s",
        (ELECTION, changed),
    ).fetchone()
    other = (int(choice) + 1) % 3
    forged = leaf_hash(leaf_data(ELECTION, str(receipt), commitment(other, bytes(nonce))))
    database.execute_sql(
        "UPDATE ballots SET choice = %s WHERE election_id = %s AND position = %s",
        (other, ELECTION, changed),
    )
    database.execute_sql(
        "UPDATE log_leaves SET leaf_hash = %s WHERE election_id = %s AND position = %s",
        (forged, ELECTION, changed),
    )

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    pattern = re.compile(
        r"checkpoint of size (\d+): neither the stored leaves nor the rows give its root "
        r"\(a leaf among positions (\d+)\.\.(\d+) was changed\)"
    )
    ranges = [tuple(map(int, m.groups())) for f in audit.findings if (m := pattern.fullmatch(f))]
    # Every checkpoint over the changed leaf, each naming a range that holds it; the one
    # before it is still good.
    assert [size for size, _, _ in ranges] == [APPENDS_AT[1], SEALED_BALLOTS]
    assert all(start <= changed <= end for _, start, end in ranges)
    assert ranges[0][1:] == (APPENDS_AT[0], APPENDS_AT[1] - 1)


def test_postgresql_refuses_to_change_sealed_counts_and_the_audit_names_a_forced_change(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    """The trigger refuses an UPDATE of the sealed result; someone who drops it first
    (the schema's owner can) is caught by the recount."""
    seal_election(database, ballot_log)
    before = ElectionRegistry(database).sealed(ELECTION)

    with (
        pytest.raises(peewee.DatabaseError, match="sealed result of election 4201 cannot change"),
        database.atomic(),
    ):
        database.execute_sql("UPDATE sealed_results SET counts = '[9, 9, 9]', total = 27")
    assert ElectionRegistry(database).sealed(ELECTION) == before

    with database.atomic():
        database.execute_sql("DROP TRIGGER sealed_results_final ON sealed_results")
        database.execute_sql("UPDATE sealed_results SET counts = '[6, 7, 7]'")
    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert sorted(audit.findings) == [
        f"choice 0: sealed 6, the logged rows hold {SEALED_COUNTS[0]}",
        f"choice 2: sealed 7, the logged rows hold {SEALED_COUNTS[2]}",
    ]


# --------------------------------------------------------------------------------------------
# Receipts proved from a bulletin, verified offline
# --------------------------------------------------------------------------------------------


def test_every_receipt_is_proved_from_the_bulletin_and_verified_offline_and_a_flipped_digit_is_not(
    database: PooledPostgresqlDatabase,
    ballot_log: BallotLog,
    cli_env: dict[str, str],
    log_key: str,
    tmp_path: Path,
) -> None:
    """The bulletin's files alone prove each receipt (in process for all of them, with the
    CLI for three); ``election verify`` with the public key of ``election log-key`` takes
    each proof and refuses one whose audit path or checkpoint root has a digit flipped."""
    ballots = seal_election(database, ballot_log)
    code, output = cli(["log-key"], cli_env)
    assert code == 0, output
    public_key = output.splitlines()[-1]
    assert public_key == public_key_text(load_private_key(log_key))
    bulletin = tmp_path / "bulletin"
    code, output = cli(["bulletin", ELECTION, "--out", str(bulletin)], cli_env)
    assert code == 0, output
    assert (bulletin / "public-key.txt").read_text().strip() == public_key

    # In process, every receipt, from the files as written.
    leaves = [
        PublicLeaf.from_json(leaf)
        for leaf in json.loads((bulletin / "leaves.json").read_text())["leaves"]
    ]
    checkpoints = [
        SignedCheckpoint.from_json(c)
        for c in json.loads((bulletin / "checkpoints.json").read_text())["checkpoints"]
    ]
    latest = max(checkpoints, key=lambda c: c.checkpoint.size)
    assert latest == ballot_log.latest(ELECTION)
    assert json.loads((bulletin / "result.json").read_text())["log"] == {
        "size": SEALED_BALLOTS,
        "root": latest.checkpoint.root.hex(),
    }
    key = load_private_key(log_key).public_key()
    positions = {row.receipt: row.position for row in recorded_rows(database, ELECTION)}
    proofs: dict[str, dict[str, Any]] = {}
    for ballot in ballots:
        doc = prove(ELECTION, ballot.receipt, leaves, latest)
        assert doc is not None, ballot.receipt
        assert verify_proof_document(doc, key) == []
        assert (doc["leaf_index"], doc["tree_size"]) == (positions[ballot.receipt], SEALED_BALLOTS)
        path_flipped = {
            **doc,
            "audit_path": [flip_hex(doc["audit_path"][0]), *doc["audit_path"][1:]],
        }
        assert verify_proof_document(path_flipped, key) == [
            "the audit path does not lead from the leaf to the checkpoint's root"
        ]
        root_flipped = {
            **doc,
            "checkpoint": {**doc["checkpoint"], "root": flip_hex(doc["checkpoint"]["root"])},
        }
        assert verify_proof_document(root_flipped, key) == [
            "the checkpoint's signature does not verify with this public key",
            "the audit path does not lead from the leaf to the checkpoint's root",
        ]
        proofs[ballot.receipt] = doc
    assert prove(ELECTION, new_receipt(), leaves, latest) is None  # not a ballot of it

    # With the CLI, three receipts: the first and last leaf and one between, one of them
    # typed as a person would (lower case, spaces).
    by_position = sorted(proofs, key=lambda receipt: proofs[receipt]["leaf_index"])
    chosen = [by_position[0], by_position[SEALED_BALLOTS // 2], by_position[-1]]
    typed = {chosen[1]: chosen[1].lower().replace("-", " ")}
    written: list[Path] = []
    for receipt in chosen:
        code, output = cli(
            [
                "proof",
                "--election-id",
                ELECTION,
                "--receipt",
                typed.get(receipt, receipt),
                "--bulletin",
                str(bulletin),
            ],
            cli_env,
        )
        assert code == 0, output
        assert json.loads(output) == proofs[receipt]
        path = tmp_path / f"proof-{proofs[receipt]['leaf_index']}.json"
        path.write_text(output)
        written.append(path)
        code, output = cli(["verify", str(path), "--public-key", public_key], cli_env)
        assert code == 0, output
        index = proofs[receipt]["leaf_index"]
        assert f"valid: receipt {receipt} is leaf {index} of {SEALED_BALLOTS}" in output

    # The database gives the same proof as the bulletin.
    code, output = cli(["proof", "--election-id", ELECTION, "--receipt", chosen[0]], cli_env)
    assert code == 0, output
    assert json.loads(output) == proofs[chosen[0]]

    doc = json.loads(written[1].read_text())
    doc["audit_path"][-1] = flip_hex(doc["audit_path"][-1])
    (tmp_path / "path-flipped.json").write_text(json.dumps(doc))
    doc = json.loads(written[1].read_text())
    doc["checkpoint"]["root"] = flip_hex(doc["checkpoint"]["root"])
    (tmp_path / "root-flipped.json").write_text(json.dumps(doc))
    for name, problem in (
        ("path-flipped.json", "invalid: the audit path does not lead"),
        ("root-flipped.json", "invalid: the checkpoint's signature does not verify"),
    ):
        code, output = cli(["verify", str(tmp_path / name), "--public-key", public_key], cli_env)
        assert code == 1, output
        assert problem in output
        assert "valid:" not in output.replace("invalid:", "")


# --------------------------------------------------------------------------------------------
# Two gaps found by these tests, and fixed: late rows after the seal, a mix at the close
# --------------------------------------------------------------------------------------------


def test_a_row_inserted_after_the_seal_is_named_by_the_audit_even_once_a_checkpointer_ran(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, cli_env: dict[str, str]
) -> None:
    seal_election(database, ballot_log)
    late = new_ballot(ELECTION, 1)
    BallotTable(database).insert([late])
    # What the running checkpointer does within a second of the insert.
    Checkpointer(ballot_log).pass_once()

    audit = run_audit(cli_env)

    assert audit.returncode == 1, audit.output
    assert any(late.receipt in f or f"leaf {SEALED_BALLOTS}:" in f for f in audit.findings)


def test_a_mix_running_at_the_close_cannot_make_the_seal_miss_ballots(
    database: PooledPostgresqlDatabase, ballot_log: BallotLog, settings: Settings
) -> None:
    """SECURITY.md says to run ``election mix`` at the close. The real mix is held just
    before its commit (a trigger waits for a lock this test holds), so the seal starts
    while the rewritten rows are uncommitted: it must still count all five ballots."""
    registry = ElectionRegistry(database)
    registry.create(definition())
    registry.open(ELECTION)
    table = BallotTable(database)
    table.insert([new_ballot(ELECTION, n % 3) for n in range(5)])
    registry.close(ELECTION)
    pause = int.from_bytes(os.urandom(7), "big")  # advisory locks span schemas: our own key
    database.execute_sql(
        "CREATE FUNCTION pause_inserts() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_advisory_xact_lock({pause}); RETURN NULL; END $$"
    )
    database.execute_sql(
        "CREATE TRIGGER pause_inserts AFTER INSERT ON ballots "
        "FOR EACH STATEMENT EXECUTE FUNCTION pause_inserts()"
    )
    sealer = int(database.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
    holder = raw_connection(settings)
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", (pause,))

    def waiting(where: str) -> bool:
        cursor = holder.cursor()
        cursor.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {where}")
        return bool(cursor.fetchone()[0])

    def mix() -> int:
        try:
            return table.mix(ELECTION)
        finally:
            database.close()  # the thread's connection back to the pool

    def release() -> None:
        # The seal waits for the mix: on the log's lock, which the mix takes first.
        blocked = f"pid = {sealer} AND wait_event_type = 'Lock'"
        with contextlib.suppress(AssertionError):
            wait_for(lambda: waiting(blocked), 5, "the seal to wait for the mix")
        holder.cursor().execute("SELECT pg_advisory_unlock(%s)", (pause,))

    try:
        with ThreadPoolExecutor(2) as threads:
            mixed = threads.submit(mix)
            # Waiting for our key (a bigint key is two 32-bit halves in pg_locks).
            paused = (
                "pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                f"AND classid = {pause >> 32} AND objid = {pause & 0xFFFFFFFF} AND objsubid = 1)"
            )
            wait_for(lambda: mixed.done() or waiting(paused), 10, "the mix to reach its commit")
            assert not mixed.done(), mixed.result()
            released = threads.submit(release)
            sealed = registry.seal(ELECTION, ballot_log)
            released.result(timeout=30)
            assert mixed.result(timeout=30) == 5
    finally:
        holder.close()  # a failure never leaves the mix waiting (the lock goes with it)

    assert sealed.total == 5, sealed
    assert sealed.log_size == 5


def raw_connection(settings: Settings) -> Any:
    """A psycopg2 connection outside peewee (a second peewee pool would rebind the models)."""
    import psycopg2
    from playhouse.db_url import parse as parse_url

    params = parse_url(settings.database_url)
    params["dbname"] = params.pop("database", None) or "postgres"
    connection = psycopg2.connect(**params, options=f"-c search_path={settings.database_schema}")
    connection.autocommit = True
    return connection
