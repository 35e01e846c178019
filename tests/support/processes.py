"""Real service processes for tests: started with an environment, logs to a file, and
waited on by condition (a log line appearing), never by fixed sleeps."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> object:
    """Poll ``condition`` until it is truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Service:
    """One process of the system (bridge, worker ...), with its output in ``log_path``."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        """Start the process (appending to its log)."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        return self

    def log(self) -> str:
        """Everything the process has written so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def count(self, pattern: str) -> int:
        """How many times ``pattern`` (a regex) occurs in the log."""
        return len(re.findall(pattern, self.log()))

    def wait_for_log(self, pattern: str, timeout: float = 60.0, times: int = 1) -> None:
        """Wait until ``pattern`` occurs ``times`` times in the log."""

        def seen() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}"
                )
            return self.count(pattern) >= times

        wait_for(seen, timeout, f"{pattern!r} in {self.name}'s log")

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process group (dramatiq forks its workers)."""
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signum)

    def kill_tree(self) -> None:
        """SIGKILL the process and everything it started (Dramatiq runs in its own session)."""
        if self.process is None:
            return
        self.signal_tree(signal.SIGKILL)
        self.process.wait(10)

    def signal_tree(self, signum: int) -> None:
        """Send ``signum`` to the process and everything it started."""
        if self.process is None:
            return
        for pid in [*descendants(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def restart(self) -> Service:
        """Start the same command again (after a stop or a kill)."""
        return self.start()

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.process is None:
            return None
        if self.alive:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(10)
        code = self.process.returncode
        # Reap anything left in the group (dramatiq's forked children).
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        return code


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def election_command(*args: str) -> list[str]:
    """The ``election`` CLI as a subprocess command line."""
    return [sys.executable, "-m", "election", *args]


def run_election(
    args: Sequence[str],
    env: Mapping[str, str],
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run one ``election`` command to completion and capture its output."""
    return subprocess.run(
        election_command(*args),
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
