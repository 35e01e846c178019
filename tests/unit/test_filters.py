"""Tests for election.domain.filters, the Pub/Sub subscription filter language."""

from __future__ import annotations

import pickle
from collections.abc import Mapping

import pytest
from google.pubsub_v1.types import pubsub
from hypothesis import assume, given
from hypothesis import strategies as st

from election.domain.filters import MAX_FILTER_BYTES, Filter, FilterSyntaxError, parse_filter, quote

Attributes = Mapping[str, str]


def matches(filter_text: str, attributes: Attributes) -> bool:
    return parse_filter(filter_text).matches(attributes)


def syntax_error(filter_text: str) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as excinfo:
        parse_filter(filter_text)
    return excinfo.value


# --------------------------------------------------------------------------------------------
# The filters this project uses
# --------------------------------------------------------------------------------------------

SUBMIT_VOTE = 'attributes.function = "submit vote"'
RECORD_VOTE = 'attributes.function = "record vote"'
RESULT_FOR_MACHINE_7 = 'attributes.function = "result" AND attributes.machineID = "7"'


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"function": "submit vote"}, True),
        ({"function": "submit vote", "machineID": "3"}, True),
        ({"function": "record vote"}, False),
        ({"function": "submit  vote"}, False),
        ({"function": "Submit vote"}, False),
        ({"function": "submit"}, False),
        ({"machineID": "7"}, False),
        ({}, False),
    ],
)
def test_submit_vote_filter_matches_only_submit_vote_messages(
    attributes: Attributes, expected: bool
) -> None:
    assert matches(SUBMIT_VOTE, attributes) is expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"function": "record vote"}, True),
        ({"function": "record vote", "machineID": "7"}, True),
        ({"function": "submit vote"}, False),
        ({"function": "record vote "}, False),
        ({"Function": "record vote"}, False),
        ({}, False),
    ],
)
def test_record_vote_filter_matches_only_record_vote_messages(
    attributes: Attributes, expected: bool
) -> None:
    assert matches(RECORD_VOTE, attributes) is expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"function": "result", "machineID": "7"}, True),
        ({"function": "result", "machineID": "7", "extra": "x"}, True),
        ({"function": "result", "machineID": "8"}, False),
        ({"function": "result", "machineID": "07"}, False),
        ({"function": "result"}, False),
        ({"machineID": "7"}, False),
        ({"function": "submit vote", "machineID": "7"}, False),
        ({}, False),
    ],
)
def test_result_filter_matches_only_results_for_machine_seven(
    attributes: Attributes, expected: bool
) -> None:
    assert matches(RESULT_FOR_MACHINE_7, attributes) is expected


# --------------------------------------------------------------------------------------------
# Documented examples
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_text", "attributes", "expected"),
    [
        # Comparison operators.
        ("attributes:domain", {"domain": "com"}, True),
        ("attributes:domain", {"domain": ""}, True),
        ("attributes:domain", {"other": "com"}, False),
        ("NOT attributes:domain", {"other": "com"}, True),
        ("NOT attributes:domain", {"domain": "com"}, False),
        ('attributes.domain = "com"', {"domain": "com"}, True),
        ('attributes.domain = "com"', {"domain": "org"}, False),
        ('attributes.domain = "com"', {}, False),
        ('attributes.domain != "com"', {"domain": "org"}, True),
        ('attributes.domain != "com"', {}, True),
        ('attributes.domain != "com"', {"domain": "com"}, False),
        # Functions.
        ('hasPrefix(attributes.domain, "co")', {"domain": "com"}, True),
        ('hasPrefix(attributes.domain, "co")', {"domain": "co"}, True),
        ('hasPrefix(attributes.domain, "co")', {"domain": "org"}, False),
        ('hasPrefix(attributes.domain, "co")', {}, False),
        ('NOT hasPrefix(attributes.domain, "co")', {"domain": "org"}, True),
        ('NOT hasPrefix(attributes.domain, "co")', {}, True),
        ('NOT hasPrefix(attributes.domain, "co")', {"domain": "com"}, False),
        # Keys that need string literals.
        ('attributes:"iana.org/language_tag"', {"iana.org/language_tag": "en"}, True),
        ('attributes:"iana.org/language_tag"', {"iana.org": "en"}, False),
        ('attributes."iana.org/language_tag" = "en"', {"iana.org/language_tag": "en"}, True),
        ('attributes:"\\u307F\\u3093\\u306A"', {"みんな": "x"}, True),
        ('NOT attributes:"\\u307F\\u3093\\u306A"', {"みんな": "x"}, False),
        ('NOT attributes:"\\u307F\\u3093\\u306A"', {"other": "x"}, True),
    ],
)
def test_documented_comparison_and_function_examples_behave_as_described(
    filter_text: str, attributes: Attributes, expected: bool
) -> None:
    assert matches(filter_text, attributes) is expected


