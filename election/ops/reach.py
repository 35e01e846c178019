"""Calls to Pub/Sub and PostgreSQL, with "cannot reach it" (or "not provisioned") as one
clear error.

The client libraries report an unreachable server in their own exception classes (gRPC's
through ``google.api_core``, peewee's wrapping the driver's); :func:`reachable` turns
those into :class:`~election.domain.errors.Unavailable` (exit 4) with the same wording
for every command.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import peewee
from google.api_core import exceptions as api_exceptions

from config import Settings
from election.domain.errors import Unavailable
from election.ops.preflight import one_line

#: Seconds to wait for a service at start-up before giving up with one clear line.
STARTUP_TIMEOUT_S = 10.0

T = TypeVar("T")


def reachable(call: Callable[[], T], settings: Settings) -> T:
    """Run a start-up call; turn "cannot reach the service" into :class:`Unavailable`."""
    import peewee

    where = settings.emulator_host or "Cloud Pub/Sub"
    started = time.monotonic()
    try:
        return call()
    except (
        api_exceptions.ServiceUnavailable,
        api_exceptions.DeadlineExceeded,
        api_exceptions.RetryError,
    ) as exc:
        raise Unavailable(
            f"cannot reach Pub/Sub at {where} after {time.monotonic() - started:.0f} s: "
            f"{type(exc).__name__}"
        ) from None
    except api_exceptions.NotFound as exc:
        raise Unavailable(
            f"Pub/Sub resource missing ({exc.message}); run `election provision` first"
        ) from None
    except peewee.OperationalError as exc:
        raise Unavailable(f"cannot reach PostgreSQL: {one_line(exc)}") from None


def stored(call: Callable[[], T], settings: Settings) -> T:
    """Run a registry call; a schema without the election tables says to provision."""
    try:
        return reachable(call, settings)
    except peewee.ProgrammingError as exc:
        raise Unavailable(
            f"PostgreSQL schema {settings.database_schema} has no election tables "
            f"({one_line(exc)}); run `election provision` first"
        ) from None
