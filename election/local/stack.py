"""The whole system on this machine, for ``make up`` and ``make demo``: the Pub/Sub
emulator (started only when nothing listens on its address), provisioning (the Procfile's
``release``), throwaway secrets when none are set, the Procfile's processes under honcho,
waiting until they are ready, and stopping everything that was started.

One module for both scripts, so that the two ways of running the system locally cannot
drift apart.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config import load_settings
from election.cli.web import DEFAULT_PORT
from election.domain.ed25519 import load_private_key, new_private_key, public_key_text
from election.local.cleanup import drop_namespace
from election.local.emulator import Emulator, is_listening

ROOT = Path(__file__).resolve().parents[2]
#: The emulator's address unless ``PUBSUB_EMULATOR_HOST`` says another.
EMULATOR_ADDRESS = "127.0.0.1:8085"
#: Seconds the processes may take to say they are ready.
READY_TIMEOUT_S = 90.0
#: Seconds honcho may take to stop its processes before they are killed.
STOP_TIMEOUT_S = 60.0
#: Seconds provisioning (and any one ``election`` step) may take.
STEP_TIMEOUT_S = 120.0
#: What each service logs once it serves (counted in honcho's output); ``web`` is asked
#: over HTTP instead.
READY_LINES = {
    "bridge": "bridge.started",
    "logger": "Worker process is ready",
    "recorder": "Worker process is ready",
    "checkpointer": "checkpointer.started",
}
#: Secrets made for one run when the environment has none (``election keys``' forms).
THROWAWAY_SECRETS = ("VOTER_KEY", "RECORD_SIGNING_KEYS", "LOG_SIGNING_KEY", "OPERATOR_TOKEN")

HONCHO = (sys.executable, "-m", "honcho")

Say = Callable[[str], None]


class StackFailed(RuntimeError):
    """A step of starting the system failed; the message says which."""


def procfile_processes(path: Path = ROOT / "Procfile") -> list[str]:
    """The Procfile's process types without ``release`` (it runs once, before them),
    ``web`` first: honcho gives the first process ``$PORT`` itself, the others 100 more
    each."""
    names = [
        line.partition(":")[0].strip()
        for line in path.read_text().splitlines()
        if ":" in line and not line.lstrip().startswith("#")
    ]
    names = [name for name in names if name != "release"]
    return sorted(names, key=lambda name: name != "web")


def election_command(*args: str) -> list[str]:
    """``election ARGS`` with this interpreter (the virtualenv's)."""
    return [sys.executable, "-m", "election", *args]


@dataclass
class LocalEnvironment:
    """The processes' environment, and what of it this run made up."""

    env: dict[str, str]
    #: The run's own namespace (topic and schema), or ``None`` when the environment gave one.
    throwaway: str | None
    #: The secrets that were generated for this run.
    generated: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        """The web process's port."""
        return int(self.env["PORT"])

    @property
    def page(self) -> str:
        """The web page's address."""
        return f"http://127.0.0.1:{self.port}/"

    def log_public_key(self) -> str:
        """``LOG_PUBLIC_KEY`` for a machine: as set, else the log key's public half."""
        return self.env.get("LOG_PUBLIC_KEY") or public_key_text(
            load_private_key(self.env["LOG_SIGNING_KEY"])
        )


def local_environment(environ: Mapping[str, str], run_prefix: str) -> LocalEnvironment:
    """The environment for a local run, from ``environ``: the emulator's address, a
    readable log format, throwaway secrets for those unset, and a namespace and schema of
    the run's own (named ``run_prefix`` and random hex) unless ``ELECTION_NAMESPACE`` or
    ``ELECTION_TOPIC`` is set."""
    env = {
        **environ,
        "PUBSUB_EMULATOR_HOST": environ.get("PUBSUB_EMULATOR_HOST") or EMULATOR_ADDRESS,
        "PYTHONUNBUFFERED": "1",
        # The Procfile names the `election` command of this virtualenv.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}",
    }
    env.setdefault("GOOGLE_CLOUD_PROJECT", "election-local")
    env.setdefault("PORT", str(DEFAULT_PORT))
    # honcho pipes the services' output, which would make ``auto`` choose JSON; a person
    # reads this.
    env.setdefault("LOG_FORMAT", "console")
    makers: dict[str, Callable[[], str]] = {
        "VOTER_KEY": lambda: secrets.token_hex(32),
        "RECORD_SIGNING_KEYS": lambda: f"local={secrets.token_hex(32)}",
        "LOG_SIGNING_KEY": new_private_key,
        "OPERATOR_TOKEN": lambda: secrets.token_urlsafe(24),
    }
    generated = [name for name in THROWAWAY_SECRETS if not env.get(name, "").strip()]
    for name in generated:
        env[name] = makers[name]()
    throwaway = None
    if not (env.get("ELECTION_NAMESPACE") or env.get("ELECTION_TOPIC")):
        # The dedup store is sealed with the voter key: a new throwaway key must not meet
        # an earlier run's claims, so each run has its own namespace and schema.
        throwaway = f"{run_prefix}{secrets.token_hex(4)}"
        env["ELECTION_TOPIC"] = throwaway
        env.setdefault("DATABASE_SCHEMA", throwaway)
    return LocalEnvironment(env, throwaway, generated)


@dataclass
class Stack:
    """The emulator (when this run started it) and honcho's processes of one run."""

    local: LocalEnvironment
    workdir: Path
    say: Say
    processes: Sequence[str] = field(default_factory=procfile_processes)
    emulator: Emulator | None = None
    honcho: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """honcho's output: every process's lines."""
        return self.workdir / "procfile.log"

    def start(self) -> None:
        """Start the emulator if needed, provision, start the processes, wait for them."""
        self.start_emulator()
        self.say("provisioning (the Procfile's release: election provision)")
        self.run("provision")
        self.start_processes()

    def start_emulator(self) -> None:
        """Start an emulator on ``PUBSUB_EMULATOR_HOST`` unless one listens there."""
        host, _, port = self.local.env["PUBSUB_EMULATOR_HOST"].rpartition(":")
        if is_listening(host, int(port)):
            self.say(f"using the Pub/Sub emulator already on {host}:{port}")
            return
        self.say(f"starting the Pub/Sub emulator on {host}:{port}")
        self.emulator = Emulator(host, int(port), log_path=self.workdir / "emulator.log")
        self.emulator.start()

    def run(self, *args: str, timeout: float = STEP_TIMEOUT_S) -> None:
        """Run ``election ARGS`` in the run's environment; it must succeed."""
        try:
            done = subprocess.run(
                election_command(*args), env=self.local.env, cwd=ROOT, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise StackFailed(f"`election {' '.join(args)}` took over {timeout:.0f} s") from None
        if done.returncode != 0:
            raise StackFailed(f"`election {' '.join(args)}` exited with {done.returncode}")

    def start_processes(self) -> None:
        """Start the Procfile's processes under honcho and wait until each serves."""
        self.say(f"starting {', '.join(self.processes)} with honcho (log: {self.log_path})")
        with open(self.log_path, "wb") as log:
            self.honcho = subprocess.Popen(
                [*HONCHO, "start", "-f", "Procfile", "-p", str(self.local.port), *self.processes],
                env=self.local.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C at the terminal reaches this script alone,
                # which then stops honcho (and honcho its processes) in order.
                start_new_session=True,
            )
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until every service logged that it serves and ``web`` answers
        ``/healthz``; :class:`StackFailed` if honcho stops or time runs out."""
        needles: dict[str, int] = {}
        for name in self.processes:
            if name in READY_LINES:
                needles[READY_LINES[name]] = needles.get(READY_LINES[name], 0) + 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            logged = all(text.count(line) >= n for line, n in needles.items())
            if logged and ("web" not in self.processes or self.web_answers()):
                return
            if self.honcho is not None and self.honcho.poll() is not None:
                raise StackFailed(f"the Procfile processes stopped:\n{text[-3000:]}")
            time.sleep(0.2)
        raise StackFailed(f"processes not ready after {timeout:.0f} s; see {self.log_path}")

    def web_answers(self) -> bool:
        """Whether the web process answers ``/healthz`` with 200."""
        try:
            with urllib.request.urlopen(self.local.page + "healthz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def running(self) -> bool:
        """Whether honcho (so every process) still runs."""
        return self.honcho is not None and self.honcho.poll() is None

    def stop(self) -> None:
        """Stop honcho's processes, then the emulator if this run started it."""
        if self.honcho is not None:
            self.say("stopping the Procfile processes")
            if self.honcho.poll() is None:
                self.honcho.send_signal(signal.SIGTERM)  # honcho stops each process group
                try:
                    self.honcho.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    os.killpg(self.honcho.pid, signal.SIGKILL)
                    self.honcho.wait(STOP_TIMEOUT_S)
            self.honcho = None
        if self.emulator is not None:
            self.say("stopping the Pub/Sub emulator")
            self.emulator.stop()
            self.emulator = None

    def drop_throwaway(self) -> None:
        """Drop the run's own namespace (schema, Redis keys, queues), if it made one."""
        if self.local.throwaway is not None:
            self.say(f"removing the run's schema and keys ({self.local.throwaway})")
            drop_namespace(load_settings(self.local.env))
