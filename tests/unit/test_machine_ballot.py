"""The machine shows the ballot: what ``election machine`` does for each answer to its
``ballot request`` (declared open, draft, closed, undeclared, none in time), and how it
asks (its own subscription, made before the request, removed after). No server is
contacted: the machine's Pub/Sub side is a fake, and so is its subscriber."""

from __future__ import annotations

import json
import threading
from typing import Any, ClassVar

import pytest

from config import load_settings
from election.cli import build_parser
from election.cli import machine as machine_cli
from election.cli.exits import RET_ERROR, RET_OK
from election.domain import protocol
from election.domain.ballot import UNDECLARED, ShownBallot
from election.domain.ed25519 import new_private_key
from election.domain.outcomes import Kind, Outcome
from election.machine import ballot as ballot_module
from election.machine import voting
from election.machine.ballot import BallotFetch
from election.machine.board import Cast
from election.pubsub.pulled import PulledMessage

CHOICES = ("North", "South", "East")
SETTINGS = load_settings(
    {
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
        "ELECTION_TOPIC": "votes",
        "LOG_SIGNING_KEY": new_private_key(),
    }
)


class FakeMachine:
    """Stands in for ``VotingMachine``: hands out ``BALLOT``, records what it is asked."""

    ballot: ClassVar[ShownBallot | None] = None
    made: ClassVar[list[FakeMachine]] = []

    def __init__(self, settings: Any, machine_id: str, election_id: str, **_: Any) -> None:
        self.machine_id, self.election_id = machine_id, election_id
        self.opened = self.closed = False
        self.choices: list[int] = []
        FakeMachine.made.append(self)

    def fetch_ballot(self, timeout: float, setup: float, stop: Any) -> ShownBallot | None:
        return FakeMachine.ballot

    def open(self, timeout: float) -> None:
        self.opened = True

    def close(self) -> None:
        self.closed = True

    def cast(self, voter_id: int, choice: int, timeout: float) -> Cast:
        self.choices.append(choice)
        return Cast(f"uuid-{len(self.choices)}", voter_id, choice, Outcome(Kind.RECORDED), 0.01)


def run_machine(
    monkeypatch: pytest.MonkeyPatch, ballot: ShownBallot | None, *extra: str
) -> tuple[int, FakeMachine]:
    monkeypatch.setattr(FakeMachine, "ballot", ballot)
    monkeypatch.setattr(FakeMachine, "made", [])
    monkeypatch.setattr(voting, "VotingMachine", FakeMachine)
    monkeypatch.setattr(machine_cli, "configure_logging", lambda *a, **k: None)
    monkeypatch.setattr(machine_cli, "on_stop_signals", lambda handler: None)
    argv = ["machine", "--election-id", "4201", "--machine-id", "3", "--interval", "0"]
    args = build_parser().parse_args([*argv, "--votes", "40", "--seed", "1", *extra])
    code = machine_cli.run_machine_command(SETTINGS, args)
    (made,) = FakeMachine.made
    return code, made


def vote_lines(out: str) -> list[list[str]]:
    return [line.split("  ") for line in out.splitlines() if line.startswith("uuid-")]


def test_an_open_election_shows_its_ballot_draws_only_its_choices_and_names_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ballot = ShownBallot("4201", "open", "Water board 2027", CHOICES)
    code, made = run_machine(monkeypatch, ballot, "--choices", "9")
    out = capsys.readouterr().out
    assert code == RET_OK and made.opened and made.closed
    assert out.splitlines()[0] == (
        "election 4201: Water board 2027 | choices: 0 North, 1 South, 2 East"
    )
    assert set(made.choices) == {0, 1, 2}  # the ballot's three, not --choices 9
    lines = vote_lines(out)
    assert len(lines) == 40
    for (_uuid, choice, outcome), index in zip(lines, made.choices, strict=True):
        assert choice == f"choice {index} ({CHOICES[index]})"
        assert outcome == "A vote was recorded successfully"


@pytest.mark.parametrize(
    ("state", "said"),
    [("draft", "election 4201 is not open yet"), ("closed", "election 4201 is closed")],
)
def test_a_draft_or_closed_election_stops_the_machine_with_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], state: str, said: str
) -> None:
    code, made = run_machine(monkeypatch, ShownBallot("4201", state, "Water board", CHOICES))
    out, err = capsys.readouterr()
    assert code == RET_ERROR
    assert err == f"election machine: {said}\n" and out == ""
    assert made.choices == [] and not made.opened and made.closed


@pytest.mark.parametrize(
    "ballot", [ShownBallot("4201", UNDECLARED), None], ids=["undeclared", "none"]
)
def test_an_undeclared_election_or_no_answer_votes_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ballot: Any
) -> None:
    code, made = run_machine(monkeypatch, ballot, "--choices", "5")
    out = capsys.readouterr().out
    assert code == RET_OK
    assert out.splitlines()[0] == "machine 3 voting in election 4201 (Ctrl-C to stop)"
    assert set(made.choices) == set(range(5))
    assert all(
        choice == f"choice {c}"
        for (_, choice, _), c in zip(vote_lines(out), made.choices, strict=True)
    )


# --------------------------------------------------------------------------------------------
# How the machine asks
# --------------------------------------------------------------------------------------------


