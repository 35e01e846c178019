"""``election dead-letters``: list, replay or purge the ballots that could not be processed.

Only the arguments and the printing are here: the letters are kept by
``actors.dead_letters``, and a replay's checks and its outcome are ``actors.replay``'s.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from config import Settings
from election.cli.args import Subparsers, open_redis, stores
from election.cli.exits import RET_ERROR, RET_OK
from election.domain.errors import InvalidInput
from election.logs import configure_from_settings
from election.ops.reach import reachable

if TYPE_CHECKING:
    from actors.dead_letters import DeadLetter, DeadLetters


def add_parser(subparsers: Subparsers) -> None:
    """Register ``dead-letters``."""
    p = subparsers.add_parser(
        "dead-letters",
        help="list, replay or purge ballots that could not be processed",
        description="Ballots whose processing failed after every retry (or whose record "
        "is signed with a key this deployment no longer holds) are kept as dead letters. "
        "List them; replay them once the cause is fixed: a record is checked against its "
        "signature and stored unless its voter has voted again since, and the letter is "
        "removed only once that outcome is final (exit 1 if any is kept); or purge them.",
    )
    p.add_argument("action", nargs="?", choices=["list", "replay", "purge"], default="list")
    p.add_argument("ids", nargs="*", metavar="ID", help="dead-letter (message) IDs")
    p.add_argument("--all", action="store_true", help="act on every dead letter")
    p.set_defaults(run=run_dead_letters)


def run_dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    """``election dead-letters [list|replay|purge] [ID...|--all]``."""
    from actors.dead_letters import DeadLetters
    from election.ops import preflight

    configure_from_settings(settings, process="dead-letters")
    preflight.check_redis(settings.redis_url)
    store = DeadLetters(open_redis(settings), settings.namespace)
    letters = store.all()
    if args.action == "list":
        _print_letters(letters)
        return RET_OK
    chosen = _chosen(letters, args.ids, every=args.all)
    if args.action == "purge":
        for letter in chosen:
            store.remove(letter.message_id)
            print(f"purged {letter.message_id} ({letter.actor}, ballot {letter.ballot})")
        return RET_OK
    kept = _replay(settings, store, chosen)
    return RET_ERROR if kept else RET_OK


def _print_letters(letters: Sequence[DeadLetter]) -> None:
    if not letters:
        print("no dead letters")
    for letter in letters:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(letter.failed_at))
        print(
            f"{letter.message_id}  {when}Z  {letter.actor}  ballot {letter.ballot}  "
            f"after {letter.retries} retries: {letter.error}"
        )


def _chosen(letters: list[DeadLetter], ids: Sequence[str], *, every: bool) -> list[DeadLetter]:
    """The letters named by ``ids`` (all with ``every``); :class:`InvalidInput` (exit 2)
    naming any unknown ID, or when nothing is named."""
    chosen = letters if every else [letter for letter in letters if letter.message_id in ids]
    unknown = set(ids) - {letter.message_id for letter in letters}
    if unknown or not (every or ids):
        what = ", ".join(sorted(unknown)) if unknown else "nothing"
        raise InvalidInput(f"no such dead letter: {what} (give IDs or --all)")
    return chosen


def _replay(settings: Settings, store: DeadLetters, chosen: Sequence[DeadLetter]) -> int:
    """Replay ``chosen``, printing each outcome; return how many were kept."""
    from actors.replay import replaying

    kept = 0
    with (
        stores(settings, "dead-letters") as (client, database),
        replaying(settings, client, database) as replay,
    ):
        for letter in chosen:
            done = reachable(functools.partial(replay.replay, letter), settings)
            verb = "replayed" if done.final else "kept"
            kept += not done.final
            print(f"{verb} {letter.message_id} (ballot {letter.ballot}): {done.outcome}")
    return kept
