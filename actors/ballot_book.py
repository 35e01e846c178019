"""What the record service knows of declared elections: each ballot's size, and the seal.

A ballot never changes once its election has opened, so a record service process reads an
election on first sight and keeps it. Whether the result is sealed changes once, at the
close, and then for good: a sealed election is kept as sealed; an unsealed or undeclared
one is read again after :data:`RECHECK_S` (so an undeclared election costs one query per
that period, not one per record). A replay (an operator's) always reads afresh, and the
restore itself is guarded in PostgreSQL (``actors.ballots.BallotTable.restore``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import peewee

from actors.election_book import RegistrySource
from election.storage.elections import ElectionRegistry

#: Seconds an unsealed or undeclared election is kept before it is read again.
RECHECK_S = 5.0


@dataclass(frozen=True)
class BallotInfo:
    """A declared election as the record service checks a record against it."""

    election_id: str
    choices: int
    sealed: bool


class BallotBook:
    """Per-process cache of :class:`BallotInfo` (``None``: undeclared)."""

    def __init__(
        self,
        read: Callable[[str], BallotInfo | None],
        *,
        recheck_s: float = RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.recheck_s = recheck_s
        self.clock = clock
        self._known: dict[str, tuple[BallotInfo | None, float]] = {}

    def info(self, election_id: str, *, fresh: bool = False) -> BallotInfo | None:
        """The election's ballot and seal, from the cache unless ``fresh`` or due."""
        known = self._known.get(election_id)
        now = self.clock()
        if fresh or known is None or now >= known[1]:
            info = self.read(election_id)
            until = math.inf if info is not None and info.sealed else now + self.recheck_s
            self._known[election_id] = (info, until)
            return info
        return known[0]


def registry_reader(database: peewee.Database) -> Callable[[str], BallotInfo | None]:
    """Reads :class:`BallotInfo` from PostgreSQL, on the calling thread's connection."""
    source = RegistrySource(database)
    registry = ElectionRegistry(database)

    def read(election_id: str) -> BallotInfo | None:
        def both() -> BallotInfo | None:
            record = registry.get(election_id)
            if record is None:
                return None
            sealed = registry.sealed(election_id) is not None
            return BallotInfo(election_id, len(record.choices), sealed)

        return source.run(both)

    return read
