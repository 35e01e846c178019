"""Live results: one poller per watched election, fanned out to every open event stream.

However many pages watch an election, the process reads its result once per
:data:`INTERVAL_S` (and only while someone watches), and pushes it to each page as a
server-sent event when it changed. A page that connects gets the current result at once.
The hub lives on the app (``app.state``), never in a module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("web.live")

#: Seconds between two reads of a watched election.
INTERVAL_S = 0.25
#: Seconds between two reads once its result is sealed (it can no longer change).
SEALED_INTERVAL_S = 5.0

#: Reads one election's snapshot; a snapshot it cannot read is ``{"error": why}``.
Fetch = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass
class _Watch:
    """One watched election: its latest snapshot, a version, and who waits for the next."""

    latest: dict[str, Any] | None = None
    version: int = 0
    watchers: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None


class ResultsHub:
    """Polls each watched election with ``fetch`` and hands changes to its watchers
    (an ``{"error": ...}`` snapshot too, so a page says the database is down)."""

    def __init__(self, fetch: Fetch, interval_s: float = INTERVAL_S) -> None:
        self.fetch = fetch
        self.interval_s = interval_s
        self._watches: dict[str, _Watch] = {}

    async def watch(self, election_id: str) -> AsyncIterator[dict[str, Any]]:
        """Each new snapshot of ``election_id``, the current one first, until the caller
        stops iterating (the page went away)."""
        watch = self._watches.setdefault(election_id, _Watch())
        watch.watchers += 1
        if watch.task is None:
            watch.task = asyncio.create_task(self._poll(election_id, watch))
        seen = 0

        def newer() -> bool:
            return watch.version > seen

        try:
            while True:
                async with watch.changed:
                    await watch.changed.wait_for(newer)
                    seen, snapshot = watch.version, watch.latest
                if snapshot is not None:
                    yield snapshot
        finally:
            watch.watchers -= 1
            if watch.watchers == 0:
                self._watches.pop(election_id, None)
                if watch.task is not None:
                    watch.task.cancel()

    async def close(self) -> None:
        """Stop every poller (the app is stopping)."""
        tasks = [w.task for w in self._watches.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self, election_id: str, watch: _Watch) -> None:
        while True:
            try:
                snapshot = await self.fetch(election_id)
            except Exception:  # a bug must not freeze every page that watches: say so, go on
                log.exception("live.poll_failed", election_id=election_id)
                snapshot = {"error": "the results cannot be shown just now; retrying"}
            if snapshot != watch.latest:
                async with watch.changed:
                    watch.latest, watch.version = snapshot, watch.version + 1
                    watch.changed.notify_all()
            sealed = bool(snapshot and snapshot.get("result", {}).get("sealed"))
            await asyncio.sleep(SEALED_INTERVAL_S if sealed else self.interval_s)


def event_data(snapshot: dict[str, Any]) -> str:
    """A snapshot as one event's data (one line of JSON)."""
    return json.dumps(snapshot, separators=(",", ":"), ensure_ascii=False)
