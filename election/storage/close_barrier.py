"""The close barrier in the dedup store: from when on no vote of an election is claimed.

The voting logger claims voters with one atomic Redis script per batch; that script reads
this hash (``<namespace>:closing``: election ID -> milliseconds since the epoch, by
Redis' own clock) and claims nothing for an election whose time has come. So when
``election close`` has written the barrier, no logger worker, however late it hears of
the close, can accept another vote of that election: the barrier is in the one place
every claim goes through. A manifest's ``closes_at`` is written here when the election
is created, so a close by the clock is as exact as a close by hand.
"""

from __future__ import annotations

import redis

#: The barrier value that means "closed now, whatever the clock says".
CLOSED_NOW = 0


def closing_key(namespace: str) -> str:
    """The Redis hash of the namespace's close times."""
    return f"{namespace}:closing"


def close_now(client: redis.Redis, namespace: str, election_id: str) -> None:
    """Close the election in the dedup store: every later claim of it is refused."""
    client.hset(closing_key(namespace), election_id, CLOSED_NOW)


def close_at(client: redis.Redis, namespace: str, election_id: str, at_ms: int) -> None:
    """Refuse claims of the election from ``at_ms`` on (Redis' clock), unless it is
    closed already (a close by hand is final)."""
    client.hsetnx(closing_key(namespace), election_id, at_ms)


def closes_at(client: redis.Redis, namespace: str, election_id: str) -> int | None:
    """When claims of the election stop (``CLOSED_NOW``: already), or ``None``."""
    value = client.hget(closing_key(namespace), election_id)
    return None if value is None else int(value)
