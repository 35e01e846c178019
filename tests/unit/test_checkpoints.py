"""Signed checkpoints: the documented bytes, signatures that break on any change, JSON."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain.checkpoints import (
    BadCheckpoint,
    Checkpoint,
    SignedCheckpoint,
    parse_body,
    sign_checkpoint,
    verify_checkpoint,
)
from election.domain.ed25519 import load_private_key, load_public_key, new_private_key, sign_bytes
from election.domain.ed25519 import public_key_text as text_of

PRIVATE = load_private_key(new_private_key())
PUBLIC = load_public_key(text_of(PRIVATE))
OTHER = load_public_key(text_of(load_private_key(new_private_key())))
ROOT = hashlib.sha256(b"a root").digest()
CHECKPOINT = Checkpoint("e-7", 12, ROOT, 1_700_000_000_000)
SIGNED = sign_checkpoint(CHECKPOINT, PRIVATE)


def test_the_signed_text_is_the_documented_lines() -> None:
    expected = f"election-log-v1\ne-7\n12\n{ROOT.hex()}\n1700000000000\n".encode()
    assert CHECKPOINT.body() == expected


def test_the_signature_is_ed25519_over_the_documented_bytes() -> None:
    signed = b"election-ed25519-v1\x00checkpoint\x00" + CHECKPOINT.body()
    PUBLIC.verify(SIGNED.signature, signed)  # raises if not


def test_a_signed_checkpoint_verifies_with_the_public_key() -> None:
    assert verify_checkpoint(SIGNED, PUBLIC)


def test_a_signed_checkpoint_fails_with_another_key() -> None:
    assert not verify_checkpoint(SIGNED, OTHER)


@pytest.mark.parametrize(
    "change",
    [
        {"election_id": "e-8"},
        {"size": 13},
        {"size": 0},
        {"root": hashlib.sha256(b"another root").digest()},
        {"timestamp_ms": 1_700_000_000_001},
    ],
)
def test_changing_any_field_of_a_signed_checkpoint_fails(change: dict[str, Any]) -> None:
    fields = {**CHECKPOINT.__dict__, **change}
    assert not verify_checkpoint(SignedCheckpoint(Checkpoint(**fields), SIGNED.signature), PUBLIC)


@given(st.integers(0, 63), st.integers(1, 255))
def test_changing_any_byte_of_the_signature_fails(position: int, change: int) -> None:
    signature = bytearray(SIGNED.signature)
    signature[position] ^= change
    assert not verify_checkpoint(SignedCheckpoint(CHECKPOINT, bytes(signature)), PUBLIC)


@given(st.integers(0, 31), st.integers(1, 255))
def test_changing_any_byte_of_the_root_fails(position: int, change: int) -> None:
    root = bytearray(ROOT)
    root[position] ^= change
    changed = Checkpoint("e-7", 12, bytes(root), 1_700_000_000_000)
    assert not verify_checkpoint(SignedCheckpoint(changed, SIGNED.signature), PUBLIC)


@given(st.one_of(st.none(), st.text(), st.just(SIGNED)), st.one_of(st.none(), st.text()))
def test_verifying_answers_false_to_garbage(signed: object, key: object) -> None:
    assert verify_checkpoint(signed, key) is False  # type: ignore[arg-type]


def test_a_checkpoint_signed_for_another_purpose_fails() -> None:
    signature = sign_bytes(PRIVATE, "result", CHECKPOINT.body())
    assert not verify_checkpoint(SignedCheckpoint(CHECKPOINT, signature), PUBLIC)


def test_the_json_form_has_hex_hashes_and_reads_back() -> None:
    doc = SIGNED.to_json()
    assert doc == {
        "format": "election-log-v1",
        "election_id": "e-7",
        "size": 12,
        "root": ROOT.hex(),
        "timestamp_ms": 1_700_000_000_000,
        "signature": SIGNED.signature.hex(),
    }
    assert SignedCheckpoint.from_json(doc) == SIGNED


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"format": "election-log-v2"}, "format must be 'election-log-v1'"),
        ({"election_id": 7}, "election_id must be a string"),
        ({"election_id": "07"}, "election_id is not in its canonical form '7'"),
        ({"election_id": "a\nb"}, "election_id must be"),
        ({"size": -1}, "size must be an integer"),
        ({"size": 1.0}, "size must be an integer"),
        ({"size": True}, "size must be an integer"),
        ({"root": ROOT.hex().upper()}, "root must be 64 lowercase hex digits"),
        ({"root": ROOT.hex()[:-2]}, "root must be 64 lowercase hex digits"),
        ({"timestamp_ms": "1"}, "timestamp_ms must be an integer"),
        ({"signature": "00" * 63}, "signature must be 128 lowercase hex digits"),
        ({"extra": 1}, "unknown fields: 'extra'"),
    ],
)
def test_malformed_json_is_refused_naming_the_field(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(BadCheckpoint, match=re.escape(problem)):
        SignedCheckpoint.from_json({**SIGNED.to_json(), **change})


def test_json_lacking_a_field_or_not_an_object_is_refused() -> None:
    doc = SIGNED.to_json()
    del doc["root"]
    with pytest.raises(BadCheckpoint, match="lacks root"):
        SignedCheckpoint.from_json(doc)
    with pytest.raises(BadCheckpoint, match="must be a JSON object"):
        SignedCheckpoint.from_json([doc])


def test_the_text_form_reads_back() -> None:
    assert parse_body(CHECKPOINT.body()) == CHECKPOINT


@pytest.mark.parametrize(
    "body",
    [
        b"",
        CHECKPOINT.body()[:-1],
        CHECKPOINT.body() + b"\n",
        CHECKPOINT.body().replace(b"\n12\n", b"\n012\n"),
        CHECKPOINT.body().replace(b"\n12\n", b"\n+12\n"),
        CHECKPOINT.body().replace(b"election-log-v1", b"election-log-v2"),
        CHECKPOINT.body().replace(b"\n1700000000000\n", b"\n" + b"1" * 5000 + b"\n"),
        "é".encode() + CHECKPOINT.body(),
    ],
)
def test_any_other_spelling_of_the_text_form_is_refused(body: bytes) -> None:
    with pytest.raises(BadCheckpoint):
        parse_body(body)


def test_a_checkpoint_with_a_malformed_field_cannot_be_made() -> None:
    with pytest.raises(BadCheckpoint, match="root must be 32 bytes"):
        Checkpoint("e", 1, b"short", 0)
    with pytest.raises(BadCheckpoint, match="size must be"):
        Checkpoint("e", 2**64, ROOT, 0)
