"""What the web process reads from PostgreSQL, as the CLI prints it.

Each read is one blocking function over the pooled database, run on a thread by the app;
each holds a connection only for its own ``connection_context``. The objects are those of
``election list --json`` and ``election results E --json`` (the same functions build them).
"""

from __future__ import annotations

from typing import Any

import peewee
from playhouse.pool import MaxConnectionsExceeded

from election.cli.listing import summaries
from election.cli.tally import counts_of, result_from, undeclared_json
from election.domain.votes import InvalidId, canonical_id
from election.storage.elections import ElectionRegistry

#: What a PostgreSQL outage (or a pool with no connection to spare) raises.
DATABASE_ERRORS: tuple[type[Exception], ...] = (peewee.PeeweeException, MaxConnectionsExceeded)


def elections(database: peewee.Database) -> list[dict[str, Any]]:
    """Every declared election, as ``election list --json`` prints them."""
    with database.connection_context():
        return summaries(ElectionRegistry(database))


def results(database: peewee.Database, election_id: str) -> dict[str, Any] | None:
    """``election results E --json`` of ``election_id``; ``None`` when there is no such
    election: not declared and no votes recorded under it (nor a valid ID at all)."""
    try:
        election_id = canonical_id(election_id)
    except InvalidId:
        return None
    with database.connection_context():
        registry = ElectionRegistry(database)
        record = registry.get(election_id)
        counts, sealed = counts_of(registry, election_id)
    if record is None:
        return undeclared_json(election_id, counts) if counts else None
    return result_from(record, counts, sealed).to_json()
