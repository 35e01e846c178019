"""Faults under load: kill each process, restart the stores, duplicate and redeliver.

Each test runs a steady load from several voting machines against a whole system, inflicts
one fault once, recovers, and checks the promise (see tests/support/load.py). Lost and
doubled must be 0; every row goes into the fault table printed at the end of the run.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import psycopg2
import pytest

from election.domain.routes import route_for
from election.storage.redis_client import connect_redis
from tests.conftest import RABBITMQ_BROKER, REDIS_BROKER
from tests.faults.conftest import record_row
from tests.support.load import DuplicatingPublisher, Load, settle_and_check
from tests.support.processes import wait_for
from tests.support.redis_server import AofRedis
from tests.support.system import ElectionSystem
from tests.support.taps import RecordTap

pytestmark = pytest.mark.e2e

ALL = ("bridge", "logger", "recorder")
MACHINES = 6
VOTES_PER_MACHINE = 45
#: How long a fault lasts before the system is restored ("a moment").
OUTAGE_S = 2.0
#: Retries fast enough that an outage of a few seconds is ridden out well within them.
ENV = {"ACTOR_MAX_RETRIES": "30", "ACTOR_MIN_BACKOFF_MS": "100", "ACTOR_MAX_BACKOFF_MS": "1000"}


def run_fault(
    system: ElectionSystem,
    name: str,
    election: str,
    inflict: Callable[[], None],
    load: Load | None = None,
    *,
    recover: Callable[[], None] | None = None,
    suspended_ok: bool = False,
    still_suspended: bool = False,
) -> Load:
    """Run the load, inflict the fault once a third of it is sent, let the load finish,
    ``recover`` (an operator's step, if the fault needs one), then judge every answer."""
    load = load or Load(system, election, machines=MACHINES, votes=VOTES_PER_MACHINE)
    load.start()
    try:
        load.wait_until_sent(MACHINES * VOTES_PER_MACHINE // 3)
        inflict()
        load.finish()
        if recover is not None:
            recover()
        # Messages a killed worker held come back after the heartbeat timeout (15 s);
        # wait for them too, so their redelivery is part of what is checked.
        wait_for(
            lambda: in_flight(system, "logger") + in_flight(system, "recorder") == 0,
            90,
            "messages held by dead workers to be requeued and done",
        )
        row = settle_and_check(
            load, name, suspended_ok=suspended_ok, still_suspended=still_suspended
        )
    finally:
        load.close()
    record_row(row)
    assert all(service.alive for service in system.services.values())
    assert (row.lost, row.doubled, row.wrong) == (0, 0, 0), "\n".join(row.notes)
    assert row.sent == MACHINES * VOTES_PER_MACHINE
    assert row.rechecked == len({cast.voter for cast in load.casts})
    return load


def in_flight(system: ElectionSystem, role: str) -> int:
    """Messages a worker of ``role`` has taken from its Dramatiq queue and not acked yet
    (RabbitMQ: also those waiting in the queue or its delay queue)."""
    queue = route_for(role).queue(system.settings.namespace)
    if system.settings.broker_kind == "rabbitmq":
        return rabbitmq_backlog(queue) + rabbitmq_backlog(f"{queue}.DQ")
    pattern = f"dramatiq:__acks__.*.{queue}"
    broker = connect_redis(system.settings.broker_url)
    try:
        return sum(int(broker.scard(key)) for key in broker.scan_iter(pattern))
    finally:
        broker.close()


def held_by_workers(system: ElectionSystem, role: str) -> int:
    """Messages a worker of ``role`` has taken from its Dramatiq queue and not acked."""
    queue = route_for(role).queue(system.settings.namespace)
    if system.settings.broker_kind == "rabbitmq":
        return rabbitmq_backlog(queue, unacked_only=True)
    return in_flight(system, role)


def rabbitmq_backlog(queue: str, *, unacked_only: bool = False) -> int:
    """Ready plus unacknowledged messages of one RabbitMQ queue (0 if it does not exist);
    with ``unacked_only``, only those a consumer holds."""
    listed = subprocess.run(
        [
            "rabbitmqctl",
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "messages",
            "messages_unacknowledged",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for line in listed.splitlines():
        name, *counts = line.split()
        if name == queue:
            total, unacked = (int(count) for count in counts)
            return unacked if unacked_only else total
    return 0


def kill_and_restart(system: ElectionSystem, role: str) -> Callable[[], None]:
    def inflict() -> None:
        service = system.services[role]
        # Kill it while it holds work, so that work must come back from the dead; a kill
        # with nothing in flight would prove nothing, so the test fails instead.
        if role == "bridge":
            forwarded = service.count(r"bridge\.forwarded")
            wait_for(
                lambda: service.count(r"bridge\.forwarded") > forwarded,
                10,
                "the bridge forwarding a pull",
                interval=0.001,
            )
        elif system.settings.broker_kind == "rabbitmq":
            # RabbitMQ pushes to its consumers: freeze the worker, and it goes on being
            # handed messages, which it then holds unacknowledged; kill it once it does.
            service.signal_tree(signal.SIGSTOP)
            wait_for(lambda: held_by_workers(system, role) > 0, 30, "messages held by the worker")
        else:
            # A Redis-broker worker fetches for itself: catch it holding a batch.
            wait_for(
                lambda: held_by_workers(system, role) > 0, 10, "a message in flight", interval=0.001
            )
        service.kill_tree()
        time.sleep(OUTAGE_S)  # the outage itself, not a wait for a condition
        service.restart()
        system.services[role].wait_for_log(
            r"bridge\.started" if role == "bridge" else "Worker process is ready",
            times=2,
            timeout=90,
        )

    return inflict


@pytest.mark.parametrize("broker", [REDIS_BROKER, RABBITMQ_BROKER], ids=["redis", "rabbitmq"])
@pytest.mark.parametrize("role", ALL)
def test_nothing_is_lost_or_doubled_when_a_process_is_killed(
    make_system: object, role: str, broker: str
) -> None:
    system: ElectionSystem = make_system(broker, *ALL, env=ENV)  # type: ignore[operator]
    rabbitmq = system.settings.broker_kind == "rabbitmq"
    run_fault(
        system,
        f"SIGKILL {role}" + (" (RabbitMQ)" if rabbitmq else ""),
        f"9{ALL.index(role)}{2 if rabbitmq else 1}",
        kill_and_restart(system, role),
    )


def test_nothing_is_lost_or_doubled_in_a_rolling_restart(make_system: object) -> None:
    system: ElectionSystem = make_system(REDIS_BROKER, *ALL, env=ENV)  # type: ignore[operator]

    def rolling_restart() -> None:
        for role in ALL:
            assert system.services[role].stop() == 0, f"{role} did not stop cleanly"
            system.services[role].restart()
            system.services[role].wait_for_log(
                r"bridge\.started" if role == "bridge" else "Worker process is ready",
                times=2,
                timeout=90,
            )

    run_fault(system, "SIGTERM rolling restart", "911", rolling_restart)


def test_claims_survive_a_redis_restart(make_system: object, aof_redis: AofRedis) -> None:
    env = {**ENV, "REDIS_URL": aof_redis.url, "DRAMATIQ_BROKER_URL": REDIS_BROKER}
    system: ElectionSystem = make_system(REDIS_BROKER, *ALL, env=env)  # type: ignore[operator]

    def restart_redis() -> None:
        aof_redis.kill()
        time.sleep(OUTAGE_S)
        aof_redis.start()

    # Every voter claimed before the restart is still claimed: the re-vote of every voter
    # that ends each fault run finds each recorded voter a repeat.
    run_fault(system, "SIGKILL + restart Redis (AOF)", "921", restart_redis)


def test_nothing_is_lost_or_doubled_when_postgresql_connections_are_cut(
    make_system: object,
) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER,
        *ALL,
        env={**ENV, "DATABASE_URL": "postgresql://127.0.0.1:5432/postgres?application_name=svc"},
    )

    def cut_connections() -> None:
        admin = psycopg2.connect("postgresql://127.0.0.1:5432/postgres", connect_timeout=5)
        admin.autocommit = True
        killed = 0
        deadline = time.monotonic() + OUTAGE_S * 2

        def cut() -> bool:
            nonlocal killed
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'svc'"
            )
            killed += cursor.fetchone()[0]
            return time.monotonic() >= deadline  # keep cutting for the whole outage

        with admin.cursor() as cursor:
            wait_for(cut, OUTAGE_S * 2 + 10, "the end of the outage", interval=0.1)
        admin.close()
        assert killed > 0, "no connection was cut"

    run_fault(system, "cut PostgreSQL connections", "931", cut_connections)


def test_nothing_is_doubled_when_every_message_is_published_twice_and_redelivered(
    make_system: object,
) -> None:
    system: ElectionSystem = make_system(REDIS_BROKER, *ALL, env=ENV)  # type: ignore[operator]
    tap = RecordTap(system)
    load = Load(
        system,
        "941",
        machines=MACHINES,
        votes=VOTES_PER_MACHINE,
        publisher=DuplicatingPublisher(system.settings),
    )
    burst: list[int] = []

    def redelivery_burst() -> None:
        # Every ballot sent so far comes again, and every record message the logger made.
        for cast in list(load.casts):
            system.submit(cast.machine, cast.voter, "941", cast.choice, uuid=cast.uuid)
        for data, attributes in list(tap.records):
            system.publish_raw(data, attributes)
        burst.append(len(load.casts))

    try:
        run_fault(
            system,
            "publish twice + redelivery burst",
            "941",
            redelivery_burst,
            load=load,
        )
    finally:
        tap.close()
    recorder = system.services["recorder"]
    assert burst and recorder.count(r"duplicate=True") >= 1
