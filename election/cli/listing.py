"""``election list`` and ``election show``: the declared elections as they stand.

The state printed is the effective one (the manifest's times applied); the counts are
the sealed ones once the result is sealed, else the ballots recorded so far
(``election.ops.results.counts_of``, the same as ``election results``).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from config import Settings
from election.cli.args import Subparsers, id_arg, postgres
from election.cli.exits import RET_OK
from election.domain.results import Result, turnout_text
from election.ops.reach import stored
from election.ops.results import result_of, summaries
from election.storage.elections import ElectionRecord, ElectionRegistry


def add_parser(subparsers: Subparsers) -> None:
    """Register ``list`` and ``show``."""
    p = subparsers.add_parser(
        "list",
        help="list the declared elections",
        description="One line per declared election: ID, state (the manifest's times "
        "applied), votes recorded so far, roll size, number of choices and title.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of objects instead")
    p.set_defaults(run=run_list)

    p = subparsers.add_parser(
        "show",
        help="show one election: state, times, choices, roll, counts so far",
        description="Show one declared election: its state, times (UTC), choices with "
        "their index (the wire's voting value) and votes so far, roll size, and whether "
        "its result is sealed.",
    )
    p.add_argument("election", metavar="E", type=id_arg, help="election ID")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=run_show)


def run_list(settings: Settings, args: argparse.Namespace) -> int:
    """``election list``: one line (or JSON object) per declared election."""
    with postgres(settings, "list") as database:
        rows = stored(lambda: summaries(ElectionRegistry(database)), settings)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return RET_OK
    if not rows:
        print("no elections declared")
        return RET_OK
    table = [["ID", "STATE", "VOTES", "ROLL", "CHOICES", "TITLE"]]
    for row in rows:
        roll = "-" if row["roll"] is None else str(row["roll"])
        counts = [str(row["total"]), roll, str(len(row["choices"]))]
        table.append([row["election"], row["state"], *counts, row["title"]])
    for line in aligned(table, numeric={2, 3, 4}):
        print(line)
    return RET_OK


def aligned(table: list[list[str]], numeric: set[int]) -> list[str]:
    """Rows of cells in columns two spaces apart; ``numeric`` columns to the right."""
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    lines = []
    for row in table:
        cells = [
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def run_show(settings: Settings, args: argparse.Namespace) -> int:
    """``election show E``: the election and its counts so far."""
    with postgres(settings, "show") as database:
        registry = ElectionRegistry(database)
        record, result = stored(lambda: read_one(registry, args.election), settings)
    if args.json:
        print(json.dumps(shown(record, result), ensure_ascii=False))
    else:
        for line in show_lines(record, result):
            print(line)
    return RET_OK


def read_one(registry: ElectionRegistry, election_id: str) -> tuple[ElectionRecord, Result]:
    """A declared election and its result as it stands."""
    record = registry.require(election_id)
    return record, result_of(registry, record)


def shown(record: ElectionRecord, result: Result) -> dict[str, Any]:
    """``show --json``: the result's object with the times, stored state and manifest."""
    return {
        **result.to_json(),
        "choices": [
            {"index": index, "name": name, "votes": votes}
            for index, (name, votes) in enumerate(result.choices)
        ],
        "stored_state": record.stored_state.value,
        "opens_at": iso(record.opens_at),
        "closes_at": iso(record.closes_at),
        "manifest_sha256": record.manifest_sha256,
    }


def show_lines(record: ElectionRecord, result: Result) -> list[str]:
    """``show`` for people: one fact a line, then the choices with index and votes."""
    state = result.state.value
    if record.stored_state is not result.state:
        state += f" (stored: {record.stored_state.value}; the manifest's time has come)"
    roll = "none (anyone may vote)" if record.roll_size is None else f"{record.roll_size} voters"
    lines = [
        f"election {record.election_id}: {record.title}",
        f"  state      {state}",
        f"  opens at   {iso(record.opens_at) or '-'}",
        f"  closes at  {iso(record.closes_at) or '-'}",
        f"  roll       {roll}",
        f"  result     {'sealed' if result.sealed else 'not sealed'}",
        f"  manifest   sha256 {record.manifest_sha256}",
        "  choices",
    ]
    name_width = max(len(name) for name, _ in result.choices)
    index_width = len(str(len(result.choices) - 1))
    lines += [
        f"    {index:>{index_width}}  {name:<{name_width}}  {votes}"
        for index, (name, votes) in enumerate(result.choices)
    ]
    lines.append(f"  total      {result.total}")
    lines.append(f"  {turnout_text(result.total, result.roll_size)}")
    return lines


def iso(moment: datetime | None) -> str | None:
    """``2027-03-01T08:00:00Z`` (milliseconds only when there are any), or ``None``."""
    if moment is None:
        return None
    ms = moment.microsecond // 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}" if ms else "") + "Z"
