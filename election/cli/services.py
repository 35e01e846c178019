"""The commands that run the system's services: ``provision``, ``bridge`` and ``worker``.

These are the Procfile's entries (release phase, bridge, workers). Each checks what it
needs first, so a missing setting or server is one line (``election.cli.exits``), not a
traceback in every forked process.
"""

from __future__ import annotations

import argparse
import threading

import structlog

from config import Settings
from election.cli.args import Subparsers, on_stop_signals, positive_int
from election.cli.exits import RET_ERROR, RET_OK
from election.domain.routes import SERVICES
from election.logs import configure_from_settings
from election.ops.reach import STARTUP_TIMEOUT_S, reachable

log = structlog.get_logger("election.cli")


def add_parser(subparsers: Subparsers) -> None:
    """Register ``provision``, ``bridge`` and ``worker``."""
    p = subparsers.add_parser(
        "provision",
        help="create the topic, subscriptions and tables (idempotent)",
        description="Create the election topic, the voting logger's and the record "
        "service's subscriptions (with their filters) and the PostgreSQL tables. Safe to "
        "run again; a subscription that exists with another filter is an error. This is "
        "the Procfile's release phase.",
    )
    p.set_defaults(run=run_provision)

    p = subparsers.add_parser(
        "bridge",
        help="run the bridge: service subscriptions -> Dramatiq actors",
        description="Pull the logger's and the record service's subscriptions, check each "
        "message against its subscription's filter, enqueue matching ones for the "
        "Dramatiq actor and acknowledge them once enqueued. SIGTERM or Ctrl-C stop it "
        "cleanly (exit 0).",
    )
    p.set_defaults(run=run_bridge)

    p = subparsers.add_parser(
        "worker",
        help="run Dramatiq workers for one actor",
        description="Run Dramatiq worker processes for one actor's queue: 'logger' "
        "(dedup in Redis) or 'recorder' (store in PostgreSQL). Scale by running more of "
        "them (Procfile: logger=4). SIGTERM finishes in-flight votes, then exits.",
    )
    p.add_argument("role", choices=sorted(SERVICES), help="which actor's queue to work")
    p.add_argument(
        "--processes", type=positive_int, help="worker processes (default WORKER_PROCESSES, 1)"
    )
    p.add_argument(
        "--threads", type=positive_int, help="threads per process (default WORKER_THREADS, 8)"
    )
    p.set_defaults(run=run_worker)

    p = subparsers.add_parser(
        "checkpointer",
        help="run the checkpointer: take recorded ballots into each election's signed log",
        description="Every second, give each recorded ballot not yet in its election's "
        "log a position (in the order of their leaf hashes within one pass), store its "
        "leaf and sign a checkpoint (size, root, time) with LOG_SIGNING_KEY. Off the voting "
        "path: a ballot's answer never waits for it. Several may run; one is enough. "
        "SIGTERM or Ctrl-C stop it cleanly (exit 0).",
    )
    p.set_defaults(run=run_checkpointer)


def run_provision(settings: Settings, args: argparse.Namespace) -> int:
    """``election provision``: print what was created or found."""
    from election.domain.filters import FilterSyntaxError
    from election.ops.provision import ProvisionError, provision
    from election.pubsub.client import publisher_client, subscriber_client
    from election.storage.models import open_database

    configure_from_settings(settings, process="release")
    database = open_database(settings, max_connections=1)
    publisher = publisher_client(settings)
    subscriber = subscriber_client(settings)
    try:
        for line in reachable(
            lambda: provision(settings, publisher, subscriber, database, timeout=STARTUP_TIMEOUT_S),
            settings,
        ):
            print(line)
    except FilterSyntaxError as exc:
        # A filter of the route table, not of the command line: provisioning failed (exit 1).
        raise ProvisionError(str(exc)) from exc
    finally:
        subscriber.close()
    return RET_OK


def run_bridge(settings: Settings, args: argparse.Namespace) -> int:
    """``election bridge``: run until SIGTERM or Ctrl-C (0), or until it fails (1)."""
    from election.ops import preflight
    from election.ops.log_signing import log_private_key

    log_private_key(settings)  # it signs the answers it sends (oversized votes refused)
    preflight.check_broker(settings)
    preflight.check_subscriptions(settings)

    from actors.broker import build_broker
    from bridge.service import Bridge, BridgeFailed, run
    from election.storage.telemetry import running

    configure_from_settings(settings, process="bridge")
    stop = threading.Event()
    on_stop_signals(stop.set)
    bridge = Bridge(settings, build_broker(settings))
    # Only the start is worded as "cannot reach": a failure later is the bridge's own.
    reachable(bridge.start, settings)
    try:
        with running(settings.redis_url, settings.namespace, "bridge"):
            run(bridge, stop)
    except BridgeFailed:  # run logged why
        return RET_ERROR
    return RET_OK


def run_worker(settings: Settings, args: argparse.Namespace) -> int:
    """``election worker ROLE``: Dramatiq worker processes for one service's actors."""
    from actors import worker
    from election.ops import preflight
    from election.ops.log_signing import log_private_key

    # Fail here, in one line, rather than in every forked worker process.
    settings.require_verifying_keys()
    log_private_key(settings)  # both services sign their answers
    preflight.check_broker(settings)
    preflight.check_redis(settings.redis_url)
    preflight.check_postgres(settings)
    if args.role == "logger":
        settings.require_signing_key()
        settings.require_voter_key()
        preflight.check_dedup_store(settings.redis_url)
    return worker.run_worker(
        settings,
        args.role,
        args.processes or settings.worker_processes,
        args.threads or settings.worker_threads,
    )


def run_checkpointer(settings: Settings, args: argparse.Namespace) -> int:
    """``election checkpointer``: run until SIGTERM or Ctrl-C (0)."""
    from election.ops import preflight
    from election.ops.checkpointer import Checkpointer
    from election.ops.log_signing import checkpoint_signer
    from election.storage.ballot_log import BallotLog
    from election.storage.models import open_database
    from election.storage.telemetry import running

    sign = checkpoint_signer(settings)
    preflight.check_postgres(settings)
    configure_from_settings(settings, process="checkpointer")
    stop = threading.Event()
    on_stop_signals(stop.set)
    database = open_database(settings, max_connections=2)
    try:
        with running(settings.redis_url, settings.namespace, "checkpointer"):
            Checkpointer(BallotLog(database, sign)).run(stop)
    finally:
        database.close_all()
    return RET_OK
