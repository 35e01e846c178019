"""Declared elections end to end, everything real: each refusal, the roll, ``election
close``, a forged ``election changed`` event, a logger restarted while an election
opens, and the time from ``election open`` returning to the first vote accepted."""

from __future__ import annotations

import json
import re
import time
import uuid as uuidlib

import pytest

from actors.claims import Seal, VoterClaims
from election.domain import protocol
from election.domain.signing import EXPIRES, KEY_ID, SIGNATURE
from tests.conftest import REDIS_BROKER
from tests.support.elections import declare, open_election, sealed_counts
from tests.support.processes import run_election, wait_for
from tests.support.system import READY, ElectionSystem, ResultCollector

pytestmark = pytest.mark.e2e

APPLIED = r"election_event\.applied"


def answer(
    system: ElectionSystem, collector: ResultCollector, voter: int, election: str, **kw: int
) -> str:
    """One vote from machine ``m-1``; the answer it gets."""
    uuid = system.submit("m-1", voter, election, **kw)
    return collector.wait_for([uuid], timeout=60)[uuid][0][1]


def claims_of(system: ElectionSystem, election: str) -> int:
    claims = VoterClaims(system.redis, system.settings.namespace, Seal("", ""))
    return sum(1 for _ in claims.scan(election))


def applied(system: ElectionSystem, times: int) -> None:
    """Wait until the logger has applied ``times`` election events in all."""
    system.services["logger"].wait_for_log(APPLIED, timeout=30, times=times)


def test_each_refusal_the_roll_and_the_close_end_to_end(system: ElectionSystem) -> None:
    collector = system.collector("m-")
    declare(system, "42", roll=[1, 2, 3])
    applied(system, 1)
    assert answer(system, collector, 1, "42") == "rejected: election 42 is not open yet"
    open_election(system, "42")
    applied(system, 2)
    assert answer(system, collector, 1, "42", choice=7) == (
        "rejected: choice 7 is not on the ballot of election 42 (0-2)"
    )
    assert answer(system, collector, 99, "42") == (
        "rejected: voter is not on the roll of election 42"
    )
    assert claims_of(system, "42") == 0  # nothing claimed for a refused vote
    assert answer(system, collector, 1, "42", choice=1) == protocol.RESULT_SUCCESSFUL
    assert answer(system, collector, 1, "42", choice=2) == protocol.RESULT_ALREADY_VOTED
    closed = run_election(["close", "42"], system.env)
    assert closed.returncode == 0, closed.stderr
    assert re.search(r"South\s+1\n", closed.stdout) and re.search(r"total\s+1\n", closed.stdout)
    assert "turnout 1 of 3 (33.3%)" in closed.stdout and "(closed, sealed)" in closed.stdout
    assert sealed_counts(system, "42") == (0, 1, 0)
    assert answer(system, collector, 2, "42") == "rejected: election 42 is closed"
    assert claims_of(system, "42") == 1
    again = run_election(["close", "42"], system.env)  # sealed already: the same result
    assert again.returncode == 0 and re.search(r"total\s+1\n", again.stdout)
    # An undeclared election works as before (ELECTION_UNDECLARED=accept).
    assert answer(system, collector, 1, "7") == protocol.RESULT_SUCCESSFUL
    collector.close()


def test_a_forged_election_changed_event_is_ignored(system: ElectionSystem) -> None:
    collector = system.collector("m-")
    declare(system, "43")
    applied(system, 1)
    body = {"election_ID": "43", "state": "open", "definition": "x", "seq": 99}
    forged = {
        protocol.FUNCTION: protocol.ELECTION_CHANGED,
        KEY_ID: "k1",
        EXPIRES: str(int(time.time() * 1000) + 60_000),
        SIGNATURE: "0" * 64,
    }
    system.publish_raw(json.dumps(body).encode(), forged)
    system.publish_raw(json.dumps(body).encode(), {protocol.FUNCTION: protocol.ELECTION_CHANGED})
    system.services["logger"].wait_for_log(r"election_event\.forged", timeout=30, times=2)
    assert answer(system, collector, 1, "43") == "rejected: election 43 is not open yet"
    collector.close()


def test_undeclared_elections_are_refused_under_reject(make_system: object) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, "bridge", "logger", "recorder", env={"ELECTION_UNDECLARED": "reject"}
    )
    collector = system.collector("m-")
    assert answer(system, collector, 1, "999") == "rejected: no such election"
    assert claims_of(system, "999") == 0
    collector.close()


def test_a_logger_restarted_while_an_election_opens_learns_it_from_postgresql(
    system: ElectionSystem,
) -> None:
    collector = system.collector("m-")
    system.stop("logger")
    declare(system, "50")
    open_election(system, "50")  # its events go to no logger
    system.services["logger"].restart().wait_for_log(READY["logger"], timeout=90, times=2)
    assert answer(system, collector, 1, "50") == protocol.RESULT_SUCCESSFUL
    collector.close()


def test_the_first_vote_after_open_returns_is_accepted_within_the_stated_bound(
    system: ElectionSystem,
) -> None:
    collector = system.collector("p-")
    declare(system, "60")
    applied(system, 1)
    open_election(system, "60")
    opened = time.monotonic()
    sent: list[tuple[str, float]] = []
    voter = 0

    def accepted() -> float | None:
        nonlocal voter
        voter += 1
        sent.append((system.submit("p-1", voter, "60"), time.monotonic() - opened))
        with collector._lock:
            for uuid, at in sent:
                said = collector.results.get(uuid)
                if said and said[0][1] == protocol.RESULT_SUCCESSFUL:
                    return at
        return None

    first = wait_for(accepted, timeout=10, what="a vote of election 60 accepted", interval=0.02)
    assert isinstance(first, float)
    print(f"\nopen -> first accepted vote: sent {first * 1000:.0f} ms after open returned")
    assert first < 2.5  # REFRESH_S (2 s) + one read, whatever happens to the event
    collector.close()


def test_close_of_an_unknown_election_says_so(system: ElectionSystem) -> None:
    done = run_election(["close", str(uuidlib.uuid4().int % 1000 + 5000)], system.env)
    assert done.returncode == 2 and "no such election" in done.stderr
