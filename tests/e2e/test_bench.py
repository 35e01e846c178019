"""Smoke runs of ``election bench`` (a few votes), so the command keeps working.

Benchmarks are not tests: nothing here asserts on speed, only that the command runs the
floor and the system, gets every answer and reports its figures.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.support.processes import run_election

pytestmark = pytest.mark.e2e


def bench_env(emulator_host: str) -> dict[str, str]:
    return {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": emulator_host,
        "GOOGLE_CLOUD_PROJECT": "election-test",
    }


def small_bench(
    emulator_host: str,
    *flags: str,
    machines: int = 2,
    votes: int = 10,
    warmup: int = 0,
    emulator_warmup: int = 0,
) -> subprocess.CompletedProcess[str]:
    """``election bench`` with a few votes, and ``flags``."""
    return run_election(
        [
            "bench",
            *("--machines", str(machines), "--votes", str(votes), "--warmup", str(warmup)),
            *("--emulator-warmup", str(emulator_warmup), *flags),
        ],
        bench_env(emulator_host),
        timeout=300,
    )


def test_bench_measures_the_floor_and_the_system_and_prints_json(emulator_host: str) -> None:
    done = small_bench(
        emulator_host, "--json", machines=3, votes=30, warmup=10, emulator_warmup=500
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    floor, system = report["phases"]
    assert floor["name"].startswith("floor") and system["name"].startswith("system")
    for phase in (floor, system):
        assert phase["answered"] == 30 and phase["timed_out"] == 0
        assert phase["latency_ms"]["p50"] > 0
        parts = phase["latency_parts_ms"]["p50"]
        assert parts["until_answer_published"] > 0 and parts["answer_to_machine"] > 0
    assert system["outcomes"] == {"successful": 30}
    assert {"bridge", "logger", "recorder", "emulator"} <= set(system["cpu_seconds"])
    assert system["service_cpu_ms_per_vote"] > 0
    assert "[" in done.stderr  # the progress bar
    assert "emulator warm-up" in done.stderr


def test_bench_prints_a_table_with_ratios_to_the_floor(emulator_host: str) -> None:
    done = small_bench(emulator_host)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "votes/s" in done.stdout
    assert "system (logger=1 recorder=1) / floor: throughput" in done.stdout


def test_bench_compares_best_and_median_of_several_fresh_starts(emulator_host: str) -> None:
    done = small_bench(emulator_host, "--starts", "2", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert [(p["kind"].split()[0], p["start"]) for p in report["phases"]] == [
        ("floor", 1),
        ("system", 1),
        ("system", 2),  # every other start runs in reverse
        ("floor", 2),
    ]
    assert all(p["answered"] == 10 for p in report["phases"])
    assert [s["starts"] for s in report["summary"]] == [2, 2]
    assert [c["view"] for c in report["comparisons"]] == ["best", "median"]
    assert all(c["ratio"]["throughput"] > 0 for c in report["comparisons"])


def test_bench_storage_mode_reports_bytes_per_voter_and_per_vote(emulator_host: str) -> None:
    done = run_election(
        ["bench", "--storage", "--voters", "5000", "--ballots", "2000", "--json"],
        bench_env(emulator_host),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    storage = json.loads(done.stdout)["storage"]
    assert storage["voters"] == 5000 and storage["ballots"] == 2000
    assert storage["redis_bytes_per_voter"] > 0
    assert storage["postgres_bytes_per_vote"] > 0
