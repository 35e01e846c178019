"""The ``election`` command: provision, run the bridge or a worker, vote, tally.

``main(argv) -> int`` returns one of the exit codes below; configuration and connection
problems are one clear line on standard error, not a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

import structlog
from google.api_core import exceptions as api_exceptions

if TYPE_CHECKING:
    import peewee
    import redis

from config import ConfigError, Settings, load_settings
from election.domain.errors import Unavailable
from election.logs import configure_from_settings, configure_logging
from election.ops.preflight import one_line

#: Exit codes.
RET_OK = 0
RET_ERROR = 1  # the command ran and failed
RET_USAGE = 2  # bad command line (argparse uses 2 as well)
RET_CONFIG = 3  # a configuration variable is missing or malformed
RET_UNAVAILABLE = 4  # a service it needs (Pub/Sub, Redis, PostgreSQL) cannot be reached
RET_INTERRUPTED = 130

#: Seconds to wait for a service at start-up before giving up with one clear line.
STARTUP_TIMEOUT_S = 10.0

log = structlog.get_logger("election.cli")
T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``election`` command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return RET_USAGE
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"election: configuration error: {exc}", file=sys.stderr)
        return RET_CONFIG
    try:
        code: int = args.run(settings, args)
        return code
    except ConfigError as exc:
        print(f"election: configuration error: {exc}", file=sys.stderr)
        return RET_CONFIG
    except Unavailable as exc:
        print(f"election: {exc}", file=sys.stderr)
        return RET_UNAVAILABLE
    except KeyboardInterrupt:
        return RET_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="election",
        description="An election on Google Cloud Pub/Sub: voting machines, a voting logger "
        "(dedup in Redis) and a voting record service (PostgreSQL), joined by one topic "
        "and filtered subscriptions. Configuration comes from the environment; see README.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "provision",
        help="create the topic, subscriptions and tables (idempotent)",
        description="Create the election topic, the voting logger's and the record "
        "service's subscriptions (with their filters) and the PostgreSQL tables. Safe to "
        "run again; a subscription that exists with another filter is an error. This is "
        "the Procfile's release phase.",
    )
    p.set_defaults(run=_provision)

    p = sub.add_parser(
        "bridge",
        help="run the bridge: service subscriptions -> Dramatiq actors",
        description="Pull the logger's and the record service's subscriptions, check each "
        "message against its subscription's filter, enqueue matching ones for the "
        "Dramatiq actor and acknowledge them once enqueued. SIGTERM or Ctrl-C stop it "
        "cleanly (exit 0).",
    )
    p.set_defaults(run=_bridge)

    p = sub.add_parser(
        "worker",
        help="run Dramatiq workers for one actor",
        description="Run Dramatiq worker processes for one actor's queue: 'logger' "
        "(dedup in Redis) or 'recorder' (store in PostgreSQL). Scale by running more of "
        "them (Procfile: logger=4). SIGTERM finishes in-flight votes, then exits.",
    )
    p.add_argument("role", choices=["logger", "recorder"], help="which actor's queue to work")
    p.add_argument(
        "--processes", type=_positive_int, help="worker processes (default WORKER_PROCESSES, 1)"
    )
    p.add_argument(
        "--threads", type=_positive_int, help="threads per process (default WORKER_THREADS, 8)"
    )
    p.set_defaults(run=_worker)

    p = sub.add_parser(
        "machine",
        help="run a voting machine",
        description="Send random votes and print each vote's UUID and outcome: "
        "'A vote was recorded successfully', 'Already voted', 'Time out' (or 'Rejected: ...'). "
        "Asks for the election and machine IDs when they are not given and input is a "
        "terminal. Ctrl-C stops it and prints a summary.",
    )
    p.add_argument("--election-id", help="election ID (a number or a short name)")
    p.add_argument("--machine-id", help="this machine's ID (a number or a short name)")
    p.add_argument(
        "--votes",
        type=_positive_int,
        default=None,
        help="how many votes to send (default: until Ctrl-C)",
    )
    p.add_argument(
        "--voters",
        type=_positive_int,
        default=10_000,
        help="draw voter IDs from 1..K, so repeats happen (default 10000)",
    )
    p.add_argument(
        "--choices",
        type=_positive_int,
        default=None,
        help="draw choices from 0..C-1 (default ELECTION_CHOICES, 5)",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        help="seconds to wait for each answer (default 10)",
    )
    p.add_argument(
        "--interval",
        type=_non_negative_float,
        default=1.0,
        help="seconds between votes (default 1)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed, for repeatable runs")
    p.set_defaults(run=_machine)

    p = sub.add_parser(
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
    p.set_defaults(run=_keys)

    p = sub.add_parser(
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
    p.set_defaults(run=_dead_letters)

    p = sub.add_parser(
        "check",
        help="compare the claims in Redis with the ballots in PostgreSQL",
        description="Name every voter claimed in Redis whose ballot is neither stored nor on "
        "its way, and every recorded ballot that no claim holds (exit 1 if any). Needs "
        "VOTER_KEY, like the voting logger.",
    )
    p.add_argument("--election-id", required=True, type=_id_arg, help="election ID")
    p.set_defaults(run=_check)

    p = sub.add_parser(
        "mix",
        help="rewrite an election's ballots so their storage order says nothing",
        description="PostgreSQL keeps the order in which rows were stored (xmin, ctid), "
        "which someone who saw who voted when could join to the voters. Rewrite the "
        "election's rows in one transaction, in the order of their keyed references. Run it "
        "at the close, and during voting as often as you like (inserts wait while it runs).",
    )
    p.add_argument("--election-id", required=True, type=_id_arg, help="election ID")
    p.set_defaults(run=_mix)

    p = sub.add_parser(
        "dedup-store",
        help="show whether the dedup store can vouch for itself, or reseal it",
        description="status: check the dedup Redis' durability settings and its seal "
        "(exit 1 with each problem when voting is suspended). reseal --yes: accept the "
        "claims Redis holds now as complete, after restoring it (see docs/RELIABILITY.md).",
    )
    p.add_argument("action", nargs="?", choices=["status", "reseal"], default="status")
    p.add_argument("--yes", action="store_true", help="confirm a reseal")
    p.set_defaults(run=_dedup_store)

    p = sub.add_parser(
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
    p.add_argument("--machines", type=_positive_int, default=50, help="machines M (default 50)")
    p.add_argument(
        "--votes", type=_positive_int, default=2000, help="measured votes (default 2000)"
    )
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
        type=_positive_float,
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
        type=_positive_int,
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
    p.add_argument("--storage", action="store_true", help="measure storage cost instead of load")
    p.add_argument(
        "--voters",
        type=_positive_int,
        default=1_000_000,
        help="voters loaded into Redis for --storage (default 1000000)",
    )
    p.add_argument(
        "--ballots",
        type=_positive_int,
        default=100_000,
        help="votes stored in PostgreSQL for --storage (default 100000)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=_bench)

    p = sub.add_parser("bench-relay", help=argparse.SUPPRESS)
    p.add_argument("--hop", type=int, choices=[1, 2], required=True)
    p.set_defaults(run=_bench_relay)

    p = sub.add_parser(
        "tally",
        help="print the votes per choice of one election",
        description="Print the number of recorded votes per choice, and the total, of one "
        "election, read from PostgreSQL.",
    )
    p.add_argument("--election-id", required=True, type=_id_arg, help="election ID")
    p.set_defaults(run=_tally)
    return parser


def _id_arg(text: str) -> str:
    """An election or machine ID in its one canonical form ("07" is 7)."""
    from election.domain.votes import InvalidId, canonical_id

    try:
        return canonical_id(text)
    except InvalidId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _on_stop_signals(handler: Callable[[], None]) -> None:
    def _handle(signum: int, frame: FrameType | None) -> None:
        handler()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)


def _provision(settings: Settings, args: argparse.Namespace) -> int:
    from election.domain.filters import FilterSyntaxError
    from election.ops.provision import ProvisionError, provision
    from election.pubsub.client import publisher_client, subscriber_client
    from election.storage.models import OldLayout, open_database

    configure_from_settings(settings, process="release")
    database = open_database(settings, max_connections=1)
    publisher = publisher_client(settings)
    subscriber = subscriber_client(settings)
    try:
        for line in _reachable(
            lambda: provision(settings, publisher, subscriber, database, timeout=STARTUP_TIMEOUT_S),
            settings,
        ):
            print(line)
    except (ProvisionError, FilterSyntaxError, OldLayout) as exc:
        print(f"election: provision failed: {exc}", file=sys.stderr)
        return RET_ERROR
    finally:
        subscriber.close()
    return RET_OK


def _bridge(settings: Settings, args: argparse.Namespace) -> int:
    from election.ops import preflight

    preflight.check_broker(settings)
    preflight.check_subscriptions(settings)

    from actors import logger, recorder
    from actors.broker import build_broker
    from bridge.router import Route
    from bridge.service import Bridge
    from election.domain.routes import LOGGER, RECORDER

    configure_from_settings(settings, process="bridge")
    broker = build_broker(settings)
    dedup_votes = logger.declare(broker, settings).work
    record_votes = recorder.declare(broker, settings).work
    bridge = Bridge(
        settings,
        [
            Route(LOGGER.subscription(settings.namespace), dedup_votes, dedup_votes),
            Route(RECORDER.subscription(settings.namespace), record_votes, record_votes),
        ],
    )
    stop = threading.Event()
    _on_stop_signals(stop.set)
    _reachable(bridge.start, settings)
    try:
        bridge.run_until(stop)
    except RuntimeError as exc:
        log.error("bridge.failed", error=str(exc))
        bridge.stop()
        return RET_ERROR
    bridge.stop()
    return RET_OK


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from actors.worker import run_worker
    from election.ops import preflight

    # Fail here, in one line, rather than in every forked worker process.
    settings.require_verifying_keys()
    preflight.check_broker(settings)
    preflight.check_redis(settings.redis_url)
    preflight.check_postgres(settings)
    if args.role == "logger":
        settings.require_signing_key()
        settings.require_voter_key()
        preflight.check_dedup_store(settings.redis_url)
    return run_worker(
        settings,
        args.role,
        args.processes or settings.worker_processes,
        args.threads or settings.worker_threads,
    )


def _machine(settings: Settings, args: argparse.Namespace) -> int:
    from election.domain.outcomes import summarize
    from election.domain.votes import InvalidId, canonical_id
    from election.machine.voting import TopicMissing, VotingMachine

    configure_logging(
        "WARNING" if settings.log_level == "INFO" else settings.log_level,
        settings.log_format,
        process="machine",
    )
    given = {
        "election ID": args.election_id or _ask("Election ID: "),
        "machine ID": args.machine_id or _ask("Machine ID: "),
    }
    ids: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            print(
                f"election machine: the {name} is required (--{name.split()[0]}-id)",
                file=sys.stderr,
            )
            return RET_USAGE
        try:
            # One voter, one ID: "07" is machine 7, and "7.0" is refused.
            ids[name] = canonical_id(value)
        except InvalidId as exc:
            print(f"election machine: invalid {name} {value!r}: {exc}", file=sys.stderr)
            return RET_USAGE
    election_id, machine_id = ids["election ID"], ids["machine ID"]
    choices = args.choices or settings.choices
    rng = random.Random(args.seed)
    stop = threading.Event()
    _on_stop_signals(stop.set)
    results = []
    machine = VotingMachine(settings, machine_id, election_id)
    _reachable(lambda: machine.open(STARTUP_TIMEOUT_S), settings)
    print(f"machine {machine_id} voting in election {election_id} (Ctrl-C to stop)", flush=True)
    try:
        sent = 0
        while not stop.is_set() and (args.votes is None or sent < args.votes):
            if sent and args.interval and stop.wait(args.interval):
                break
            cast = machine.cast(rng.randint(1, args.voters), rng.randrange(choices), args.timeout)
            sent += 1
            results.append((cast.outcome, cast.latency))
            print(f"{cast.uuid}  choice {cast.choice}  {cast.outcome}", flush=True)
    except TopicMissing as exc:
        # Not a time-out: the vote was not sent. One line, then the summary below.
        print(f"election machine: {exc}", file=sys.stderr, flush=True)
        return RET_UNAVAILABLE
    finally:
        machine.close()
        summary = summarize(results)
        print(f"--- machine {machine_id}: {len(results)} votes", flush=True)
        for line in summary.lines():
            print(f"    {line}", flush=True)
    return RET_OK


def _tally(settings: Settings, args: argparse.Namespace) -> int:
    from election.storage.models import open_database, tally

    configure_from_settings(settings, process="tally")
    database = open_database(settings, max_connections=1)
    try:
        with database.connection_context():
            counts = tally(args.election_id)
    except Exception as exc:  # peewee wraps driver errors in its own classes
        raise Unavailable(f"cannot read the tally from PostgreSQL: {one_line(exc)}") from None
    total = sum(counts.values())
    print(f"election {args.election_id}")
    for choice, votes in counts.items():
        print(f"  choice {choice}: {votes}")
    print(f"  total: {total}")
    return RET_OK


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    import secrets

    key_id = time.strftime("k%Y%m%d")
    if args.voter_key:
        # Once an election has claims, a new VOTER_KEY would let every voter vote again:
        # the voting logger refuses one (its check is sealed with the claims).
        print("# VOTER_KEY: set once per deployment, before the first vote; never change it")
        print(f"VOTER_KEY={secrets.token_hex(32)}")
    print(f"RECORD_SIGNING_KEYS={key_id}={secrets.token_hex(32)}")
    print(f"RECORD_SIGNING_KEY_ID={key_id}")
    return RET_OK


def _dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    from actors.dead_letters import DeadLetters
    from election.ops import preflight

    configure_from_settings(settings, process="dead-letters")
    preflight.check_redis(settings.redis_url)
    client = _redis(settings)
    store = DeadLetters(client, settings.namespace)
    letters = store.all()
    if args.action == "list":
        if not letters:
            print("no dead letters")
        for letter in letters:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(letter.failed_at))
            print(
                f"{letter.message_id}  {when}Z  {letter.actor}  ballot {letter.ballot}  "
                f"after {letter.retries} retries: {letter.error}"
            )
        return RET_OK
    chosen = letters if args.all else [ltr for ltr in letters if ltr.message_id in args.ids]
    unknown = set(args.ids) - {letter.message_id for letter in letters}
    if unknown or not (args.all or args.ids):
        what = ", ".join(sorted(unknown)) if unknown else "nothing"
        print(
            f"election dead-letters: no such dead letter: {what} (give IDs or --all)",
            file=sys.stderr,
        )
        return RET_USAGE
    if args.action == "purge":
        for letter in chosen:
            store.remove(letter.message_id)
            print(f"purged {letter.message_id} ({letter.actor}, ballot {letter.ballot})")
        return RET_OK
    from actors.recording import vote_recorder
    from actors.replay import DeadLetterReplay
    from election.pubsub.client import Publisher

    kept = 0
    with _stores(settings, "dead-letters") as (client, database):
        publisher = Publisher(settings)
        replay = DeadLetterReplay(vote_recorder(settings, database, client, publisher), store)
        try:
            for letter in chosen:
                done = _reachable(functools.partial(replay.replay, letter), settings)
                verb = "replayed" if done.final else "kept"
                kept += not done.final
                print(f"{verb} {letter.message_id} (ballot {letter.ballot}): {done.outcome}")
        finally:
            publisher.close()
    return RET_ERROR if kept else RET_OK


def _check(settings: Settings, args: argparse.Namespace) -> int:
    from actors.audit import check_election
    from actors.claims import Seal, VoterClaims
    from actors.dead_letters import DeadLetters
    from election.domain.secrecy import VoterSecrets

    secrets = VoterSecrets(settings.require_voter_key())
    with _stores(settings, "check") as (client, database):
        claims = VoterClaims(client, settings.namespace, Seal("", secrets.key_check))
        report = _reachable(
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


def _mix(settings: Settings, args: argparse.Namespace) -> int:
    from actors.ballots import BallotTable

    with _stores(settings, "mix") as (_, database):
        moved = _reachable(lambda: BallotTable(database).mix(args.election_id), settings)
    print(f"election {args.election_id}: {moved} rows rewritten in reference order")
    return RET_OK


def _dedup_store(settings: Settings, args: argparse.Namespace) -> int:
    from actors.seal import establish_seal, reseal
    from election.domain.secrecy import VoterSecrets
    from election.ops import preflight

    secrets = VoterSecrets(settings.require_voter_key())
    if args.action == "reseal" and not args.yes:
        print(
            "election dedup-store reseal: give --yes: voters whose claims Redis lost can "
            "then vote again (restore Redis from its AOF first if you can)",
            file=sys.stderr,
        )
        return RET_USAGE
    with _stores(settings, "dedup-store") as (client, database):
        if args.action == "reseal":
            store_id = reseal(client, database, settings.namespace, secrets.key_check)
            print(f"dedup store resealed as {store_id}")
            return RET_OK
        problems = preflight.durability_problems(client)
        _, _, alarms = establish_seal(client, database, settings.namespace, secrets.key_check)
    for line in [*problems, *alarms]:
        print(f"PROBLEM: {line}")
    if problems or alarms:
        return RET_ERROR
    print("dedup store sealed and durable: voting can go on")
    return RET_OK


@contextlib.contextmanager
def _stores(settings: Settings, process: str) -> Iterator[tuple[redis.Redis, peewee.Database]]:
    """Redis and PostgreSQL for an operator's command, checked first, closed after."""
    from election.ops import preflight
    from election.storage.models import open_database

    configure_from_settings(settings, process=process)
    preflight.check_redis(settings.redis_url)
    preflight.check_postgres(settings)
    client = _redis(settings)
    database = open_database(settings, max_connections=1)
    try:
        yield client, database
    finally:
        database.close_all()
        client.close()


