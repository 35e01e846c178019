"""``election tally``: the recorded votes per choice of one election, from PostgreSQL.

It is registered last, as the final word of an election (and of ``election --help``).
"""

from __future__ import annotations

import argparse

from config import Settings
from election.cli.args import Subparsers, id_arg
from election.cli.exits import RET_OK
from election.domain.errors import Unavailable
from election.logs import configure_from_settings
from election.ops.preflight import one_line


def add_parser(subparsers: Subparsers) -> None:
    """Register ``tally``."""
    p = subparsers.add_parser(
        "tally",
        help="print the votes per choice of one election",
        description="Print the number of recorded votes per choice, and the total, of one "
        "election, read from PostgreSQL.",
    )
    p.add_argument("--election-id", required=True, type=id_arg, help="election ID")
    p.set_defaults(run=run_tally)


def run_tally(settings: Settings, args: argparse.Namespace) -> int:
    """``election tally``: one line per choice, then the total."""
    from election.storage.models import open_database, tally

    configure_from_settings(settings, process="tally")
    database = open_database(settings, max_connections=1)
    try:
        with database.connection_context():
            counts = tally(args.election_id)
    except Exception as exc:  # peewee wraps driver errors in its own classes
        raise Unavailable(f"cannot read the tally from PostgreSQL: {one_line(exc)}") from None
    total = sum(counts.values())
    print(f"election {args.election_id}")
    for choice, votes in counts.items():
        print(f"  choice {choice}: {votes}")
    print(f"  total: {total}")
    return RET_OK
