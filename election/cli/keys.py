"""``election keys``: print fresh secrets as lines for a ``.env`` file; ``election
log-key``: print the log key's public half, for machines and auditors.

Neither reads a store or needs a server, so they work before anything is set up.
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
        help="print a fresh record signing key and log key (and, with --voter-key, a VOTER_KEY)",
        description="Print a new record signing key and a new log key (LOG_SIGNING_KEY, "
        "Ed25519: it signs the ballot log's checkpoints and every answer to a machine) as "
        "lines for a .env file: "
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

    p = subparsers.add_parser(
        "log-key",
        help="print the public key that checks the log's checkpoints and the answers",
        description="Print the public half of LOG_SIGNING_KEY (or LOG_PUBLIC_KEY, when only "
        "that is set). Its last line is the key alone, in the form --public-key and "
        "LOG_PUBLIC_KEY take: give it to voting machines and auditors.",
    )
    p.set_defaults(run=run_log_key)


def run_keys(settings: Settings, args: argparse.Namespace) -> int:
    """``election keys``: a signing key named for today, a log key, and a VOTER_KEY if
    asked."""
    from election.domain.ed25519 import new_private_key

    key_id = time.strftime("k%Y%m%d")
    if args.voter_key:
        # Once an election has claims, a new VOTER_KEY would let every voter vote again:
        # the voting logger refuses one (its check is sealed with the claims).
        print("# VOTER_KEY: set once per deployment, before the first vote; never change it")
        print(f"VOTER_KEY={secrets.token_hex(32)}")
    print(f"RECORD_SIGNING_KEYS={key_id}={secrets.token_hex(32)}")
    print(f"RECORD_SIGNING_KEY_ID={key_id}")
    print(
        "# LOG_SIGNING_KEY: signs checkpoints and answers; `election log-key` prints its public key"
    )
    print(f"LOG_SIGNING_KEY={new_private_key()}")
    return RET_OK


def run_log_key(settings: Settings, args: argparse.Namespace) -> int:
    """``election log-key``: the public key, alone on the last line."""
    from election.domain.ed25519 import public_key_text
    from election.ops.log_signing import log_public_key

    print("# the log's public key (LOG_PUBLIC_KEY, --public-key):")
    print(public_key_text(log_public_key(settings)))
    return RET_OK
