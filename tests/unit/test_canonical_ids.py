"""One voter, one ID: every spelling of a whole number is one ID, other numbers are refused.

Issue 10, item 6: ``7``, ``"07"``, ``"007"`` and ``"7.0"`` were four voters. Now the first
three are voter ``"7"`` and the last is refused with a reason naming the field, for voters,
machines and elections alike, in messages and on the command line.
"""

from __future__ import annotations

import json
import math
import string
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from election.domain import protocol
from election.domain.filters import parse_filter
from election.domain.votes import (
    MAX_ID_LENGTH,
    MAX_INTEGER_ID,
    Ballot,
    InvalidId,
    InvalidVote,
    canonical_cli_id,
    canonical_id,
    is_valid_id,
    parse_record,
    parse_submission,
    wire_id,
)

CHOICES = 5
UUID = "0b6f4c1e-9d1c-4c36-8f0e-3b7f0a7e2d11"
ID_ALPHABET = string.ascii_letters + string.digits + "_.:-"
ID_FIELDS = ("machine_ID", "voter_ID", "election_ID")
NOT_CANONICAL = "looks like a number but is not a whole number in canonical form"


def submission(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "machine_ID": 3,
        "voter_ID": 1234,
        "voting": 2,
        "election_ID": 1,
        "UUID": UUID,
        "timestamp": 1_700_000_000_000,
    }
    body.update(overrides)
    return body


def submit(body: dict[str, Any], attributes: dict[str, str] | None = None) -> Ballot:
    return parse_submission(json.dumps(body).encode(), attributes or {}, choices=CHOICES)


def rejection(body: dict[str, Any], attributes: dict[str, str] | None = None) -> InvalidVote:
    with pytest.raises(InvalidVote) as excinfo:
        submit(body, attributes)
    return excinfo.value


def refused(value: object) -> InvalidId:
    with pytest.raises(InvalidId) as excinfo:
        canonical_id(value)
    return excinfo.value


# --------------------------------------------------------------------------------------------
# One voter, machine and election per whole number
# --------------------------------------------------------------------------------------------


def test_seven_and_zero_seven_are_one_voter() -> None:
    voters = {submit(submission(voter_ID=spelling)).voter_id for spelling in (7, "7", "07", "007")}

    assert voters == {"7"}


def test_seven_point_zero_is_not_a_fourth_voter_but_refused_naming_the_field() -> None:
    exc = rejection(submission(voter_ID="7.0"))

    assert exc.reason == f"voter_ID {NOT_CANONICAL} (digits only, 0 to {MAX_INTEGER_ID})"
    assert (exc.machine_id, exc.uuid) == ("3", UUID)


def test_seven_and_zero_seven_are_one_machine_and_one_election() -> None:
    ballots = [submit(submission(machine_ID=m, election_ID=m)) for m in (7, "7", "07", "0007")]

    assert {(b.machine_id, b.election_id) for b in ballots} == {("7", "7")}


def test_zero_padded_zero_is_zero() -> None:
    assert canonical_id("000") == canonical_id("0") == canonical_id(0) == "0"


def test_the_largest_id_may_be_zero_padded_up_to_64_characters() -> None:
    text = str(MAX_INTEGER_ID)

    assert canonical_id("0" * (MAX_ID_LENGTH - len(text)) + text) == text


def test_a_zero_padded_id_longer_than_64_characters_is_refused_as_too_long() -> None:
    assert str(refused("0" * MAX_ID_LENGTH + "7")) == "must be an integer or a short ID"


def test_a_decimal_string_above_the_largest_id_is_refused_saying_so() -> None:
    text = str(MAX_INTEGER_ID + 1)

    assert str(refused(text)) == f"is a whole number above the largest ID {MAX_INTEGER_ID}"
    assert str(refused("0" + text)).startswith("is a whole number above")


def test_a_record_vote_gives_the_same_canonical_ids_as_its_submission() -> None:
    body = submission(machine_ID="07", election_ID="001")
    del body["voter_ID"]

    ballot = parse_record(json.dumps(body).encode(), {}, choices=CHOICES)

    assert (ballot.machine_id, ballot.election_id) == ("7", "1")


# --------------------------------------------------------------------------------------------
# Numbers not in canonical form are refused, in every ID field
# --------------------------------------------------------------------------------------------

