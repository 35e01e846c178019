"""Tests for the declared-election part of election.domain.protocol: events and ballots."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from election.domain import protocol
from election.domain.filters import parse_filter
from election.domain.protocol import (
    BALLOT_REQUEST_FILTER,
    ELECTION_CHANGED_FILTER,
    LOGGER_FILTER,
    ballot_filter,
    ballot_message,
    ballot_request_message,
    election_changed_message,
    machine_filter,
)


def test_the_function_values_of_declared_elections() -> None:
    assert (protocol.ELECTION_CHANGED, protocol.BALLOT_REQUEST, protocol.BALLOT) == (
        "election changed",
        "ballot request",
        "ballot",
    )


def test_the_filters_select_on_the_function_like_the_others() -> None:
    assert ELECTION_CHANGED_FILTER == 'attributes.function = "election changed"'
    assert BALLOT_REQUEST_FILTER == 'attributes.function = "ballot request"'
    assert ballot_filter("7") == 'attributes.function = "ballot" AND attributes.machineID = "7"'


def test_an_election_changed_event_reaches_its_subscription_and_no_other() -> None:
    message = election_changed_message("4201", "open", "ab" * 32, 3)
    assert parse_filter(ELECTION_CHANGED_FILTER).matches(message.attributes)
    assert not parse_filter(LOGGER_FILTER).matches(message.attributes)
    assert json.loads(message.data()) == {
        "election_ID": "4201",
        "state": "open",
        "definition": "ab" * 32,
        "seq": 3,
    }


def test_a_ballot_request_reaches_the_ballot_service_and_names_its_machine() -> None:
    message = ballot_request_message("7", "4201")
    assert parse_filter(BALLOT_REQUEST_FILTER).matches(message.attributes)
    assert message.attributes[protocol.MACHINE_ID] == "7"
    assert json.loads(message.data()) == {"machine_ID": "7", "election_ID": "4201"}


def test_a_ballot_reaches_only_the_machine_that_asked_and_not_its_result_subscription() -> None:
    message = ballot_message("7", "4201", "Water board 2027", ("North", "South"), "draft")
    assert parse_filter(ballot_filter("7")).matches(message.attributes)
    assert not parse_filter(ballot_filter("8")).matches(message.attributes)
    assert not parse_filter(machine_filter("7")).matches(message.attributes)
    assert json.loads(message.data()) == {
        "election_ID": "4201",
        "title": "Water board 2027",
        "choices": ["North", "South"],
        "state": "draft",
    }


@given(st.text(min_size=1, max_size=64))
def test_a_ballot_filter_selects_exactly_its_machine(machine_id: str) -> None:
    attributes = {protocol.FUNCTION: protocol.BALLOT, protocol.MACHINE_ID: machine_id}
    assert parse_filter(ballot_filter(machine_id)).matches(attributes)
    assert not parse_filter(ballot_filter(machine_id + "x")).matches(attributes)
