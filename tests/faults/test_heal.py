"""The system heals itself under load: the Pub/Sub emulator restarted (it forgets the
topic, the subscriptions and every message it held), and bodies far over the services'
limit in the backlog. Each fault adds a row to the fault table (see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from election.local.emulator import Emulator, free_port
from election.ops.provision import service_subscriptions
from election.pubsub.client import topic_path
from tests.conftest import REDIS_BROKER
from tests.faults.test_faults import ALL, ENV, MACHINES, VOTES_PER_MACHINE, run_fault
from tests.support.factory import SystemFactory, system_factory
from tests.support.load import Load
from tests.support.processes import Service, election_command, wait_for
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e

#: A body over gRPC's default 4 MB receive limit and under Pub/Sub's 10 MB.
LARGE_BODY = b'{"padding": "' + b"x" * (5 * 1000 * 1000) + b'"}'
#: Votes published while the bridge is down, around the large bodies.
BACKLOG = 60


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[Emulator]:
    """An emulator for one test only, which the test may stop and start again."""
    emulator = Emulator(port=free_port(), log_path=tmp_path / "emulator.log")
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def make_own_system(own_emulator: Emulator, tmp_path: Path) -> Iterator[SystemFactory]:
    """Like ``make_system``, on :func:`own_emulator` (closed before it stops)."""
    with system_factory(own_emulator.address, tmp_path) as make:
        yield make


def test_nothing_is_lost_or_doubled_when_the_emulator_restarts_under_load(
    make_own_system: SystemFactory, own_emulator: Emulator
) -> None:
    system = make_own_system(REDIS_BROKER, *ALL, env=ENV)
    bridge = system.services["bridge"]

    def restart_emulator() -> None:
        own_emulator.stop()
        own_emulator.start()  # the same port, empty: no topic, no subscription
        # The bridge makes the topic and its subscriptions again (one line), and the
        # load's machines theirs; votes sent meanwhile find no topic and are sent again.
        bridge.wait_for_log(r"bridge\.recreated", timeout=90)

    run_fault(system, "emulator restarted under load", "951", restart_emulator)
    recreated = [line for line in bridge.log().splitlines() if "bridge.recreated" in line]
    for spec in service_subscriptions(system.settings):
        assert any(f"subscriptions/{spec.name} created" in line for line in recreated), spec
    assert bridge.count(r"subscriber\.failed") == 0


def backlog_with_large_bodies(system: ElectionSystem, election: str) -> list[str]:
    """Publish ``BACKLOG`` votes of ``election`` (as reference machines) with two 5 MB
    ``submit vote`` and two 5 MB ``record vote`` bodies among them; the votes' UUIDs."""
    uuids: list[str] = []
    for n in range(BACKLOG):
        if n % (BACKLOG // 4) == 0:
            function = "submit vote" if n < BACKLOG // 2 else "record vote"
            system.publish_raw(LARGE_BODY, {"function": function, "machineID": "big"})
        uuids.append(system.submit(f"bl{election}", 2_000_000 + n, election, n % 5))
    return uuids


def test_nothing_is_lost_when_bodies_over_4_mb_sit_in_the_backlog(
    make_system: SystemFactory,
) -> None:
    system = make_system(REDIS_BROKER, *ALL, env=ENV)
    bridge = system.services["bridge"]
    backlog_election = "962"
    load = Load(system, "961", machines=MACHINES, votes=VOTES_PER_MACHINE)
    uuids: list[str] = []

    def large_bodies_in_a_backlog() -> None:
        # With the bridge down the large bodies wait among the votes, as in a backlog.
        assert bridge.stop() == 0, "the bridge did not stop cleanly"
        uuids.extend(backlog_with_large_bodies(system, backlog_election))
        bridge.restart()
        bridge.wait_for_log(r"bridge\.started", times=2, timeout=90)
        # Each large body is refused by the one subscription whose filter it matches.
        bridge.wait_for_log(r"message\.oversized", times=4, timeout=60)
        wait_for(
            lambda: len(system.rows(backlog_election)) >= BACKLOG,
            60,
            f"the {BACKLOG} votes of the backlog to be recorded",
        )

    run_fault(system, "5 MB bodies in a backlog", "961", large_bodies_in_a_backlog, load=load)
    # One row per vote of the backlog (each has a voter of its own): none lost, none twice.
    assert len(uuids) == BACKLOG
    assert len(system.rows(backlog_election)) == BACKLOG
    assert "x" * 100 not in bridge.log(), "a body was logged"


#: The exit code of a command that lacks a service it needs (``election.cli.exits``).
RET_UNAVAILABLE = 4


def test_a_voting_machine_whose_topic_is_deleted_says_so_in_one_line_and_exits_4(
    make_system: SystemFactory,
) -> None:
    system = make_system(REDIS_BROKER, *ALL, env=ENV)
    args = ["--election-id", "971", "--machine-id", "m971", "--voters", "1000000"]
    machine = Service(
        "machine",
        election_command("machine", *args, "--votes", "100000", "--interval", "0.05"),
        system.env,
        system.log_dir,
    ).start()
    try:
        machine.wait_for_log(r"A vote was recorded successfully", timeout=60)
        system.publisher.client.delete_topic(topic=topic_path(system.settings), timeout=30)
        assert machine.process is not None
        code = machine.process.wait(60)
    finally:
        machine.stop()
    output = machine.log()
    assert code == RET_UNAVAILABLE, output[-3000:]
    said = [line for line in output.splitlines() if line.startswith("election machine:")]
    assert len(said) == 1 and "does not exist" in said[0], output[-3000:]
    assert "Traceback" not in output