LANGUAGE_AND_COM = 'attributes:"iana.org/language_tag" AND attributes.domain = "com"'
LANGUAGE_OR_ORG_OR_DOT = (
    'attributes:"iana.org/language_tag" OR attributes.domain = "org" OR attributes.tag = "dot"'
)
LANGUAGE_AND_NET_OR_ORG = (
    'attributes:"iana.org/language_tag" AND '
    '(attributes.domain = "net" OR attributes.domain = "org")'
)
LANGUAGE_NET_OR_CO_NOT_FOO = (
    'attributes:"iana.org/language_tag" AND (attributes.domain = "net" OR '
    'hasPrefix(attributes.domain, "co")) AND NOT hasPrefix(attributes.head, "foo")'
)
NOT_COM_OR_EN_US_OR_MOOT = (
    'attributes.domain != "com" OR attributes.language_tag = "en_US" OR '
    '(NOT hasPrefix(attributes.head, "moo") OR attributes.head = "moot" )'
)
LANG = "iana.org/language_tag"


@pytest.mark.parametrize(
    ("filter_text", "attributes", "expected"),
    [
        (LANGUAGE_AND_COM, {LANG: "en", "domain": "com"}, True),
        (LANGUAGE_AND_COM, {LANG: "en", "domain": "org"}, False),
        (LANGUAGE_AND_COM, {"domain": "com"}, False),
        (LANGUAGE_OR_ORG_OR_DOT, {LANG: "en"}, True),
        (LANGUAGE_OR_ORG_OR_DOT, {"domain": "org"}, True),
        (LANGUAGE_OR_ORG_OR_DOT, {"tag": "dot"}, True),
        (LANGUAGE_OR_ORG_OR_DOT, {"domain": "com", "tag": "dash"}, False),
        (LANGUAGE_AND_NET_OR_ORG, {LANG: "en", "domain": "net"}, True),
        (LANGUAGE_AND_NET_OR_ORG, {LANG: "en", "domain": "org"}, True),
        (LANGUAGE_AND_NET_OR_ORG, {LANG: "en", "domain": "com"}, False),
        (LANGUAGE_AND_NET_OR_ORG, {"domain": "net"}, False),
        (LANGUAGE_NET_OR_CO_NOT_FOO, {LANG: "en", "domain": "com", "head": "bar"}, True),
        (LANGUAGE_NET_OR_CO_NOT_FOO, {LANG: "en", "domain": "net"}, True),
        (LANGUAGE_NET_OR_CO_NOT_FOO, {LANG: "en", "domain": "com", "head": "food"}, False),
        (LANGUAGE_NET_OR_CO_NOT_FOO, {LANG: "en", "domain": "org"}, False),
        (NOT_COM_OR_EN_US_OR_MOOT, {"domain": "org", "head": "moon"}, True),
        (NOT_COM_OR_EN_US_OR_MOOT, {"domain": "com", "language_tag": "en_US"}, True),
        (NOT_COM_OR_EN_US_OR_MOOT, {"domain": "com"}, True),
        (NOT_COM_OR_EN_US_OR_MOOT, {"domain": "com", "head": "moot"}, True),
        (NOT_COM_OR_EN_US_OR_MOOT, {"domain": "com", "head": "moon"}, False),
    ],
)
def test_documented_boolean_examples_behave_as_described(
    filter_text: str, attributes: Attributes, expected: bool
) -> None:
    assert matches(filter_text, attributes) is expected


# --------------------------------------------------------------------------------------------
# Basic semantics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filter_text", ["", " ", "\t\n  \r\n"])
def test_empty_or_blank_filter_matches_every_message(filter_text: str) -> None:
    parsed = parse_filter(filter_text)
    assert parsed.matches({})
    assert parsed.matches({"function": "anything"})


