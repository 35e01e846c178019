"""The live results hub: one poller per watched election, a change pushed to every
watcher, and a poller that meets a bug says so instead of freezing its pages."""

from __future__ import annotations

import asyncio
from typing import Any

from web.live import ResultsHub


def test_every_watcher_gets_the_current_snapshot_then_each_change() -> None:
    reads: list[str] = []
    totals = iter([1, 1, 2, 2, 2, 2, 2, 2, 2, 2])

    async def fetch(election_id: str) -> dict[str, Any]:
        reads.append(election_id)
        return {"result": {"total": next(totals, 2), "sealed": False}}

    async def run() -> list[list[int]]:
        hub = ResultsHub(fetch, interval_s=0.01)

        async def watcher() -> list[int]:
            seen = []
            async for snapshot in hub.watch("7"):
                seen.append(snapshot["result"]["total"])
                if len(seen) == 2:
                    return seen
            return seen

        seen = await asyncio.wait_for(asyncio.gather(watcher(), watcher()), 10)
        await hub.close()
        return list(seen)

    assert asyncio.run(run()) == [[1, 2], [1, 2]]
    assert set(reads) == {"7"}  # one poller for both watchers


def test_a_poller_that_meets_a_bug_sends_an_error_and_keeps_polling() -> None:
    calls = 0

    async def fetch(election_id: str) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("a bug")
        return {"result": {"total": 5, "sealed": False}}

    async def run() -> list[Any]:
        hub = ResultsHub(fetch, interval_s=0.01)
        seen: list[Any] = []
        async for snapshot in hub.watch("7"):
            seen.append(snapshot)
            if len(seen) == 2:
                break
        await hub.close()
        return seen

    first, second = asyncio.run(asyncio.wait_for(run(), 10))
    assert "error" in first and second["result"]["total"] == 5
