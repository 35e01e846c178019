"""How long the results page takes to show a vote after its ``successful`` answer.

The whole system runs as ``make up`` runs it (every Procfile process under honcho, on an
emulator of the run's own and a throwaway namespace), with one election declared and
open. Headless Chromium keeps its results page open while M machines vote; the page
notes, by a MutationObserver on its total, when each total first appeared. Each machine's
``recorded`` lines are timed as they are printed. The k-th answer in time is shown once
the page's total reaches k: its lag is that moment less the answer's. Browser and
machines run on this host, so both read one clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.browser import chromium
from election.local.emulator import free_port
from election.local.stack import Stack, election_command, local_environment

ELECTION = "9001"
MANIFEST = f"""\
# election bench-page's election: no roll, so every drawn voter may vote once.
id = "{ELECTION}"
title = "Page lag"
choices = ["One", "Two", "Three"]
"""
RECORDED = "A vote was recorded successfully"
#: Seconds the page may take to catch up with the last answer before the run fails.
CATCH_UP_S = 30.0
#: Records, in the page, when each total was first shown (ms since the epoch).
OBSERVE = """
window.__totals = [[Date.now(), Number(document.getElementById('total').textContent)]];
new MutationObserver(() => {
  window.__totals.push([Date.now(), Number(document.getElementById('total').textContent)]);
}).observe(document.getElementById('total'), {childList: true, characterData: true, subtree: true});
"""


@dataclass(frozen=True)
class PageLag:
    """The lags of one run, in seconds, in answer order, and how many votes were answered
    ``successful`` (each should have been shown)."""

    lags: list[float]
    answered: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def lines(self) -> list[str]:
        """The figures for people."""
        if not self.lags:
            return ["no vote was recorded"]
        return [
            f"votes answered successful: {self.answered}, shown on the page: {len(self.lags)}",
            f"lag from a successful answer to the results page showing it: "
            f"p50 {self.quantile(0.5) * 1000:.0f} ms, p95 {self.quantile(0.95) * 1000:.0f} ms, "
            f"max {max(self.lags) * 1000:.0f} ms",
        ]


def lags(answers: list[float], shown: list[tuple[float, int]]) -> list[float]:
    """For the k-th answer (in time), the first moment a total of at least k was shown,
    less the answer's moment. Pure: times in seconds."""
    lag: list[float] = []
    for k, answered in enumerate(sorted(answers), start=1):
        when = next((at for at, total in shown if total >= k), None)
        if when is not None:
            lag.append(max(0.0, when - answered))
    return lag


def _machine(env: dict[str, str], machine: int, votes: int, interval: float) -> list[float]:
    """Run one machine; the moment each ``recorded`` line was printed."""
    args = ["machine", "--election-id", ELECTION, "--machine-id", str(machine)]
    args += ["--votes", str(votes), "--interval", str(interval), "--voters", "100000000"]
    times: list[float] = []
    with subprocess.Popen(
        election_command(*args), env=env, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if RECORDED in line and " receipt " in line:  # a vote's line, not the summary
                times.append(time.time())
    return times


def measure(machines: int, votes: int, interval: float, say: Callable[[str], None]) -> PageLag:
    """Run the system and the page, vote, and return the lags."""
    environ = {**os.environ, "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}"}
    environ["PORT"] = str(free_port())
    local = local_environment(environ, "pagelag")
    with tempfile.TemporaryDirectory(prefix="bench-page-") as workdir:
        stack = Stack(local, Path(workdir), say)
        try:
            stack.start()
            manifest = Path(workdir) / "election.toml"
            manifest.write_text(MANIFEST)
            stack.run("create", str(manifest))
            stack.run("open", ELECTION)
            return _watch(stack, machines, votes, interval, say)
        finally:
            stack.stop()
            stack.drop_throwaway()


def _watch(
    stack: Stack, machines: int, votes: int, interval: float, say: Callable[[str], None]
) -> PageLag:
    with chromium() as driver:
        driver.get(f"{stack.local.page}elections/{ELECTION}")
        deadline = time.monotonic() + CATCH_UP_S
        while "live" not in driver.find_element("id", "live-status").text:
            if time.monotonic() > deadline:
                raise RuntimeError("the results page did not connect its live stream")
            time.sleep(0.05)
        driver.execute_script(OBSERVE)
        say(f"{machines} machines, {votes} votes each, one per {interval} s")
        answers: list[float] = []
        lock = threading.Lock()

        def run(machine: int) -> None:
            times = _machine(stack.local.env, machine, votes, interval)
            with lock:
                answers.extend(times)

        threads = [threading.Thread(target=run, args=(m,)) for m in range(1, machines + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deadline = time.monotonic() + CATCH_UP_S
        while True:
            shown = [
                (at / 1000, int(total))
                for at, total in driver.execute_script("return window.__totals")
            ]
            if (shown and shown[-1][1] >= len(answers)) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    return PageLag(lags(answers, shown), len(answers))


def main(machines: int, votes: int, interval: float) -> int:
    """``election bench-page``: print the figures; 0, or 1 if some vote was never shown."""
    result = measure(
        machines, votes, interval, lambda text: print(f"bench-page: {text}", file=sys.stderr)
    )
    print("\n".join(result.lines()))
    return 0 if result.lags and len(result.lags) == result.answered else 1