def test_parsed_filter_keeps_its_source_text() -> None:
    assert parse_filter(RESULT_FOR_MACHINE_7).source == RESULT_FOR_MACHINE_7


def test_parsed_filter_is_immutable() -> None:
    parsed = parse_filter(SUBMIT_VOTE)
    with pytest.raises(AttributeError):
        parsed.source = RECORD_VOTE  # type: ignore[misc]


def test_parsing_the_same_text_twice_gives_equal_filters() -> None:
    assert parse_filter(RESULT_FOR_MACHINE_7) == parse_filter(RESULT_FOR_MACHINE_7)
    assert isinstance(parse_filter(SUBMIT_VOTE), Filter)


def test_not_equal_matches_when_attribute_is_absent() -> None:
    assert matches('attributes.k != "v"', {})
    assert matches('attributes.k != "v"', {"other": "v"})


def test_not_equal_is_equivalent_to_negated_equality() -> None:
    for attributes in ({}, {"k": "v"}, {"k": "w"}, {"j": "v"}):
        assert matches('attributes.k != "v"', attributes) == matches(
            'NOT attributes.k = "v"', attributes
        )


def test_has_prefix_is_false_when_attribute_is_absent() -> None:
    assert not matches('hasPrefix(attributes.k, "")', {})


def test_has_prefix_with_empty_prefix_matches_any_present_attribute() -> None:
    assert matches('hasPrefix(attributes.k, "")', {"k": ""})
    assert matches('hasPrefix(attributes.k, "")', {"k": "anything"})


def test_has_prefix_is_case_sensitive() -> None:
    assert not matches('hasPrefix(attributes.k, "Co")', {"k": "com"})


def test_equality_is_exact_and_case_sensitive() -> None:
    assert not matches('attributes.k = "v"', {"k": "V"})
    assert not matches('attributes.k = "v"', {"K": "v"})
    assert not matches('attributes.k = "v"', {"k": "vv"})


def test_empty_value_matches_only_an_empty_attribute() -> None:
    assert matches('attributes.k = ""', {"k": ""})
    assert not matches('attributes.k = ""', {})


def test_minus_is_prefix_negation() -> None:
    assert matches("-attributes:k", {})
    assert not matches("-attributes:k", {"k": "v"})
    assert matches('- hasPrefix(attributes.k, "a")', {"k": "b"})


def test_minus_and_not_work_on_parenthesized_groups() -> None:
    assert matches("-(attributes:a AND attributes:b)", {"a": "1"})
    assert not matches("NOT(attributes:a OR attributes:b)", {"b": "1"})


def test_whitespace_around_tokens_is_free() -> None:
    spaced = '  (  attributes . function  =  "result"  )AND\thasPrefix ( attributes.m , "7" )\n'
    tight = '(attributes.function="result")AND hasPrefix(attributes.m,"7")'
    for text in (spaced, tight):
        assert matches(text, {"function": "result", "m": "77"})
        assert not matches(text, {"function": "result", "m": "67"})


def test_and_matches_only_when_every_operand_matches() -> None:
    text = "attributes:a AND attributes:b AND attributes:c"
    assert matches(text, {"a": "", "b": "", "c": ""})
    assert not matches(text, {"a": "", "b": ""})


def test_or_matches_when_any_operand_matches() -> None:
    text = "attributes:a OR attributes:b OR attributes:c"
    assert matches(text, {"c": ""})
    assert not matches(text, {"d": ""})


# --------------------------------------------------------------------------------------------
# Precedence and grouping
# --------------------------------------------------------------------------------------------


def test_not_binds_to_the_single_following_term_in_an_and_chain() -> None:
    # (NOT a) AND b, not NOT (a AND b)
    assert matches("NOT attributes:a AND attributes:b", {"b": ""})
    assert not matches("NOT attributes:a AND attributes:b", {})


def test_not_binds_to_the_single_following_term_in_an_or_chain() -> None:
    # (NOT a) OR b, not NOT (a OR b)
    assert matches("NOT attributes:a OR attributes:b", {"a": "", "b": ""})
    assert matches("NOT attributes:a OR attributes:b", {})


def test_parentheses_group_or_inside_and() -> None:
    text = "attributes:a AND (attributes:b OR attributes:c)"
    assert matches(text, {"a": "", "c": ""})
    assert not matches(text, {"c": ""})


