"""Peewee models of the voting record, and the database they live in.

Ballots carry no voter ID: the record service stores what the logger passed on, which is
the vote without the voter (ballot secrecy), under a keyed reference that is unique, so
storing a redelivered record message is a no-op.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import peewee
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledPostgresqlDatabase

from config import Settings
from election.domain.errors import OperatorDecision

#: Seconds to wait for a connection, and the longest any statement may run.
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 10_000


class BallotState:
    """What a row in ``ballots`` stands for. Only ``RECORDED`` rows are counted."""

    RECORDED = 1
    #: The record service gave the ballot up (dead-lettered); the voter may vote again.
    GIVEN_UP = 2
    #: The voting logger fenced a ballot that never arrived (lost, or given up by the
    #: logger): a late copy of it can no longer be stored; the voter may vote again.
    FENCED = 3
    #: A tombstone whose voter has since cast another ballot: it can never be replayed.
    SUPERSEDED = 4

    TOMBSTONES = (GIVEN_UP, FENCED, SUPERSEDED)


class Ballot(peewee.Model):
    """One ballot: a recorded vote, or the tombstone of one that will never count.

    The row holds what an audit needs and nothing about when or where it was cast: no
    machine, no time, no insertion-ordered ID, no UUID. Its key ``ref`` is a keyed hash of
    the election and the ballot UUID (see :mod:`election.domain.secrecy`), so a redelivered or
    replayed record conflicts with the row (or tombstone) already there.
    """

    ref = peewee.BlobField(primary_key=True)
    election_id = peewee.CharField(max_length=64)
    choice = peewee.SmallIntegerField(null=True)
    state = peewee.SmallIntegerField()
    #: A recorded ballot's tracking code, told to its voter (``election.domain.receipts``);
    #: random, so it says nothing of the voter, the time or the choice.
    receipt = peewee.CharField(max_length=40, null=True, unique=True)
    #: The secret that makes the ballot's commitment in the log hiding; auditors open it.
    nonce = peewee.BlobField(null=True)
    #: Its leaf's place in the election's log, once the log has taken it in
    #: (``election.storage.ballot_log``); ``None`` before that, and for tombstones.
    position = peewee.BigIntegerField(null=True)

    class Meta:
        table_name = "ballots"
        indexes = ((("election_id", "state"), False),)


class LogLeaf(peewee.Model):
    """One leaf of an election's append-only log (RFC 9162), as the log took it in: the
    hash the log's checkpoints cover. An audit recomputes it from the ballot's row."""

    election_id = peewee.CharField(max_length=64)
    position = peewee.BigIntegerField()
    leaf_hash = peewee.BlobField()

    class Meta:
        table_name = "log_leaves"
        primary_key = peewee.CompositeKey("election_id", "position")


class LogCheckpoint(peewee.Model):
    """A signed checkpoint of an election's log: its size and root at a moment, signed
    with the log key (Ed25519), so anyone holding the public key can check it."""

    election_id = peewee.CharField(max_length=64)
    size = peewee.BigIntegerField()
    root = peewee.BlobField()
    timestamp_ms = peewee.BigIntegerField()
    #: The Ed25519 signature on the checkpoint's text (``election.domain.checkpoints``).
    signature = peewee.BlobField()

    class Meta:
        table_name = "log_checkpoints"
        primary_key = peewee.CompositeKey("election_id", "size")


class DedupStore(peewee.Model):
    """Which dedup store (Redis) holds the claims of a namespace, and with which voter key.

    The same seal is kept in Redis; a Redis that restarted empty, was flushed or was
    replaced has no seal or another, and the voting logger then stops accepting votes
    instead of counting voters twice (see ``actors.seal``).
    """

    namespace = peewee.CharField(max_length=255, primary_key=True)
    store_id = peewee.CharField(max_length=64)
    key_check = peewee.CharField(max_length=64)
    #: The most claims Redis was seen to have counted (a watermark): a Redis restored
    #: from an older copy has counted fewer.
    claims = peewee.BigIntegerField(default=0)
    sealed_at = peewee.DateTimeField(default=lambda: dt.datetime.now(dt.UTC))

    class Meta:
        table_name = "dedup_stores"


class Election(peewee.Model):
    """A declared election: its ballot, its times and its stored state.

    ``state`` is what an operator decided (``draft``, ``open``, ``closed``); the manifest's
    times move it further (``election.domain.lifecycle.effective_state``). ``seq`` grows
    with every change, so a worker can tell a stale ``election changed`` event from a new
    one. Times are milliseconds since the epoch, UTC.
    """

    election_id = peewee.CharField(max_length=64, primary_key=True)
    title = peewee.TextField()
    #: The choice names as a JSON list: the wire's ``voting`` integer is the index.
    choices = peewee.TextField()
    manifest_sha256 = peewee.CharField(max_length=64)
    #: Digest of the manifest and the roll's tokens (``election.domain.manifest.Definition``).
    definition = peewee.CharField(max_length=64)
    roll_size = peewee.IntegerField(null=True)
    opens_at_ms = peewee.BigIntegerField(null=True)
    closes_at_ms = peewee.BigIntegerField(null=True)
    state = peewee.CharField(max_length=16)
    seq = peewee.IntegerField(default=0)
    changed_at_ms = peewee.BigIntegerField()

    class Meta:
        table_name = "elections"


class RollEntry(peewee.Model):
    """One voter on an election's roll, as the keyed voter token (never the voter ID)."""

    election_id = peewee.CharField(max_length=64)
    token = peewee.BlobField()

    class Meta:
        table_name = "roll_entries"
        primary_key = peewee.CompositeKey("election_id", "token")


