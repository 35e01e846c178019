"""Tests for election.domain.votes: raw vote messages in, checked ballots (or reasons) out."""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain.votes import (
    MAX_BODY_BYTES,
    MAX_INTEGER_ID,
    RECORD_FIELDS,
    SUBMISSION_FIELDS,
    Ballot,
    InvalidVote,
    canonical_id,
    is_valid_id,
    parse_record,
    parse_submission,
    wire_id,
)

CHOICES = 5
UUID = "0b6f4c1e-9d1c-4c36-8f0e-3b7f0a7e2d11"
TIMESTAMP = 1_700_000_000_000
ID_ALPHABET = string.ascii_letters + string.digits + "_.:-"
ID_FIELDS = ("machine_ID", "voter_ID", "election_ID")

Parser = Callable[..., Ballot]
DROP = object()  # an override value meaning "leave this field out"


def submission(**overrides: Any) -> dict[str, Any]:
    """A reference-protocol ``submit vote`` body (integer IDs), with fields overridden."""
    body: dict[str, Any] = {
        "machine_ID": 7,
        "voter_ID": 1234,
        "voting": 2,
        "election_ID": 1,
        "UUID": UUID,
        "timestamp": TIMESTAMP,
    }
    for name, value in overrides.items():
        if value is DROP:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def record(**overrides: Any) -> dict[str, Any]:
    """A ``record vote`` body: a submission without ``voter_ID``."""
    return submission(voter_ID=DROP, **overrides)


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


def submit(
    body: object, attributes: Mapping[str, str] | None = None, choices: int = CHOICES
) -> Ballot:
    return parse_submission(encode(body), attributes or {}, choices=choices)


def rejection(
    parse: Parser,
    data: bytes,
    attributes: Mapping[str, str] | None = None,
    choices: int = CHOICES,
) -> InvalidVote:
    with pytest.raises(InvalidVote) as excinfo:
        parse(data, attributes or {}, choices=choices)
    return excinfo.value


def submission_rejection(
    body: object, attributes: Mapping[str, str] | None = None, choices: int = CHOICES
) -> InvalidVote:
    return rejection(parse_submission, encode(body), attributes, choices)


def padded_to(size: int, body: dict[str, Any]) -> bytes:
    """``body`` with a padding field added so that its JSON is exactly ``size`` bytes."""
    empty = len(encode({**body, "pad": ""}))
    data = encode({**body, "pad": "x" * (size - empty)})
    assert len(data) == size
    return data


# --------------------------------------------------------------------------------------------
# Valid votes
# --------------------------------------------------------------------------------------------


def test_a_reference_protocol_vote_with_integer_ids_is_accepted() -> None:
    ballot = submit(submission())

    assert ballot == Ballot(
        machine_id="7",
        election_id="1",
        choice=2,
        uuid=UUID,
        timestamp=TIMESTAMP,
        voter_id="1234",
    )


@pytest.mark.parametrize("text", ["machine-A", "m_1.2:3", "x", "a" * 64, "07-booth", "1.2.3"])
def test_string_ids_of_the_id_alphabet_are_accepted_as_they_are(text: str) -> None:
    ballot = submit(submission(machine_ID=text, voter_ID=text, election_ID=text))

    assert (ballot.machine_id, ballot.voter_id, ballot.election_id) == (text, text, text)


@pytest.mark.parametrize("value", [0, 1, MAX_INTEGER_ID])
def test_integer_ids_from_zero_to_the_64_bit_maximum_are_accepted(value: int) -> None:
    ballot = submit(submission(machine_ID=value, voter_ID=value, election_ID=value))

    assert ballot.machine_id == ballot.voter_id == ballot.election_id == str(value)


@pytest.mark.parametrize("choice", range(CHOICES))
def test_every_choice_from_zero_to_choices_minus_one_is_accepted(choice: int) -> None:
    assert submit(submission(voting=choice)).choice == choice


@pytest.mark.parametrize("timestamp", [0, 1, 2**63 - 1])
def test_any_non_negative_64_bit_timestamp_is_accepted(timestamp: int) -> None:
    assert submit(submission(timestamp=timestamp)).timestamp == timestamp


