"""Opening and closing an election on a deployment: what ``election open`` and ``election
close`` do, and the operator console's Open and Close with them (one way each).

Opening stores the change, then announces it (the topic is looked up first, so an
unreachable Pub/Sub stops it before anything is stored). Closing is ``actors.closing``'s
barrier, announcement, drain and seal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import peewee

from config import Settings
from election.domain.errors import Unavailable
from election.ops.preflight import one_line
from election.ops.reach import STARTUP_TIMEOUT_S, reachable, stored
from election.storage.elections import ElectionRecord, ElectionRegistry

if TYPE_CHECKING:
    import redis

    from actors.closing import Closed, Progress

#: Seconds the drain waits beyond ``CLAIM_STALE_S`` (after which every claim still
#: without a row is fenced) by default.
DRAIN_MARGIN_S = 30.0
#: Announces one stored change (see :func:`announcer`).
Announce = Callable[[ElectionRecord], None]


@contextlib.contextmanager
def announcer(settings: Settings) -> Iterator[Announce]:
    """A function that announces a stored change; the topic is looked up first, so an
    unreachable Pub/Sub stops the command before it stores anything."""
    from election.ops.announce import announce
    from election.pubsub.client import Publisher, admin_retry

    publisher = Publisher(settings)

    def announce_one(record: ElectionRecord) -> None:
        try:
            reachable(lambda: announce(settings, publisher, record), settings)
        except Unavailable as exc:
            raise Unavailable(
                f"{exc} (election {record.election_id} is stored as "
                f"{record.stored_state.value}; its election changed event was not sent)"
            ) from None

    try:
        reachable(
            lambda: publisher.client.get_topic(
                topic=publisher.topic,
                timeout=STARTUP_TIMEOUT_S,
                retry=admin_retry(STARTUP_TIMEOUT_S),
            ),
            settings,
        )
        yield announce_one
    finally:
        publisher.close()


def open_election(
    settings: Settings, database: peewee.Database, election_id: str
) -> ElectionRecord:
    """Open ``election_id`` and announce it (what ``election open`` and the operator
    console's Open both do); the topic is looked up before anything is stored."""
    settings.require_signing_key()
    with announcer(settings) as announce:
        record = stored(lambda: ElectionRegistry(database).open(election_id), settings)
        announce(record)
    return record


def close_election(
    settings: Settings,
    database: peewee.Database,
    client: redis.Redis,
    election_id: str,
    timeout_s: float,
    *,
    progress: Progress | None = None,
) -> Closed:
    """Close, drain and seal ``election_id`` (what ``election close`` and the operator
    console's Close both do); an unreachable Pub/Sub, PostgreSQL or Redis is
    :class:`Unavailable`."""
    import redis

    from actors.closing import ElectionCloser
    from election.pubsub.client import Publisher
    from election.storage.elections import ElectionRegistry

    publisher = Publisher(settings)
    closer = ElectionCloser(
        settings, ElectionRegistry(database), client, publisher, progress=progress
    )
    try:
        return reachable(lambda: closer.close(election_id, timeout_s), settings)
    except redis.RedisError as exc:
        raise Unavailable(f"cannot reach Redis: {one_line(exc)}") from None
    finally:
        publisher.close()
