"""The checkpoint lag: from a ballot's ``successful`` answer to the first signed checkpoint
of its election's log that holds it (the checkpointer's pass, off the voting path)."""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping

from config import Settings
from election.storage.ballot_log import BallotLog
from election.storage.models import Ballot, open_database

#: How long to wait after a run for the last checkpoint that holds its ballots.
SETTLE_S = 15.0


def checkpoint_lags(
    settings: Settings, election_id: str, answered: Mapping[str, float], settle_s: float = SETTLE_S
) -> list[float]:
    """Seconds from each receipt's answer (wall clock, as ``answered`` has it) to the
    timestamp of the first checkpoint that holds its leaf; receipts no checkpoint holds
    within ``settle_s`` are left out (the report says how many were measured)."""
    if not answered:
        return []
    database = open_database(settings, max_connections=1)
    try:
        with database.connection_context():
            log = BallotLog(database)
            positions = _positions(list(answered))
            deadline = time.monotonic() + settle_s
            while True:
                checkpoints = [s.checkpoint for s in log.checkpoints(election_id)]
                last = checkpoints[-1].size if checkpoints else 0
                if all(p is not None and p < last for p in positions.values()):
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
                positions = _positions(list(answered))
    finally:
        database.close_all()
    sizes = [c.size for c in checkpoints]
    lags: list[float] = []
    for receipt, position in positions.items():
        if position is None:
            continue
        first = bisect.bisect_right(sizes, position)  # the first checkpoint with size > position
        if first < len(checkpoints):
            lags.append(checkpoints[first].timestamp_ms / 1000 - answered[receipt])
    return lags


def _positions(receipts: list[str]) -> dict[str, int | None]:
    found: dict[str, int | None] = dict.fromkeys(receipts)
    for start in range(0, len(receipts), 1000):
        query = Ballot.select(Ballot.receipt, Ballot.position).where(
            Ballot.receipt.in_(receipts[start : start + 1000])
        )
        for row in query:
            found[str(row.receipt)] = None if row.position is None else int(row.position)
    return found
