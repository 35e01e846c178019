"""One benchmark run: the emulator's floor (trivial relays) and the system, same load,
each as many times as there are fresh starts.

Every phase shares one emulator and the same machine count and vote count; each gets
processes, a topic and subscriptions of its own and a warm-up (a freshly started emulator
is slow for its first thousand or so messages). CPU seconds are read from the kernel for
every process kind before and after each measured run.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.checkpoint_lag import checkpoint_lags
from bench.driver import ClosedLoop, LoadResult
from bench.fleet import (
    Fleet,
    cpu_delta,
    cpu_seconds,
    named_processes,
    procfile_commands,
)
from bench.relay import relay_filter, relay_subscription
from bench.summary import FLOOR_KIND, is_floor
from bench.warmup import warm_emulator
from config import Settings
from election.domain.ed25519 import new_private_key
from election.domain.errors import ProcessFailed
from election.local.cleanup import drop_namespace
from election.local.emulator import Emulator, free_port, is_listening
from election.ops.provision import SubscriptionSpec, ensure_subscription, ensure_topic
from election.pubsub.client import CALL_TIMEOUT, publisher_client, subscriber_client

SERVICE_KINDS = ("bridge", "logger", "recorder", "checkpointer")


def phase_name(kind: str, start: int, starts: int) -> str:
    """``kind``, numbered when there are several starts of it."""
    return kind if starts == 1 else f"{kind} #{start}"


@dataclass
class Phase:
    """One measured run: the load's figures and CPU seconds by process kind.

    ``kind`` names what ran (the floor, or the system at one scale); ``start`` counts the
    fresh starts of that kind, from 1.
    """

    kind: str
    load: LoadResult
    cpu: dict[str, float] = field(default_factory=dict)
    start: int = 1
    starts: int = 1
    #: Seconds from each ballot's answer to the first checkpoint holding it (the system).
    checkpoint_lags: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The kind, numbered when there are several starts."""
        return phase_name(self.kind, self.start, self.starts)

    @property
    def is_floor(self) -> bool:
        """Whether this is the trivial-relay floor."""
        return is_floor(self.kind)

    def service_cpu_ms_per_vote(self, kinds: tuple[str, ...]) -> float | None:
        spent = sum(self.cpu.get(kind, 0.0) for kind in kinds)
        return spent * 1000 / self.load.answered if self.load.answered else None


@dataclass(frozen=True)
class BenchOptions:
    """What to run."""

    machines: int = 50
    votes: int = 2000
    warmup: int = 1000
    timeout_s: float = 10.0
    #: One system phase per entry, in this order, in the same run.
    scales: list[dict[str, int]] = field(default_factory=lambda: [{"logger": 1, "recorder": 1}])
    floor: bool = True
    fresh_emulator: bool = False
    #: Messages pumped through the emulator once, before any phase (its JIT warm-up).
    emulator_warmup: int = 30_000
    #: Fresh starts of every phase (new processes and subscriptions), interleaved.
    starts: int = 1
    limit_s: float = 600.0


Progress = Callable[[str, int, int], None]


def run(settings: Settings, options: BenchOptions, progress: Progress) -> list[Phase]:
    """Measure the floor (unless told not to) and the system at each scale, once per
    fresh start; return every phase in the order run."""
    emulator: Emulator | None = None
    host = settings.emulator_host
    if options.fresh_emulator or host is None or not is_listening(*_split(host)):
        emulator = Emulator(port=free_port())
        emulator.start()
        host = emulator.address
    run_id = secrets.token_hex(3)
    workdir = Path(tempfile.mkdtemp(prefix="election-bench-"))
    phases = []
    try:
        if options.emulator_warmup:
            warm_emulator(
                dataclasses.replace(settings, emulator_host=host, namespace=f"warm{run_id}"),
                options.emulator_warmup,
                lambda done, total: progress("emulator warm-up", done, total),
                limit_s=options.limit_s,
            )
        # The floor (None), then each scale; interleaved, and every other start in
        # reverse, so that a drift in the machine's load touches every kind alike.
        order: list[int | None] = ([None] if options.floor else []) + list(
            range(len(options.scales))
        )
        for start in range(1, options.starts + 1):
            for n in order if start % 2 else reversed(order):
                phases.append(
                    _floor(settings, host, run_id, start, options, workdir, progress)
                    if n is None
                    else _system(
                        settings,
                        host,
                        run_id,
                        start,
                        n,
                        options.scales[n],
                        options,
                        workdir,
                        progress,
                    )
                )
    finally:
        if emulator is not None:
            emulator.stop()
    return phases


def _split(host: str) -> tuple[str, int]:
    name, _, port = host.rpartition(":")
    return name, int(port)


