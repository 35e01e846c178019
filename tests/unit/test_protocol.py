"""Tests for election.domain.protocol: the filters and message shapes of the wire contract."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain import protocol
from election.domain.filters import MAX_FILTER_BYTES, parse_filter
from election.domain.protocol import (
    LOGGER_FILTER,
    RECORDER_FILTER,
    OutgoingMessage,
    machine_filter,
    machine_prefix_filter,
    rejection_message,
    result_message,
)
from election.domain.votes import is_valid_id

UUID = "0b6f4c1e-9d1c-4c36-8f0e-3b7f0a7e2d11"
Attributes = Mapping[str, str]
ID_ALPHABET = string.ascii_letters + string.digits + "_.:-"


def matches(filter_text: str, attributes: Attributes) -> bool:
    return parse_filter(filter_text).matches(attributes)


# --------------------------------------------------------------------------------------------
# The names of the wire contract (SPEC.md)
# --------------------------------------------------------------------------------------------


def test_the_attribute_and_function_names_are_those_of_the_reference_protocol() -> None:
    assert (protocol.FUNCTION, protocol.MACHINE_ID) == ("function", "machineID")
    assert (protocol.SUBMIT_VOTE, protocol.RECORD_VOTE, protocol.RESULT) == (
        "submit vote",
        "record vote",
        "result",
    )
    assert (protocol.RESULT_SUCCESSFUL, protocol.RESULT_ALREADY_VOTED) == (
        "successful",
        "Already Voted!!!",
    )


def test_the_service_filters_are_exactly_those_of_the_spec() -> None:
    assert LOGGER_FILTER == 'attributes.function = "submit vote"'
    assert RECORDER_FILTER == 'attributes.function = "record vote"'


def test_a_machine_filter_is_exactly_that_of_the_spec() -> None:
    assert machine_filter("7") == 'attributes.function = "result" AND attributes.machineID = "7"'


# --------------------------------------------------------------------------------------------
# What each filter selects
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"function": "submit vote"}, True),
        ({"function": "submit vote", "machineID": "7"}, True),
        ({"function": "record vote"}, False),
        ({"function": "result", "machineID": "7"}, False),
        ({"function": "Submit vote"}, False),
        ({"function": "submit vote "}, False),
        ({"Function": "submit vote"}, False),
        ({}, False),
    ],
)
def test_the_logger_filter_selects_only_submitted_votes(
    attributes: Attributes, expected: bool
) -> None:
    assert matches(LOGGER_FILTER, attributes) is expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"function": "record vote"}, True),
        ({"function": "record vote", "machineID": "7"}, True),
        ({"function": "submit vote"}, False),
        ({"function": "result", "machineID": "7"}, False),
        ({"function": "record  vote"}, False),
        ({}, False),
    ],
)
def test_the_recorder_filter_selects_only_votes_to_record(
    attributes: Attributes, expected: bool
) -> None:
    assert matches(RECORDER_FILTER, attributes) is expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"function": "result", "machineID": "7"}, True),
        ({"function": "result", "machineID": "7", "extra": "x"}, True),
        ({"function": "result", "machineID": "70"}, False),
        ({"function": "result", "machineID": "07"}, False),
        ({"function": "result", "machineID": " 7"}, False),
        ({"function": "result", "machineID": "8"}, False),
        ({"function": "result"}, False),
        ({"function": "submit vote", "machineID": "7"}, False),
        ({"machineID": "7"}, False),
        ({}, False),
    ],
)
def test_a_machine_filter_selects_only_the_answers_for_that_machine(
    attributes: Attributes, expected: bool
) -> None:
    assert matches(machine_filter("7"), attributes) is expected


@pytest.mark.parametrize(
    "machine_id",
    ['a"b', "back\\slash", "it's", "tab\there", "new\nline", "caf\u00e9", "\U0001f5f3", ""],
)
def test_a_machine_filter_quotes_awkward_ids_safely(machine_id: str) -> None:
    text = machine_filter(machine_id)

    assert matches(text, {"function": "result", "machineID": machine_id})
    assert not matches(text, {"function": "result", "machineID": machine_id + "x"})


# Up to 16 characters, so that even escaped ones stay within the 256-byte filter limit.
@given(machine_id=st.text(st.characters(exclude_categories=["Cs"]), max_size=16))
def test_every_machine_filter_parses_and_selects_exactly_its_machine(machine_id: str) -> None:
    parsed = parse_filter(machine_filter(machine_id))

    assert parsed.matches({"function": "result", "machineID": machine_id})
    assert not parsed.matches({"function": "result", "machineID": machine_id + "0"})
    assert not parsed.matches({"function": "submit vote", "machineID": machine_id})


@given(machine_id=st.text(ID_ALPHABET, min_size=1, max_size=64).filter(is_valid_id))
def test_the_filter_of_every_valid_machine_id_fits_pubsubs_size_limit(machine_id: str) -> None:
    text = machine_filter(machine_id)

    assert len(text.encode()) <= MAX_FILTER_BYTES
    assert parse_filter(text).matches({"function": "result", "machineID": machine_id})


@pytest.mark.parametrize(
    ("machine_id", "expected"),
    [
        ("12", True),
        ("123", True),
        ("12-booth", True),
        ("1", False),
        ("212", False),
        ("", False),
    ],
)
def test_a_prefix_filter_selects_the_answers_of_every_machine_with_that_prefix(
    machine_id: str, expected: bool
) -> None:
    text = machine_prefix_filter("12")

    assert matches(text, {"function": "result", "machineID": machine_id}) is expected


def test_a_prefix_filter_selects_only_answers() -> None:
    text = machine_prefix_filter("12")

    assert not matches(text, {"function": "submit vote", "machineID": "12"})
    assert not matches(text, {"function": "result"})


def test_an_empty_prefix_filter_selects_every_answer_that_names_a_machine() -> None:
    text = machine_prefix_filter("")

    assert matches(text, {"function": "result", "machineID": "anything"})
    assert not matches(text, {"function": "result"})


# --------------------------------------------------------------------------------------------
# Message shapes
# --------------------------------------------------------------------------------------------


def test_a_result_message_has_the_reference_shape() -> None:
    message = result_message("7", UUID, protocol.RESULT_SUCCESSFUL)

    assert message.body == {"result": "successful", "UUID": UUID}
    assert message.attributes == {"function": "result", "machineID": "7"}


def test_a_result_message_reaches_its_machine_and_no_one_else() -> None:
    attributes = result_message("7", UUID, protocol.RESULT_ALREADY_VOTED).attributes

    assert matches(machine_filter("7"), attributes)
    assert not matches(machine_filter("8"), attributes)
    assert not matches(LOGGER_FILTER, attributes)
    assert not matches(RECORDER_FILTER, attributes)


def test_a_rejection_message_is_a_result_whose_text_starts_with_rejected() -> None:
    message = rejection_message("booth-3", UUID, "voting must be an integer from 0 to 4")

    assert message.body == {
        "result": "rejected: voting must be an integer from 0 to 4",
        "UUID": UUID,
    }
    assert message.attributes == {"function": "result", "machineID": "booth-3"}
    assert message.body["result"].startswith(protocol.RESULT_REJECTED_PREFIX)


def test_an_outgoing_message_has_no_attributes_by_default() -> None:
    assert OutgoingMessage(body={"a": 1}).attributes == {}


def test_message_data_is_compact_json() -> None:
    message = result_message("7", UUID, protocol.RESULT_SUCCESSFUL)

    assert message.data() == ('{"result":"successful","UUID":"' + UUID + '"}').encode()


def test_message_data_keeps_non_ascii_text_as_utf8() -> None:
    data = OutgoingMessage(body={"reason": "caf\u00e9 \U0001f5f3"}).data()

    assert data == '{"reason":"caf\u00e9 \U0001f5f3"}'.encode()
    assert b"\\u" not in data


def test_message_data_keeps_integers_as_json_numbers() -> None:
    body = {"machine_ID": 7, "voting": 2, "election_ID": 1, "timestamp": 1_700_000_000_000}

    data = OutgoingMessage(body=body).data()

    assert data == b'{"machine_ID":7,"voting":2,"election_ID":1,"timestamp":1700000000000}'
    assert json.loads(data) == body


@given(
    body=st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
        st.integers() | st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
        max_size=6,
    )
)
def test_message_data_is_utf8_json_that_reads_back_as_the_body(body: dict[str, object]) -> None:
    data = OutgoingMessage(body=body).data()

    assert json.loads(data.decode("utf-8")) == body
