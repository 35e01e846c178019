"""Tests for election.domain.manifest: the manifest's fields, the roll, the definition."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain.errors import InvalidInput
from election.domain.manifest import (
    MAX_CHOICE,
    MAX_CHOICES,
    MAX_MANIFEST_BYTES,
    MAX_TITLE,
    Definition,
    DefinitionConflict,
    Manifest,
    ManifestError,
    choice_key,
    ensure_same_definition,
    load_definition,
    parse_manifest,
    parse_roll,
    roll_location,
    roll_tokens,
    same_definition,
)
from election.domain.secrecy import VoterSecrets

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRETS = VoterSecrets(b"test voter key")
BASE = {"id": '"4201"', "title": '"Water board 2027"', "choices": '["North", "South", "East"]'}


def toml(**fields: str | None) -> bytes:
    """A manifest of BASE's fields with some replaced (a TOML value) or left out (None)."""
    table = {**BASE, **fields}
    return "".join(
        f"{key} = {value}\n" for key, value in table.items() if value is not None
    ).encode()


def refusal(data: bytes) -> str:
    """The one-line message of the ManifestError that parsing ``data`` raises."""
    with pytest.raises(ManifestError) as info:
        parse_manifest(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def roll_refusal(text: str) -> str:
    with pytest.raises(ManifestError) as info:
        parse_roll(text, "4201")
    return str(info.value)


# --------------------------------------------------------------------------------------------
# The example and a minimal manifest
# --------------------------------------------------------------------------------------------


def test_the_example_manifest_parses_with_every_field() -> None:
    data = (EXAMPLES / "election-4201.toml").read_bytes()
    assert parse_manifest(data) == Manifest(
        election_id="4201",
        title="Water board 2027",
        choices=("North", "South", "East"),
        roll_path="roll-4201.txt",
        opens_at=datetime(2027, 3, 1, 8, tzinfo=UTC),
        closes_at=datetime(2027, 3, 1, 20, tzinfo=UTC),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def test_the_example_roll_names_a_dozen_voters() -> None:
    voters = parse_roll((EXAMPLES / "roll-4201.txt").read_text(), "4201")
    assert len(voters) == 12
    assert voters[0] == "1001" and voters[-1] == "voter-2006"


def test_the_example_loads_as_a_definition_with_the_roll_as_tokens() -> None:
    folder = EXAMPLES
    definition = load_definition(
        (folder / "election-4201.toml").read_bytes(),
        lambda path: Path(roll_location(folder / "election-4201.toml", path)).read_text(),
        SECRETS,
    )
    assert definition.roll is not None and len(definition.roll) == 12
    assert SECRETS.voter_token("4201", "1001") in definition.roll


def test_a_manifest_of_id_title_and_choices_alone_has_no_roll_and_no_times() -> None:
    manifest = parse_manifest(toml())
    assert (manifest.roll_path, manifest.opens_at, manifest.closes_at) == (None, None, None)


def test_the_digest_is_that_of_the_exact_bytes_so_a_comment_changes_it() -> None:
    data = toml()
    assert parse_manifest(data).sha256 == hashlib.sha256(data).hexdigest()
    assert parse_manifest(data + b"# a comment\n").sha256 != parse_manifest(data).sha256


# --------------------------------------------------------------------------------------------
# The file as a whole
# --------------------------------------------------------------------------------------------


def test_a_manifest_that_is_not_toml_is_refused_with_the_line() -> None:
    message = refusal(toml() + b"roll = \n")
    assert message.startswith("not valid TOML: ") and "line 4" in message


def test_a_manifest_that_is_not_utf8_is_refused() -> None:
    assert refusal(b'title = "\xff"\n') == "not valid TOML: not UTF-8 (byte 9)"


def test_a_manifest_over_the_size_limit_is_refused() -> None:
    data = toml() + b"#" * MAX_MANIFEST_BYTES
    assert refusal(data).startswith("manifest: ") and str(MAX_MANIFEST_BYTES) in refusal(data)


def test_a_manifest_nested_too_deeply_is_refused_as_invalid_toml() -> None:
    assert refusal(b"x = " + b"[" * 100_000).startswith("not valid TOML: ")


def test_a_manifest_with_a_byte_order_mark_parses() -> None:
    assert parse_manifest(b"\xef\xbb\xbf" + toml()).election_id == "4201"


def test_a_manifest_with_an_unknown_key_is_refused_naming_the_key() -> None:
    assert refusal(toml(colour='"blue"')) == "unknown key 'colour'"


def test_a_manifest_with_an_unknown_table_is_refused_naming_it() -> None:
    assert refusal(toml() + b"[extra]\nx = 1\n") == "unknown key 'extra'"


def test_a_refusal_is_a_kind_of_invalid_input() -> None:
    assert issubclass(ManifestError, InvalidInput)


# --------------------------------------------------------------------------------------------
# id
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["id", "title"])
def test_a_manifest_without_an_id_or_a_title_is_refused_naming_the_field(field: str) -> None:
    assert refusal(toml(**{field: None})) == f"{field}: missing"


@pytest.mark.parametrize(
    ("written", "canonical"),
    [('"4201"', "4201"), ("4201", "4201"), ('"007"', "7"), ('"board-7"', "board-7")],
)
def test_an_id_is_kept_in_its_canonical_form(written: str, canonical: str) -> None:
    assert parse_manifest(toml(id=written)).election_id == canonical


@pytest.mark.parametrize("written", ['"7.0"', "7.0", "true", '"-7"', '"a b"', "[1]", '""'])
def test_an_id_that_is_not_an_election_id_is_refused_naming_the_field(written: str) -> None:
    assert refusal(toml(id=written)).startswith("id: not a valid election ID; it ")


# --------------------------------------------------------------------------------------------
# title
# --------------------------------------------------------------------------------------------


def test_a_title_that_is_not_a_string_is_refused() -> None:
    assert refusal(toml(title="12")) == "title: must be a string"


def test_a_blank_title_is_refused() -> None:
    assert refusal(toml(title='"   "')) == "title: empty"


def test_a_title_over_200_characters_is_refused_and_200_is_fine() -> None:
    assert (
        refusal(toml(title=json.dumps("x" * (MAX_TITLE + 1))))
        == "title: longer than 200 characters"
    )
    assert parse_manifest(toml(title=json.dumps("x" * MAX_TITLE))).title == "x" * MAX_TITLE


@pytest.mark.parametrize("char", ["\\n", "\\t", "\\u0000", "\\u200b", "\\u2028", "\\u00ad"])
def test_a_title_with_a_control_or_invisible_character_is_refused(char: str) -> None:
    message = refusal(toml(title=f'"Water{char}board"'))
    assert message == "title: contains a control or invisible character"


def test_a_title_is_stripped_and_may_be_any_printable_text() -> None:
    assert (
        parse_manifest(toml(title='"  Wasserverband Süd 2027 "')).title == "Wasserverband Süd 2027"
    )


# --------------------------------------------------------------------------------------------
# choices
# --------------------------------------------------------------------------------------------


def test_a_manifest_without_choices_is_refused_naming_the_field() -> None:
    assert refusal(toml(choices=None)) == "choices: missing"


def test_a_manifest_with_an_empty_list_of_choices_is_refused() -> None:
    assert refusal(toml(choices="[]")) == "choices: at least one choice is required"


def test_choices_that_are_not_a_list_are_refused() -> None:
    assert refusal(toml(choices='"North"')) == "choices: must be a list of strings"


def test_more_than_1000_choices_are_refused_and_1000_are_fine() -> None:
    many = json.dumps([f"c{i}" for i in range(MAX_CHOICES + 1)])
    assert refusal(toml(choices=many)) == "choices: at most 1000 choices, not 1001"
    enough = json.dumps([f"c{i}" for i in range(MAX_CHOICES)])
    assert len(parse_manifest(toml(choices=enough)).choices) == MAX_CHOICES


def test_a_choice_that_is_not_a_string_is_refused_naming_its_index() -> None:
    assert refusal(toml(choices='["North", 2]')) == "choices[1]: must be a string"


def test_a_blank_choice_is_refused_naming_its_index() -> None:
    assert refusal(toml(choices='["North", "South", " "]')) == "choices[2]: empty"


def test_a_choice_over_100_characters_is_refused() -> None:
    long = json.dumps(["North", "x" * (MAX_CHOICE + 1)])
    assert refusal(toml(choices=long)) == "choices[1]: longer than 100 characters"


def test_a_choice_with_a_control_character_is_refused() -> None:
    message = refusal(toml(choices='["North", "So\\u0007uth"]'))
    assert message == "choices[1]: contains a control or invisible character"


@pytest.mark.parametrize("twin", ["North", "north", " NORTH ", "\uff2eorth"])
def test_a_choice_twice_in_case_space_or_width_is_refused_naming_both(twin: str) -> None:
    choices = json.dumps(["North", "South", twin], ensure_ascii=False)
    assert refusal(toml(choices=choices)) == "choices[2]: the same choice as choices[0]"


def test_choices_are_stripped_and_kept_in_ballot_order() -> None:
    manifest = parse_manifest(toml(choices='[" East", "North ", "South"]'))
    assert manifest.choices == ("East", "North", "South")


def test_a_choice_key_ignores_case_and_compatibility_forms() -> None:
    assert choice_key("Straße") == choice_key("STRASSE") == choice_key(" strasse ")


# --------------------------------------------------------------------------------------------
# roll
# --------------------------------------------------------------------------------------------


def test_a_roll_path_is_kept_as_written() -> None:
    assert parse_manifest(toml(roll='"rolls/4201 final.txt"')).roll_path == "rolls/4201 final.txt"


def test_a_roll_that_is_not_a_string_is_refused() -> None:
    assert refusal(toml(roll="true")).startswith("roll: must be a string")


def test_a_blank_roll_path_is_refused() -> None:
    assert refusal(toml(roll='" "')) == "roll: empty"


def test_a_roll_path_with_a_control_character_is_refused() -> None:
    assert refusal(toml(roll='"a\\nb"')) == "roll: contains a control or invisible character"


def test_a_roll_path_over_1000_characters_is_refused() -> None:
    assert refusal(toml(roll=json.dumps("r" * 1001))) == "roll: longer than 1000 characters"


def test_the_roll_is_found_beside_the_manifest() -> None:
    where = roll_location(PurePosixPath("/srv/elections/e.toml"), "roll.txt")
    assert where == PurePosixPath("/srv/elections/roll.txt")


# --------------------------------------------------------------------------------------------
# opens_at and closes_at
# --------------------------------------------------------------------------------------------


def test_times_with_an_offset_are_kept_in_utc() -> None:
    manifest = parse_manifest(toml(opens_at="2027-03-01T10:00:00+02:00"))
    assert manifest.opens_at == datetime(2027, 3, 1, 8, tzinfo=UTC)
    assert manifest.opens_at is not None and manifest.opens_at.tzinfo is UTC


@pytest.mark.parametrize("field", ["opens_at", "closes_at"])
def test_a_local_time_without_an_offset_is_refused_naming_the_field(field: str) -> None:
    message = refusal(toml(**{field: "2027-03-01T08:00:00"}))
    assert message.startswith(f"{field}: needs a UTC offset")


@pytest.mark.parametrize("field", ["opens_at", "closes_at"])
def test_a_time_in_quotes_is_refused_naming_the_field(field: str) -> None:
    message = refusal(toml(**{field: '"2027-03-01T08:00:00Z"'}))
    assert message == f"{field}: write the date-time without quotes, e.g. 2027-03-01T08:00:00Z"


@pytest.mark.parametrize(
    ("written", "kind"), [("2027-03-01", ", not a date"), ("08:00:00", ", not a time"), ("1", "")]
)
def test_a_date_a_time_of_day_or_a_number_is_refused_as_a_time(written: str, kind: str) -> None:
    message = refusal(toml(opens_at=written))
    assert (
        message == f"opens_at: must be a date-time with an offset{kind}, e.g. 2027-03-01T08:00:00Z"
    )


@pytest.mark.parametrize(
    "closes", ["2027-03-01T07:00:00Z", "2027-03-01T08:00:00Z", "2027-03-01T10:00:00+02:00"]
)
def test_a_close_not_after_the_opening_is_refused(closes: str) -> None:
    data = toml(opens_at="2027-03-01T08:00:00Z", closes_at=closes)
    assert refusal(data) == "closes_at: must be after opens_at"


def test_either_time_may_be_given_alone() -> None:
    assert parse_manifest(toml(closes_at="2027-03-01T20:00:00Z")).opens_at is None
    assert parse_manifest(toml(opens_at="2027-03-01T20:00:00Z")).closes_at is None


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

LETTERS = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))
NAME = st.text(LETTERS, min_size=1, max_size=MAX_CHOICE)
MOMENT = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


