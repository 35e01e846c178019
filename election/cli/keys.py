"""``election keys``: print fresh secrets as lines for a ``.env`` file.

It reads no store and needs no server, so it works before anything is set up.
"""

from __future__ import annotations

import argparse
import secrets
import time

from config import Settings
from election.cli.args import Subparsers
from election.cli.exits import RET_OK


def add_parser(subparsers: Subparsers) -> None:
    """Register ``keys``."""
    p = subparsers.add_parser(
        "keys",
        help="print a fresh record signing key (and, with --voter-key, a VOTER_KEY)",
        description="Print a new record signing key as lines for a .env file: "
        "`election keys >> .env`. To rotate it, add the new id=secret to "
        "RECORD_SIGNING_KEYS on every process, then point RECORD_SIGNING_KEY_ID at it, then "
        "remove the old one once nothing signed with it can be in flight. --voter-key also "
        "prints a VOTER_KEY, for a new deployment only: the voting logger refuses to run "
        "with a VOTER_KEY other than the one its claims were made with.",
    )
    p.add_argument(
        "--voter-key", action="store_true", help="also print a VOTER_KEY (new deployments only)"
    )
    p.set_defaults(run=run_keys)


def run_keys(settings: Settings, args: argparse.Namespace) -> int:
    """``election keys``: a signing key named for today, and a VOTER_KEY if asked."""
    key_id = time.strftime("k%Y%m%d")
    if args.voter_key:
        # Once an election has claims, a new VOTER_KEY would let every voter vote again:
        # the voting logger refuses one (its check is sealed with the claims).
        print("# VOTER_KEY: set once per deployment, before the first vote; never change it")
        print(f"VOTER_KEY={secrets.token_hex(32)}")
    print(f"RECORD_SIGNING_KEYS={key_id}={secrets.token_hex(32)}")
    print(f"RECORD_SIGNING_KEY_ID={key_id}")
    return RET_OK
