"""``election results`` and ``election tally``: one command under two names.

A declared election's result names every choice on its ballot (zeros included), the
total, the turnout against the roll and whether it is sealed: the sealed counts once it
is, the recorded ones so far before. An election nobody declared prints today's tally
unchanged (``choice N: V`` for each choice that got votes, then the total), which the
reference tests and scripts read. ``--json`` prints one object of the same shape for
both (an undeclared election's choices are named by their index, its state is
``undeclared``). Registered last, as the final word of an election (and of ``--help``).
"""

from __future__ import annotations

import argparse
import json

import peewee

from config import Settings
from election.cli.args import Subparsers, id_arg
from election.cli.exits import RET_OK
from election.domain.errors import Unavailable
from election.logs import configure_from_settings
from election.ops.preflight import one_line
from election.ops.results import counts_of, result_from, undeclared_json
from election.storage.elections import ElectionRecord, ElectionRegistry
from election.storage.models import open_database


def add_parser(subparsers: Subparsers) -> None:
    """Register ``results`` and ``tally`` (the same command)."""
    p = subparsers.add_parser(
        "results",
        help="print an election's result: votes per named choice, total, turnout",
        description="Print the votes per choice of one election (every choice on its "
        "ballot, zeros included), the total, the turnout against the roll and whether the "
        "result is sealed; an undeclared election prints its tally as `election tally` "
        "always did. The same command as `election tally`.",
    )
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("election", metavar="E", nargs="?", type=id_arg, help="election ID")
    given.add_argument(
        "--election-id", dest="election_option", type=id_arg, help="the same, as tally takes it"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=run_results)

    p = subparsers.add_parser(
        "tally",
        help="print the votes per choice of one election (as results)",
        description="Print the number of recorded votes per choice, and the total, of one "
        "election, read from PostgreSQL: the same command as `election results`.",
    )
    p.add_argument("--election-id", dest="election", required=True, type=id_arg, help="election ID")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=run_results, election_option=None)


def run_results(settings: Settings, args: argparse.Namespace) -> int:
    """``election results`` / ``tally``: the result, for people or as JSON."""
    election_id: str = args.election or args.election_option
    record, counts, sealed = read(settings, election_id)
    if record is None:
        shape, lines = undeclared_json(election_id, counts), undeclared_lines(election_id, counts)
    else:
        result = result_from(record, counts, sealed)
        shape, lines = result.to_json(), result.to_lines()
    print(json.dumps(shape, ensure_ascii=False) if args.json else "\n".join(lines))
    return RET_OK


def read(
    settings: Settings, election_id: str
) -> tuple[ElectionRecord | None, dict[int, int], bool]:
    """The election (``None``: undeclared), its counts per choice index, and whether they
    are the sealed ones."""
    configure_from_settings(settings, process="tally")
    database = open_database(settings, max_connections=1)
    try:
        with database.connection_context():
            registry = ElectionRegistry(database)
            record = registry.get(election_id)
            counts, sealed = counts_of(registry, election_id)
    except peewee.PeeweeException as exc:  # peewee wraps driver errors in its own classes
        raise Unavailable(f"cannot read the tally from PostgreSQL: {one_line(exc)}") from None
    finally:
        database.close_all()
    return record, counts, sealed


def undeclared_lines(election_id: str, counts: dict[int, int]) -> list[str]:
    """The tally of an undeclared election, as ``election tally`` has always printed it."""
    lines = [f"election {election_id}"]
    lines += [f"  choice {choice}: {votes}" for choice, votes in sorted(counts.items())]
    lines.append(f"  total: {sum(counts.values())}")
    return lines
