"""End to end, all real: the emulator, Redis, PostgreSQL, the bridge and both Dramatiq
workers as separate processes, and voting machines run as the ``election`` CLI."""

from __future__ import annotations

import threading
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from election.domain import protocol
from tests.conftest import RABBITMQ_BROKER, REDIS_BROKER
from tests.support.system import ElectionSystem, MachineRun

RECORDED = "A vote was recorded successfully"
ALREADY = "Already voted"
TIMED_OUT = "Time out"

pytestmark = pytest.mark.e2e


def run_machines(system: ElectionSystem, *machine_args: list[str]) -> list[MachineRun]:
    """Run several machines at once; their results in the order given."""
    with ThreadPoolExecutor(len(machine_args)) as pool:
        return list(pool.map(lambda args: system.machine(*args), machine_args))


@pytest.mark.parametrize("broker", [REDIS_BROKER, RABBITMQ_BROKER], ids=["redis", "rabbitmq"])
def test_votes_from_two_machines_are_recorded_and_each_gets_only_its_own_answers(
    make_system: object, broker: str
) -> None:
    system: ElectionSystem = make_system(broker, "bridge", "logger", "recorder")  # type: ignore[operator]
    common = ["--election-id", "11", "--votes", "12", "--voters", "15", "--interval", "0"]
    first, second = run_machines(
        system,
        [*common, "--machine-id", "1", "--seed", "1"],
        [*common, "--machine-id", "2", "--seed", "2"],
    )
    for run in (first, second):
        assert len(run.votes) == 12
        assert not run.with_outcome(TIMED_OUT), run.stdout
        assert {said for _, _, said in run.votes} <= {RECORDED, ALREADY}
    told_recorded = set(first.with_outcome(RECORDED)) | set(second.with_outcome(RECORDED))
    # Every ballot told recorded has its row, and there is no other row.
    assert system.recorded("11", told_recorded, range(1, 16)) == told_recorded
    assert len(system.rows("11")) == len(told_recorded)
    # Each machine printed answers only for its own ballots.
    assert not set(u for u, _, _ in first.votes) & set(u for u, _, _ in second.votes)


def test_repeated_voter_gets_already_voted_and_no_second_row(system: ElectionSystem) -> None:
    run = system.machine(
        "--election-id",
        "21",
        "--machine-id",
        "5",
        "--votes",
        "3",
        "--voters",
        "1",
        "--interval",
        "0",
    )
    assert [said for _, _, said in run.votes] == [RECORDED, ALREADY, ALREADY]
    told = run.with_outcome(RECORDED)
    assert system.recorded("21", told, range(1, 4)) == set(told)
    assert len(system.rows("21")) == len(told)


def test_same_voter_from_two_machines_at_once_is_recorded_exactly_once(
    system: ElectionSystem,
) -> None:
    rounds = 40
    collector = system.collector("race-")
    barrier = threading.Barrier(2)
    sent: list[tuple[str, str]] = []

    def send(machine: str, voter: int) -> str:
        barrier.wait(timeout=10)
        return system.submit(machine, voter, "31")

    with ThreadPoolExecutor(2) as pool:
        for voter in range(1, rounds + 1):
            a = pool.submit(send, "race-a", voter)
            b = pool.submit(send, "race-b", voter)
            sent.append((a.result(timeout=30), b.result(timeout=30)))
    answers = collector.wait_for([u for pair in sent for u in pair], timeout=120)
    collector.close()
    rows = system.recorded("31", [u for pair in sent for u in pair], range(1, rounds + 1))
    assert len(rows) == len(system.rows("31")) == rounds
    for a, b in sent:
        said = sorted([answers[a][0][1], answers[b][0][1]])
        assert said == [protocol.RESULT_ALREADY_VOTED, protocol.RESULT_SUCCESSFUL]
        winner = a if answers[a][0][1] == protocol.RESULT_SUCCESSFUL else b
        assert winner in rows
        assert answers[a][0][0] == "race-a" and answers[b][0][0] == "race-b"


def test_machine_times_out_when_workers_are_not_running(make_system: object) -> None:
    system: ElectionSystem = make_system(REDIS_BROKER, "bridge")  # type: ignore[operator]
    run = system.machine(
        "--election-id",
        "41",
        "--machine-id",
        "9",
        "--votes",
        "2",
        "--timeout",
        "1.5",
        "--interval",
        "0",
    )
    assert [said for _, _, said in run.votes] == [TIMED_OUT, TIMED_OUT]
    assert "Time out: 2" in run.stdout
    # The ballots were queued, not lost: once the workers run, they are recorded.
    system.start("logger", "recorder")
    system.services["recorder"].wait_for_log(r"vote\.recorded", timeout=60, times=2)
    timed_out = run.with_outcome(TIMED_OUT)
    assert (
        system.recorded("41", timed_out, range(1, 10_001)) == set(timed_out)
        and len(system.rows("41")) == 2
    )


