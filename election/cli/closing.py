"""``election close E``: close an election exactly and print its sealed result.

The work is ``actors.closing`` (barrier, announcement, drain, seal); here are the
arguments, the progress line on a terminal, and the printing. Closing an election whose
result is sealed already prints that result and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from config import Settings
from election.cli.args import Subparsers, id_arg, positive_float, stores
from election.cli.exits import RET_OK
from election.ops.open_close import DRAIN_MARGIN_S, close_election
from election.ops.results import result_from

if TYPE_CHECKING:
    pass


def add_parser(subparsers: Subparsers) -> None:
    """Register ``close``."""
    p = subparsers.add_parser(
        "close",
        help="close an election exactly and seal its result",
        description="Close the election: from now on no logger worker accepts a vote of it "
        "(a barrier in the dedup store that every claim reads); wait until every ballot "
        "accepted before is recorded, or fenced if it never arrived (older than "
        "CLAIM_STALE_S); then seal the result (counts per named choice, total, turnout) "
        "and print it. Needs VOTER_KEY and RECORD_SIGNING_KEYS, like the voting logger.",
    )
    p.add_argument("election_id", metavar="E", type=id_arg, help="election ID")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        help="seconds to wait for ballots on their way (default: CLAIM_STALE_S + 30); "
        "if some are still on their way then, nothing is sealed and it exits 1",
    )
    p.set_defaults(run=run_close)


def run_close(settings: Settings, args: argparse.Namespace) -> int:
    """``election close``: close, drain, seal, print."""
    timeout = args.timeout or settings.claim_stale_s + DRAIN_MARGIN_S
    settings.require_voter_key()
    settings.require_signing_key()
    with stores(settings, "close") as (client, database):
        progress = ProgressLine(args.election_id) if sys.stderr.isatty() else None
        try:
            closed = close_election(
                settings, database, client, args.election_id, timeout, progress=progress
            )
        finally:
            if progress is not None:
                print(file=sys.stderr)
    # The same lines as `election results` prints for a sealed election.
    counts = dict(enumerate(closed.sealed.counts))
    for line in result_from(closed.record, counts, True).to_lines():
        print(line)
    if closed.drained is not None and closed.drained.fenced:
        print(f"  fenced: {closed.drained.fenced} ballots that never arrived")
    if closed.drained is not None and not closed.announced:
        print("  (the close could not be announced; the loggers refuse its votes anyway)")
    return RET_OK


class ProgressLine:
    """One line on the terminal, rewritten while the drain waits."""

    def __init__(self, election_id: str) -> None:
        self.election_id = election_id

    def __call__(self, done: int, claims: int) -> None:
        sys.stderr.write(
            f"\rclosing election {self.election_id}: {done} of {claims} ballots stored or fenced"
        )
        sys.stderr.flush()
