"""Ed25519 keys as text, and signatures only the private key makes and anyone checks."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from election.domain.ed25519 import (
    BadKey,
    load_private_key,
    load_public_key,
    new_private_key,
    public_key_text,
    sign_bytes,
    verify_bytes,
)

PRIVATE_TEXT = new_private_key()
PRIVATE = load_private_key(PRIVATE_TEXT)
PUBLIC_TEXT = public_key_text(PRIVATE)
PUBLIC = load_public_key(PUBLIC_TEXT)
OTHER = load_public_key(public_key_text(load_private_key(new_private_key())))
# RFC 8032 section 7.1, TEST 1: a known seed and the public key it gives.
RFC_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def test_key_texts_are_a_prefix_and_the_base64_of_32_bytes() -> None:
    assert re.fullmatch(r"ed25519-private:[A-Za-z0-9+/]{43}=", PRIVATE_TEXT)
    assert re.fullmatch(r"ed25519:[A-Za-z0-9+/]{43}=", PUBLIC_TEXT)


def test_a_private_key_text_loads_back_to_the_same_key() -> None:
    again = load_private_key(PRIVATE_TEXT)
    assert public_key_text(again) == PUBLIC_TEXT


def test_the_public_key_text_is_the_rfc_8032_public_key_of_the_seed() -> None:
    seed = base64.b64encode(bytes.fromhex(RFC_SEED)).decode()
    public = public_key_text(load_private_key("ed25519-private:" + seed))
    assert base64.b64decode(public.removeprefix("ed25519:")).hex() == RFC_PUBLIC


def test_surrounding_whitespace_of_a_key_text_is_ignored() -> None:
    assert public_key_text(load_private_key(f"  {PRIVATE_TEXT}\n")) == PUBLIC_TEXT
    assert isinstance(load_public_key(PUBLIC_TEXT + "\n"), Ed25519PublicKey)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (PRIVATE_TEXT, "this is a private key, not a public key"),
        ("", "starts with 'ed25519:'"),
        (PUBLIC_TEXT.removeprefix("ed25519:"), "starts with 'ed25519:'"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "starts with 'ed25519:'"),
        ("ed25519:not base64!", "is not base64"),
        ("ed25519:" + base64.b64encode(b"k" * 31).decode(), "base64 of 32 bytes"),
        ("ed25519:" + base64.b64encode(b"k" * 33).decode(), "base64 of 32 bytes"),
        (PUBLIC_TEXT[:-2] + "B=", "base64 of 32 bytes"),  # a second spelling of 32 bytes
        (None, "is text"),
    ],
)
def test_a_bad_public_key_text_is_refused_with_the_problem_named(
    text: object, problem: str
) -> None:
    with pytest.raises(BadKey, match=re.escape(problem)):
        load_public_key(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (PUBLIC_TEXT, "this is a public key, not a private key"),
        ("hC5Fam+MoOPW4ZyBr4ask2Fch/YguDRFoGocB8k6+Zo=", "starts with 'ed25519-private:'"),
        ("ed25519-private:" + "A" * 40, "base64 of 32 bytes"),
    ],
)
def test_a_bad_private_key_text_is_refused_without_repeating_it(text: str, problem: str) -> None:
    with pytest.raises(BadKey, match=re.escape(problem)) as caught:
        load_private_key(text)
    assert text not in str(caught.value)


def test_a_signature_verifies_with_the_public_key() -> None:
    signature = sign_bytes(PRIVATE, "result", b"message")
    assert len(signature) == 64
    assert verify_bytes(PUBLIC, "result", b"message", signature)


def test_a_signature_fails_with_another_key_message_or_purpose() -> None:
    signature = sign_bytes(PRIVATE, "result", b"message")
    assert not verify_bytes(OTHER, "result", b"message", signature)
    assert not verify_bytes(PUBLIC, "result", b"messagE", signature)
    assert not verify_bytes(PUBLIC, "checkpoint", b"message", signature)


def test_the_purpose_and_message_cannot_trade_bytes() -> None:
    # The 0x00 after the purpose: ("a", "b" + m) and ("ab", m) are different signed bytes.
    signature = sign_bytes(PRIVATE, "ab", b"message")
    assert not verify_bytes(PUBLIC, "a", b"bmessage", signature)


@given(st.integers(0, 63), st.integers(1, 255))
def test_any_changed_byte_of_a_signature_fails(position: int, change: int) -> None:
    signature = bytearray(sign_bytes(PRIVATE, "result", b"message"))
    signature[position] ^= change
    assert not verify_bytes(PUBLIC, "result", b"message", bytes(signature))


@given(
    st.one_of(st.none(), st.just(PUBLIC), st.text(max_size=5)),
    st.one_of(st.none(), st.just("result"), st.text(max_size=70), st.integers()),
    st.one_of(st.none(), st.binary(max_size=80), st.text(max_size=5)),
    st.one_of(st.none(), st.binary(max_size=80), st.text(max_size=5)),
)
def test_verifying_answers_false_to_garbage(
    key: object, purpose: object, message: object, signature: object
) -> None:
    assert verify_bytes(key, purpose, message, signature) is False  # type: ignore[arg-type]


def test_an_unusable_purpose_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not a signature purpose"):
        sign_bytes(PRIVATE, "Has Spaces", b"message")
