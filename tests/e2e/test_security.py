"""Ballot security end to end: forged records, given-up ballots, dead letters, secrecy."""

from __future__ import annotations

import json
import uuid as uuidlib

import pytest

from election import protocol
from election.signing import KEY_ID, SIGNATURE
from tests.conftest import REDIS_BROKER
from tests.support.processes import run_election, wait_for
from tests.support.system import ElectionSystem

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
        "unknown key": {KEY_ID: "k9", SIGNATURE: "00" * 32},
        "wrong signature": {KEY_ID: "k1", SIGNATURE: "ab" * 32},
    }
    for n, extra in enumerate(forged.values()):
        system.publish_raw(
            record_body("fake", "301", f"forged-{n}"),
            {protocol.FUNCTION: protocol.RECORD_VOTE, **extra},
        )
    recorder = system.services["recorder"]
    recorder.wait_for_log(r"record\.forged", times=len(forged), timeout=60)
    assert recorder.count(r"reason=unsigned") == 1
    assert recorder.count(r"unknown key") == 1
    assert recorder.count(r"signature does not match") == 1
    assert system.rows("301") == []


def give_up_on(system: ElectionSystem, election: str) -> None:
    """Make the record step fail for one election, as a broken database would."""
    with system.database.connection_context():
        system.database.execute_sql(
            f"""
            CREATE FUNCTION "{system.name}".refuse() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'record step failing for election %%', NEW.election_id; END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse BEFORE INSERT ON "{system.name}".ballots FOR EACH ROW
            WHEN (NEW.election_id = '{election}') EXECUTE FUNCTION "{system.name}".refuse();
            """
        )


def heal(system: ElectionSystem) -> None:
    with system.database.connection_context():
        system.database.execute_sql(f'DROP TRIGGER refuse ON "{system.name}".ballots')


def test_a_ballot_the_record_service_gives_up_frees_its_voter_and_can_be_replayed(
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
        assert "may vote again" in result
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
    wait_for(
        lambda: len(collector.results[other]) >= 2 and len(collector.results[first]) >= 2,
        60,
        "answers to the replayed ballots",
    )
    assert collector.results[other][-1] == ("gu-2", protocol.RESULT_SUCCESSFUL)
    assert collector.results[first][-1][1].startswith("rejected: the voter has voted again")
    rows = {row.uuid for row in system.rows("401")}
    assert rows == {again, other}
    assert "no dead letters" in run_election(["dead-letters"], system.env).stdout
    # A repeat of a replayed voter is still a repeat.
    repeat = system.submit("gu-2", 8, "401")
    assert collector.wait_for([repeat])[repeat] == [("gu-2", protocol.RESULT_ALREADY_VOTED)]
    collector.close()


def test_voter_ids_reach_neither_postgresql_nor_redis_nor_info_logs(make_system: object) -> None:
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