def test_parentheses_group_and_inside_or() -> None:
    text = "(attributes:a AND attributes:b) OR attributes:c"
    assert matches(text, {"c": ""})
    assert matches(text, {"a": "", "b": ""})
    assert not matches(text, {"a": ""})


def test_nested_parentheses_are_allowed() -> None:
    assert matches('((((attributes.k = "v"))))', {"k": "v"})
    assert matches(
        "((attributes:a OR (attributes:b AND attributes:c)) AND attributes:d)",
        {
            "b": "",
            "c": "",
            "d": "",
        },
    )


def test_not_applies_to_a_whole_parenthesized_group() -> None:
    assert matches("NOT (attributes:a AND attributes:b)", {"a": ""})
    assert not matches("NOT (attributes:a AND attributes:b)", {"a": "", "b": ""})


# --------------------------------------------------------------------------------------------
# Mixing AND and OR
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_text", "position"),
    [
        ("attributes:a AND attributes:b OR attributes:c", 30),
        ("attributes:a OR attributes:b AND attributes:c", 29),
        ("attributes:a AND attributes:b AND attributes:c OR attributes:d", 47),
        ("(attributes:a OR attributes:b AND attributes:c)", 30),
        ("NOT attributes:a AND -attributes:b OR attributes:c", 35),
    ],
)
def test_mixing_and_with_or_without_parentheses_is_an_error(
    filter_text: str, position: int
) -> None:
    error = syntax_error(filter_text)
    assert error.position == position
    assert "cannot mix AND and OR" in str(error)


def test_mixing_and_with_or_is_fine_with_parentheses_on_either_side() -> None:
    parse_filter("(attributes:a AND attributes:b) OR attributes:c")
    parse_filter("attributes:a AND (attributes:b OR attributes:c)")
    parse_filter("(attributes:a OR attributes:b) AND (attributes:c OR attributes:d)")


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k", "machineID", "a_b", "a-b", "-lead", "123", "_", "-", "AND"])
def test_bare_keys_may_use_letters_digits_underscores_and_hyphens(key: str) -> None:
    assert matches(f"attributes:{key}", {key: ""})
    assert matches(f'attributes.{key} = "v"', {key: "v"})
    assert matches(f'hasPrefix(attributes.{key}, "v")', {key: "vw"})


@pytest.mark.parametrize(
    ("filter_text", "key"),
    [
        ('attributes."my key" = "x"', "my key"),
        ("attributes:'a.b'", "a.b"),
        ('attributes:"a.b"', "a.b"),
        ('attributes:"iana.org/language_tag"', "iana.org/language_tag"),
        ('attributes:"with \\"quotes\\""', 'with "quotes"'),
        ('attributes:""', ""),
        ('attributes:"ключ"', "ключ"),
    ],
)
def test_quoted_keys_allow_any_characters(filter_text: str, key: str) -> None:
    assert matches(filter_text, {key: "x"})
    assert not matches(filter_text, {key + "!": "x"})


def test_quoted_key_works_in_has_prefix_and_not_equal() -> None:
    assert matches('hasPrefix(attributes."a b", "p")', {"a b": "pq"})
    assert matches('attributes."a b" != "p"', {"a b": "q"})


def test_dotted_key_is_not_a_nested_path() -> None:
    error = syntax_error('attributes.a.b = "x"')
    assert error.position == 12


def test_keys_and_keywords_are_case_sensitive() -> None:
    assert not matches("attributes:Domain", {"domain": ""})
    assert syntax_error("Attributes:domain").position == 0
    assert syntax_error('hasprefix(attributes.k, "p")').position == 0


# --------------------------------------------------------------------------------------------
# String literals and escapes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"plain"', "plain"),
        ("'single'", "single"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        ('"\\\\"', "\\"),
        ('"\\""', '"'),
        ("'\\''", "'"),
        ('"\\\'"', "'"),
        ('"\\n\\t\\r"', "\n\t\r"),
        ('"\\a\\b\\f\\v"', "\a\b\f\v"),
        ('"\\x41\\x7e\\xff"', "A~\xff"),
        ('"\\xE9"', "é"),
        ('"\\u00e9\\u307F"', "é\u307f"),
        ('"\\U0001F600"', "\U0001f600"),
        ('"\\101\\000\\377"', "A\x00\xff"),
        ('"\\0123"', "\n3"),
        ('"é😀みんな"', "é😀みんな"),
        ('"a\\tb"', "a\tb"),
        ('""', ""),
        ("''", ""),
    ],
)
def test_string_literal_escapes_decode_to_the_expected_value(literal: str, value: str) -> None:
    assert matches(f"attributes.k = {literal}", {"k": value})
    assert matches(f"attributes:{literal}", {value: "x"})