@given(
    title=st.text(LETTERS, min_size=1, max_size=MAX_TITLE),
    choices=st.lists(NAME, min_size=1, max_size=20, unique_by=choice_key),
    opens=st.none() | MOMENT,
    hours=st.none() | st.integers(1, 1000),
)
def test_a_manifest_written_from_valid_fields_reads_back_as_those_fields(
    title: str, choices: list[str], opens: datetime | None, hours: int | None
) -> None:
    closes = None if opens is None or hours is None else opens + timedelta(hours=hours)
    data = toml(
        title=json.dumps(title, ensure_ascii=False),
        choices=json.dumps(choices, ensure_ascii=False),
        opens_at=None if opens is None else opens.isoformat(),
        closes_at=None if closes is None else closes.isoformat(),
    )
    manifest = parse_manifest(data)
    assert (manifest.title, manifest.choices) == (title, tuple(choices))
    assert (manifest.opens_at, manifest.closes_at) == (opens, closes)
    assert parse_manifest(data) == manifest


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_give_a_manifest_or_a_one_line_refusal(data: bytes) -> None:
    try:
        manifest = parse_manifest(data)
    except ManifestError as exc:
        assert "\n" not in str(exc)
    else:
        assert parse_manifest(data) == manifest


# --------------------------------------------------------------------------------------------
# The roll's text
# --------------------------------------------------------------------------------------------


