"""``make up`` (``scripts/up.py``) as a person runs it: the printed page answers, the
printed vote command votes, and Ctrl-C stops every process it started and exits 0.

It gets a port for ``web`` and an emulator address of its own (nothing listens there, so
the script starts the emulator itself and must stop it), and no namespace or secrets, so
it makes throwaway ones and must drop them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from config import load_settings
from election.local.emulator import free_port, is_listening
from election.storage.models import open_database
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
#: Seconds the script may take to print its directions (a cold emulator included).
UP_TIMEOUT_S = 180
#: Seconds it may take to stop everything after Ctrl-C.
STOP_TIMEOUT_S = 90
#: Settings the run must make up itself.
UNSET = (
    "ELECTION_NAMESPACE",
    "ELECTION_TOPIC",
    "DATABASE_SCHEMA",
    "VOTER_KEY",
    "RECORD_SIGNING_KEYS",
    "RECORD_SIGNING_KEY_ID",
    "LOG_SIGNING_KEY",
    "LOG_PUBLIC_KEY",
    "OPERATOR_TOKEN",
)


class Output:
    """The script's output lines, read on a thread so that the pipe never fills."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def find(self, pattern: str) -> re.Match[str] | None:
        return re.search(pattern, self.text, re.MULTILINE)


def get(url: str) -> tuple[int, Any]:
    """Status and JSON of ``GET url`` (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError):
        return 0, None


def vote_once(line: str) -> subprocess.CompletedProcess[str]:
    """Run the printed vote command (``NAME=value ... election machine ...``) with only
    what it names, for one vote."""
    words = shlex.split(line)
    assignments = [w for w in words if re.fullmatch(r"[A-Z_]+=.*", w)]
    command = words[len(assignments) :]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    env.update(w.split("=", 1) for w in assignments)
    return subprocess.run(
        [*command, "--votes", "1", "--interval", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def schema_exists(schema: str) -> bool:
    database = open_database(load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}))
    try:
        with database.connection_context():
            cursor = database.execute_sql(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            )
            return cursor.fetchone() is not None
    finally:
        database.close_all()


def test_make_up_serves_the_page_votes_and_stops_everything_it_started_on_ctrl_c() -> None:
    port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(PORT=str(port), PUBSUB_EMULATOR_HOST=f"127.0.0.1:{emulator_port}")
    up = subprocess.Popen(
        [sys.executable, "scripts/up.py"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(up)
    try:
        wait_for(
            lambda: output.find(r"running; Ctrl-C stops everything") or up.poll() is not None,
            UP_TIMEOUT_S,
            "make up's directions",
        )
        assert up.poll() is None, output.text
        page = output.find(r"the page: (http://\S+/)$")
        assert page is not None and page.group(1) == f"http://127.0.0.1:{port}/", output.text
        assert output.find(r"operator console: \S+/operator  \(token: \S{20,}\)"), output.text
        base = page.group(1)
        wait_for(lambda: get(base + "readyz")[0] == 200, 60, "/readyz 200")
        status, elections = get(base + "api/elections")
        assert status == 200 and [(e["election"], e["state"]) for e in elections] == [("1", "open")]

        command = output.find(r"^    (\S+=.*election machine .*)$")
        assert command is not None, output.text
        voted = vote_once(command.group(1))
        assert voted.returncode == 0, voted.stdout + voted.stderr
        assert "A vote was recorded successfully: 1" in voted.stdout, voted.stdout
        schema = re.search(r"ELECTION_TOPIC=(\S+)", command.group(1))
        assert schema is not None and schema_exists(schema.group(1))

        started = psutil.Process(up.pid).children(recursive=True)
        assert len(started) >= 6, started  # the emulator, honcho and its five processes
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(STOP_TIMEOUT_S)
    assert code == 0, output.text
    _, alive = psutil.wait_procs(started, timeout=10)
    assert alive == [], alive
    assert not is_listening("127.0.0.1", port)
    assert not is_listening("127.0.0.1", emulator_port)
    assert not schema_exists(schema.group(1)), "the throwaway schema was not dropped"