def _redis(settings: Settings) -> redis.Redis:
    from election.storage.redis_client import connect_redis

    return connect_redis(settings.redis_url, timeout_s=10)


def _scale(text: str) -> dict[str, int]:
    scale = {"logger": 1, "recorder": 1}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, count = item.partition("=")
        if not sep or kind not in scale or not count.isdigit() or int(count) < 1:
            raise ValueError(f"--scale takes logger=N,recorder=N; got {item!r}")
        scale[kind] = int(count)
    return scale


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from bench import report, storage
    from bench.run import BenchOptions, run
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
    try:
        scales = [_scale(text) for text in args.scale or ["logger=1,recorder=1"]]
    except ValueError as exc:
        print(f"election bench: {exc}", file=sys.stderr)
        return RET_USAGE
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


def _bench_relay(settings: Settings, args: argparse.Namespace) -> int:
    from bench.relay import run_relay

    configure_from_settings(settings, process=f"relay-{args.hop}")
    stop = threading.Event()
    _on_stop_signals(stop.set)
    run_relay(settings, args.hop, stop)
    return RET_OK


def _ask(prompt: str) -> str | None:
    if not sys.stdin.isatty():
        return None
    try:
        return input(prompt).strip() or None
    except EOFError:
        return None


def _reachable(call: Callable[[], T], settings: Settings) -> T:
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
