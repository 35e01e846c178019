"""The processes of a benchmark run, and the CPU time each kind of process spends.

Service processes are started with the Procfile's own commands (as a Heroku-like platform
or honcho would), each in a session of its own, with their output in a log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import psutil
from honcho.environ import parse_procfile

from election.domain.errors import ProcessFailed

ROOT = Path(__file__).resolve().parents[1]

#: A log line each kind of process writes once it is ready.
READY = {
    "bridge": "bridge.started",
    "logger": "Worker process is ready",
    "recorder": "Worker process is ready",
    "checkpointer": "checkpointer.started",
    "relay": "relay.started",
}


def procfile_commands(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """Process type → command, as the Procfile declares them."""
    return dict(parse_procfile(path.read_text()).processes)


class Fleet:
    """Started processes by kind; stopped together."""

    def __init__(self, env: Mapping[str, str], log_dir: Path) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, kind: str, command: str, count: int = 1) -> None:
        """Start ``count`` processes of ``kind`` running the shell ``command``."""
        for n in range(count):
            log = self.log_dir / f"{kind}.{len(self.processes)}.{n}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    command,
                    shell=True,
                    env=self.env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self.processes.append((kind, proc, log))

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every process has logged that it is ready."""
        deadline = time.monotonic() + timeout
        for kind, proc, log in self.processes:
            needle = READY[kind.split(":")[0]]
            while needle not in log.read_text(errors="replace"):
                if proc.poll() is not None:
                    raise ProcessFailed(f"{kind} exited: {log.read_text(errors='replace')[-2000:]}")
                if time.monotonic() > deadline:
                    raise ProcessFailed(f"{kind} not ready after {timeout:.0f} s; see {log}")
                time.sleep(0.1)

    def pids(self) -> dict[str, list[int]]:
        """Process IDs by kind, the forked children (Dramatiq's workers) included."""
        found: dict[str, list[int]] = {}
        for kind, proc, _ in self.processes:
            found.setdefault(kind, []).extend(_tree(proc.pid))
        return found

    def stop(self, timeout: float = 40.0) -> None:
        """SIGTERM every process, then SIGKILL what is left."""
        for _, proc, _ in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc, _ in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.processes = []


def _tree(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds spent so far, by process ID (vanished ones left out)."""
    spent = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        spent[pid] = times.user + times.system
    return spent


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings by the processes alive at the second."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def named_processes(*names: str, cmdline_contains: str | None = None) -> list[int]:
    """PIDs of running processes by executable name (or a word of their command line)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        name = proc.info["name"] or ""
        cmdline = " ".join(proc.info["cmdline"] or [])
        if name in names or (cmdline_contains and cmdline_contains in cmdline):
            found.append(proc.pid)
    return found
