"""The periodic Redis chore: runs at once and then every interval, says an outage once and
its end once, and runs a last time at stop only when asked to."""

from __future__ import annotations

import threading
from typing import Any, cast

import redis
from structlog.testing import capture_logs

from election.storage.periodic import Periodic
from tests.support.processes import wait_for


class Client:
    """Stands in for a Redis client: the chores here never use it; it is closed at stop."""

    closed = False

    def close(self) -> None:
        self.closed = True


def test_an_outage_is_logged_once_and_its_end_once() -> None:
    outcomes = iter([None, "fail", "fail", "fail", None, None])
    runs: list[object] = []

    def chore(client: redis.Redis) -> None:
        outcome = next(outcomes, None)
        runs.append(outcome)
        if outcome == "fail":
            raise redis.ConnectionError("refused")

    with capture_logs() as logs:
        periodic = Periodic("chore", lambda: cast(redis.Redis, Client()), chore, 0.01)
        periodic.start()
        wait_for(lambda: len(runs) >= 6, 10, "six runs")
        periodic.stop()
    events = [entry["event"] for entry in logs]
    assert events.count("chore.failed") == 1 and events.count("chore.resumed") == 1


def test_the_last_run_at_stop_happens_only_when_asked_for() -> None:
    for last_run, extra in ((False, 0), (True, 1)):
        runs: list[Any] = []
        first = threading.Event()

        def chore(
            client: redis.Redis, runs: list[Any] = runs, first: threading.Event = first
        ) -> None:
            runs.append(client)
            first.set()

        periodic = Periodic("c", lambda: cast(redis.Redis, Client()), chore, 60, last_run=last_run)
        periodic.start()
        assert first.wait(10)  # the first run is at once, not after the interval
        periodic.stop(timeout_s=5)
        assert len(runs) == 1 + extra


def test_a_chore_that_breaks_otherwise_is_logged_once_and_goes_on() -> None:
    runs: list[int] = []

    def chore(client: redis.Redis) -> None:
        runs.append(1)
        raise ValueError("a bug")

    client = Client()
    with capture_logs() as logs:
        periodic = Periodic("chore", lambda: cast(redis.Redis, client), chore, 0.01)
        periodic.start()
        wait_for(lambda: len(runs) >= 3, 10, "three runs")
        periodic.stop()
    assert [e["event"] for e in logs].count("chore.failed") == 1
    assert client.closed
