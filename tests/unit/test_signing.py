"""Signatures on records: what they cover, and what they refuse."""

from __future__ import annotations

import pytest

from election.domain.signing import (
    BALLOT_REF,
    EXPIRES,
    KEY_ID,
    BadSignature,
    Expired,
    Signer,
    UnknownKey,
    Verifier,
    now_ms,
)

KEY = b"s" * 16
DATA = b'{"UUID":"u-1","voting":1}'
ATTRIBUTES = {"function": "record vote", BALLOT_REF: "ab" * 16}


def signed(namespace: str = "ns", ttl_s: int = 60) -> dict[str, str]:
    return Signer("k1", KEY, namespace, ttl_s).attributes(DATA, ATTRIBUTES)


def verify(attributes: dict[str, str], data: bytes = DATA, **kwargs: object) -> None:
    Verifier({"k1": KEY}, "ns").verify(
        data,
        attributes,
        function="record vote",
        at_ms=now_ms(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_signed_record_verifies() -> None:
    verify(signed())


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"function": "result"}, "not a record vote"),
        ({BALLOT_REF: "cd" * 16}, "does not match"),
        ({EXPIRES: "99999999999999"}, "does not match"),
        ({KEY_ID: "k9"}, "unknown key"),
        ({"signature": ""}, "unsigned"),
    ],
)
def test_changing_any_signed_attribute_breaks_the_signature(
    change: dict[str, str], why: str
) -> None:
    with pytest.raises(BadSignature, match=why):
        verify({**signed(), **change})


def test_changing_the_body_breaks_the_signature() -> None:
    with pytest.raises(BadSignature, match="does not match"):
        verify(signed(), data=DATA.replace(b"1}", b"2}"))


def test_a_record_signed_for_another_namespace_is_refused() -> None:
    with pytest.raises(BadSignature, match="does not match"):
        verify(signed(namespace="other"))


def test_an_expired_signature_is_refused_but_still_tells_its_integrity() -> None:
    stale = signed(ttl_s=-1)
    with pytest.raises(Expired):
        verify(stale)
    # A replay by an operator checks integrity only (the expiry is not asked).
    Verifier({"k1": KEY}, "ns").verify(DATA, stale, function="record vote", at_ms=None)


def test_an_unknown_key_is_told_apart_from_a_wrong_signature() -> None:
    with pytest.raises(UnknownKey):
        verify({**signed(), KEY_ID: "k9"})