NUMBER_LIKE = [
    "7.0", "07.5", "7.", ".5", "1e3", "1E3", "1e+3", "1e-3", "1.5e10",
    "-7", "-0", "-07", "-1.5", "+7", "+0", "+.5",
    "0x1F", "0X1f", "0o17", "0b101", "-0x1F",
]  # fmt: skip


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize("text", NUMBER_LIKE)
def test_a_number_not_in_canonical_form_is_refused_naming_the_field(field: str, text: str) -> None:
    exc = rejection(submission(**{field: text}))

    assert exc.reason.startswith(f"{field} {NOT_CANONICAL}")
    assert text not in exc.reason  # a voter ID never goes into an answer or a log line


@pytest.mark.parametrize("value", [7.0, 7.5, 1e3, True, False, None, [7], {"id": 7}, -7])
def test_floats_bools_and_other_json_stay_refused(value: object) -> None:
    assert str(refused(value)) == "must be an integer or a short ID"


@pytest.mark.parametrize("text", ["\u0663", "\uff17", "7\u0660", "\u00b2"])
def test_non_ascii_digits_are_not_a_spelling_of_a_number(text: str) -> None:
    assert str(refused(text)) == "must be an integer or a short ID"


# --------------------------------------------------------------------------------------------
# Names are kept exactly as they are
# --------------------------------------------------------------------------------------------

NAMES = [
    "machine-7", "booth_07", "07-booth", "1.2.3", "a:b", "7:00", "1-2", "2024-05-06",
    "1_000", "1e", "e3", "1e3x", ".", "-", "..5", "0x", "0xG", "0b2", "inf", "NaN", "A" * 64,
]  # fmt: skip


@pytest.mark.parametrize("text", NAMES)
def test_names_of_the_id_alphabet_are_kept_as_they_are(text: str) -> None:
    ballot = submit(submission(machine_ID=text, voter_ID=text, election_ID=text))

    assert (ballot.machine_id, ballot.voter_id, ballot.election_id) == (text, text, text)
    assert canonical_cli_id(text) == text


# --------------------------------------------------------------------------------------------
# The machineID attribute: answers reach the machine's own filter
# --------------------------------------------------------------------------------------------


def test_the_machine_id_attribute_is_read_in_canonical_form_so_the_answer_reaches_the_machine() -> (
    None
):
    with pytest.raises(InvalidVote) as excinfo:
        parse_submission(b"not json", {"machineID": "07"}, choices=CHOICES)
    exc = excinfo.value
    assert exc.machine_id == "7"

    answer = protocol.rejection_message(exc.machine_id, "", exc.reason)

    assert parse_filter(protocol.machine_filter("7")).matches(answer.attributes)


def test_a_machine_id_attribute_that_is_a_number_not_in_canonical_form_names_no_sender() -> None:
    with pytest.raises(InvalidVote) as excinfo:
        parse_submission(b"not json", {"machineID": "7.0"}, choices=CHOICES)

    assert excinfo.value.machine_id is None


def test_the_body_machine_id_and_the_attribute_agree_on_canonical_form() -> None:
    exc = rejection(submission(machine_ID=[7], voting=-1), {"machineID": "007"})

    assert exc.machine_id == "7"
    assert exc.reason == "machine_ID must be an integer or a short ID"


def test_a_machine_id_not_in_canonical_form_is_refused_and_the_attribute_names_the_sender() -> None:
    exc = rejection(submission(machine_ID="7.0"), {"machineID": "booth-7"})

    assert exc.reason.startswith(f"machine_ID {NOT_CANONICAL}")
    assert exc.machine_id == "booth-7"


# --------------------------------------------------------------------------------------------
# The command line: --election-id and --machine-id
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("07", "7"), ("7", "7"), ("000", "0")])
def test_a_zero_padded_cli_id_is_the_same_number(text: str, expected: str) -> None:
    assert canonical_cli_id(text) == expected
    assert is_valid_id(text)


@pytest.mark.parametrize("text", ["7.0", "-1", "+7", "1e3", "", "a b", str(MAX_INTEGER_ID + 1)])
def test_a_cli_id_that_messages_would_refuse_is_refused_on_the_command_line(text: str) -> None:
    assert canonical_cli_id(text) is None
    assert not is_valid_id(text)