def test_extra_body_fields_are_ignored() -> None:
    assert submit(submission(comment="hello")).machine_id == "7"


def test_a_valid_record_vote_is_accepted_without_a_voter_id() -> None:
    ballot = parse_record(encode(record()), {}, choices=CHOICES)

    assert ballot == Ballot("7", "1", 2, UUID, TIMESTAMP, voter_id=None)


def test_a_body_of_exactly_the_size_limit_is_accepted() -> None:
    data = padded_to(MAX_BODY_BYTES, submission())

    assert parse_submission(data, {}, choices=CHOICES).uuid == UUID


def test_the_body_machine_id_wins_over_the_machine_id_attribute() -> None:
    assert submit(submission(machine_ID=7), {"machineID": "8"}).machine_id == "7"


# --------------------------------------------------------------------------------------------
# The record body and wire IDs
# --------------------------------------------------------------------------------------------


def test_record_body_never_carries_the_voter_id() -> None:
    body = submit(submission()).record_body()

    assert "voter_ID" not in body
    assert set(body) == set(RECORD_FIELDS)
    assert set(SUBMISSION_FIELDS) - set(RECORD_FIELDS) == {"voter_ID"}
    assert "1234" not in json.dumps(body)


def test_record_body_gives_the_reference_integer_ids_back_as_integers() -> None:
    body = submit(submission()).record_body()

    assert body == {
        "machine_ID": 7,
        "voting": 2,
        "election_ID": 1,
        "UUID": UUID,
        "timestamp": TIMESTAMP,
    }


def test_record_body_keeps_named_ids_as_strings() -> None:
    body = submit(submission(machine_ID="booth-3", election_ID="e-007")).record_body()

    assert (body["machine_ID"], body["election_ID"]) == ("booth-3", "e-007")


def test_record_body_sends_a_zero_padded_decimal_string_id_as_its_integer() -> None:
    body = submit(submission(machine_ID="007", election_ID="01")).record_body()

    assert (body["machine_ID"], body["election_ID"]) == (7, 1)


def test_record_body_parses_back_as_the_same_ballot_without_its_voter() -> None:
    ballot = submit(submission(machine_ID="booth-3"))

    again = parse_record(encode(ballot.record_body()), {}, choices=CHOICES)

    assert again == Ballot(**{**ballot.__dict__, "voter_id": None})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        (str(MAX_INTEGER_ID), MAX_INTEGER_ID),
        ("007", "007"),
        ("m7", "m7"),
        ("-1", "-1"),
        ("1.5", "1.5"),
        ("\u0663", "\u0663"),  # ARABIC-INDIC DIGIT THREE is decimal, but not ours
    ],
)
def test_wire_id_sends_canonical_whole_numbers_as_integers_and_the_rest_as_text(
    text: str, expected: int | str
) -> None:
    assert wire_id(text) == expected
    assert type(wire_id(text)) is type(expected)


def test_a_long_named_id_survives_the_trip_to_the_record_service() -> None:
    ballot = submit(submission(election_ID="9" * 20 + "-x" * 22))

    again = parse_record(encode(ballot.record_body()), {}, choices=CHOICES)

    assert again.election_id == "9" * 20 + "-x" * 22


def test_a_decimal_string_id_above_the_64_bit_maximum_is_rejected_naming_it() -> None:
    exc = submission_rejection(submission(election_ID="9" * 20))

    assert exc.reason == (f"election_ID is a whole number above the largest ID {MAX_INTEGER_ID}")


# Strings of the ID alphabet that are IDs: numbers that look like numbers but are not in
# canonical form ("7.0", "-1") are refused, see tests/unit/test_canonical_ids.py.
valid_ids = st.one_of(
    st.integers(min_value=0, max_value=MAX_INTEGER_ID),
    st.text(alphabet=ID_ALPHABET, min_size=1, max_size=64).filter(is_valid_id),
)


