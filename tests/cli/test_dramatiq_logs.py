"""Dramatiq's main and worker processes, run through ``actors.dramatiq_cli``, write one log
format: every line is a JSON object, each record once, pika's INFO chatter hidden and task
messages redacted.

The actors module is a stub (Dramatiq's in-memory broker), so no server is needed; its
middleware configures logging after boot as ``actors.broker.LoggingSetup`` does.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from actors.dramatiq_cli import MODULE
from actors.worker import dramatiq_command
from config import load_settings
from tests.support.processes import Service, wait_for

PROCESSES = 2
VOTER_ARG = "eyJ2b3Rlcl9JRCI6IDQ3MTF9"
STUB_ACTORS = f"""
import logging
import warnings

import dramatiq
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

from config import load_settings
from election.logs import configure_from_settings, own_stderr


class LoggingSetup(Middleware):
    def after_process_boot(self, broker):
        configure_from_settings(load_settings(), process="worker[stub]", stream=own_stderr())
        logging.getLogger("pika.connection").info("Created channel=1")
        logging.getLogger("pika.connection").warning("pika warned")
        message = Message("q", "dedup_votes", ({VOTER_ARG!r},), {{}}, {{}})
        logging.getLogger("dramatiq.worker").error("Failed to process message %s.", message)
        warnings.warn("stub warning", UserWarning, stacklevel=1)


dramatiq.set_broker(StubBroker(middleware=[LoggingSetup()]))


@dramatiq.actor
def noop():
    pass
"""


def test_dramatiq_main_and_worker_processes_write_only_our_json_lines(tmp_path: Path) -> None:
    (tmp_path / "stub_actors.py").write_text(STUB_ACTORS)
    argv = [sys.executable, "-m", MODULE, "stub_actors", "--path", str(tmp_path)]
    argv += ["--processes", str(PROCESSES), "--threads", "1"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LOG_FORMAT": "auto"}
    env["GOOGLE_CLOUD_PROJECT"] = "election-test"
    worker = Service("dramatiq", argv, env, tmp_path).start()
    assert worker.process is not None
    try:
        worker.wait_for_log("Worker process is ready for action", timeout=60, times=PROCESSES)
        worker.process.send_signal(signal.SIGTERM)  # the main process only, as run_worker does
        wait_for(lambda: not worker.alive, 60, "Dramatiq to stop")
    finally:
        worker.kill_tree()
    assert worker.process.returncode == 0, worker.log()
    lines = [json.loads(line) for line in worker.log().splitlines()]
    events = [(line["process"], line["event"]) for line in lines]
    assert events.count(("worker-main[all]", "Dramatiq '2.2.1' is booting up.")) == 1
    for event in (
        "Worker process is ready for action.",
        "pika warned",
        "Worker has been shut down.",
    ):
        assert events.count(("worker[stub]", event)) == PROCESSES, events
    assert sum("stub warning" in str(event) for _, event in events) == PROCESSES
    assert sum("<dedup_votes message" in str(event) for _, event in events) == PROCESSES
    assert "Created channel" not in worker.log() and VOTER_ARG not in worker.log()


def test_the_worker_command_runs_dramatiq_through_the_launcher() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "election-test"})
    assert dramatiq_command(settings, "logger", 1, 1)[1:4] == ["-m", MODULE, "actors.entry:broker"]