@pytest.mark.parametrize(
    ("filter_text", "position", "fragment"),
    [
        ('attributes.k = "a\\qb"', 17, "unknown escape"),
        ('attributes.k = "\\?"', 16, "unknown escape"),
        ('attributes.k = "\\x4"', 16, "hex digits"),
        ('attributes.k = "\\xg0"', 16, "hex digits"),
        ('attributes.k = "\\u12"', 16, "hex digits"),
        ('attributes.k = "\\u12G4"', 16, "hex digits"),
        ('attributes.k = "\\U0001F60"', 16, "hex digits"),
        ('attributes.k = "\\U00110000"', 16, "not a valid Unicode character"),
        ('attributes.k = "\\uD800"', 16, "not a valid Unicode character"),
        ('attributes.k = "\\12"', 16, "octal"),
        ('attributes.k = "\\400"', 16, "octal"),
        ('attributes.k = "\\8"', 16, "unknown escape"),
        ('attributes.k = "abc', 15, "unterminated"),
        ("attributes.k = 'abc\"", 15, "unterminated"),
        ('attributes.k = "abc\\', 15, "unterminated"),
        ('attributes.k = "abc\\"', 15, "unterminated"),
        ('attributes:"k', 11, "unterminated"),
    ],
)
def test_bad_string_literals_are_errors_at_the_offending_position(
    filter_text: str, position: int, fragment: str
) -> None:
    error = syntax_error(filter_text)
    assert error.position == position
    assert fragment in str(error)


# --------------------------------------------------------------------------------------------
# Length limit
# --------------------------------------------------------------------------------------------


HEAD = 'attributes.k = "'  # 16 bytes


def test_filter_of_exactly_256_bytes_is_accepted() -> None:
    text = HEAD + "a" * 239 + '"'
    assert MAX_FILTER_BYTES == len(text.encode("utf-8")) == 256
    assert matches(text, {"k": "a" * 239})


def test_filter_of_257_bytes_is_rejected_at_the_first_character_past_the_limit() -> None:
    text = HEAD + "a" * 240 + '"'
    error = syntax_error(text)
    assert error.position == 256  # the closing quote
    assert "257 bytes" in str(error)
    assert "256" in str(error)


def test_whitespace_counts_towards_the_length_limit() -> None:
    assert parse_filter(" " * 256).matches({})
    assert syntax_error(" " * 257).position == 256


def test_multibyte_filter_of_exactly_256_bytes_is_accepted() -> None:
    text = HEAD + "a" + "é" * 119 + '"'  # 16 + 1 + 2 * 119 + 1 bytes
    assert len(text.encode("utf-8")) == 256
    assert matches(text, {"k": "a" + "é" * 119})


def test_length_limit_counts_utf8_bytes_not_characters() -> None:
    text = HEAD + "é" * 120 + '"'  # 16 + 2 * 120 + 1 = 257 bytes in 137 characters
    assert len(text) < MAX_FILTER_BYTES < len(text.encode("utf-8"))
    assert syntax_error(text).position == 136  # the closing quote


def test_four_byte_characters_are_counted_as_four_bytes() -> None:
    fits = HEAD + "a" * 235 + '😀"'  # 16 + 235 + 4 + 1 = 256 bytes
    assert parse_filter(fits).matches({"k": "a" * 235 + "😀"})
    too_long = HEAD + "a" * 237 + '😀"'  # bytes 254..257 are the emoji, across the limit
    assert syntax_error(too_long).position == 16 + 237


def test_length_limit_applies_to_the_text_not_to_decoded_values() -> None:
    # Each \U escape is 10 bytes of filter text even though it decodes to one character.
    text = HEAD + "\\U0001F600" * 24 + '"'
    assert len(text.encode("utf-8")) == 257
    assert syntax_error(text).position == 256