@given(
    machine=valid_ids,
    voter=valid_ids,
    election=valid_ids,
    choice=st.integers(min_value=0, max_value=CHOICES - 1),
    timestamp=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_every_accepted_submission_forwards_a_record_body_the_record_service_accepts(
    machine: int | str, voter: int | str, election: int | str, choice: int, timestamp: int
) -> None:
    body = submission(
        machine_ID=machine,
        voter_ID=voter,
        election_ID=election,
        voting=choice,
        timestamp=timestamp,
    )
    ballot = submit(body)

    again = parse_record(encode(ballot.record_body()), {}, choices=CHOICES)

    assert again == Ballot(**{**ballot.__dict__, "voter_id": None})
    assert ballot.voter_id == canonical_id(voter)


# --------------------------------------------------------------------------------------------
# is_valid_id
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "0", "machine-7", "a.b:c_d-e", "A" * 64])
def test_is_valid_id_accepts_one_to_64_characters_of_the_id_alphabet(text: str) -> None:
    assert is_valid_id(text)


@pytest.mark.parametrize(
    "text", ["", "A" * 65, "a b", "a/b", "caf\u00e9", "1\x00", " 1", "a,b", '"7"']
)
def test_is_valid_id_refuses_anything_else(text: str) -> None:
    assert not is_valid_id(text)


@pytest.mark.parametrize("text", ["7\n", "A" * 64 + "\n"])
def test_is_valid_id_refuses_a_trailing_newline(text: str) -> None:
    assert not is_valid_id(text)


@pytest.mark.parametrize("field", [*ID_FIELDS, "UUID"])
def test_a_vote_whose_id_ends_in_a_newline_is_rejected(field: str) -> None:
    submission_rejection(submission(**{field: "7\n"}))


# --------------------------------------------------------------------------------------------
# Unreadable bodies
# --------------------------------------------------------------------------------------------

UNREADABLE = [
    pytest.param(b"\xff\xfe{}", "body is not valid UTF-8", id="not-utf8"),
    pytest.param(b'{"machine_ID": 7, "voting": \xe9}', "body is not valid UTF-8", id="latin1"),
    pytest.param(b"", "body is not valid JSON", id="empty"),
    pytest.param(b"{", "body is not valid JSON", id="truncated"),
    pytest.param(b"machine 7 votes 2", "body is not valid JSON", id="prose"),
    pytest.param(b"{'machine_ID': 7}", "body is not valid JSON", id="single-quotes"),
    pytest.param(b"[" * 2000 + b"]" * 2000, "body is not valid JSON", id="too-deep"),
    pytest.param(b"[]", "body is not a JSON object", id="array"),
    pytest.param(b"42", "body is not a JSON object", id="number"),
    pytest.param(b'"vote"', "body is not a JSON object", id="string"),
    pytest.param(b"null", "body is not a JSON object", id="null"),
    pytest.param(b"true", "body is not a JSON object", id="bool"),
]


@pytest.mark.parametrize("parse", [parse_submission, parse_record])
@pytest.mark.parametrize(("data", "reason"), UNREADABLE)
def test_an_unreadable_body_is_rejected_with_its_reason(
    parse: Parser, data: bytes, reason: str
) -> None:
    exc = rejection(parse, data)

    assert exc.reason == reason
    assert str(exc) == reason


@pytest.mark.parametrize("parse", [parse_submission, parse_record])
def test_a_body_over_the_size_limit_is_rejected(parse: Parser) -> None:
    data = padded_to(MAX_BODY_BYTES + 1, submission())

    exc = rejection(parse, data, {"machineID": "7"})

    assert exc.reason == f"body too large ({MAX_BODY_BYTES + 1} bytes, limit {MAX_BODY_BYTES})"
    assert (exc.machine_id, exc.uuid) == ("7", None)


@pytest.mark.parametrize(("data", "reason"), UNREADABLE)
def test_an_unreadable_body_names_the_sender_from_the_machine_id_attribute(
    data: bytes, reason: str
) -> None:
    exc = rejection(parse_submission, data, {"machineID": "booth-7", "function": "submit vote"})

    assert (exc.machine_id, exc.uuid) == ("booth-7", None)


@pytest.mark.parametrize("attributes", [{}, {"machineID": "bad id"}, {"machineID": ""}])
def test_an_unreadable_body_without_a_valid_machine_id_attribute_names_no_sender(
    attributes: dict[str, str],
) -> None:
    exc = rejection(parse_submission, b"not json", attributes)

    assert (exc.machine_id, exc.uuid) == (None, None)


