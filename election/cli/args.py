"""What the command modules share: argument types, and the helpers of a command's run.

The argument types turn a bad value into argparse's own usage error (exit 2); the helpers
are the few steps several commands take alike: stopping on SIGTERM/Ctrl-C, asking at a
terminal, and opening Redis and PostgreSQL (or PostgreSQL alone) for an operator's
command.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, TypeAlias

from config import Settings
from election.domain.errors import InvalidInput

if TYPE_CHECKING:
    import peewee
    import redis

#: The ``subparsers`` each command module's ``add_parser`` registers its commands on.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
#: A command's run function (``set_defaults(run=...)``): returns the exit code.
Command: TypeAlias = Callable[[Settings, argparse.Namespace], int]
#: A command that reads no deployment's settings (``set_defaults(run_offline=...)``): it
#: works on public files anywhere, with nothing configured.
OfflineCommand: TypeAlias = Callable[[argparse.Namespace], int]


def id_arg(text: str) -> str:
    """An election or machine ID in its one canonical form ("07" is 7)."""
    from election.domain.votes import InvalidId, canonical_id

    try:
        return canonical_id(text)
    except InvalidId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    """A number more than 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def non_negative_float(text: str) -> float:
    """A number of 0 or more."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def scale(text: str) -> dict[str, int]:
    """Worker processes per kind from ``logger=N,recorder=N`` (1 each unless given);
    raise :class:`InvalidInput` (exit 2) naming the item it cannot read."""
    counts = {"logger": 1, "recorder": 1}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, count = item.partition("=")
        if not sep or kind not in counts or not count.isdigit() or int(count) < 1:
            raise InvalidInput(f"--scale takes logger=N,recorder=N; got {item!r}")
        counts[kind] = int(count)
    return counts


def on_stop_signals(handler: Callable[[], None]) -> None:
    """Call ``handler`` on SIGTERM and SIGINT (Ctrl-C) instead of dying."""

    def _handle(signum: int, frame: FrameType | None) -> None:
        handler()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)


def ask(prompt: str) -> str | None:
    """Ask at a terminal; ``None`` when input is not a terminal or the answer is empty."""
    if not sys.stdin.isatty():
        return None
    try:
        return input(prompt).strip() or None
    except EOFError:
        return None


@contextlib.contextmanager
def stores(settings: Settings, process: str) -> Iterator[tuple[redis.Redis, peewee.Database]]:
    """Redis and PostgreSQL for an operator's command, checked first, closed after."""
    from election.ops import preflight

    with postgres(settings, process) as database:
        preflight.check_redis(settings.redis_url)
        client = open_redis(settings)
        try:
            yield client, database
        finally:
            client.close()


@contextlib.contextmanager
def postgres(settings: Settings, process: str) -> Iterator[peewee.Database]:
    """PostgreSQL for an operator's command, checked first, closed after."""
    from election.logs import configure_from_settings
    from election.ops import preflight
    from election.storage.models import open_database

    configure_from_settings(settings, process=process)
    preflight.check_postgres(settings)
    database = open_database(settings, max_connections=1)
    try:
        yield database
    finally:
        database.close_all()


def open_redis(settings: Settings) -> redis.Redis:
    """A client of the election's Redis, for an operator's command."""
    from election.storage.redis_client import connect_redis

    return connect_redis(settings.redis_url, timeout_s=10)
