"""End to end, all real: after machines vote through the bridge and both workers (two
Dramatiq worker processes each) with a checkpointer and a web process running,
``/metrics`` counts exactly the answers the machines were given, one latency per answer,
the actors' messages, and a live instance for every process (each worker process its own)."""

from __future__ import annotations

import pytest

from election.local.emulator import free_port
from election.storage.heartbeats import live_instances
from tests.support.processes import Service, election_command, wait_for
from tests.support.scrape import SampleKey, get, samples
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e

VOTES = 12
OUTCOMES = {"A vote was recorded successfully": "recorded", "Already voted": "already_voted"}
PROCESSES = {"bridge": 1, "logger": 2, "recorder": 2, "checkpointer": 1, "web": 1}


def test_metrics_count_every_answer_given_and_heartbeats_show_every_process(
    make_system: object,
) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        "redis://127.0.0.1:6379/0",
        "bridge",
        "logger",
        "recorder",
        "checkpointer",
        env={"WORKER_PROCESSES": "2"},
    )
    port = free_port()
    web = Service("web", election_command("web"), {**system.env, "PORT": str(port)}, system.log_dir)
    web.start()
    base = f"http://127.0.0.1:{port}"
    try:
        run = system.machine(
            "--election-id", "31", "--machine-id", "3", "--votes", str(VOTES),
            "--voters", "6", "--interval", "0", "--seed", "3",
        )  # fmt: skip
        told: dict[str, int] = {}
        for _, _, said in run.votes:
            told[OUTCOMES[said]] = told.get(OUTCOMES[said], 0) + 1
        assert sum(told.values()) == VOTES and told.get("already_voted"), run.stdout

        def answers() -> dict[SampleKey, float] | None:
            try:
                status, text = get(base + "/metrics")
            except OSError:
                return None  # not listening yet
            found = samples(text) if status == 200 else {}
            counted = sum(v for (n, _), v in found.items() if n == "election_answers_total")
            return found if counted == VOTES else None

        found = wait_for(answers, 30, f"/metrics to count {VOTES} answers")
        assert isinstance(found, dict)
        by_outcome: dict[str, float] = {}
        latencies = 0.0
        for (name, labels), value in found.items():
            if name == "election_answers_total":
                outcome = dict(labels)["outcome"]
                by_outcome[outcome] = by_outcome.get(outcome, 0) + value
            if name == "election_answer_latency_seconds_count":
                latencies += value
        assert by_outcome == told
        assert latencies == VOTES
        for actor in ("dedup_votes", "record_votes"):
            key = ("election_actor_messages_total", (("actor", actor), ("result", "processed")))
            assert found.get(key, 0) > 0, actor

        def every_process() -> bool:
            _, text = get(base + "/metrics")
            live = {
                dict(labels)["kind"]: value
                for (name, labels), value in samples(text).items()
                if name == "election_process_instances"
            }
            return live == PROCESSES

        wait_for(every_process, 20, f"live instances {PROCESSES}")
        workers = [i for i in live_instances(system.redis, system.name) if i.kind == "logger"]
        assert len({(i.host, i.pid) for i in workers}) == 2  # each worker process beats
    finally:
        web.stop()