# --------------------------------------------------------------------------------------------
# Syntax errors and their positions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_text", "position"),
    [
        ('attributes.k > "v"', 13),
        ('attributes.k < "v"', 13),
        ('attributes.k == "v"', 14),
        ('attributes.k ! "v"', 13),
        ("foo", 0),
        ("  foo", 2),
        ("attributes", 10),
        ("attributes k", 11),
        ("attributes.", 11),
        ("attributes.k", 12),
        ('attributes:k = "v"', 13),
        ("attributes:(k)", 11),
        ("attributes:a attributes:b", 13),
        ('attributes.k = "v" "w"', 19),
        ("attributes:a)", 12),
        ("(attributes:a", 13),
        ("()", 1),
        ("NOT ()", 5),
        ("attributes.k = v", 15),
        ("attributes.k = 7", 15),
        ("attributes.k = attributes.j", 15),
        ("hasPrefix(attributes.k)", 22),
        ('hasPrefix(attributes.k, "p", "q")', 27),
        ('hasPrefix("p", attributes.k)', 10),
        ('hasPrefix(attributes:k, "p")', 20),
        ("hasPrefix(attributes.k, p)", 24),
        ('hasPrefix attributes.k, "p"', 10),
        ("hasPrefix()", 10),
        ('hasSuffix(attributes.k, "p")', 0),
        ("attributes:a AND", 16),
        ("attributes:a OR OR attributes:b", 16),
        ("AND attributes:a", 0),
        ("NOT", 3),
        ("-", 1),
        ("NOT NOT attributes:a", 4),
        ("- -attributes:a", 2),
        ("attributes:a and attributes:b", 13),
        ("not attributes:a", 0),
        ('attributes.k = "v" ;', 19),
        ("attributes:a & attributes:b", 13),
    ],
)
def test_syntax_errors_point_at_the_offending_token(filter_text: str, position: int) -> None:
    error = syntax_error(filter_text)
    assert error.position == position
    assert f"at position {position}" in str(error)


def test_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected a condition"):
        parse_filter("foo")


def test_syntax_error_message_says_what_was_expected_and_what_was_found() -> None:
    message = str(syntax_error('attributes.k > "v"'))
    assert "expected '=' or '!='" in message
    assert "found '>'" in message
    assert "at position 13" in message


def test_syntax_error_message_shows_a_caret_under_the_problem() -> None:
    lines = str(syntax_error('attributes.k > "v"')).splitlines()
    filter_line, caret_line = lines[-2], lines[-1]
    assert filter_line.strip() == 'attributes.k > "v"'
    assert caret_line.index("^") == filter_line.index(">")


def test_syntax_error_for_lowercase_operator_hints_at_uppercase() -> None:
    assert "uppercase" in str(syntax_error("attributes:a and attributes:b"))


def test_syntax_error_reports_the_earliest_problem_first() -> None:
    assert syntax_error('foo = "bad \\q escape"').position == 0


def test_syntax_error_survives_pickling() -> None:
    error = syntax_error("foo")
    clone = pickle.loads(pickle.dumps(error))
    assert isinstance(clone, FilterSyntaxError)
    assert (clone.position, str(clone)) == (error.position, str(error))


# --------------------------------------------------------------------------------------------
# quote()
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("submit vote", '"submit vote"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("it's", '"it\'s"'),
        ("line\nbreak\ttab\rret", '"line\\nbreak\\ttab\\rret"'),
        ("\a\b\f\v", '"\\a\\b\\f\\v"'),
        ("\x00\x1f\x7f", '"\\x00\\x1f\\x7f"'),
        ("é😀みんな", '"é😀みんな"'),
        ("zero\u200bwidth", '"zero\\u200bwidth"'),
        ("tag\U000e0001", '"tag\\U000e0001"'),
    ],
)
def test_quote_escapes_backslash_quotes_and_non_printing_characters(
    value: str, literal: str
) -> None:
    assert quote(value) == literal


def test_quote_rejects_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        quote("\ud800")


def test_quote_builds_the_project_filters() -> None:
    assert f"attributes.function = {quote('submit vote')}" == SUBMIT_VOTE
    text = f"attributes.function = {quote('result')} AND attributes.machineID = {quote('7')}"
    assert text == RESULT_FOR_MACHINE_7


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

# Strings short enough that their quoted form always fits in the 256-byte limit.
short_text = st.text(max_size=20)