def _environment(settings: Settings, host: str, namespace: str) -> tuple[Settings, dict[str, str]]:
    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": host,
        "GOOGLE_CLOUD_PROJECT": settings.project,
        "ELECTION_TOPIC": namespace,
        "ELECTION_NAMESPACE": namespace,
        "DATABASE_SCHEMA": namespace,
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.setdefault("VOTER_KEY", secrets.token_hex(16))
    env.setdefault("RECORD_SIGNING_KEYS", f"bench={secrets.token_hex(16)}")
    env.setdefault("LOG_SIGNING_KEY", new_private_key())
    phase_settings = dataclasses.replace(
        settings,
        emulator_host=host,
        topic=namespace,
        namespace=namespace,
        database_schema=namespace,
    )
    return phase_settings, env


def _measure(
    kind: str,
    start: int,
    settings: Settings,
    fleet: Fleet,
    first_function: str,
    options: BenchOptions,
    progress: Progress,
) -> Phase:
    name = phase_name(kind, start, options.starts)
    client = subscriber_client(settings)
    loop = ClosedLoop(
        settings,
        client,
        first_function=first_function,
        election_id=settings.namespace,
        timeout_s=options.timeout_s,
    )
    loop.open()
    try:
        if options.warmup:
            # Warm up with at least 50 machines: at M=1 a thousand votes would take minutes.
            loop.run(
                max(options.machines, 50),
                options.warmup,
                lambda done, total: progress(f"{name} warm-up", done, total),
                limit_s=options.limit_s,
            )
        before = {kind: cpu_seconds(pids) for kind, pids in _processes(fleet).items()}
        load = loop.run(
            options.machines,
            options.votes,
            lambda done, total: progress(name, done, total),
            limit_s=options.limit_s,
        )
        after = {kind: cpu_seconds(pids) for kind, pids in _processes(fleet).items()}
    finally:
        loop.close()
        client.close()
    cpu = {process: cpu_delta(before[process], after[process]) for process in after}
    return Phase(kind, load, cpu, start, options.starts)


def _processes(fleet: Fleet) -> dict[str, list[int]]:
    """Process IDs by kind: the fleet's, and the servers' (new backends included)."""
    return {
        **fleet.pids(),
        "emulator": named_processes(cmdline_contains="pubsub-emulator"),
        "redis": named_processes("redis-server"),
        "postgres": named_processes("postgres"),
        "rabbitmq": named_processes("beam.smp"),
        "bench": [os.getpid()],
    }


def _floor(
    settings: Settings,
    host: str,
    run_id: str,
    start: int,
    options: BenchOptions,
    workdir: Path,
    progress: Progress,
) -> Phase:
    floor_settings, env = _environment(settings, host, f"floor{run_id}s{start}")
    _provision_pubsub(
        floor_settings,
        [
            SubscriptionSpec(relay_subscription(floor_settings, hop), relay_filter(hop))
            for hop in (1, 2)
        ],
    )
    fleet = Fleet(env, workdir)
    for hop in (1, 2):
        fleet.start(f"relay:{hop}", f"election bench-relay --hop {hop}")
    try:
        fleet.wait_ready()
        return _measure(FLOOR_KIND, start, floor_settings, fleet, "relay 1", options, progress)
    finally:
        fleet.stop()


def _system(
    settings: Settings,
    host: str,
    run_id: str,
    start: int,
    n: int,
    scale: dict[str, int],
    options: BenchOptions,
    workdir: Path,
    progress: Progress,
) -> Phase:
    system_settings, env = _environment(settings, host, f"bench{run_id}s{start}n{n}")
    commands = procfile_commands()
    fleet = Fleet(env, workdir)
    fleet.start("release", commands["release"])
    fleet.processes[0][1].wait(120)
    if fleet.processes[0][1].returncode != 0:
        raise ProcessFailed(f"provision failed: {fleet.processes[0][2].read_text()[-2000:]}")
    fleet.processes = []
    fleet.start("bridge", commands["bridge"])
    fleet.start("checkpointer", commands["checkpointer"])
    for kind in ("logger", "recorder"):
        fleet.start(kind, commands[kind], scale.get(kind, 1))
    try:
        fleet.wait_ready()
        label = " ".join(f"{kind}={scale.get(kind, 1)}" for kind in ("logger", "recorder"))
        phase = _measure(
            f"system ({label})", start, system_settings, fleet, "submit vote", options, progress
        )
        # Before the fleet stops: the last checkpoint comes from its checkpointer.
        phase.checkpoint_lags = checkpoint_lags(
            system_settings, system_settings.namespace, phase.load.receipts
        )
        return phase
    finally:
        fleet.stop()
        drop_namespace(system_settings)


def _provision_pubsub(settings: Settings, specs: list[SubscriptionSpec]) -> None:
    publisher = publisher_client(settings)
    subscriber = subscriber_client(settings)
    try:
        ensure_topic(
            publisher, f"projects/{settings.project}/topics/{settings.topic}", CALL_TIMEOUT
        )
        for spec in specs:
            ensure_subscription(subscriber, settings, spec, CALL_TIMEOUT)
    finally:
        subscriber.close()