# --------------------------------------------------------------------------------------------
# Missing fields and wrong types
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", RECORD_FIELDS)
def test_a_submission_missing_a_field_is_rejected_naming_it(field: str) -> None:
    exc = submission_rejection(submission(**{field: DROP}))

    assert exc.reason == f"missing field {field}"


@pytest.mark.parametrize("field", RECORD_FIELDS)
def test_a_record_missing_a_field_is_rejected_naming_it(field: str) -> None:
    exc = rejection(parse_record, encode(record(**{field: DROP})))

    assert exc.reason == f"missing field {field}"


def test_every_missing_field_is_named_at_once() -> None:
    exc = submission_rejection(submission(voting=DROP, UUID=DROP))

    assert exc.reason == "missing field voting, UUID"


def test_a_submission_without_a_voter_id_is_rejected() -> None:
    exc = submission_rejection(submission(voter_ID=DROP))

    assert "voter_ID" in exc.reason
    assert (exc.machine_id, exc.uuid) == ("7", UUID)


def test_a_submission_without_a_voter_id_is_reported_as_missing_it() -> None:
    assert submission_rejection(submission(voter_ID=DROP)).reason == "missing field voter_ID"


def test_a_record_that_carries_a_voter_id_is_rejected() -> None:
    exc = rejection(parse_record, encode(submission()))

    assert exc.reason == "record vote must not carry voter_ID"
    assert (exc.machine_id, exc.uuid) == ("7", UUID)


WRONG_ID_VALUES = [
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(7.0, id="float"),
    pytest.param(7.5, id="fraction"),
    pytest.param([7], id="list"),
    pytest.param({"id": 7}, id="object"),
    pytest.param(None, id="null"),
    pytest.param(-1, id="negative"),
    pytest.param(-(2**63), id="very-negative"),
    pytest.param(MAX_INTEGER_ID + 1, id="over-64-bit"),
    pytest.param("", id="empty"),
    pytest.param("a" * 65, id="too-long"),
    pytest.param("booth 7", id="space"),
    pytest.param("caf\u00e9", id="non-ascii"),
    pytest.param("a/b", id="slash"),
]


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize("value", WRONG_ID_VALUES)
def test_a_malformed_id_is_rejected_naming_the_field(field: str, value: object) -> None:
    exc = submission_rejection(submission(**{field: value}))

    assert exc.reason == f"{field} must be an integer or a short ID"


@pytest.mark.parametrize("value", WRONG_ID_VALUES)
def test_a_record_with_a_malformed_election_id_is_rejected(value: object) -> None:
    exc = rejection(parse_record, encode(record(election_ID=value)))

    assert exc.reason == "election_ID must be an integer or a short ID"
    assert (exc.machine_id, exc.uuid) == ("7", UUID)


@pytest.mark.parametrize(
    "value",
    [True, False, 2.0, "2", [2], None, -1, CHOICES, CHOICES + 1, 2**64],
    ids=repr,
)
def test_a_choice_that_is_not_an_integer_in_range_is_rejected(value: object) -> None:
    exc = submission_rejection(submission(voting=value))

    assert exc.reason == f"voting must be an integer from 0 to {CHOICES - 1}"
    assert (exc.machine_id, exc.uuid) == ("7", UUID)


@pytest.mark.parametrize(("choices", "highest"), [(1, 0), (3, 2), (1000, 999)])
def test_the_number_of_choices_is_configurable(choices: int, highest: int) -> None:
    assert submit(submission(voting=highest), choices=choices).choice == highest

    exc = submission_rejection(submission(voting=highest + 1), choices=choices)

    assert exc.reason == f"voting must be an integer from 0 to {highest}"


@pytest.mark.parametrize("value", [-1, 2**63, 1.7e12, True, "1700000000000", None, [1]], ids=repr)
def test_a_timestamp_that_is_not_a_non_negative_integer_is_rejected(value: object) -> None:
    exc = submission_rejection(submission(timestamp=value))

    assert exc.reason == "timestamp must be a non-negative integer (ms)"
    assert (exc.machine_id, exc.uuid) == ("7", UUID)


