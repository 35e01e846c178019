"""The ``election`` command: provision, run the bridge or a worker, vote, declare, tally.

``main(argv) -> int`` builds the parser from the command modules (one per command
group, each with ``add_parser(subparsers)``), loads the settings, runs the command and
returns its exit code. An ``ElectionError`` is turned into one line on standard error
and an exit code here, in one place (``election.cli.exits``), not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from config import load_settings
from election.cli import (
    bench,
    closing,
    dead_letters,
    dedup_store,
    elections,
    keys,
    listing,
    machine,
    record_log,
    records,
    services,
    status,
    tally,
    web,
)
from election.cli.args import Command, OfflineCommand, Subparsers
from election.cli.exits import RET_INTERRUPTED, RET_USAGE, exit_for
from election.domain.errors import ElectionError

__all__ = ["main"]

#: The command modules' ``add_parser``, in the order ``election --help`` lists them.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    services.add_parser,  # provision, bridge, worker, checkpointer
    web.add_parser,
    status.add_parser,
    machine.add_parser,
    keys.add_parser,
    dead_letters.add_parser,
    records.add_parser,  # check, mix
    dedup_store.add_parser,
    bench.add_parser,  # bench, bench-relay
    elections.add_parser,  # create, open
    closing.add_parser,  # close
    listing.add_parser,  # list, show
    tally.add_parser,  # results, tally
    record_log.add_parser,  # proof, verify, bulletin, audit
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``election`` command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run") and not hasattr(args, "run_offline"):
        parser.print_help()
        return RET_USAGE
    try:
        if hasattr(args, "run_offline"):
            # Commands anyone can run on public files: no deployment's settings needed.
            offline: OfflineCommand = args.run_offline
            return offline(args)
        run: Command = args.run
        return run(load_settings(), args)
    except ElectionError as exc:
        code, line = exit_for(exc, args.command)
        print(line, file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return RET_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """The ``election`` parser, with every command module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="election",
        description="An election on Google Cloud Pub/Sub: voting machines, a voting logger "
        "(dedup in Redis) and a voting record service (PostgreSQL), joined by one topic "
        "and filtered subscriptions. Configuration comes from the environment; see README.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    for add_parser in COMMANDS:
        add_parser(subparsers)
    return parser
