"""Fault tests: a Redis of their own (append-only, on a spare port), and the fault table.

The table is printed at the end of the run, one row per fault: votes sent, recorded,
answered in time, timed out, lost and doubled (the last two must be 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.load import FaultRow
from tests.support.redis_server import AofRedis
from tests.support.report import report

TABLE: list[FaultRow] = []


@pytest.fixture(scope="session")
def aof_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AofRedis]:
    server = AofRedis(tmp_path_factory.mktemp("aof-redis"))
    server.start()
    yield server
    server.stop()


def record_row(row: FaultRow) -> None:
    """Put a row in the fault table of this run."""
    if not TABLE:
        report("fault table", FaultRow.HEADER)
    TABLE.append(row)
    report("fault table", row.line())


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[AofRedis]:
    """A durable Redis for one test only, which the test may wipe, restart or misconfigure."""
    directory = tmp_path / "own-redis"
    directory.mkdir()
    server = AofRedis(directory)
    server.start()
    yield server
    server.stop()
