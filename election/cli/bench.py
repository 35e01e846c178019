"""``election bench`` and ``election bench-relay``: the CLI side of the top-level ``bench``.

``bench`` is not part of the product: it and what it needs (psutil, honcho) come with the
``bench`` extra. So it is imported only when one of these commands runs, and a missing
extra is one line (exit 1), never a traceback; every other command works without it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from config import Settings
from election.cli.args import Subparsers, on_stop_signals, positive_float, positive_int, scale
from election.cli.exits import RET_ERROR, RET_OK
from election.logs import configure_from_settings, configure_logging

#: The modules whose absence means "the bench extra is not installed".
EXTRA_MODULES = frozenset({"bench", "psutil", "honcho", "selenium"})
NEEDS_EXTRA = "election bench: needs the bench extra: pip install 'election[bench]'"


def add_parser(subparsers: Subparsers) -> None:
    """Register ``bench`` and the hidden ``bench-relay`` it starts."""
    p = subparsers.add_parser(
        "bench",
        help="measure throughput, latency and CPU per vote against the emulator's floor",
        description="Start the Procfile's processes (under names of their own), drive M "
        "simulated voting machines closed loop (each sends its next vote when the answer to "
        "the last arrives, with new voters), and report votes/s, answer latency, time-outs "
        "and CPU seconds per process kind. In the same run, the same load goes through two "
        "trivial relays (no Redis, no database): the floor the emulator itself sets; our "
        "figures are shown as ratios to it. --storage measures Redis bytes per voter and "
        "PostgreSQL bytes per vote instead.",
    )
    _add_load_options(p)
    p.add_argument("--storage", action="store_true", help="measure storage cost instead of load")
    p.add_argument(
        "--voters",
        type=positive_int,
        default=1_000_000,
        help="voters loaded into Redis for --storage (default 1000000)",
    )
    p.add_argument(
        "--ballots",
        type=positive_int,
        default=100_000,
        help="votes stored in PostgreSQL for --storage (default 100000)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=run_bench)

    p = subparsers.add_parser(
        "bench-page",
        help="measure how long the results page takes to show a vote after its answer",
        description="Run every Procfile process as `make up` does (its own emulator and a "
        "throwaway namespace), open an election's results page in headless Chromium, let M "
        "machines vote, and print the lag from each `successful` answer to the page showing "
        "it (p50, p95, max). Needs Debian's chromium and chromium-driver (make browser).",
    )
    p.add_argument("--machines", type=positive_int, default=4, help="machines (default 4)")
    p.add_argument("--votes", type=positive_int, default=75, help="votes per machine (default 75)")
    p.add_argument(
        "--interval",
        type=positive_float,
        default=0.1,
        help="seconds between a machine's votes (default 0.1)",
    )
    p.set_defaults(run_offline=run_bench_page)

    p = subparsers.add_parser("bench-relay", help=argparse.SUPPRESS)
    p.add_argument("--hop", type=int, choices=[1, 2], required=True)
    p.set_defaults(run=run_bench_relay)


def _add_load_options(p: argparse.ArgumentParser) -> None:
    """The options of a load run (not of ``--storage``)."""
    p.add_argument("--machines", type=positive_int, default=50, help="machines M (default 50)")
    p.add_argument("--votes", type=positive_int, default=2000, help="measured votes (default 2000)")
    p.add_argument(
        "--warmup",
        type=int,
        default=1000,
        help="votes sent before measuring, per phase (default 1000)",
    )
    p.add_argument(
        "--emulator-warmup",
        type=int,
        default=30_000,
        help="messages pumped through the emulator once before any phase, so its JIT is "
        "warm for every phase alike (default 30000; 0 skips it)",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=10.0,
        help="seconds before a vote counts as timed out (default 10)",
    )
    p.add_argument(
        "--scale",
        action="append",
        help="worker processes per kind, e.g. logger=2,recorder=2 (default 1 each); give it "
        "more than once to compare scales in the same run",
    )
    p.add_argument(
        "--starts",
        type=positive_int,
        default=1,
        help="fresh starts of every phase, interleaved (default 1; an odd number gives a true "
        "median). The emulator fixes its delivery phases when pulls start, so one start is a "
        "coin toss between a one-cycle and a two-cycle answer; with several, the best and "
        "the median of each are compared",
    )
    p.add_argument("--no-floor", action="store_true", help="skip the trivial-relay floor")
    p.add_argument(
        "--fresh-emulator",
        action="store_true",
        help="start a new emulator for this run instead of using a running one",
    )


def missing_extra(error: ImportError) -> int:
    """Say that the bench extra is missing and return 1, if that is what ``error`` means;
    re-raise any other import error (a bug, not a missing extra)."""
    if (error.name or "").partition(".")[0] not in EXTRA_MODULES:
        raise error
    print(NEEDS_EXTRA, file=sys.stderr)
    return RET_ERROR


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    """``election bench``: print the phases' table (or the storage cost), or JSON."""
    try:
        from bench import report, storage
        from bench.run import BenchOptions, run
    except ImportError as exc:
        return missing_extra(exc)
    from election.ops import preflight

    configure_logging("WARNING", settings.log_format, process="bench")
    bar = report.ProgressBar()
    preflight.check_redis(settings.redis_url)
    preflight.check_postgres(settings)
    if args.storage:
        cost = storage.measure(settings, args.voters, args.ballots, bar)
        print(
            json.dumps(report.as_json([], cost), indent=2)
            if args.json
            else "\n".join(report.storage_table(cost))
        )
        return RET_OK
    scales = [scale(text) for text in args.scale or ["logger=1,recorder=1"]]
    preflight.check_broker(settings)
    options = BenchOptions(
        machines=args.machines,
        votes=args.votes,
        warmup=max(0, args.warmup),
        emulator_warmup=max(0, args.emulator_warmup),
        timeout_s=args.timeout,
        scales=scales,
        floor=not args.no_floor,
        fresh_emulator=args.fresh_emulator,
        starts=args.starts,
    )
    phases = run(settings, options, bar)
    print(
        json.dumps(report.as_json(phases, None), indent=2)
        if args.json
        else "\n".join(report.phases_table(phases))
    )
    return RET_OK


def run_bench_page(args: argparse.Namespace) -> int:
    """``election bench-page``: the results page's lag behind the answers."""
    try:
        from bench.page_lag import main
    except ImportError as exc:
        return missing_extra(exc)
    configure_logging("WARNING", "console", process="bench")
    return main(args.machines, args.votes, args.interval)


def run_bench_relay(settings: Settings, args: argparse.Namespace) -> int:
    """``election bench-relay --hop N``: one of the floor's trivial relays, until stopped."""
    try:
        from bench.relay import run_relay
    except ImportError as exc:
        return missing_extra(exc)

    configure_from_settings(settings, process=f"relay-{args.hop}")
    stop = threading.Event()
    on_stop_signals(stop.set)
    run_relay(settings, args.hop, stop)
    return RET_OK
