"""The exact close under a race, over the real components: two logger processes (one of
which never hears of the close) and two recorder processes, several machines sending
hundreds of votes while ``election close`` runs. Every vote gets one answer,
``successful`` or ``rejected: election E is closed`` (``Already voted`` for a repeat
voter), and the sealed result is exactly the ballots answered ``successful``.

With the barrier's check taken out of the claim script, this test fails (seen: 324
votes answered ``successful``, a sealed total of 298): the late logger's votes after the
close are claimed, and recorded after the seal."""

from __future__ import annotations

import re
import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from election.domain import protocol
from tests.conftest import REDIS_BROKER
from tests.support.elections import declare, open_election, sealed_counts
from tests.support.processes import Service, election_command, run_election
from tests.support.system import READY, ElectionSystem

pytestmark = pytest.mark.e2e

ELECTION = "77"
MACHINES = 4
#: Votes each machine sends before the close starts, and at most in all.
BEFORE_CLOSE, AT_MOST = 40, 250
#: Seconds between two votes of one machine, until the close has returned.
PACE_S = 0.03
CLOSED = f"rejected: election {ELECTION} is closed"
ANSWERS = {protocol.RESULT_SUCCESSFUL, CLOSED, protocol.RESULT_ALREADY_VOTED}


def machine(
    system: ElectionSystem, n: int, warmed: threading.Event, closed: threading.Event
) -> list[tuple[str, int, int]]:
    """Send votes, about one per ``PACE_S``, until the close has returned and a few after
    (or ``AT_MOST``): (uuid, voter, choice). Every fifth vote repeats a voter."""
    sent: list[tuple[str, int, int]] = []
    after = 0
    while len(sent) < AT_MOST and after < 10:
        voter = n * 1000 + (len(sent) - 3 if len(sent) % 5 == 4 else len(sent))
        choice = (voter + n) % 3
        sent.append((system.submit(f"race-{n}", voter, ELECTION, choice=choice), voter, choice))
        if len(sent) == BEFORE_CLOSE:
            warmed.set()
        if closed.is_set():
            after += 1
        closed.wait(PACE_S)  # pacing, so that votes are in flight all through the close
    return sent


def start_workers(system: ElectionSystem) -> dict[str, str]:
    """Two recorder processes, and two logger processes: one hears every event, the other
    (``logger-late``) knows only the old key, so the close's event, signed with the new
    one, is forged to it and its book stays "open": only the barrier stops its votes.
    The environment ``election close`` runs in (signing with the new key)."""
    late_env = {
        **system.env,
        "RECORD_SIGNING_KEYS": system.env["RECORD_SIGNING_KEYS"].split(",")[0],
    }
    for name, argv, env in (
        ("recorder", ["worker", "recorder", "--processes", "2"], system.env),
        ("logger-late", ["worker", "logger"], late_env),
    ):
        system.services[name] = Service(name, election_command(*argv), env, system.log_dir).start()
    system.services["recorder"].wait_for_log(READY["recorder"], timeout=90, times=2)
    system.services["logger-late"].wait_for_log(READY["logger"], timeout=90)
    return {**system.env, "RECORD_SIGNING_KEY_ID": "k2"}


def test_a_close_racing_hundreds_of_votes_seals_exactly_the_successful_ones(
    make_system: object,
) -> None:
    keys = f"k1={secrets.token_hex(16)},k2={secrets.token_hex(16)}"
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, "bridge", "logger", env={"RECORD_SIGNING_KEYS": keys}
    )
    close_env = start_workers(system)
    collector = system.collector("race-")
    declare(system, ELECTION)
    open_election(system, ELECTION)
    for name in ("logger", "logger-late"):
        system.services[name].wait_for_log(r"election_event\.(applied|stale)", timeout=30, times=2)
    warmed, closed = threading.Event(), threading.Event()
    with ThreadPoolExecutor(MACHINES) as pool:
        runs = [pool.submit(machine, system, n, warmed, closed) for n in range(MACHINES)]
        assert warmed.wait(timeout=60)
        done = run_election(["close", ELECTION], close_env, timeout=180)
        closed.set()
        sent = [vote for run in runs for vote in run.result(timeout=180)]
    assert done.returncode == 0, done.stderr
    answers = collector.wait_for([uuid for uuid, _, _ in sent], timeout=180)
    said = {}
    for uuid, _, _ in sent:
        distinct = {result for _, result in answers[uuid]}
        assert len(distinct) == 1, (uuid, distinct)  # one answer (a redelivery repeats it)
        said[uuid] = distinct.pop()
        assert said[uuid] in ANSWERS, said[uuid]
    successful = [(uuid, choice) for uuid, _, choice in sent if said[uuid] == "successful"]
    counts = sealed_counts(system, ELECTION)
    assert counts is not None
    expected = Counter(choice for _, choice in successful)
    tally = Counter({n: c for n, c in enumerate(counts) if c})
    figures = Counter(said.values())
    print(
        f"\nclose race: {len(sent)} votes, {figures['successful']} successful, "
        f"{figures[CLOSED]} closed, {figures[protocol.RESULT_ALREADY_VOTED]} already voted; "
        f"sealed total {sum(counts)} {counts}"
    )
    assert tally == expected and sum(counts) == len(successful)
    assert figures["successful"] > 0 and figures[CLOSED] > 0  # the close did race the votes
    assert re.search(rf"^  total\s+{len(successful)}$", done.stdout, re.MULTILINE), done.stdout
    voters = {voter for _, voter, _ in sent}
    told = {uuid for uuid, _ in successful}
    assert system.recorded(ELECTION, told, voters) == told
    assert len(system.rows(ELECTION)) == len(told)
    # Again for a sample of voters: closed for everyone now, and nothing changes.
    again = [system.submit("race-0", voter, ELECTION) for voter in sorted(voters)[:20]]
    late = collector.wait_for(again, timeout=60)
    assert {late[uuid][0][1] for uuid in again} == {CLOSED}
    assert sealed_counts(system, ELECTION) == counts
    assert len(system.rows(ELECTION)) == len(told)
    # The late logger did take votes after the close, and refused them at the barrier.
    assert system.services["logger-late"].count(r"election_event\.forged") >= 1
    assert system.services["logger-late"].count(r"vote\.closed") > 0
    collector.close()
