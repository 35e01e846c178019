"""The ballot desk answers a ``ballot request`` from the declared elections, without a
server: the requests and answers of ``election.domain.ballot`` and the desk's batch
(``actors.ballot_desk``) on a registry that is a dictionary."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from actors import ballot_desk as desk_module
from actors.ballot_desk import BallotDesk
from election.domain import protocol
from election.domain.ballot import (
    UNDECLARED,
    BallotRequest,
    InvalidRequest,
    ShownBallot,
    ballot_answer,
    choice_label,
    parse_ballot,
    parse_ballot_request,
)
from election.domain.filters import parse_filter
from election.domain.lifecycle import State
from election.storage.elections import ElectionRecord
from tests.support.fakes import RecordingPublisher

CHOICES = ("North", "South", "East")


def record(election_id: str, state: State) -> ElectionRecord:
    return ElectionRecord(
        election_id=election_id,
        title="Water board 2027",
        choices=CHOICES,
        manifest_sha256="a" * 64,
        definition="b" * 64,
        roll_size=12,
        opens_at=None,
        closes_at=None,
        stored_state=state,
        seq=2,
        changed_at_ms=0,
    )


class FakeDatabase:
    def __init__(self) -> None:
        self.connects = 0

    def connect(self, reuse_if_open: bool = False) -> None:
        self.connects += 1

    def close(self) -> None:
        pass


class FakeRegistry:
    """The elections by ID; counts the reads."""

    def __init__(self, *records: ElectionRecord) -> None:
        self.database = FakeDatabase()
        self.records = {r.election_id: r for r in records}
        self.reads: list[str] = []

    def get(self, election_id: str) -> ElectionRecord | None:
        self.reads.append(election_id)
        return self.records.get(election_id)


def request(machine: object, election: object, message_id: str = "m1") -> Any:
    body = json.dumps({"machine_ID": machine, "election_ID": election}).encode()
    return body, {protocol.FUNCTION: protocol.BALLOT_REQUEST}, message_id


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> LogCapture:
    capture = LogCapture()
    monkeypatch.setattr(desk_module, "log", structlog.wrap_logger(None, processors=[capture]))
    return capture


def desk_of(registry: FakeRegistry) -> BallotDesk:
    return BallotDesk(registry, RecordingPublisher())  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The request and the answer (pure)
# --------------------------------------------------------------------------------------------


def test_a_request_is_read_in_canonical_ids() -> None:
    made = protocol.ballot_request_message("07", "4201")
    assert parse_ballot_request(made.data()) == BallotRequest("7", "4201")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "not a JSON object"),
        (b"[1]", "not a JSON object"),
        (b'{"election_ID": 1}', "missing field machine_ID"),
        (b'{"machine_ID": 1}', "missing field election_ID"),
        (b'{"machine_ID": "a b", "election_ID": 1}', "machine_ID must be"),
        (b'{"machine_ID": 1, "election_ID": 7.5}', "election_ID must be"),
        (b" " * 5000, "at most 4096 bytes"),
    ],
)
def test_an_unreadable_request_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        parse_ballot_request(data)


def test_a_declared_election_is_answered_with_its_title_names_and_state_only() -> None:
    answer = ballot_answer(BallotRequest("7", "4201"), ("Water board 2027", CHOICES, State.OPEN))
    assert parse_filter(protocol.ballot_filter("7")).matches(answer.attributes)
    assert json.loads(answer.data()) == {
        "election_ID": "4201",
        "title": "Water board 2027",
        "choices": list(CHOICES),
        "state": "open",
    }


def test_an_undeclared_election_is_answered_undeclared_without_choices() -> None:
    answer = ballot_answer(BallotRequest("7", "99"), None)
    body = json.loads(answer.data())
    assert (body["state"], body["choices"], body["title"]) == (UNDECLARED, [], "")
    assert parse_ballot(answer.data(), "99") == ShownBallot("99", UNDECLARED)


def test_the_machine_reads_the_answer_back() -> None:
    answer = ballot_answer(BallotRequest("7", "4201"), ("Water board 2027", CHOICES, State.DRAFT))
    shown = parse_ballot(answer.data(), "4201")
    assert shown == ShownBallot("4201", "draft", "Water board 2027", CHOICES)
    assert shown.stop_reason() == "election 4201 is not open yet"
    assert ShownBallot("4201", "closed", "t", CHOICES).stop_reason() == "election 4201 is closed"
    assert ShownBallot("4201", "open", "t", CHOICES).stop_reason() is None
    assert ShownBallot("4201", UNDECLARED).stop_reason() is None


@pytest.mark.parametrize(
    "body",
    [
        {"election_ID": "4202", "title": "t", "choices": ["a"], "state": "open"},  # another
        {"election_ID": "4201", "title": "t", "choices": ["a"], "state": "maybe"},
        {"election_ID": "4201", "title": "t", "choices": [], "state": "open"},
        {"election_ID": "4201", "title": "t", "choices": ["a", 3], "state": "open"},
        {"election_ID": "4201", "title": 5, "choices": ["a"], "state": "open"},
        {"election_ID": "4201", "title": "t", "choices": "a", "state": "open"},
    ],
)
def test_an_answer_the_machine_cannot_use_counts_as_none(body: dict[str, Any]) -> None:
    assert parse_ballot(json.dumps(body).encode(), "4201") is None


def test_the_machine_shows_names_on_one_line_each() -> None:
    body = {
        "election_ID": 4201,
        "title": "Water\n board",
        "choices": ["No\x00rth  x"],
        "state": "open",
    }
    shown = parse_ballot(json.dumps(body).encode(), "4201")
    assert shown is not None and (shown.title, shown.choices) == ("Water board", ("North x",))
    assert shown.header() == "election 4201: Water board | choices: 0 North x"
    assert choice_label(0, shown.choices) == "0 (North x)"
    assert choice_label(3, ()) == "3"


# --------------------------------------------------------------------------------------------
# The desk's batch
# --------------------------------------------------------------------------------------------


def test_each_request_gets_its_machines_answer_with_one_read_per_election() -> None:
    registry = FakeRegistry(record("4201", State.OPEN))
    outbox: list[protocol.OutgoingMessage] = []

    desk_of(registry).handle_many(
        [request(1, 4201, "a"), request("booth-2", "4201", "b"), request(3, 77, "c")], outbox
    )

    assert [m.attributes[protocol.MACHINE_ID] for m in outbox] == ["1", "booth-2", "3"]
    bodies = [json.loads(m.data()) for m in outbox]
    assert [b["state"] for b in bodies] == ["open", "open", UNDECLARED]
    assert bodies[0]["choices"] == list(CHOICES) and bodies[2]["choices"] == []
    assert sorted(registry.reads) == ["4201", "77"]


def test_the_answer_says_the_state_now_and_nothing_about_voters() -> None:
    closes = dataclasses.replace(
        record("4201", State.OPEN), closes_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    outbox: list[protocol.OutgoingMessage] = []
    desk_of(FakeRegistry(closes)).handle_many([request(1, 4201)], outbox)
    (answer,) = outbox
    body = json.loads(answer.data())
    assert body["state"] == "closed"  # its closes_at has passed
    assert set(body) == {"election_ID", "title", "choices", "state"}
    assert "12" not in answer.data().decode()  # the roll's size is not sent


def test_an_unreadable_request_is_dropped_with_one_warning_and_the_rest_answered(
    captured: LogCapture,
) -> None:
    outbox: list[protocol.OutgoingMessage] = []
    bad = (b"{", {protocol.FUNCTION: protocol.BALLOT_REQUEST}, "bad")
    desk_of(FakeRegistry()).handle_many([bad, request(1, 5, "good")], outbox)
    assert len(outbox) == 1
    warnings = [e for e in captured.entries if e["log_level"] == "warning"]
    assert [(e["event"], e["message_id"]) for e in warnings] == [("ballot.request_dropped", "bad")]


def test_a_failed_read_raises_for_the_batchs_retries() -> None:
    class Broken(FakeRegistry):
        def get(self, election_id: str) -> ElectionRecord | None:
            raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        desk_of(Broken()).handle_many([request(1, 5)], [])
