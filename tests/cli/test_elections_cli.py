"""``election create``, ``open``, ``list``, ``show``, ``results`` and ``tally`` as subprocesses,
on a provisioned system of their own (topic, schema, Redis keys; no services running) on
the real emulator, Redis and PostgreSQL."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from election.domain import protocol
from election.domain.signing import Verifier
from election.pubsub.client import subscriber_client, subscription_path, topic_path
from election.storage.close_barrier import closing_key
from election.storage.elections import ElectionRegistry
from election.storage.models import Ballot, BallotState
from tests.conftest import REDIS_BROKER
from tests.support.manifests import MANIFEST
from tests.support.processes import run_election
from tests.support.system import ElectionSystem

RET_USAGE = 2
RET_CONFIG = 3
ROLL = "1001\n1002\nvoter-2005  # a named ID\n"
CREATED = 'created election 4201 "Water board 2027" (3 choices, roll of 3, draft)'
RESULT_KEYS = {"election", "title", "state", "sealed", "total", "roll", "turnout", "choices"}
EVENT_WAIT_S = 30


@pytest.fixture
def system(make_system: Callable[..., ElectionSystem]) -> ElectionSystem:
    """A provisioned system; no bridge or workers (these commands need none)."""
    return make_system(REDIS_BROKER)


@pytest.fixture
def election(system: ElectionSystem) -> Callable[..., Any]:
    """Run one ``election`` command of the system; quiet logs, so stderr is the error."""
    env = {**system.env, "LOG_LEVEL": "WARNING"}

    def run(*args: str, **overrides: str) -> Any:
        given = {**env, **overrides}
        for name in [name for name, value in overrides.items() if value == ""]:
            given.pop(name)
        return run_election(list(args), given, timeout=60)

    return run


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    (tmp_path / "roll-4201.txt").write_text(ROLL)
    path = tmp_path / "election-4201.toml"
    path.write_text(MANIFEST)
    return path


@pytest.fixture
def events(system: ElectionSystem) -> Iterator[Callable[[int], list[dict[str, Any]]]]:
    """``events(n)``: the first ``n`` signed ``election changed`` bodies on the topic."""
    client = subscriber_client(system.settings)
    path = subscription_path(system.settings, f"{system.name}-events")
    client.create_subscription(
        request={"name": path, "topic": topic_path(system.settings)}, timeout=30
    )
    verifier = Verifier(system.settings.require_verifying_keys(), system.settings.namespace)
    seen: list[dict[str, Any]] = []

    def take(count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + EVENT_WAIT_S
        while len(seen) < count and time.monotonic() < deadline:
            response = client.pull(request={"subscription": path, "max_messages": 10}, timeout=10)
            for received in response.received_messages:
                attributes = dict(received.message.attributes)
                if attributes.get(protocol.FUNCTION) == protocol.ELECTION_CHANGED:
                    verifier.verify(
                        received.message.data, attributes, function=protocol.ELECTION_CHANGED
                    )
                    seen.append(json.loads(received.message.data))
            if response.received_messages:
                ack_ids = [m.ack_id for m in response.received_messages]
                client.acknowledge(request={"subscription": path, "ack_ids": ack_ids}, timeout=10)
        assert len(seen) >= count, f"{len(seen)} of {count} election changed events"
        return seen[:count]

    yield take
    client.delete_subscription(subscription=path, timeout=30)
    client.close()


def record_ballots(system: ElectionSystem, election_id: str, **per_choice: int) -> None:
    """Rows as the record service stores them: ``c0=2`` is two votes for choice 0."""
    with system.database.connection_context():
        for key, count in per_choice.items():
            for _ in range(count):
                Ballot.insert(
                    ref=os.urandom(16),
                    election_id=election_id,
                    choice=int(key[1:]),
                    state=BallotState.RECORDED,
                ).execute()


def one_line(done: Any, code: int, *words: str) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    for word in words:
        assert word in done.stderr


# --------------------------------------------------------------------------------------------
# create
# --------------------------------------------------------------------------------------------


def test_create_prints_one_line_sets_the_barrier_announces_and_again_is_a_no_op(
    system: ElectionSystem, election: Callable[..., Any], manifest: Path, events: Any
) -> None:
    first = election("create", str(manifest))
    again = election("create", str(manifest))

    assert (first.returncode, first.stderr, first.stdout) == (0, "", CREATED + "\n")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "election 4201 exists with the same manifest (draft)\n"
    closes_ms = int(datetime.fromisoformat("2099-03-01T20:00:00+00:00").timestamp() * 1000)
    barrier = system.redis.hget(closing_key(system.settings.namespace), "4201")
    assert barrier is not None and int(barrier) == closes_ms
    announced = [(e["election_ID"], e["state"], e["seq"]) for e in events(2)]
    assert announced == [("4201", "draft", 1)] * 2


def test_a_different_manifest_for_the_same_id_is_refused_in_one_line(
    election: Callable[..., Any], manifest: Path
) -> None:
    election("create", str(manifest))
    manifest.write_text(MANIFEST.replace('"East"', '"West"'))

    one_line(election("create", str(manifest)), RET_USAGE, "election 4201 exists with a different")


def test_a_different_roll_for_the_same_id_is_refused_in_one_line(
    election: Callable[..., Any], manifest: Path
) -> None:
    election("create", str(manifest))
    (manifest.parent / "roll-4201.txt").write_text(ROLL + "1003\n")

    one_line(election("create", str(manifest)), RET_USAGE, "different manifest or roll")


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('title = "Water board 2027"\n', "", "election create: title: missing"),
        ('"South"', '""', "choices[1]: empty"),
        ('"South"', '"north"', "choices[1]: the same choice as choices[0]"),
        ("closes_at = 2099-03-01T20", "closes_at = 2099-03-01T07", "closes_at: must be after"),
        ("2099-03-01T08:00:00Z", "2099-03-01T08:00:00", "opens_at: needs a UTC offset"),
        ('id = "4201"', 'id = "42 01"', "id: not a valid election ID"),
        ('roll = "roll-4201.txt"', 'roll = "missing.txt"', "roll: cannot read"),
        ("title", "titel", "unknown key 'titel'"),
    ],
    ids=["title", "empty-choice", "same-choice", "times", "local-time", "id", "roll", "key"],
)
def test_an_invalid_manifest_is_one_line_naming_the_field_and_exit_2(
    system: ElectionSystem,
    election: Callable[..., Any],
    manifest: Path,
    old: str,
    new: str,
    named: str,
) -> None:
    manifest.write_text(MANIFEST.replace(old, new, 1))

    one_line(election("create", str(manifest)), RET_USAGE, named)
    with system.database.connection_context():
        assert ElectionRegistry(system.database).all() == []


def test_a_roll_line_that_is_not_a_voter_id_is_named_by_its_line(
    election: Callable[..., Any], manifest: Path
) -> None:
    (manifest.parent / "roll-4201.txt").write_text("1001\nnot a voter\n")

    done = election("create", str(manifest))

    one_line(done, RET_USAGE, "roll line 2: voter ID")
    assert "not a voter" not in done.stderr  # a voter ID never reaches the output


def test_a_roll_needs_voter_key_and_a_manifest_without_one_does_not(
    election: Callable[..., Any], manifest: Path
) -> None:
    one_line(election("create", str(manifest), VOTER_KEY=""), RET_CONFIG, "VOTER_KEY")

    manifest.write_text(MANIFEST.replace('roll = "roll-4201.txt"\n', ""))
    done = election("create", str(manifest), VOTER_KEY="")
    assert done.returncode == 0, done.stderr
    assert done.stdout == CREATED.replace("roll of 3", "no roll") + "\n"


# --------------------------------------------------------------------------------------------
# open, list, show
# --------------------------------------------------------------------------------------------


def test_open_prints_one_line_announces_and_refuses_to_open_twice(
    election: Callable[..., Any], manifest: Path, events: Any
) -> None:
    election("create", str(manifest))

    done = election("open", "4201")

    assert (done.returncode, done.stdout) == (0, "election 4201 is open\n"), done.stderr
    opened = events(2)[1]
    assert (opened["election_ID"], opened["state"], opened["seq"]) == ("4201", "open", 2)
    one_line(election("open", "4201"), RET_USAGE, "election open: election 4201 is already open")
    one_line(election("open", "99"), RET_USAGE, "no such election: 99")


def test_list_prints_one_line_per_election_and_json(
    system: ElectionSystem, election: Callable[..., Any], manifest: Path
) -> None:
    assert election("list").stdout == "no elections declared\n"
    election("create", str(manifest))
    manifest.write_text(MANIFEST.replace('"4201"', '"77"').replace('roll = "roll-4201.txt"\n', ""))
    election("create", str(manifest))
    election("open", "77")
    record_ballots(system, "77", c1=2)

    lines = election("list").stdout.splitlines()
    listed = json.loads(election("list", "--json").stdout)

    assert lines[0].split() == ["ID", "STATE", "VOTES", "ROLL", "CHOICES", "TITLE"]
    assert [line.split() for line in lines[1:]] == [
        ["4201", "draft", "0", "3", "3", "Water", "board", "2027"],
        ["77", "open", "2", "-", "3", "Water", "board", "2027"],
    ]
    assert listed[1] == {
        "election": "77",
        "title": "Water board 2027",
        "state": "open",
        "sealed": False,
        "choices": ["North", "South", "East"],
        "roll": None,
        "total": 2,
    }


def test_show_prints_state_times_choices_roll_and_counts(
    system: ElectionSystem, election: Callable[..., Any], manifest: Path
) -> None:
    election("create", str(manifest))
    election("open", "4201")
    record_ballots(system, "4201", c2=1)

    text = election("show", "4201").stdout
    shown = json.loads(election("show", "4201", "--json").stdout)

    for line in (
        "election 4201: Water board 2027",
        "  state      open",
        "  opens at   2099-03-01T08:00:00Z",
        "  closes at  2099-03-01T20:00:00Z",
        "  roll       3 voters",
        "  result     not sealed",
        "    0  North  0",
        "    2  East   1",
        "  total      1",
        "  turnout 1 of 3 (33.3%)",
    ):
        assert line in text.splitlines(), text
    assert set(shown) >= RESULT_KEYS
    assert shown["choices"][2] == {"index": 2, "name": "East", "votes": 1}
    assert shown["opens_at"] == "2099-03-01T08:00:00Z"
    assert shown["closes_at"] == "2099-03-01T20:00:00Z"
    assert (shown["state"], shown["stored_state"], shown["sealed"]) == ("open", "open", False)
    one_line(election("show", "99"), RET_USAGE, "no such election: 99")


# --------------------------------------------------------------------------------------------
# results and tally
# --------------------------------------------------------------------------------------------


def test_results_json_shape_live_then_sealed_and_tally_is_the_same_command(
    system: ElectionSystem, election: Callable[..., Any], manifest: Path
) -> None:
    election("create", str(manifest))
    election("open", "4201")
    record_ballots(system, "4201", c1=2)

    live = json.loads(election("results", "4201", "--json").stdout)
    assert live == {
        "election": "4201",
        "title": "Water board 2027",
        "state": "open",
        "sealed": False,
        "total": 2,
        "roll": 3,
        "turnout": pytest.approx(2 / 3),
        "choices": [
            {"name": "North", "votes": 0},
            {"name": "South", "votes": 2},
            {"name": "East", "votes": 0},
        ],
    }

    registry = ElectionRegistry(system.database)
    with system.database.connection_context():
        registry.close("4201")
        registry.seal("4201")
    record_ballots(system, "4201", c0=5)  # after the seal: not in the result

    results = election("results", "4201")
    assert results.stdout.splitlines()[0] == "election 4201: Water board 2027 (closed, sealed)"
    assert "  South  2" in results.stdout and "turnout 2 of 3 (66.7%)" in results.stdout
    assert election("tally", "--election-id", "4201").stdout == results.stdout
    assert election("results", "--election-id", "4201").stdout == results.stdout
    sealed = json.loads(election("tally", "--election-id", "4201", "--json").stdout)
    assert (sealed["state"], sealed["sealed"], sealed["total"]) == ("closed", True, 2)


def test_an_undeclared_election_keeps_todays_tally_and_has_the_same_json_shape(
    system: ElectionSystem, election: Callable[..., Any]
) -> None:
    record_ballots(system, "61", c0=2, c3=1)

    tally = election("tally", "--election-id", "61")
    results = election("results", "61")
    shape = json.loads(election("results", "61", "--json").stdout)

    assert tally.returncode == 0, tally.stderr
    assert tally.stdout == "election 61\n  choice 0: 2\n  choice 3: 1\n  total: 3\n"
    assert results.stdout == tally.stdout
    assert shape == {
        "election": "61",
        "title": None,
        "state": "undeclared",
        "sealed": False,
        "total": 3,
        "roll": None,
        "turnout": None,
        "choices": [{"name": "0", "votes": 2}, {"name": "3", "votes": 1}],
    }


@pytest.mark.parametrize("args", [["results"], ["results", "4", "--election-id", "4"]])
def test_results_needs_the_election_id_once(election: Callable[..., Any], args: list[str]) -> None:
    done = election(*args)

    assert done.returncode == RET_USAGE
    assert "error:" in done.stderr and "Traceback" not in done.stderr
