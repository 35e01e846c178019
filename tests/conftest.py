"""Fixtures: a Pub/Sub emulator for the session, and a whole election system per test.

The emulator is started by the tests themselves on a free port (it keeps everything in
memory), unless TEST_PUBSUB_EMULATOR_HOST names one that is already running. Redis,
PostgreSQL and RabbitMQ are the machine's own (see README); each test gets its own names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from election.local.emulator import Emulator, free_port
from tests.support.factory import system_factory
from tests.support.report import SECTIONS
from tests.support.system import ElectionSystem

REDIS_BROKER = os.environ.get("TEST_REDIS_BROKER_URL", "redis://127.0.0.1:6379/0")
REPORT_PATH = Path(".run/test-report.txt")
RABBITMQ_BROKER = os.environ.get("TEST_RABBITMQ_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="session")
def emulator_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a running Pub/Sub emulator."""
    given = os.environ.get("TEST_PUBSUB_EMULATOR_HOST")
    if given:
        yield given
        return
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    emulator = Emulator(port=free_port(), log_path=log)
    emulator.start()
    try:
        yield emulator.address
    finally:
        emulator.stop()


@pytest.fixture
def make_system(emulator_host: str, tmp_path: Path) -> Iterator[object]:
    """A factory of provisioned :class:`ElectionSystem` objects, cleaned up afterwards."""
    with system_factory(emulator_host, tmp_path) as make:

        def make_default(
            broker_url: str = REDIS_BROKER, *roles: str, env: dict[str, str] | None = None
        ) -> ElectionSystem:
            return make(broker_url, *roles, env=env)

        yield make_default


@pytest.fixture
def system(make_system: object) -> ElectionSystem:
    """A provisioned system with the bridge and both workers running (Redis broker)."""
    return make_system(REDIS_BROKER, "bridge", "logger", "recorder")  # type: ignore[operator]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the tests reported (fault table, fuzz counts), and keep it in a file."""
    if not SECTIONS:
        return
    out = []
    for title, lines in SECTIONS.items():
        terminalreporter.section(title)
        out.append(f"== {title}")
        for line in lines:
            terminalreporter.write_line(line)
            out.append(line)
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text("\n".join(out) + "\n")
