"""``election create`` and ``election open``: declaring an election and opening it.

The rules are the domain's (``election.domain.manifest``, ``lifecycle``), the storage is
the registry's (``election.storage.elections``); here are the files, the order of the
steps and the printing. Every change is announced with a signed ``election changed``
event (``election.ops.announce``) once it is stored.

Decisions (issue 12):

- ``VOTER_KEY`` is needed only by a manifest that names a roll: the roll is stored as
  voter tokens keyed like the voting logger's. ``RECORD_SIGNING_KEYS`` is always needed
  (the event is signed). Both are checked, and the topic is looked up, before anything is
  stored, so a missing key or an unreachable Pub/Sub leaves nothing half done.
- A refused manifest, roll, definition or transition exits 2 (``InvalidInput``, one line
  naming the field or the election), a definition conflict included: the input is what
  is wrong, and running the command again with it cannot succeed.
- ``create`` of the same manifest again is a no-op that still writes the close barrier
  (if any) and announces the election as stored: it repairs a create whose event or
  barrier did not get through.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import redis

from config import Settings
from election.cli.args import Subparsers, id_arg, postgres, stores
from election.cli.exits import RET_OK
from election.domain.errors import InvalidInput, Unavailable
from election.domain.manifest import (
    Definition,
    ManifestError,
    load_definition,
    parse_manifest,
    roll_location,
)
from election.domain.secrecy import VoterSecrets
from election.ops.open_close import announcer, open_election
from election.ops.preflight import one_line
from election.ops.reach import stored
from election.storage import close_barrier
from election.storage.elections import ElectionRecord, ElectionRegistry


def add_parser(subparsers: Subparsers) -> None:
    """Register ``create`` and ``open``."""
    p = subparsers.add_parser(
        "create",
        help="declare an election from its manifest (TOML)",
        description="Declare an election from its TOML manifest and its roll file (named "
        "in the manifest, relative to it), in draft; the same manifest again is a no-op, a "
        "different one for an existing ID is refused (exit 2, one line naming the field). "
        "Needs RECORD_SIGNING_KEYS (the election changed event is signed) and, when the "
        "manifest names a roll, VOTER_KEY (the roll is stored only as keyed voter tokens). "
        "See README, Elections.",
    )
    p.add_argument("manifest", metavar="FILE", type=Path, help="the manifest (TOML)")
    p.set_defaults(run=run_create)

    p = subparsers.add_parser(
        "open",
        help="open an election for voting",
        description="Open a draft election (also before its opens_at) and announce it to "
        "the voting logger. A closed election is never opened again. Needs "
        "RECORD_SIGNING_KEYS.",
    )
    p.add_argument("election", metavar="E", type=id_arg, help="election ID")
    p.set_defaults(run=run_open)


# --------------------------------------------------------------------------------------------
# Changes: create and open
# --------------------------------------------------------------------------------------------


def run_create(settings: Settings, args: argparse.Namespace) -> int:
    """``election create FILE``: store, set the close barrier, announce; one line."""
    definition = read_definition(args.manifest, settings)
    settings.require_signing_key()
    with stores(settings, "create") as (client, database), announcer(settings) as announce:
        record, created = stored(lambda: ElectionRegistry(database).create(definition), settings)
        closes_at = definition.manifest.closes_at
        if closes_at is not None:
            at_ms, election_id = int(closes_at.timestamp() * 1000), record.election_id
            namespace = settings.namespace
            redis_call(lambda: close_barrier.close_at(client, namespace, election_id, at_ms))
        announce(record)
    print(created_line(record, created))
    return RET_OK


def run_open(settings: Settings, args: argparse.Namespace) -> int:
    """``election open E``: open it, announce it; one line."""
    settings.require_signing_key()
    with postgres(settings, "open") as database:
        record = open_election(settings, database, args.election)
    print(f"election {record.election_id} is {record.state().value}")
    return RET_OK


def read_definition(path: Path, settings: Settings) -> Definition:
    """The manifest at ``path`` and the roll it names (read relative to it)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or one_line(exc)}") from None
    manifest = parse_manifest(data)
    if manifest.roll_path is None:
        return Definition(manifest, None)  # no roll: no voter tokens, no VOTER_KEY
    secrets = VoterSecrets(settings.require_voter_key())
    return load_definition(data, lambda name: read_roll(Path(roll_location(path, name))), secrets)


def read_roll(path: Path) -> str:
    """The roll file's text; an unreadable file is a :class:`ManifestError` on ``roll``."""
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ManifestError(f"roll: cannot read {path}: {exc.strerror or one_line(exc)}") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"roll: {path} is not UTF-8 (byte {exc.start})") from None


def created_line(record: ElectionRecord, created: bool) -> str:
    """``created election 4201 "Title" (3 choices, roll of 12, draft)``, or the no-op's line."""
    state = record.state().value
    if not created:
        return f"election {record.election_id} exists with the same manifest ({state})"
    roll = "no roll" if record.roll_size is None else f"roll of {record.roll_size}"
    title = json.dumps(record.title, ensure_ascii=False)
    return (
        f"created election {record.election_id} {title} "
        f"({len(record.choices)} choices, {roll}, {state})"
    )


def redis_call(call: Callable[[], object]) -> None:
    """Run a call on the dedup store; its errors are one line."""
    try:
        call()
    except redis.RedisError as exc:
        raise Unavailable(f"cannot write the close barrier to Redis: {one_line(exc)}") from None