def test_two_machines_with_the_same_id_both_receive_all_their_answers(
    system: ElectionSystem,
) -> None:
    common = [
        "--election-id",
        "51",
        "--machine-id",
        "same",
        "--votes",
        "8",
        "--voters",
        "100000",
        "--interval",
        "0",
    ]
    first, second = run_machines(system, [*common, "--seed", "3"], [*common, "--seed", "4"])
    for run in (first, second):
        assert len(run.votes) == 8
        assert not run.with_outcome(TIMED_OUT), run.stdout


def test_tally_matches_what_the_machines_were_told(system: ElectionSystem) -> None:
    common = ["--election-id", "61", "--votes", "10", "--voters", "12", "--interval", "0"]
    runs = run_machines(
        system,
        [*common, "--machine-id", "1", "--seed", "5"],
        [*common, "--machine-id", "2", "--seed", "6"],
    )
    told: dict[int, int] = {}
    for run in runs:
        assert not run.with_outcome(TIMED_OUT)
        for _, choice, said in run.votes:
            if said == RECORDED:
                told[choice] = told.get(choice, 0) + 1
    from tests.support.processes import run_election

    done = run_election(["tally", "--election-id", "61"], system.env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    printed = {
        int(line.split()[1].rstrip(":")): int(line.split()[2])
        for line in lines
        if line.strip().startswith("choice")
    }
    assert printed == told
    assert f"total: {sum(told.values())}" in done.stdout


def test_malformed_votes_are_answered_rejected_or_dropped_and_nothing_crashes(
    system: ElectionSystem,
) -> None:
    collector = system.collector("bad-")
    identified = {
        "not json": (b"{not json", {protocol.MACHINE_ID: "bad-1"}),
        "missing field": (
            b'{"machine_ID": "bad-2", "voter_ID": 1, "election_ID": 1, "UUID": "u-2"}',
            {},
        ),
        "wrong type": (
            b'{"machine_ID": "bad-3", "voter_ID": [1], "voting": 1, "election_ID": 1,'
            b' "UUID": "u-3", "timestamp": 1}',
            {},
        ),
        "choice out of range": (
            b'{"machine_ID": "bad-4", "voter_ID": 1, "voting": 99, "election_ID": 1,'
            b' "UUID": "u-4", "timestamp": 1}',
            {},
        ),
        "huge body": (b'{"pad": "' + b"x" * 500_000 + b'"}', {protocol.MACHINE_ID: "bad-5"}),
    }
    for data, attributes in identified.values():
        system.publish_raw(data, {protocol.FUNCTION: protocol.SUBMIT_VOTE, **attributes})
    anonymous = [b"\xff\xfe not utf-8", b"[1, 2, 3]", b""]
    for data in anonymous:
        system.publish_raw(data, {protocol.FUNCTION: protocol.SUBMIT_VOTE})
    # A valid vote in the same stream is unaffected.
    good = system.submit("bad-ok", 7, "71")

    def machine_of(name: str) -> str:
        return "bad-" + str(list(identified).index(name) + 1)

    collector.wait_for([good], timeout=60)
    from tests.support.processes import wait_for

    wait_for(
        lambda: sum(map(len, collector.results.values())) >= len(identified) + 1,
        60,
        "an answer to every identified sender",
    )
    results = {m: r for answers in collector.results.values() for m, r in answers}
    assert results["bad-ok"] == protocol.RESULT_SUCCESSFUL
    for name in identified:
        assert results[machine_of(name)].startswith("rejected: "), name
    assert "JSON" in results["bad-1"]
    assert "missing field voting" in results["bad-2"]
    assert "voter_ID" in results["bad-3"]
    assert "voting" in results["bad-4"]
    assert "too large" in results["bad-5"]
    logger = system.services["logger"]
    logger.wait_for_log(r"vote\.dropped", times=len(anonymous), timeout=30)
    collector.close()
    assert all(service.alive for service in system.services.values())
    # Nothing is retried or redelivered: each message was handled exactly once. The huge
    # body never reached the logger: the bridge refused it (and answered it) itself.
    assert logger.count(r"vote\.rejected") == len(identified) - 1
    bridge = system.services["bridge"]
    assert bridge.count(r"message\.oversized.*answered=.?bad-5") == 1
    assert logger.count(r"vote\.dropped") == len(anonymous)
    assert logger.count(r"Retrying message") == 0


def test_bridge_drops_messages_its_filter_does_not_match(system: ElectionSystem) -> None:
    marker = uuidlib.uuid4().hex
    system.publish_raw(b"{}", {protocol.FUNCTION: "something else", "marker": marker})
    good = system.submit("flt-1", 1, "81")
    collector = system.collector("flt-")
    collector.wait_for([good], timeout=60)
    collector.close()
    bridge = system.services["bridge"]
    # Both service subscriptions saw the foreign message and dropped it.
    bridge.wait_for_log(r"message\.filtered_out.*function='something else'", times=2)
    assert system.services["logger"].count(r"vote\.(rejected|dropped)") == 0


def test_bridge_and_workers_stop_cleanly_on_sigterm(system: ElectionSystem) -> None:
    codes = system.stop()
    assert codes == {"bridge": 0, "logger": 0, "recorder": 0}
