"""Smoke runs of ``election bench`` (a few votes), so the command keeps working.

Benchmarks are not tests: nothing here asserts on speed, only that the command runs the
floor and the system, gets every answer and reports its figures.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.support.processes import run_election

pytestmark = pytest.mark.e2e


def bench_env(emulator_host: str) -> dict[str, str]:
    return {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": emulator_host,
        "GOOGLE_CLOUD_PROJECT": "election-test",
    }


def test_bench_measures_the_floor_and_the_system_and_prints_json(emulator_host: str) -> None:
    done = run_election(
        [
            "bench",
            "--machines",
            "3",
            "--votes",
            "30",
            "--warmup",
            "10",
            "--emulator-warmup",
            "500",
            "--json",
        ],
        bench_env(emulator_host),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    floor, system = report["phases"]
    assert floor["name"].startswith("floor") and system["name"].startswith("system")
    for phase in (floor, system):
        assert phase["answered"] == 30 and phase["timed_out"] == 0
        assert phase["latency_ms"]["p50"] > 0
    assert system["outcomes"] == {"successful": 30}
    assert {"bridge", "logger", "recorder", "emulator"} <= set(system["cpu_seconds"])
    assert system["service_cpu_ms_per_vote"] > 0
    assert "[" in done.stderr  # the progress bar
    assert "emulator warm-up" in done.stderr


def test_bench_prints_a_table_with_ratios_to_the_floor(emulator_host: str) -> None:
    done = run_election(
        ["bench", "--machines", "2", "--votes", "10", "--warmup", "0", "--emulator-warmup", "0"],
        bench_env(emulator_host),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "votes/s" in done.stdout
    assert "system (logger=1 recorder=1) / floor: throughput" in done.stdout


def test_bench_storage_mode_reports_bytes_per_voter_and_per_vote(emulator_host: str) -> None:
    done = run_election(
        ["bench", "--storage", "--voters", "5000", "--ballots", "2000", "--json"],
        bench_env(emulator_host),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    storage = json.loads(done.stdout)["storage"]
    assert storage["voters"] == 5000 and storage["ballots"] == 2000
    assert 0 < storage["redis_bytes_per_voter"] <= storage["redis_bytes_per_voter_with_links"]
    assert storage["postgres_bytes_per_vote"] > 0
