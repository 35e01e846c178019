"""The declared elections as one voting logger process knows them: a dict lookup per vote.

Each logger process keeps its own book (built after Dramatiq's fork, with the worker):

- **at start** it reads every declared election and its roll's tokens from PostgreSQL;
- **on an ``election changed`` event** (``actors.election_feed``: this process's own
  subscription, signatures checked there) it reads that one election again, unless the
  event's ``seq`` is not newer than what it knows (Pub/Sub does not keep order). The
  event carries no ballot and no roll: what counts is always what PostgreSQL holds;
- **as a backstop**, a vote for an election the book does not know, or one it knows as
  a draft, makes it read every changed election again, at most every
  :data:`REFRESH_S` seconds (a process that missed an event, or started while it flew).

The longest time from ``election open`` returning to the first vote being accepted is
the event's delivery plus one read (measured about 50 ms on the emulator, which answers a waiting
pull within its 50 ms polling cycle), and never more than :data:`REFRESH_S` plus one read,
even if the event is lost: after that, the first vote refused as "not open yet" makes
the book read PostgreSQL again. ``tests/e2e/test_elections.py`` measures it.

The effective state moves with the manifest's times; the book recomputes a view only
when its state's next change by the clock has come. An election's ``closes_at`` is also
written to the close barrier in Redis (``election.storage.close_barrier``, if not there
already), so that a close by the clock is as exact as a close by hand: the barrier, not
the book, is what makes any close exact.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import peewee
import structlog

from actors.ballots import on_thread_connection
from election.domain.ballot_rules import ElectionView
from election.domain.lifecycle import State, next_change
from election.storage.elections import ElectionRecord, ElectionRegistry

log = structlog.get_logger(__name__)

#: Seconds between two backstop reads of PostgreSQL (see the module's docstring).
REFRESH_S = 2.0
T = TypeVar("T")


class ElectionSource(Protocol):
    """Where the book reads elections: PostgreSQL (:class:`RegistrySource`), or a fake."""

    def all(self) -> list[ElectionRecord]: ...

    def get(self, election_id: str) -> ElectionRecord | None: ...

    def roll(self, election_id: str) -> frozenset[bytes] | None: ...


class RegistrySource:
    """:class:`ElectionRegistry` on a worker thread's own connection (kept open between
    calls, closed after a failure so the next call opens a fresh one)."""

    def __init__(self, database: peewee.Database) -> None:
        self.database = database
        self.registry = ElectionRegistry(database)

    def all(self) -> list[ElectionRecord]:
        return self.run(self.registry.all)

    def get(self, election_id: str) -> ElectionRecord | None:
        return self.run(lambda: self.registry.get(election_id))

    def roll(self, election_id: str) -> frozenset[bytes] | None:
        return self.run(lambda: self.registry.roll(election_id))

    def run(self, call: Callable[[], T]) -> T:
        """``call`` on this thread's connection."""
        return on_thread_connection(self.database, call)


@dataclass(frozen=True)
class _Entry:
    record: ElectionRecord
    roll: frozenset[bytes] | None
    view: ElectionView
    #: When (epoch seconds) the view's state next changes by the clock.
    until: float


def _entry(record: ElectionRecord, roll: frozenset[bytes] | None, now: float) -> _Entry:
    moment = datetime.fromtimestamp(now, UTC)
    change = next_change(record.stored_state, moment, record.opens_at, record.closes_at)
    until = math.inf if change is None else change.timestamp()
    return _Entry(record, roll, record.view(roll, moment), until)


class ElectionBook:
    """One process's declared elections; :meth:`view` is the voting logger's per-vote
    lookup. Thread-safe: readers take no lock, writers replace whole entries."""

    def __init__(
        self,
        source: ElectionSource,
        *,
        barrier: Callable[[str, int], None] | None = None,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.barrier = barrier
        self.refresh_s = refresh_s
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._write = threading.Lock()
        self._refreshing = threading.Lock()
        self._refreshed_at = -math.inf
        self._barriers: set[str] = set()

    def view(self, election_id: str) -> ElectionView | None:
        """What a vote of ``election_id`` is checked against; ``None``: undeclared."""
        entry = self._entries.get(election_id)
        now = self.clock()
        if entry is not None and now >= entry.until:
            entry = self._restate(entry, now)
        unsure = entry is None or entry.view.state is State.DRAFT
        if unsure and now - self._refreshed_at >= self.refresh_s:
            self.refresh()
            entry = self._entries.get(election_id)
            if entry is not None and now >= entry.until:
                entry = self._restate(entry, now)
        return None if entry is None else entry.view

    def seq(self, election_id: str) -> int | None:
        """The ``seq`` the book holds for the election, if it knows it."""
        entry = self._entries.get(election_id)
        return None if entry is None else entry.record.seq

    def load(self) -> int:
        """Read every declared election (and roll) from the source; how many."""
        self._refreshed_at = self.clock()
        records = self.source.all()
        for record in records:
            self._store(record, self._roll(record))
        log.info("election_book.loaded", elections=len(records))
        return len(records)

    def refresh(self) -> int:
        """Read again every election that is new or changed since the book read it (one
        thread at a time; another that finds a refresh under way goes on without it);
        how many changed."""
        if not self._refreshing.acquire(blocking=False):
            return 0
        try:
            self._refreshed_at = self.clock()
            changed = [r for r in self.source.all() if self.seq(r.election_id) != r.seq]
            for record in changed:
                self._store(record, self._roll(record))
        finally:
            self._refreshing.release()
        if changed:
            log.info("election_book.refreshed", changed=len(changed))
        return len(changed)

    def learn(self, election_id: str, seq: int) -> str:
        """An ``election changed`` event said ``election_id`` reached ``seq``: read it
        again unless the book knows that ``seq`` already. ``"stale"``, ``"applied"``, or
        ``"unknown"`` (PostgreSQL has no such election)."""
        known = self.seq(election_id)
        if known is not None and seq <= known:
            return "stale"
        record = self.source.get(election_id)
        if record is None:
            return "unknown"
        self._store(record, self._roll(record))
        return "applied"

    def _roll(self, record: ElectionRecord) -> frozenset[bytes] | None:
        """The roll: kept from before when the definition is the same (it never changes
        once open), else read."""
        entry = self._entries.get(record.election_id)
        if entry is not None and entry.record.definition == record.definition:
            return entry.roll
        return None if record.roll_size is None else self.source.roll(record.election_id)

    def _store(self, record: ElectionRecord, roll: frozenset[bytes] | None) -> None:
        closes_at, election_id = record.closes_at, record.election_id
        if closes_at is not None and self.barrier is not None and election_id not in self._barriers:
            self.barrier(election_id, int(closes_at.timestamp() * 1000))
            self._barriers.add(election_id)
        with self._write:
            current = self._entries.get(record.election_id)
            if current is None or current.record.seq <= record.seq:
                self._entries[record.election_id] = _entry(record, roll, self.clock())

    def _restate(self, entry: _Entry, now: float) -> _Entry:
        """The entry with its view at ``now`` (its state moved by the clock)."""
        fresh = _entry(entry.record, entry.roll, now)
        with self._write:
            if self._entries.get(entry.record.election_id) is entry:
                self._entries[entry.record.election_id] = fresh
        return fresh