@given(text=st.text(ID_ALPHABET + " +/\n", max_size=70))
def test_is_valid_id_agrees_with_canonical_cli_id_and_canonical_id(text: str) -> None:
    try:
        expected: str | None = canonical_id(text)
    except InvalidId:
        expected = None

    assert canonical_cli_id(text) == expected
    assert is_valid_id(text) is (expected is not None)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

whole_numbers = st.integers(min_value=0, max_value=MAX_INTEGER_ID)


@given(n=whole_numbers, data=st.data())
def test_every_spelling_of_a_whole_number_is_one_id(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=MAX_ID_LENGTH - len(str(n))), label="k")
    padded = "0" * k + str(n)

    assert canonical_id(n) == canonical_id(str(n)) == canonical_id(padded) == str(n)
    assert submit(submission(voter_ID=padded)).voter_id == submit(submission(voter_ID=n)).voter_id


# Dense in number-like text, so that the properties meet many near-numbers.
id_like_values = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.text("0123456789.eE+-xXoObBaF_", min_size=1, max_size=12),
    st.text(ID_ALPHABET, min_size=1, max_size=66),
    st.floats(),
    st.booleans(),
    st.none(),
)


@given(value=id_like_values)
def test_canonical_id_is_idempotent(value: object) -> None:
    try:
        once = canonical_id(value)
    except InvalidId:
        return

    assert canonical_id(once) == once
    assert canonical_cli_id(once) == once


@given(value=id_like_values)
def test_canonical_ids_round_trip_through_the_wire(value: object) -> None:
    try:
        text = canonical_id(value)
    except InvalidId:
        return
    sent = wire_id(text)

    assert canonical_id(sent) == text
    assert isinstance(sent, int) is text.isdigit()


@given(value=id_like_values)
def test_no_accepted_id_is_read_as_a_number_by_json_or_python_unless_it_is_canonical(
    value: object,
) -> None:
    """An independent oracle: whatever JSON or Python's float() reads as a finite number
    must be that number's plain decimal text, or it would be a second spelling of it."""
    try:
        text = canonical_id(value)
    except InvalidId:
        return
    if "_" in text:
        return  # float("1_000") is Python-only digit grouping: such IDs are names
    for read in (json.loads, float):
        try:
            number = read(text)
        except ValueError:
            continue
        if type(number) in (int, float) and math.isfinite(number):  # not json "true"
            assert text.isdigit()
            assert text == str(int(text))
    if text.isdigit():
        assert json.loads(text) == int(text)


signs = st.sampled_from(["", "+", "-"])
digits = st.text(string.digits, max_size=8)


@given(
    sign=signs,
    whole=digits,
    fraction=st.none() | digits,
    exponent=st.none() | st.tuples(st.sampled_from("eE"), signs, digits.filter(bool)),
)
def test_numbers_that_are_not_plain_digits_are_always_refused(
    sign: str, whole: str, fraction: str | None, exponent: tuple[str, str, str] | None
) -> None:
    text = sign + whole + ("" if fraction is None else "." + fraction)
    text += "" if exponent is None else "".join(exponent)
    assume(any(c in string.digits for c in whole + (fraction or "")))  # a mantissa
    assume(not text.isdigit())

    assert NOT_CANONICAL in str(refused(text))
    assert canonical_cli_id(text) is None


@given(prefix=st.sampled_from(["0x", "0X", "0o", "0O", "0b", "0B"]), n=whole_numbers)
def test_hexadecimal_octal_and_binary_integers_are_always_refused(prefix: str, n: int) -> None:
    text = prefix + {"x": f"{n:x}", "o": f"{n:o}", "b": f"{n:b}"}[prefix[1].lower()]
    assume(len(text) <= MAX_ID_LENGTH)  # longer ones are refused as too long

    assert NOT_CANONICAL in str(refused(text))


@given(
    text=st.text(ID_ALPHABET, max_size=MAX_ID_LENGTH - 1),
    marker=st.sampled_from("ghijklmnpqrstuvwyzGHIJKLMNPQRSTUVWYZ_:"),
    data=st.data(),
)
def test_an_id_with_a_character_no_number_has_is_kept_exactly(
    text: str, marker: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(text)), label="at")
    name = text[:at] + marker + text[at:]

    assert canonical_id(name) == name
