"""``election check`` and ``election mix``: an operator's commands on the stored votes.

``check`` compares the claims in Redis with the ballots in PostgreSQL; ``mix`` rewrites an
election's rows so their storage order says nothing. The work is in ``actors`` (audit,
ballots); here are only the arguments and the printing.
"""

from __future__ import annotations

import argparse

from config import Settings
from election.cli.args import Subparsers, id_arg, stores
from election.cli.exits import RET_ERROR, RET_OK
from election.ops.reach import reachable


def add_parser(subparsers: Subparsers) -> None:
    """Register ``check`` and ``mix``."""
    p = subparsers.add_parser(
        "check",
        help="compare the claims in Redis with the ballots in PostgreSQL",
        description="Name every voter claimed in Redis whose ballot is neither stored nor on "
        "its way, and every recorded ballot that no claim holds (exit 1 if any). Needs "
        "VOTER_KEY, like the voting logger.",
    )
    p.add_argument("--election-id", required=True, type=id_arg, help="election ID")
    p.set_defaults(run=run_check)

    p = subparsers.add_parser(
        "mix",
        help="rewrite an election's ballots so their storage order says nothing",
        description="PostgreSQL keeps the order in which rows were stored (xmin, ctid), "
        "which someone who saw who voted when could join to the voters. Rewrite the "
        "election's rows in one transaction, in the order of their keyed references. Run it "
        "at the close, and during voting as often as you like (inserts wait while it runs).",
    )
    p.add_argument("--election-id", required=True, type=id_arg, help="election ID")
    p.set_defaults(run=run_mix)


def run_check(settings: Settings, args: argparse.Namespace) -> int:
    """``election check``: print the report; 1 if claims and ballots disagree."""
    from actors.audit import check_election
    from actors.claims import Seal, VoterClaims
    from actors.dead_letters import DeadLetters
    from election.domain.secrecy import VoterSecrets

    secrets = VoterSecrets(settings.require_voter_key())
    with stores(settings, "check") as (client, database):
        claims = VoterClaims(client, settings.namespace, Seal("", secrets.key_check))
        report = reachable(
            lambda: check_election(
                args.election_id,
                claims,
                database,
                secrets,
                DeadLetters(client, settings.namespace),
                stale_s=settings.claim_stale_s,
            ),
            settings,
        )
    for line in report.lines():
        print(line)
    return RET_OK if report.consistent else RET_ERROR


def run_mix(settings: Settings, args: argparse.Namespace) -> int:
    """``election mix``: rewrite the election's rows in the order of their references."""
    from actors.ballots import BallotTable

    with stores(settings, "mix") as (_, database):
        moved = reachable(lambda: BallotTable(database).mix(args.election_id), settings)
    print(f"election {args.election_id}: {moved} rows rewritten in reference order")
    return RET_OK
