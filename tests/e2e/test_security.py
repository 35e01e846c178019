"""Ballot security end to end: forged and replayed records, given-up ballots, dead
letters, the claims-against-rows check, and what the stores and logs hold."""

from __future__ import annotations

import json
import uuid as uuidlib

import pytest

from election.domain import protocol
from election.domain.signing import KEY_ID, SIGNATURE
from tests.conftest import REDIS_BROKER
from tests.support.processes import run_election, wait_for
from tests.support.system import ElectionSystem, give_up_on, heal
from tests.support.taps import RecordTap

pytestmark = pytest.mark.e2e

FAST_GIVE_UP = {
    "ACTOR_MAX_RETRIES": "2",
    "ACTOR_MIN_BACKOFF_MS": "50",
    "ACTOR_MAX_BACKOFF_MS": "200",
}


def record_body(machine: str, election: str, uuid: str) -> bytes:
    return json.dumps(
        {"machine_ID": machine, "voting": 1, "election_ID": election, "UUID": uuid, "timestamp": 1}
    ).encode()


def test_a_forged_record_message_is_never_counted(system: ElectionSystem) -> None:
    forged = {
        "unsigned": {},
        "wrong signature": {KEY_ID: "k1", SIGNATURE: "ab" * 32},
        "unknown key": {KEY_ID: "k9", SIGNATURE: "00" * 32},
    }
    for n, extra in enumerate(forged.values()):
        system.publish_raw(
            record_body("fake", "301", f"forged-{n}"),
            {protocol.FUNCTION: protocol.RECORD_VOTE, **extra},
        )
    recorder = system.services["recorder"]
    recorder.wait_for_log(r"record\.(forged|unverified)", times=len(forged), timeout=60)
    assert recorder.count(r"reason=unsigned") == 1
    assert recorder.count(r"signature does not match") == 1
    # A record signed with a key this worker does not hold may be one rotated out too
    # early: it is kept for the operator, never stored.
    assert recorder.count(r"record\.unverified.*unknown key") == 1
    assert system.rows("301") == []


def test_a_given_up_ballot_frees_its_voter_and_a_replay_says_what_really_happened(
    make_system: object,
) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, "bridge", "logger", "recorder", env=FAST_GIVE_UP
    )
    give_up_on(system, "401")
    collector = system.collector("gu-")
    first = system.submit("gu-1", 7, "401")
    other = system.submit("gu-2", 8, "401")
    answers = collector.wait_for([first, other], timeout=90)
    for uuid in (first, other):
        ((_, result),) = answers[uuid]
        assert result.startswith("rejected: not recorded"), result
        assert result.endswith("the voter may vote again")
    assert system.rows("401") == []

    listed = run_election(["dead-letters"], system.env)
    assert listed.returncode == 0, listed.stderr
    assert first in listed.stdout and other in listed.stdout
    assert "record step failing" in listed.stdout

    heal(system)
    # Voter 7 votes again, and is counted; voter 8 does not, and their ballot is replayed.
    again = system.submit("gu-1", 7, "401")
    assert collector.wait_for([again])[again] == [("gu-1", protocol.RESULT_SUCCESSFUL)]
    replayed = run_election(["dead-letters", "replay", "--all"], system.env)
    assert replayed.returncode == 0, replayed.stderr
    lines = {line.split()[1]: line for line in replayed.stdout.splitlines()}
    assert len(lines) == 2
    assert next(line for line in lines.values() if f"ballot {other}" in line).endswith(": stored")
    refused = next(line for line in lines.values() if f"ballot {first}" in line)
    assert "refused" in refused and "voted since" in refused
    wait_for(lambda: len(collector.results[other]) >= 2, 60, "the replayed ballot's answer")
    assert collector.results[other][-1] == ("gu-2", protocol.RESULT_SUCCESSFUL)
    assert system.recorded("401", [first, other, again], [7, 8]) == {other, again}
    assert len(system.rows("401")) == 2
    assert "no dead letters" in run_election(["dead-letters"], system.env).stdout
    # A repeat of a replayed voter is still a repeat.
    repeat = system.submit("gu-2", 8, "401")
    assert collector.wait_for([repeat])[repeat] == [("gu-2", protocol.RESULT_ALREADY_VOTED)]
    check = run_election(["check", "--election-id", "401"], system.env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "2 ballots recorded, 1 given up or fenced" in check.stdout
    collector.close()


def test_genuine_records_captured_and_republished_after_a_give_up_count_nothing(
    make_system: object,
) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, "bridge", "logger", "recorder", env=FAST_GIVE_UP
    )
    tap = RecordTap(system)
    collector = system.collector("rp-")
    try:
        give_up_on(system, "402")
        given_up = system.submit("rp-1", 70, "402")
        assert collector.wait_for([given_up])[given_up][0][1].startswith("rejected: not recorded")
        heal(system)
        stored = system.submit("rp-1", 71, "402")
        new_vote = system.submit("rp-1", 70, "402")  # the freed voter votes again
        collector.wait_for([stored, new_vote])
        wait_for(lambda: len(tap.records) >= 3, 30, "the tap to hold every record")
        # The attacker republishes every genuine record it captured, twice.
        for data, attributes in list(tap.records) * 2:
            system.publish_raw(data, attributes)
        system.services["recorder"].wait_for_log(r"vote\.tombstoned", times=2, timeout=60)
        system.services["recorder"].wait_for_log(r"duplicate=True", times=4, timeout=60)
    finally:
        tap.close()
    assert system.recorded("402", [given_up, stored, new_vote], [70, 71]) == {stored, new_vote}
    assert len(system.rows("402")) == 2
    check = run_election(["check", "--election-id", "402"], system.env)
    assert check.returncode == 0, check.stdout
    collector.close()