def test_a_roll_skips_blank_lines_and_comments() -> None:
    text = "# voters\n\n1001\n  1002  # late registration\r\n\n"
    assert parse_roll(text, "4201") == ("1001", "1002")


def test_a_roll_keeps_voter_ids_in_canonical_form() -> None:
    assert parse_roll("007\nvoter-8\n", "4201") == ("7", "voter-8")


def test_a_roll_with_a_byte_order_mark_parses() -> None:
    assert parse_roll("\ufeff1001\n", "4201") == ("1001",)


def test_a_roll_line_that_is_not_a_voter_id_is_refused_naming_the_line_not_the_id() -> None:
    message = roll_refusal("1001\n\n1.5e3\n")
    assert message.startswith("roll line 3: voter ID looks like a number")
    assert "1.5e3" not in message


def test_a_roll_line_with_two_ids_is_refused() -> None:
    assert roll_refusal("1001 1002\n") == "roll line 1: voter ID must be an integer or a short ID"


def test_a_voter_twice_on_the_roll_is_refused_naming_both_lines() -> None:
    assert roll_refusal("1001\n1002\n01001\n") == "roll line 3: the same voter as line 1"


def test_a_roll_that_names_no_voter_is_refused() -> None:
    assert roll_refusal("# nobody yet\n\n") == "roll: the roll of election 4201 names no voter"


