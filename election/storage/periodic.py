"""A daemon thread that does one Redis chore every few seconds, for as long as a process
runs: its heartbeat, its counters' flush. A chore that fails (Redis restarting) is logged
once per outage and tried again at the next interval; the process's own work never waits
on it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis
import structlog

log = structlog.get_logger(__name__)


class Periodic:
    """Runs ``chore(client)`` every ``interval_s`` on a daemon thread until stopped; with
    ``last_run``, once more when stopped (what was counted meanwhile is not dropped).
    ``name`` names the thread and the log events (``<name>.failed``, ``<name>.resumed``)."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], redis.Redis],
        chore: Callable[[redis.Redis], object],
        interval_s: float,
        *,
        last_run: bool = False,
    ) -> None:
        self.name = name
        self.connect = connect
        self.chore = chore
        self.interval_s = interval_s
        self.last_run = last_run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop (after the last run, if asked for), waiting at most ``interval_s`` plus
        ``timeout_s``."""
        self._stop.set()
        self._thread.join(timeout=self.interval_s + timeout_s)

    def _run(self) -> None:
        client = self.connect()
        try:
            self._loop(client)
        finally:
            client.close()

    def _loop(self, client: redis.Redis) -> None:
        failing = False
        first = True
        while True:
            stopping = False if first else self._stop.wait(self.interval_s)
            first = False
            if stopping and not self.last_run:
                return
            try:
                self.chore(client)
                if failing:
                    log.info(f"{self.name}.resumed")
                failing = False
            except redis.RedisError as exc:
                if not failing:
                    log.warning(f"{self.name}.failed", error=str(exc))
                failing = True
            except Exception:  # a bug: said once per outage, and the chore goes on
                if not failing:
                    log.exception(f"{self.name}.failed")
                failing = True
            if stopping:
                return