def test_the_check_names_a_recorded_ballot_that_no_claim_holds(system: ElectionSystem) -> None:
    collector = system.collector("ck-")
    ballots = [system.submit("ck-1", voter, "403") for voter in (1, 2, 3)]
    collector.wait_for(ballots)
    collector.close()
    assert run_election(["check", "--election-id", "403"], system.env).returncode == 0
    # Redis loses one claim (as a restore from an older backup would).
    token = system.secrets.voter_token("403", "2")
    system.redis.hdel(f"{system.name}:c:403:".encode() + token[:2].hex().encode(), token[2:])
    check = run_election(["check", "--election-id", "403"], system.env)
    assert check.returncode == 1
    assert check.stdout.count("PROBLEM") == 1
    assert "is recorded but no claim holds it" in check.stdout


def test_voter_ids_and_ballot_uuids_reach_neither_postgresql_nor_redis_nor_info_logs(
    make_system: object,
) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, "bridge", "logger", "recorder", env={"LOG_LEVEL": "INFO"}
    )
    voters = [f"secret-voter-{uuidlib.uuid4().hex[:10]}" for _ in range(6)]
    collector = system.collector("sec-")
    sent = [system.submit(f"sec-{n % 2}", voter, "501") for n, voter in enumerate(voters)]
    sent.append(system.submit("sec-0", voters[0], "501"))  # a repeat, answered by the logger
    collector.wait_for(sent, timeout=60)
    collector.close()
    logs = "".join(service.log() for service in system.services.values())
    with system.database.connection_context():
        table = system.database.execute_sql(
            f'SELECT row_to_json(b)::text FROM "{system.name}".ballots b'
        ).fetchall()
    assert len(table) == len(voters)
    stored = b"".join(
        key + b"".join(k + v for k, v in system.redis.hgetall(key).items())
        for key in system.redis.scan_iter(f"{system.name}:*")
        if system.redis.type(key) == b"hash"
    )
    for voter in voters:
        assert voter not in logs
        assert all(voter not in row[0] for row in table)
        assert voter.encode() not in stored
    for uuid in sent:
        assert all(uuid not in row[0] for row in table)
        assert uuid.encode() not in stored