class FakeSubscriber:
    """Stands in for ``FilteredSubscriber``: keeps the handler, for the publisher to call."""

    made: ClassVar[list[FakeSubscriber]] = []

    def __init__(self, client: Any, subscription: str, handler: Any, **kwargs: Any) -> None:
        self.subscription, self.handler, self.filter = (
            subscription,
            handler,
            kwargs["message_filter"],
        )
        self.started = self.stopped = False
        FakeSubscriber.made.append(self)

    def start(self) -> None:
        self.started = True

    def stop(self, timeout: float) -> None:
        self.stopped = True


class Answering:
    """A publisher whose request is answered with ``answers`` (bodies), on the subscriber."""

    def __init__(self, events: list[str], *answers: dict[str, Any]) -> None:
        self.events, self.answers = events, answers
        self.sent: list[protocol.OutgoingMessage] = []

    def publish(self, message: protocol.OutgoingMessage, timeout: float = 30.0) -> str:
        self.events.append("publish")
        self.sent.append(message)
        (subscriber,) = FakeSubscriber.made
        for n, body in enumerate(self.answers):
            attributes = {protocol.FUNCTION: protocol.BALLOT, protocol.MACHINE_ID: "3"}
            subscriber.handler([PulledMessage(json.dumps(body).encode(), attributes, f"m{n}", "a")])
        return "1"


class Admin:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.deleted: list[str] = []

    def delete_subscription(self, subscription: str, **kwargs: Any) -> None:
        self.deleted.append(subscription)


def fetch(
    monkeypatch: pytest.MonkeyPatch,
    *answers: dict[str, Any],
    timeout: float = 5.0,
    signed: bool = True,
) -> tuple[ShownBallot | None, list[str], Admin, Answering]:
    monkeypatch.setattr(FakeSubscriber, "made", [])
    monkeypatch.setattr(ballot_module, "FilteredSubscriber", FakeSubscriber)
    events: list[str] = []
    admin, publisher = Admin(events), Answering(events, *answers)

    def create(name: str, filter_text: str, timeout: float) -> None:
        events.append(f"create {name} {filter_text}")

    made = BallotFetch(
        admin,  # type: ignore[arg-type]
        create,
        publisher,  # type: ignore[arg-type]
        "subs/b-3",
        "3",
        "4201",
        trusted=lambda data, attributes: signed,  # the signatures: test_answers.py
    )
    got = made.fetch(timeout, 1.0)
    made.close()
    return got, events, admin, publisher


OPEN = {"election_ID": "4201", "title": "Water board", "choices": list(CHOICES), "state": "open"}


def test_the_request_goes_out_after_its_own_filtered_subscription_exists_and_that_is_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    got, events, admin, publisher = fetch(monkeypatch, OPEN)
    assert got == ShownBallot("4201", "open", "Water board", CHOICES)
    assert events == [f"create subs/b-3 {protocol.ballot_filter('3')}", "publish"]
    (request,) = publisher.sent
    assert request.attributes[protocol.FUNCTION] == protocol.BALLOT_REQUEST
    assert json.loads(request.data()) == {"machine_ID": "3", "election_ID": "4201"}
    (subscriber,) = FakeSubscriber.made
    assert subscriber.started and subscriber.stopped and admin.deleted == ["subs/b-3"]


def test_another_elections_or_a_broken_answer_is_passed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = {**OPEN, "election_ID": "9"}
    broken = {**OPEN, "choices": "North"}
    got, *_ = fetch(monkeypatch, other, broken, OPEN)
    assert got is not None and got.election_id == "4201"


def test_a_ballot_that_is_not_signed_by_the_services_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    got, _, admin, _ = fetch(monkeypatch, OPEN, timeout=0.3, signed=False)
    assert got is None and admin.deleted == ["subs/b-3"]


def test_no_answer_in_time_is_none_and_the_subscription_is_removed_all_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    got, _, admin, _ = fetch(monkeypatch, timeout=0.2)
    assert got is None and admin.deleted == ["subs/b-3"]


def test_the_wait_ends_when_the_machine_is_asked_to_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ballot_module, "FilteredSubscriber", FakeSubscriber)
    monkeypatch.setattr(FakeSubscriber, "made", [])
    stop = threading.Event()
    stop.set()
    events: list[str] = []
    made = BallotFetch(
        Admin(events),  # type: ignore[arg-type]
        lambda *a: None,
        Answering(events),  # type: ignore[arg-type]
        "subs/b-3",
        "3",
        "4201",
        trusted=lambda data, attributes: True,
    )
    assert made.fetch(600.0, 1.0, stop) is None
    made.close()


def test_the_machines_answer_subscription_keeps_specs_filter() -> None:
    machine = voting.VotingMachine(SETTINGS, "3", "4201", publisher=object())  # type: ignore[arg-type]
    requests: list[dict[str, Any]] = []

    class Recording:
        def create_subscription(self, request: dict[str, Any], **kwargs: Any) -> None:
            requests.append(request)

    client, machine.client = machine.client, Recording()  # type: ignore[assignment]
    machine._subscribe(1.0)
    client.close()
    assert requests[0]["filter"] == protocol.machine_filter("3")
    assert "-machine-3-" in requests[0]["name"]
