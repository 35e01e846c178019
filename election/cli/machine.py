"""``election machine``: read the arguments (asking at a terminal), open a voting machine
and hand it to its run loop (``election.machine.run``)."""

from __future__ import annotations

import argparse
import sys
import threading

from config import Settings
from election.cli.args import (
    Subparsers,
    ask,
    non_negative_float,
    on_stop_signals,
    positive_float,
    positive_int,
)
from election.cli.exits import RET_ERROR, RET_OK, RET_UNAVAILABLE
from election.domain.errors import InvalidInput
from election.logs import configure_logging
from election.ops.reach import STARTUP_TIMEOUT_S, reachable


def add_parser(subparsers: Subparsers) -> None:
    """Register ``machine``."""
    p = subparsers.add_parser(
        "machine",
        help="run a voting machine",
        description="Send random votes and print each vote's UUID and outcome: "
        "'A vote was recorded successfully', 'Already voted', 'Time out' (or 'Rejected: ...'). "
        "Asks for the election and machine IDs when they are not given and input is a "
        "terminal. At start it asks for the election's ballot over the topic: for a "
        "declared election it prints the title and the choice names, draws only choices "
        "on the ballot and names each; it stops (exit 1) when the election is not open yet "
        "or closed. An undeclared election, or no answer in time, is voted on as before. "
        "Ctrl-C stops it and prints a summary.",
    )
    p.add_argument("--election-id", help="election ID (a number or a short name)")
    p.add_argument("--machine-id", help="this machine's ID (a number or a short name)")
    p.add_argument(
        "--votes",
        type=positive_int,
        default=None,
        help="how many votes to send (default: until Ctrl-C)",
    )
    p.add_argument(
        "--voters",
        type=positive_int,
        default=10_000,
        help="draw voter IDs from 1..K, so repeats happen (default 10000)",
    )
    p.add_argument(
        "--choices",
        type=positive_int,
        default=None,
        help="draw choices from 0..C-1 (default ELECTION_CHOICES, 5); a declared "
        "election's ballot decides instead",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=10.0,
        help="seconds to wait for each answer (default 10)",
    )
    p.add_argument(
        "--ballot-timeout",
        type=positive_float,
        default=10.0,
        help="seconds to wait for the election's ballot at start (default 10); none in "
        "time: vote as on an undeclared election",
    )
    p.add_argument(
        "--interval",
        type=non_negative_float,
        default=1.0,
        help="seconds between votes (default 1)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed, for repeatable runs")
    p.set_defaults(run=run_machine_command)


def run_machine_command(settings: Settings, args: argparse.Namespace) -> int:
    """``election machine``: 0 when done or stopped, 1 when the election is not open, 4 if
    the topic went missing."""
    from election.machine.run import VotePlan, print_forged, run_machine
    from election.machine.voting import VotingMachine

    configure_logging(
        "WARNING" if settings.log_level == "INFO" else settings.log_level,
        settings.log_format,
        process="machine",
    )
    given = {
        "election ID": args.election_id or ask("Election ID: "),
        "machine ID": args.machine_id or ask("Machine ID: "),
    }
    election_id, machine_id = (_canonical(name, value) for name, value in given.items())
    plan = VotePlan(
        votes=args.votes,
        voters=args.voters,
        choices=args.choices or settings.choices,
        timeout_s=args.timeout,
        interval_s=args.interval,
        seed=args.seed,
    )
    stop = threading.Event()
    on_stop_signals(stop.set)
    machine = VotingMachine(settings, machine_id, election_id, on_forged=print_forged)
    # A start-up call that fails leaves the machine as it was before the ballot: its
    # subscriptions expire unused.
    ballot = reachable(
        lambda: machine.fetch_ballot(args.ballot_timeout, STARTUP_TIMEOUT_S, stop), settings
    )
    reason = None if ballot is None else ballot.stop_reason()
    if reason is None:
        reachable(lambda: machine.open(STARTUP_TIMEOUT_S), settings)
    else:
        machine.close()
        print(f"election machine: {reason}", file=sys.stderr, flush=True)
        return RET_ERROR
    return RET_OK if run_machine(machine, plan.on_ballot(ballot), stop) else RET_UNAVAILABLE


def _canonical(name: str, value: str | None) -> str:
    """``value`` as the canonical ID; :class:`InvalidInput` (exit 2) if missing or invalid."""
    from election.domain.votes import InvalidId, canonical_id

    if value is None:
        raise InvalidInput(f"the {name} is required (--{name.split()[0]}-id)")
    try:
        # One voter, one ID: "07" is machine 7, and "7.0" is refused.
        return canonical_id(value)
    except InvalidId as exc:
        raise InvalidInput(f"invalid {name} {value!r}: {exc}") from None
