"""Peewee models of the voting record, and the database they live in.

Ballots carry no voter ID: the record service stores what the logger passed on, which is
the vote without the voter (ballot secrecy). A ballot is unique by its UUID, so storing a
redelivered record message is a no-op.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import peewee
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledPostgresqlDatabase

from config import Settings

#: Seconds to wait for a connection, and the longest any statement may run.
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 10_000


class Ballot(peewee.Model):
    """One recorded vote."""

    id = peewee.BigAutoField()
    uuid = peewee.CharField(max_length=64, unique=True)
    election_id = peewee.CharField(max_length=64, index=True)
    machine_id = peewee.CharField(max_length=64)
    choice = peewee.SmallIntegerField()
    cast_at = peewee.DateTimeField()
    recorded_at = peewee.DateTimeField(default=lambda: dt.datetime.now(dt.UTC))

    class Meta:
        table_name = "ballots"


MODELS: list[type[peewee.Model]] = [Ballot]


def open_database(settings: Settings, *, max_connections: int = 20) -> PooledPostgresqlDatabase:
    """A pooled connection to ``DATABASE_URL`` with the models bound to it.

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
    database.bind(MODELS)
    return database


def create_schema(database: peewee.Database, schema: str) -> None:
    """Create the schema and the tables if they do not exist yet (idempotent)."""
    with database.connection_context():
        database.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        database.create_tables(MODELS, safe=True)


def tally(election_id: str) -> dict[int, int]:
    """Number of recorded ballots per choice in one election."""
    query = (
        Ballot.select(Ballot.choice, peewee.fn.COUNT(Ballot.id).alias("votes"))
        .where(Ballot.election_id == election_id)
        .group_by(Ballot.choice)
        .order_by(Ballot.choice)
        .tuples()
    )
    # .tuples() yields (choice, votes) rows; peewee's hints only know model rows.
    return dict(cast("list[tuple[int, int]]", list(query)))