@pytest.mark.parametrize(
    "value", ["", "a" * 65, "has space", "{uuid}", "\u00fc", 123, True, None, [UUID]], ids=repr
)
def test_a_malformed_uuid_is_rejected_and_not_echoed_back(value: object) -> None:
    exc = submission_rejection(submission(UUID=value))

    assert exc.reason == "UUID must be a string of letters, digits and -"
    assert (exc.machine_id, exc.uuid) == ("7", None)


# --------------------------------------------------------------------------------------------
# Who to tell: machine_id and uuid on InvalidVote
# --------------------------------------------------------------------------------------------


def test_a_rejection_carries_the_machine_id_and_uuid_from_the_body() -> None:
    exc = submission_rejection(submission(machine_ID="booth-3", voting=-1), {"machineID": "9"})

    assert (exc.machine_id, exc.uuid) == ("booth-3", UUID)


def test_a_rejection_gives_an_integer_machine_id_in_text_form() -> None:
    exc = submission_rejection(submission(machine_ID=12, voting=-1))

    assert exc.machine_id == "12"


@pytest.mark.parametrize("machine", [DROP, -1, "bad id", True, None])
def test_a_rejection_falls_back_to_the_machine_id_attribute_when_the_body_has_none(
    machine: object,
) -> None:
    exc = submission_rejection(submission(machine_ID=machine), {"machineID": "booth-9"})

    assert exc.machine_id == "booth-9"
    assert exc.uuid == UUID


@pytest.mark.parametrize("machine", [DROP, -1, "bad id"])
def test_a_rejection_names_no_machine_when_neither_body_nor_attribute_has_one(
    machine: object,
) -> None:
    exc = submission_rejection(submission(machine_ID=machine))

    assert exc.machine_id is None


def test_a_malformed_machine_id_is_rejected_even_when_the_attribute_is_valid() -> None:
    exc = submission_rejection(submission(machine_ID=[7]), {"machineID": "7"})

    assert exc.reason == "machine_ID must be an integer or a short ID"
    assert exc.machine_id == "7"


def test_invalid_vote_is_a_value_error_whose_message_is_its_reason() -> None:
    exc = InvalidVote("why", machine_id="7", uuid="u")

    assert isinstance(exc, ValueError)
    assert (str(exc), exc.reason, exc.machine_id, exc.uuid) == ("why", "why", "7", "u")


# --------------------------------------------------------------------------------------------
# Nothing but InvalidVote, whatever arrives
# --------------------------------------------------------------------------------------------

attribute_maps = st.dictionaries(
    st.sampled_from(["function", "machineID", "other"]), st.text(max_size=70), max_size=3
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=70),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from([*SUBMISSION_FIELDS, "extra"])
vote_like_bodies = st.dictionaries(field_names, json_values | valid_ids, max_size=7)


def parses_or_rejects(parse: Parser, data: bytes, attributes: Mapping[str, str]) -> None:
    try:
        ballot = parse(data, attributes, choices=CHOICES)
    except InvalidVote as exc:
        assert exc.reason
        assert exc.machine_id is None or canonical_id(exc.machine_id) == exc.machine_id
        assert exc.uuid is None or isinstance(exc.uuid, str)
    else:
        assert isinstance(ballot, Ballot)


@pytest.mark.parametrize("parse", [parse_submission, parse_record])
@given(data=st.binary(max_size=MAX_BODY_BYTES + 10), attributes=attribute_maps)
def test_arbitrary_bytes_raise_nothing_but_invalid_vote(
    parse: Parser, data: bytes, attributes: dict[str, str]
) -> None:
    parses_or_rejects(parse, data, attributes)


@pytest.mark.parametrize("parse", [parse_submission, parse_record])
@given(value=json_values, attributes=attribute_maps)
def test_arbitrary_json_raises_nothing_but_invalid_vote(
    parse: Parser, value: object, attributes: dict[str, str]
) -> None:
    parses_or_rejects(parse, json.dumps(value).encode(), attributes)


@pytest.mark.parametrize("parse", [parse_submission, parse_record])
@given(body=vote_like_bodies, attributes=attribute_maps)
def test_arbitrary_vote_like_objects_raise_nothing_but_invalid_vote(
    parse: Parser, body: dict[str, Any], attributes: dict[str, str]
) -> None:
    parses_or_rejects(parse, json.dumps(body).encode(), attributes)
