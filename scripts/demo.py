"""The whole system end to end on this machine (``make demo``).

Starts the Pub/Sub emulator if nothing listens on PUBSUB_EMULATOR_HOST (default
127.0.0.1:8085), provisions, runs the Procfile's processes with honcho (``web`` among
them; its address is printed), then runs one election through its life: it writes a
manifest with three named choices and a roll of ten voters, creates the election (a
machine started now stops: not open yet), opens it, runs three voting machines at once
with voter IDs drawn from 1..12 (so repeat voters get ``Already voted`` and voters 11 and
12, not on the roll, are refused), closes it (a machine started now stops: closed),
prints the sealed result, checks that the web page's results are the CLI's, and stops
everything it started (``election.local.stack``, shared with ``make up``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from election.cli.web import DEFAULT_PORT  # noqa: E402
from election.domain.ed25519 import load_private_key, public_key_text  # noqa: E402
from election.local.emulator import EmulatorError, free_port, is_listening  # noqa: E402
from election.local.stack import (  # noqa: E402
    LocalEnvironment,
    Stack,
    StackFailed,
    election_command,
    local_environment,
)

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
#: The Procfile processes the demo runs (``release`` runs once, before them); ``web``
#: first, so that honcho gives it ``$PORT``.
PROCESSES = ("web", "bridge", "logger", "recorder", "checkpointer")


class DemoFailed(RuntimeError):
    """A step of the demo failed; the message says which."""


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def election(*args: str) -> list[str]:
    return election_command(*args)


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


def check_web_results(local: LocalEnvironment) -> None:
    """The web process's ``/api/elections/E/results`` is ``election results E --json``."""
    url = f"{local.page}api/elections/{ELECTION_ID}/results"
    say(f"GET {url} (it must equal `election results {ELECTION_ID} --json`)")
    with urllib.request.urlopen(url, timeout=30) as response:
        page: Any = json.load(response)
    printed = subprocess.run(
        election("results", ELECTION_ID, "--json"),
        env=local.env,
        cwd=ROOT,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    if page != json.loads(printed):
        raise DemoFailed(f"the web page's results differ from the CLI's:\n{page}\n{printed}")
    say("the web page's results equal the CLI's")


def demo_environment() -> LocalEnvironment:
    """The demo's environment: a namespace of its own, and a free port for ``web`` when
    ``PORT`` is unset and something listens on the default one."""
    environ = dict(os.environ)
    if not environ.get("PORT") and is_listening("127.0.0.1", DEFAULT_PORT):
        environ["PORT"] = str(free_port())
    return local_environment(environ, "demo")


def main() -> int:
    local = demo_environment()
    stack = Stack(local, Path(tempfile.mkdtemp(prefix="election-demo-")), say, PROCESSES)
    try:
        stack.start()
        say(f"the web page, live while the demo runs: {local.page}")
        run_election(local.env, stack.workdir)
        check_web_results(local)
        return 0
    except (subprocess.CalledProcessError, StackFailed, EmulatorError, DemoFailed) as exc:
        say(f"failed: {exc}")
        return 1
    finally:
        stack.stop()
        if os.environ.get("DEMO_KEEP"):
            say(f"keeping the demo's schema and keys ({local.throwaway}; DEMO_KEEP is set)")
        else:
            stack.drop_throwaway()


if __name__ == "__main__":
    sys.exit(main())
