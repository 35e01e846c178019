"""Receipts people can type, commitments that hide a choice, and unambiguous leaf bytes."""

from __future__ import annotations

import hashlib
import inspect
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from election.domain.receipts import (
    ALPHABET,
    BadCommitment,
    BadLeaf,
    BadReceipt,
    commitment,
    is_canonical_receipt,
    leaf_data,
    new_nonce,
    new_receipt,
    open_commitment,
    parse_receipt,
)

CANONICAL = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}")
RECEIPT = new_receipt()
NONCE = bytes(range(32))
COMMITMENT = commitment(3, NONCE)


def documented_receipt(code: bytes) -> str:
    """The receipt of the 16 random bytes ``code``, written from the module's docstring."""
    check = hashlib.sha256(b"election-receipt-v1\x00" + code).digest()
    bits = format(int.from_bytes(code, "big"), "0128b") + format(check[0], "08b")
    bits += format(check[1], "08b")[:4]
    symbols = "".join(ALPHABET[int(bits[i : i + 5], 2)] for i in range(0, 140, 5))
    return "-".join(symbols[i : i + 4] for i in range(0, 28, 4))


receipts = st.binary(min_size=16, max_size=16).map(documented_receipt)
ids = st.from_regex(r"[a-z][a-z0-9_.:-]{0,20}", fullmatch=True)


def test_a_new_receipt_is_28_symbols_in_7_groups_of_4() -> None:
    assert CANONICAL.fullmatch(RECEIPT)


def test_new_receipts_are_different_every_time() -> None:
    assert len({new_receipt() for _ in range(1000)}) == 1000


@given(receipts)
def test_a_receipt_of_the_documented_form_reads_back_as_itself(receipt: str) -> None:
    assert parse_receipt(receipt) == receipt


def test_new_receipts_have_the_documented_form() -> None:
    for _ in range(100):
        receipt = new_receipt()
        bits = "".join(format(ALPHABET.index(s), "05b") for s in receipt.replace("-", ""))
        code = int(bits[:128], 2).to_bytes(16, "big")
        assert documented_receipt(code) == receipt


@given(receipts, st.data())
def test_case_spaces_dashes_and_look_alike_letters_are_forgiven(
    receipt: str, data: st.DataObject
) -> None:
    typed = []
    for symbol in receipt.replace("-", ""):
        if symbol == "1":
            symbol = data.draw(st.sampled_from("1IiLl"))
        elif symbol == "0":
            symbol = data.draw(st.sampled_from("0Oo"))
        elif data.draw(st.booleans()):
            symbol = symbol.lower()
        typed.append(symbol + data.draw(st.sampled_from(["", "", " ", "-", " - ", "\u2013"])))
    assert parse_receipt("  " + "".join(typed) + "\n") == receipt


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        (" - ", "empty"),
        (RECEIPT.replace(RECEIPT[0], "U", 1), "not in a receipt: 'U'"),
        (RECEIPT[:-1] + "#", "not in a receipt: '#'"),
        (RECEIPT[:-1], "has 27 (some left out)"),
        (RECEIPT + "7", "has 29 (too many)"),
        ("x" * 101, "too long"),
    ],
)
def test_what_is_not_a_receipt_is_refused_with_the_problem_named(text: str, problem: str) -> None:
    with pytest.raises(BadReceipt, match=re.escape(problem)):
        parse_receipt(text)


def test_a_receipt_that_is_not_text_is_refused() -> None:
    with pytest.raises(BadReceipt, match="is text"):
        parse_receipt(b"K7QD" * 7)  # type: ignore[arg-type]


@given(receipts, st.integers(0, 27), st.sampled_from(ALPHABET))
def test_a_single_mistyped_symbol_is_caught_by_the_check(
    receipt: str, position: int, wrong: str
) -> None:
    symbols = list(receipt.replace("-", ""))
    assume(symbols[position] != wrong)
    symbols[position] = wrong
    # One in 4096 typos passes a 12-bit check; Hypothesis' few hundred cases would not
    # find one by chance, and a failure here means the check is not computed.
    with pytest.raises(BadReceipt, match="does not check out"):
        parse_receipt("".join(symbols))


@given(receipts, st.integers(0, 26))
def test_two_swapped_neighbours_are_caught_by_the_check(receipt: str, position: int) -> None:
    symbols = list(receipt.replace("-", ""))
    assume(symbols[position] != symbols[position + 1])
    symbols[position], symbols[position + 1] = symbols[position + 1], symbols[position]
    with pytest.raises(BadReceipt, match="does not check out"):
        parse_receipt("".join(symbols))


def test_a_nonce_is_32_fresh_random_bytes() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100 and {len(n) for n in nonces} == {32}


def test_the_commitment_is_sha256_of_the_documented_bytes() -> None:
    encoded = b"election-commit-v1\x00" + (-2).to_bytes(8, "big", signed=True) + NONCE
    assert commitment(-2, NONCE) == hashlib.sha256(encoded).digest()


@given(st.integers(-(2**63), 2**63 - 1), st.binary(min_size=32, max_size=32))
def test_a_commitment_opens_with_its_own_choice_and_nonce(choice: int, nonce: bytes) -> None:
    assert open_commitment(commitment(choice, nonce), choice, nonce)