@given(short_text)
def test_quote_round_trips_any_string_as_a_value(value: str) -> None:
    parsed = parse_filter(f"attributes.k = {quote(value)}")
    assert parsed.matches({"k": value})
    assert not parsed.matches({"k": value + "x"})
    assert not parsed.matches({})


@given(short_text)
def test_quote_round_trips_any_string_as_a_key(key: str) -> None:
    assert parse_filter(f"attributes:{quote(key)}").matches({key: ""})
    has_prefix = f"hasPrefix(attributes.{quote(key)}, {quote(key)})"
    assume(len(has_prefix.encode("utf-8")) <= MAX_FILTER_BYTES)
    assert parse_filter(has_prefix).matches({key: key})


KEYS = ("a", "b", "c")
VALUES = ("x", "y")


def conditions() -> st.SearchStrategy[str]:
    key = st.sampled_from(KEYS)
    value = st.sampled_from(VALUES).map(quote)
    return st.one_of(
        key.map(lambda k: f"attributes:{k}"),
        st.builds(lambda k, v: f"attributes.{k} = {v}", key, value),
        st.builds(lambda k, v: f"attributes.{k} != {v}", key, value),
        st.builds(lambda k, v: f"hasPrefix(attributes.{k}, {v})", key, value),
    )


def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operands = st.lists(children, min_size=2, max_size=3)
    # Only one negation may precede a term, so an already-negated child gets parentheses.
    negatable = children.map(lambda c: f"({c})" if c.startswith(("NOT", "-")) else c)
    return st.one_of(
        negatable.map(lambda c: f"NOT {c}"),
        negatable.map(lambda c: f"-{c}"),
        operands.map(lambda cs: "(" + " AND ".join(cs) + ")"),
        operands.map(lambda cs: "(" + " OR ".join(cs) + ")"),
    )


filters = st.recursive(conditions(), extend, max_leaves=6)
attribute_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(("x", "y", "xy", "")))


@given(filters, attribute_sets)
def test_not_flips_whether_a_filter_matches(filter_text: str, attributes: Attributes) -> None:
    assume(len(filter_text.encode("utf-8")) <= MAX_FILTER_BYTES - 6)
    plain = parse_filter(filter_text).matches(attributes)
    assert parse_filter(f"NOT ({filter_text})").matches(attributes) is not plain
    assert parse_filter(f"-({filter_text})").matches(attributes) is not plain


@given(filters, filters, attribute_sets)
def test_and_and_or_combine_like_python_booleans(
    left: str, right: str, attributes: Attributes
) -> None:
    both = f"({left}) AND ({right})"
    either = f"({left}) OR ({right})"
    assume(len(both.encode("utf-8")) <= MAX_FILTER_BYTES)  # AND is the longer one
    left_matches = parse_filter(left).matches(attributes)
    right_matches = parse_filter(right).matches(attributes)
    assert parse_filter(both).matches(attributes) is (left_matches and right_matches)
    assert parse_filter(either).matches(attributes) is (left_matches or right_matches)


def parse_or_error(text: str) -> Filter | FilterSyntaxError:
    try:
        return parse_filter(text)
    except FilterSyntaxError as error:
        return error


@given(st.text(max_size=80))
def test_arbitrary_text_either_parses_or_raises_a_positioned_syntax_error(text: str) -> None:
    outcome = parse_or_error(text)
    if isinstance(outcome, FilterSyntaxError):
        assert 0 <= outcome.position <= len(text)
        assert f"at position {outcome.position}" in str(outcome)
    else:
        assert outcome.source == text
        assert isinstance(outcome.matches({"k": "v"}), bool)


@pytest.mark.parametrize(
    "text",
    [
        'attributes.function = "result"',
        "attributes:function",
        'hasPrefix(attributes.machineID, "m1")',
        "NOT attributes:absent",
        'attributes.function != "x" AND attributes.machineID = "m12"',
        'attributes.function = "other" OR attributes.machineID = "m2"',
    ],
)
def test_a_filter_reads_a_protobuf_attribute_map_as_it_reads_a_dict(text: str) -> None:
    # Subscribers evaluate filters on the received message's own map, unconverted.
    message = pubsub.PubsubMessage.pb()(
        data=b"", attributes={"function": "result", "machineID": "m12"}
    )
    parsed = parse_filter(text)

    assert parsed.matches(message.attributes) == parsed.matches(dict(message.attributes))
