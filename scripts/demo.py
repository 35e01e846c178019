"""The whole system end to end on this machine (``make demo``).

Starts the Pub/Sub emulator if nothing listens on 127.0.0.1:8085, provisions, runs the
Procfile's processes with honcho, then runs one election through its life: it writes a
manifest with three named choices and a roll of ten voters, creates the election (a
machine started now stops: not open yet), opens it, runs three voting machines at once
with voter IDs drawn from 1..12 (so repeat voters get ``Already voted`` and voters 11 and
12, not on the roll, are refused), closes it (a machine started now stops: closed),
prints the sealed result, and stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import load_settings  # noqa: E402
from election.domain.ed25519 import (  # noqa: E402
    load_private_key,
    new_private_key,
    public_key_text,
)
from election.local.cleanup import drop_namespace  # noqa: E402
from election.local.emulator import Emulator, is_listening  # noqa: E402

EMULATOR_HOST, EMULATOR_PORT = "127.0.0.1", 8085
MACHINES = 3
VOTES = int(os.environ.get("DEMO_VOTES", "10"))
VOTERS = int(os.environ.get("DEMO_VOTERS", "12"))
#: The demo's election: three named choices, and a roll of voters 1..ROLL (so the voters
#: above it, up to VOTERS, are not on it).
ELECTION_ID = "7001"
ROLL = 10
MANIFEST = f"""\
# The demo's election (scripts/demo.py).
id = "{ELECTION_ID}"
title = "Demo: a name for the new park"
choices = ["Oak Park", "River Park", "Hill Park"]
roll = "roll.txt"
"""
READY_TIMEOUT_S = 90
#: The Procfile processes the demo runs (``release`` runs once, before them).
PROCESSES = ("bridge", "logger", "recorder", "checkpointer")


class DemoFailed(RuntimeError):
    """A step of the demo failed; the message says which."""


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def election(*args: str) -> list[str]:
    return [sys.executable, "-m", "election", *args]


def wait_for_log(path: Path, needles: dict[str, int], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if all(text.count(n) >= k for n, k in needles.items()):
            return
        if proc.poll() is not None:
            raise DemoFailed(f"the Procfile processes stopped:\n{text[-3000:]}")
        time.sleep(0.2)
    raise DemoFailed(f"processes not ready after {READY_TIMEOUT_S} s; see {path}")


def run_machine(
    machine_id: str, env: dict[str, str], election_id: str, receipts: list[str] | None = None
) -> int:
    """Run one voting machine, its lines prefixed with its ID; its exit code. The receipts
    it prints go into ``receipts``."""
    proc = subprocess.Popen(
        election(
            "machine",
            "--election-id",
            election_id,
            "--machine-id",
            machine_id,
            "--votes",
            str(VOTES),
            "--voters",
            str(VOTERS),
            "--interval",
            "0.3",
        ),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"machine {machine_id} | {line.rstrip()}", flush=True)
        _, found, receipt = line.rstrip().rpartition("  receipt ")
        if found and receipts is not None:
            receipts.append(receipt)
    return proc.wait()


def run(env: dict[str, str], *args: str, timeout: float = 120) -> None:
    """Run ``election ARGS`` for the demo, its output as it is; it must succeed."""
    say(f"$ election {' '.join(args)}")
    subprocess.run(election(*args), env=env, cwd=ROOT, check=True, timeout=timeout)


def write_manifest(workdir: Path) -> Path:
    """The demo election's manifest and roll (voters 1..ROLL), in ``workdir``."""
    (workdir / "roll.txt").write_text("".join(f"{voter}\n" for voter in range(1, ROLL + 1)))
    manifest = workdir / "election.toml"
    manifest.write_text(MANIFEST)
    return manifest


def demo_environment() -> tuple[dict[str, str], str]:
    """The environment of the demo's processes, and the run's own namespace."""
    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": f"{EMULATOR_HOST}:{EMULATOR_PORT}",
        "PYTHONUNBUFFERED": "1",
        # The Procfile names the `election` command of this virtualenv.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.setdefault("GOOGLE_CLOUD_PROJECT", "election-local")
    # honcho pipes the services' output, which would make ``auto`` choose JSON; a person
    # reads this.
    env.setdefault("LOG_FORMAT", "console")
    # Secrets come from the environment; for a demo without them, make throwaway ones.
    env.setdefault("VOTER_KEY", secrets.token_hex(32))
    env.setdefault("RECORD_SIGNING_KEYS", f"demo={secrets.token_hex(32)}")
    env.setdefault("LOG_SIGNING_KEY", new_private_key())
    # A namespace and schema of its own per run: the dedup store is sealed with the voter
    # key, so a new throwaway key must not meet an earlier run's claims.
    run_name = f"demo{secrets.token_hex(4)}"
    env.setdefault("ELECTION_TOPIC", run_name)
    env.setdefault("DATABASE_SCHEMA", run_name)
    return env, run_name