@given(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_a_commitment_opens_with_no_other_choice_or_nonce(
    choice: int, other_choice: int, nonce: bytes, other_nonce: bytes
) -> None:
    assume((choice, nonce) != (other_choice, other_nonce))
    assert not open_commitment(commitment(choice, nonce), other_choice, other_nonce)


@given(
    st.one_of(st.none(), st.integers(), st.binary(max_size=40), st.text()),
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(), st.none(), st.text()),
    st.one_of(st.just(NONCE), st.binary(), st.none()),
)
def test_opening_answers_false_to_garbage(value: object, choice: object, nonce: object) -> None:
    assert open_commitment(value, choice, nonce) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("choice", "nonce", "problem"),
    [
        (True, NONCE, "an integer"),
        ("3", NONCE, "an integer"),
        (2**63, NONCE, "64 bits"),
        (1, NONCE[:31], "32 bytes"),
        (1, "n" * 32, "32 bytes"),
    ],
)
def test_a_commitment_to_something_that_is_not_a_choice_and_nonce_is_refused(
    choice: object, nonce: object, problem: str
) -> None:
    with pytest.raises(BadCommitment, match=problem):
        commitment(choice, nonce)  # type: ignore[arg-type]


def test_the_leaf_data_are_the_documented_bytes() -> None:
    expected = (
        b"election-leaf-v1\x00"
        + b"\x00\x00\x00\x02e7"
        + b"\x00\x00\x00\x22"
        + RECEIPT.encode()
        + b"\x00\x00\x00\x20"
        + COMMITMENT
    )
    assert leaf_data("e7", RECEIPT, COMMITMENT) == expected


def decode_leaf(data: bytes) -> tuple[str, str, bytes]:
    """The fields of leaf data, read back as the docstring says they are written."""
    tag = b"election-leaf-v1\x00"
    assert data.startswith(tag)
    fields, rest = [], data[len(tag) :]
    for _ in range(3):
        length = int.from_bytes(rest[:4], "big")
        fields.append(rest[4 : 4 + length])
        rest = rest[4 + length :]
    assert rest == b""
    return fields[0].decode(), fields[1].decode(), fields[2]


triples = st.tuples(ids, receipts, st.binary(min_size=32, max_size=32))


@given(triples)
def test_leaf_data_read_back_give_exactly_their_fields(triple: tuple[str, str, bytes]) -> None:
    # Decodable means injective: two different ballots can never share a leaf.
    assert decode_leaf(leaf_data(*triple)) == triple


@given(triples, triples)
def test_different_fields_never_give_the_same_leaf_data(
    one: tuple[str, str, bytes], other: tuple[str, str, bytes]
) -> None:
    assume(one != other)
    assert leaf_data(*one) != leaf_data(*other)


@pytest.mark.parametrize("cut", [1, 2])
def test_moving_the_split_between_election_and_receipt_changes_the_leaf(cut: int) -> None:
    # Without lengths, "abc" + receipt R would be the bytes of "ab" + ("c" + R).
    election = "abc"
    whole = leaf_data(election, RECEIPT, COMMITMENT)
    shorter = leaf_data(election[:cut], RECEIPT, COMMITMENT)
    assert whole != shorter and decode_leaf(shorter)[0] == election[:cut]


@pytest.mark.parametrize(
    ("election", "receipt", "value", "error", "problem"),
    [
        ("007", RECEIPT, COMMITMENT, BadLeaf, "canonical form '7'"),
        ("a b", RECEIPT, COMMITMENT, BadLeaf, "election ID must be"),
        ("", RECEIPT, COMMITMENT, BadLeaf, "election ID must be"),
        ("e", RECEIPT.lower(), COMMITMENT, BadReceipt, "canonical form"),
        ("e", "n#pe", COMMITMENT, BadReceipt, "not in a receipt"),
        ("e", RECEIPT, COMMITMENT[:31], BadCommitment, "32 bytes"),
    ],
)
def test_a_leaf_of_malformed_fields_is_refused_naming_the_field(
    election: str, receipt: str, value: bytes, error: type[Exception], problem: str
) -> None:
    with pytest.raises(error, match=problem):
        leaf_data(election, receipt, value)


def test_a_receipt_is_drawn_from_nothing_about_the_ballot() -> None:
    # It cannot reveal the choice or the voter: it is made without them.
    assert inspect.signature(new_receipt).parameters == {}


@given(st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZabc-IL O", max_size=40))
def test_the_fast_canonical_test_agrees_with_parsing_on_any_text(text: str) -> None:
    try:
        canonical = parse_receipt(text) == text
    except BadReceipt:
        canonical = False
    assert is_canonical_receipt(text) is canonical


def test_the_fast_canonical_test_takes_every_new_receipt_and_no_mistyped_one() -> None:
    for _ in range(200):
        receipt = new_receipt()
        assert is_canonical_receipt(receipt)
        assert not is_canonical_receipt(receipt.lower())
    # Every one-symbol change of a receipt: canonical exactly when parsing gives it back.
    for index in (i for i, ch in enumerate(RECEIPT) if ch != "-"):
        for symbol in ALPHABET:
            changed = RECEIPT[:index] + symbol + RECEIPT[index + 1 :]
            try:
                expected = parse_receipt(changed) == changed
            except BadReceipt:
                expected = False
            assert is_canonical_receipt(changed) is expected
