"""The whole system on this machine until Ctrl-C (``make up``).

Starts the Pub/Sub emulator if nothing listens on ``PUBSUB_EMULATOR_HOST`` (default
127.0.0.1:8085), provisions, makes throwaway secrets for those the environment lacks, runs
every Procfile process (``web`` on ``$PORT``, default 8000) with honcho, declares and
opens a sample election, and prints the page's address, the operator's token and the
command that votes from another terminal. Ctrl-C or SIGTERM stops everything it started;
a namespace it made for the run is dropped (``ELECTION_NAMESPACE`` or ``ELECTION_TOPIC``
set: that one is used and kept).
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from election.local.emulator import EmulatorError  # noqa: E402
from election.local.stack import (  # noqa: E402
    LocalEnvironment,
    Stack,
    StackFailed,
    local_environment,
)

#: The sample election declared and opened at start, so the page shows one at once.
SAMPLE_ID = "1"
SAMPLE_MANIFEST = f"""\
# The sample election of `make up` (scripts/up.py); no roll: anyone may vote.
id = "{SAMPLE_ID}"
title = "Sample: a name for the new park"
choices = ["Oak Park", "River Park", "Hill Park"]
"""


def say(text: str) -> None:
    print(f"up: {text}", flush=True)


def stop_on_sigterm() -> None:
    """SIGTERM stops the run as Ctrl-C does (a ``KeyboardInterrupt`` in the main thread)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def vote_command(local: LocalEnvironment) -> str:
    """The line that runs a voting machine in the sample election from another terminal."""
    names = ["PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "ELECTION_TOPIC"]
    names += [n for n in ("ELECTION_NAMESPACE",) if local.env.get(n)]
    pairs = [f"{n}={shlex.quote(local.env[n])}" for n in names if local.env.get(n)]
    pairs.append(f"LOG_PUBLIC_KEY={shlex.quote(local.log_public_key())}")
    election = Path(sys.executable).parent / "election"
    with_path = os.path.relpath(election, Path.cwd()) if election.is_file() else "election"
    return " ".join([*pairs, with_path, "machine", "--election-id", SAMPLE_ID, "--machine-id", "1"])


def declare_sample(stack: Stack) -> None:
    """Create and open the sample election."""
    manifest = stack.workdir / "sample-election.toml"
    manifest.write_text(SAMPLE_MANIFEST)
    say(f"declaring and opening the sample election {SAMPLE_ID} ({manifest})")
    stack.run("create", str(manifest))
    stack.run("open", SAMPLE_ID)


def print_directions(local: LocalEnvironment) -> None:
    """Where the page is, how to log in to the console and how to vote."""
    if local.generated:
        say(f"made throwaway secrets for this run: {', '.join(local.generated)}")
        if local.throwaway is None and "VOTER_KEY" in local.generated:
            say(
                "the namespace is kept but VOTER_KEY may be new: the voting logger refuses "
                "another one on it next run; set them (`election keys --voter-key`)"
            )
    say(f"the page: {local.page}")
    say(f"the operator console: {local.page}operator  (token: {local.env['OPERATOR_TOKEN']})")
    say("vote from another terminal (Ctrl-C stops that machine):")
    print(f"    {vote_command(local)}", flush=True)
    say(
        "declare another election: write a manifest (see examples/election-4201.toml), then "
        "`election create FILE` and `election open ID` in this environment"
    )
    say("running; Ctrl-C stops everything")


def main() -> int:
    stop_on_sigterm()
    local = local_environment(os.environ, "up")
    stack = Stack(local, Path(tempfile.mkdtemp(prefix="election-up-")), say)
    code = 0
    try:
        stack.start()
        declare_sample(stack)
        print_directions(local)
        while stack.running():
            time.sleep(0.5)
        say(f"the Procfile processes stopped; see {stack.log_path}")
        code = 1
    except KeyboardInterrupt:
        say("stopping")
    except (StackFailed, EmulatorError) as exc:
        say(f"failed: {exc}")
        code = 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        stack.drop_throwaway()
    return code


if __name__ == "__main__":
    sys.exit(main())