def start_procfile(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start the Procfile's service processes under honcho, output to ``log_path``."""
    say(f"starting the Procfile processes with honcho (log: {log_path})")
    with open(log_path, "wb") as log:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", *PROCESSES],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready = {"bridge.started": 1, "Worker process is ready": 2, "checkpointer.started": 1}
    wait_for_log(log_path, ready, honcho)
    return honcho


def stop_procfile(honcho: subprocess.Popen[bytes]) -> None:
    """Stop honcho and the processes it runs (SIGKILL after a minute)."""
    say("stopping the Procfile processes")
    if honcho.poll() is None:
        honcho.send_signal(signal.SIGTERM)  # honcho stops each process group
        try:
            honcho.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)


def run_election(env: dict[str, str], workdir: Path) -> None:
    """One election through its life: create, open, vote, close, the sealed result."""
    run(env, "create", str(write_manifest(workdir)))
    say("a machine started before the election opens stops at once:")
    refused_machine(env, "0")
    run(env, "open", ELECTION_ID)
    receipts = vote(env, ELECTION_ID)
    run(env, "close", ELECTION_ID)
    say("a machine started after the close stops at once:")
    refused_machine(env, "0")
    run(env, "results", ELECTION_ID, timeout=60)
    if receipts:
        check_receipt(env, workdir, receipts[0])
    run(env, "audit", "--election-id", ELECTION_ID, timeout=60)


def check_receipt(env: dict[str, str], workdir: Path, receipt: str) -> None:
    """A voter's receipt proved from the public record's files alone, then checked
    offline with the public key: what anyone can do after the close."""
    bulletin = workdir / "bulletin"
    run(env, "bulletin", ELECTION_ID, "--out", str(bulletin))
    proof = workdir / "proof.json"
    say(
        f"$ election proof --election-id {ELECTION_ID} --receipt {receipt} --bulletin ... > {proof}"
    )
    with proof.open("w") as out:
        subprocess.run(
            election(
                "proof",
                "--election-id",
                ELECTION_ID,
                "--receipt",
                receipt,
                "--bulletin",
                str(bulletin),
            ),
            env=env,
            cwd=ROOT,
            check=True,
            timeout=60,
            stdout=out,
        )
    key = public_key_text(load_private_key(env["LOG_SIGNING_KEY"]))
    run(env, "verify", str(proof), "--public-key", key, timeout=60)


def refused_machine(env: dict[str, str], machine_id: str) -> None:
    """Run a machine that stops without voting (the election is not open)."""
    if run_machine(machine_id, env, ELECTION_ID) == 0:
        say(f"machine {machine_id} got no ballot in time and voted as on an undeclared election")


def vote(env: dict[str, str], election_id: str) -> list[str]:
    """Run the machines at once in the election; the receipts they printed."""
    say(
        f"running {MACHINES} voting machines in election {election_id}, {VOTES} votes each, "
        f"voters drawn from 1..{VOTERS} (the roll has 1..{ROLL})"
    )
    receipts: list[str] = []  # list.append is atomic: the threads share it
    threads = [
        threading.Thread(target=run_machine, args=(str(n), env, election_id, receipts))
        for n in range(1, MACHINES + 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return receipts


def main() -> int:
    env, run_name = demo_environment()
    workdir = Path(tempfile.mkdtemp(prefix="election-demo-"))
    emulator: Emulator | None = None
    honcho: subprocess.Popen[bytes] | None = None
    try:
        if is_listening(EMULATOR_HOST, EMULATOR_PORT):
            say(f"using the Pub/Sub emulator already on {EMULATOR_HOST}:{EMULATOR_PORT}")
        else:
            say("starting the Pub/Sub emulator")
            emulator = Emulator(EMULATOR_HOST, EMULATOR_PORT, log_path=workdir / "emulator.log")
            emulator.start()
        say("provisioning (release)")
        subprocess.run(election("provision"), env=env, cwd=ROOT, check=True, timeout=120)
        honcho = start_procfile(env, workdir / "procfile.log")
        run_election(env, workdir)
        return 0
    except (subprocess.CalledProcessError, DemoFailed) as exc:
        say(f"failed: {exc}")
        return 1
    finally:
        if honcho is not None:
            stop_procfile(honcho)
        if emulator is not None:
            say("stopping the Pub/Sub emulator")
            emulator.stop()
        if env["ELECTION_TOPIC"] == run_name and not os.environ.get("DEMO_KEEP"):
            say(f"removing the demo's schema and keys ({run_name}; DEMO_KEEP=1 keeps them)")
            drop_namespace(load_settings(env))


if __name__ == "__main__":
    sys.exit(main())