def test_the_roll_tokens_are_the_keyed_tokens_of_the_dedup_store() -> None:
    tokens = roll_tokens(["1001", "1002"], "4201", SECRETS)
    assert tokens == {SECRETS.voter_token("4201", "1001"), SECRETS.voter_token("4201", "1002")}
    assert tokens.isdisjoint(roll_tokens(["1001", "1002"], "4202", SECRETS))


# --------------------------------------------------------------------------------------------
# The definition: re-creating an election
# --------------------------------------------------------------------------------------------


def definition(data: bytes, roll: str | None) -> Definition:
    def read_roll(path: str) -> str:
        assert roll is not None and path == "roll.txt"
        return roll

    return load_definition(data, read_roll, SECRETS)


WITH_ROLL = toml(roll='"roll.txt"')


def test_a_manifest_without_a_roll_reads_no_roll() -> None:
    assert definition(toml(), None).roll is None


def test_the_same_manifest_and_roll_are_the_same_definition() -> None:
    first = definition(WITH_ROLL, "1001\n1002\n")
    again = definition(WITH_ROLL, "# reordered\n1002\n1001\n")
    assert same_definition(first, again) and first.digest == again.digest
    ensure_same_definition(first, again)


def test_the_same_manifest_with_another_roll_is_another_definition() -> None:
    first = definition(WITH_ROLL, "1001\n1002\n")
    other = definition(WITH_ROLL, "1001\n1003\n")
    assert not same_definition(first, other)
    with pytest.raises(DefinitionConflict, match=r"^election 4201 exists with a different roll$"):
        ensure_same_definition(first, other)


def test_another_manifest_for_an_existing_election_is_refused() -> None:
    first = definition(toml(), None)
    other = definition(toml(title='"Water board 2028"'), None)
    with pytest.raises(
        DefinitionConflict, match=r"^election 4201 exists with a different manifest$"
    ):
        ensure_same_definition(first, other)


def test_no_roll_and_a_roll_have_different_digests_for_the_same_manifest() -> None:
    manifest = parse_manifest(toml())
    assert Definition(manifest, None).digest != Definition(manifest, frozenset()).digest


def test_the_digest_depends_on_the_voter_key() -> None:
    other = VoterSecrets(b"another key")
    a = load_definition(WITH_ROLL, lambda _: "1001\n", SECRETS)
    b = load_definition(WITH_ROLL, lambda _: "1001\n", other)
    assert a.digest != b.digest


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30, unique=True), st.randoms())
def test_the_digest_does_not_depend_on_the_order_of_the_roll(
    voters: list[int], rng: random.Random
) -> None:
    shuffled = list(voters)
    rng.shuffle(shuffled)
    a = definition(WITH_ROLL, "\n".join(map(str, voters)))
    b = definition(WITH_ROLL, "\n".join(map(str, shuffled)))
    assert a.digest == b.digest
