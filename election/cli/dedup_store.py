"""``election dedup-store``: whether the dedup Redis can vouch for itself, or reseal it.

The seal and the durability checks are in ``actors.seal`` and ``election.ops.preflight``;
here are only the arguments, the operator's confirmation and the printing.
"""

from __future__ import annotations

import argparse
import sys

from config import Settings
from election.cli.args import Subparsers, stores
from election.cli.exits import RET_ERROR, RET_OK, RET_USAGE


def add_parser(subparsers: Subparsers) -> None:
    """Register ``dedup-store``."""
    p = subparsers.add_parser(
        "dedup-store",
        help="show whether the dedup store can vouch for itself, or reseal it",
        description="status: check the dedup Redis' durability settings and its seal "
        "(exit 1 with each problem when voting is suspended). reseal --yes: accept the "
        "claims Redis holds now as complete, after restoring it (see docs/RELIABILITY.md).",
    )
    p.add_argument("action", nargs="?", choices=["status", "reseal"], default="status")
    p.add_argument("--yes", action="store_true", help="confirm a reseal")
    p.set_defaults(run=run_dedup_store)


def run_dedup_store(settings: Settings, args: argparse.Namespace) -> int:
    """``election dedup-store [status|reseal --yes]``: 1 while voting is suspended."""
    from actors.seal import establish_seal, reseal
    from election.domain.secrecy import VoterSecrets
    from election.ops import preflight

    secrets = VoterSecrets(settings.require_voter_key())
    if args.action == "reseal" and not args.yes:
        print(
            "election dedup-store reseal: give --yes: voters whose claims Redis lost can "
            "then vote again (restore Redis from its AOF first if you can)",
            file=sys.stderr,
        )
        return RET_USAGE
    with stores(settings, "dedup-store") as (client, database):
        if args.action == "reseal":
            store_id = reseal(client, database, settings.namespace, secrets.key_check)
            print(f"dedup store resealed as {store_id}")
            return RET_OK
        problems = preflight.durability_problems(client)
        _, _, alarms = establish_seal(client, database, settings.namespace, secrets.key_check)
    for line in [*problems, *alarms]:
        print(f"PROBLEM: {line}")
    if problems or alarms:
        return RET_ERROR
    print("dedup store sealed and durable: voting can go on")
    return RET_OK