class SealedResult(peewee.Model):
    """An election's result, sealed at its close; a trigger refuses any later change."""

    election_id = peewee.CharField(max_length=64, primary_key=True)
    #: Votes per choice as a JSON list, in ballot order, zeros included.
    counts = peewee.TextField()
    total = peewee.IntegerField()
    roll_size = peewee.IntegerField(null=True)
    sealed_at_ms = peewee.BigIntegerField()
    #: The final checkpoint of the election's log, which the counts are the leaves of.
    log_size = peewee.BigIntegerField(null=True)
    log_root = peewee.BlobField(null=True)

    class Meta:
        table_name = "sealed_results"


MODELS: list[type[peewee.Model]] = [
    Ballot,
    DedupStore,
    Election,
    RollEntry,
    SealedResult,
    LogLeaf,
    LogCheckpoint,
]

#: Columns added since the tables were first made: added to older tables in place.
_ADDED_COLUMNS = """
ALTER TABLE "{schema}".ballots ADD COLUMN IF NOT EXISTS receipt VARCHAR(40) UNIQUE;
ALTER TABLE "{schema}".ballots ADD COLUMN IF NOT EXISTS nonce BYTEA;
ALTER TABLE "{schema}".ballots ADD COLUMN IF NOT EXISTS position BIGINT;
ALTER TABLE "{schema}".sealed_results ADD COLUMN IF NOT EXISTS log_size BIGINT;
ALTER TABLE "{schema}".sealed_results ADD COLUMN IF NOT EXISTS log_root BYTEA;
CREATE INDEX IF NOT EXISTS ballots_unlogged ON "{schema}".ballots (election_id)
  WHERE position IS NULL AND state = {recorded};
CREATE UNIQUE INDEX IF NOT EXISTS ballots_position ON "{schema}".ballots (election_id, position);
"""

#: A sealed result never changes: PostgreSQL itself refuses to update or delete one.
#: (``%%``: the statement goes through psycopg2's parameter formatting, even without any.)
_SEAL_GUARD = """
CREATE OR REPLACE FUNCTION "{schema}".sealed_results_are_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the sealed result of election %% cannot change', OLD.election_id;
END $$;
DROP TRIGGER IF EXISTS sealed_results_final ON "{schema}".sealed_results;
CREATE TRIGGER sealed_results_final BEFORE UPDATE OR DELETE ON "{schema}".sealed_results
FOR EACH ROW EXECUTE FUNCTION "{schema}".sealed_results_are_final();
"""


def open_database(
    settings: Settings, *, max_connections: int = 20, bind: bool = True
) -> PooledPostgresqlDatabase:
    """A pooled connection to ``DATABASE_URL`` with the models bound to it (unless not
    ``bind``: a check that only looks must not take the models from the process's pool).

    Query parameters of the URL (``sslmode`` and the like) are passed to psycopg2. The
    connection's ``search_path`` is ``DATABASE_SCHEMA``, which keeps test runs apart.
    """
    params = parse_url(settings.database_url)
    name = params.pop("database", None) or "postgres"
    options = (
        f"-c search_path={settings.database_schema} -c statement_timeout={STATEMENT_TIMEOUT_MS}"
    )
    database = PooledPostgresqlDatabase(
        name,
        max_connections=max_connections,
        stale_timeout=300,
        timeout=CONNECT_TIMEOUT_S,
        connect_timeout=CONNECT_TIMEOUT_S,
        options=options,
        **params,
    )
    if bind:
        database.bind(MODELS)
    return database


class OldLayout(OperatorDecision):
    """The database holds tables of an earlier, incompatible version."""


def create_schema(database: peewee.Database, schema: str) -> None:
    """Create the schema and the tables if they do not exist yet (idempotent).

    A ``ballots`` table of an earlier version (which kept UUIDs, machines and times) is
    refused rather than used: its rows would betray voters, and inserts would fail."""
    with database.connection_context():
        database.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        columns = {column.name for column in database.get_columns("ballots", schema)}
        if columns and "ref" not in columns:
            raise OldLayout(
                f'schema "{schema}" has a ballots table of an earlier version (with '
                f"{', '.join(sorted(columns))}); export its tally, then drop it or use "
                "another DATABASE_SCHEMA"
            )
        database.create_tables(MODELS, safe=True)
        database.execute_sql(_ADDED_COLUMNS.format(schema=schema, recorded=BallotState.RECORDED))
        database.execute_sql(_SEAL_GUARD.format(schema=schema))


def tally(
    election_id: str, *, logged_only: bool = False, unlogged_only: bool = False
) -> dict[int, int]:
    """Number of recorded ballots per choice in one election (``logged_only``: of those
    its log has taken in; ``unlogged_only``: of those it has not)."""
    where = (Ballot.election_id == election_id) & (Ballot.state == BallotState.RECORDED)
    if logged_only:
        where &= Ballot.position.is_null(False)
    if unlogged_only:
        where &= Ballot.position.is_null(True)
    query = (
        Ballot.select(Ballot.choice, peewee.fn.COUNT(Ballot.ref).alias("votes"))
        .where(where)
        .group_by(Ballot.choice)
        .order_by(Ballot.choice)
        .tuples()
    )
    # .tuples() yields (choice, votes) rows; peewee's hints only know model rows.
    return dict(cast("list[tuple[int, int]]", list(query)))
