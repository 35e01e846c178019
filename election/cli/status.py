"""``election status``: whether every dependency of the election is healthy, one line each.

The checks are ``election.ops.health`` (the services' own start-up checks, run at once);
here are only the arguments, the printing and the exit code (``election.cli.exits``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from config import Settings
from election.cli.args import Subparsers, positive_float
from election.cli.exits import exit_for_health
from election.domain.routes import ROUTES
from election.logs import configure_from_settings
from election.ops.health import DEFAULT_TIMEOUT_S, Check, health

#: The narrowest the name column is, so short names line up as in the README.
NAME_WIDTH = 12

DESCRIPTION = f"""\
Check every dependency of the election at once and print one line per check, then a
summary; exit 0 only when every check is ok, else 4. The checks:

  redis          REDIS_URL answers PING and is durable, as the dedup store must be
                 (appendonly yes, appendfsync always, maxmemory-policy noeviction)
  postgres       DATABASE_URL answers a query and DATABASE_SCHEMA holds every table
                 (`election provision` made them)
  broker         DRAMATIQ_BROKER_URL answers (Redis: PING; RabbitMQ: a connection)
  pubsub         Pub/Sub answers (PUBSUB_EMULATOR_HOST, or Cloud Pub/Sub) and the topic
                 ELECTION_TOPIC exists
  pubsub:ROUTE   each service subscription of the route table exists with its filter:
                 {", ".join(route.subscription("<namespace>") for route in ROUTES)}

A failed check says what is wrong and what to do. No password is printed: URLs are
shown with theirs masked."""


def add_parser(subparsers: Subparsers) -> None:
    """Register ``status``."""
    p = subparsers.add_parser(
        "status",
        help="check Redis, PostgreSQL, the broker and Pub/Sub; exit 0 only when all are healthy",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object instead: {"healthy", "checks": [{"name", "ok", '
        '"detail", "took_ms"}]}',
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"seconds each dependency may take to answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    p.set_defaults(run=run_status)


def run_status(settings: Settings, args: argparse.Namespace) -> int:
    """``election status [--json]``: 0 when every check is ok, else ``RET_UNHEALTHY``."""
    configure_from_settings(settings, process="status")
    started = time.monotonic()
    checks = health(settings, timeout_s=args.timeout)
    took_ms = round((time.monotonic() - started) * 1000)
    if args.json:
        print(json.dumps(report(checks), ensure_ascii=False))
    else:
        for line in lines(checks, took_ms):
            print(line)
    return exit_for_health(healthy(checks))


def healthy(checks: Sequence[Check]) -> bool:
    """Whether every check is ok (and there is at least one)."""
    return bool(checks) and all(check.ok for check in checks)


def report(checks: Sequence[Check]) -> dict[str, Any]:
    """The ``--json`` object: ``healthy`` and each check's fields."""
    return {"healthy": healthy(checks), "checks": [check.as_dict() for check in checks]}


def lines(checks: Sequence[Check], took_ms: int) -> list[str]:
    """One line per check (``ok   redis        redis://... (2 ms)``), then the summary."""
    width = max([NAME_WIDTH, *(len(check.name) for check in checks)])
    out = [
        f"{'ok' if check.ok else 'FAIL':<4} {check.name:<{width}} {check.detail} "
        f"({check.took_ms} ms)"
        for check in checks
    ]
    failed = [check.name for check in checks if not check.ok]
    if healthy(checks):
        out.append(f"healthy: all {len(checks)} checks ok in {took_ms} ms")
    else:
        out.append(
            f"unhealthy: {len(failed)} of {len(checks)} checks failed "
            f"({', '.join(failed) or 'none ran'}) in {took_ms} ms"
        )
    return out
