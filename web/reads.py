"""What the web process reads from PostgreSQL, as the CLI prints it.

Each read is one blocking function over the pooled database, run on a thread by the app;
each holds a connection only for its own ``connection_context``. The objects are those of
``election list --json`` and ``election results E --json`` (the same functions build them).
"""

from __future__ import annotations

from typing import Any

import peewee
from playhouse.pool import MaxConnectionsExceeded

from election.domain.votes import InvalidId, canonical_id
from election.ops.results import counts_of, result_from, summaries, undeclared_json
from election.storage.elections import ElectionRegistry
from web.series import MINUTE_MS, per_minute

#: What a PostgreSQL outage (or a pool with no connection to spare) raises.
DATABASE_ERRORS: tuple[type[Exception], ...] = (peewee.PeeweeException, MaxConnectionsExceeded)


def elections(database: peewee.Database) -> list[dict[str, Any]]:
    """Every declared election, as ``election list --json`` prints them."""
    with database.connection_context():
        return summaries(ElectionRegistry(database))


#: What stands in a withheld result's ``withheld`` field.
WITHHELD = "per-choice counts are published at the seal (LIVE_RESULTS=total)"


def results(
    database: peewee.Database, election_id: str, withhold: bool = False
) -> dict[str, Any] | None:
    """``election results E --json`` of ``election_id``, its per-choice counts
    :func:`withheld` before the seal if ``withhold``; ``None`` when there is no such
    election: not declared and no votes recorded under it (nor a valid ID at all)."""
    result = _results(database, election_id)
    return withheld(result) if withhold and result is not None else result


def withheld(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with each choice's votes ``None`` until it is sealed (``LIVE_RESULTS=
    total``): live per-choice counts, beside a receipt's log position, can tell that
    receipt's choice (docs/SECURITY.md). The total and turnout stay."""
    if result["sealed"]:
        return result
    choices = [{**choice, "votes": None} for choice in result["choices"]]
    return {**result, "choices": choices, "withheld": WITHHELD}


def _results(database: peewee.Database, election_id: str) -> dict[str, Any] | None:
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


def live(
    database: peewee.Database, election_id: str, withhold: bool = False
) -> dict[str, Any] | None:
    """What the live results stream sends: the result as :func:`results` gives it, and
    the ballots logged per minute (``web.series``); ``None`` for no such election."""
    result = results(database, election_id, withhold)
    if result is None:
        return None
    with database.connection_context():
        cursor = database.execute_sql(
            "SELECT timestamp_ms / %s AS minute, MAX(size) FROM log_checkpoints "
            "WHERE election_id = %s GROUP BY minute ORDER BY minute",
            (MINUTE_MS, result["election"]),
        )
        maxima = [(int(minute), int(size)) for minute, size in cursor.fetchall()]
    return {"result": result, "per_minute": per_minute(maxima)}
