"""The operator console's login, sessions and CSRF tokens (``web.operator_auth``)."""

from __future__ import annotations

import hmac

import pytest

from config import load_settings
from election.domain.errors import ConfigError
from web import operator_auth
from web.operator_auth import (
    BEARER_SESSION,
    SESSION_MAX_AGE_S,
    Caller,
    Refused,
    authenticate,
    csrf_token,
    csrf_valid,
    new_session,
    session_valid,
    token_matches,
)

TOKEN = b"operator-token-0123456789"
ENV = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}


def test_the_token_is_optional_and_has_no_default() -> None:
    assert load_settings(ENV).operator_token is None
    assert load_settings({**ENV, "OPERATOR_TOKEN": TOKEN.decode()}).operator_token == TOKEN


def test_a_short_token_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="OPERATOR_TOKEN must be at least 16 bytes"):
        load_settings({**ENV, "OPERATOR_TOKEN": "short"})


def test_hmac_compare_digest_decides_on_equal_length_digests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return True  # whatever it says is the answer, even for a wrong token

    monkeypatch.setattr(operator_auth.hmac, "compare_digest", counting)
    assert token_matches(b"wrong", TOKEN)
    assert authenticate(TOKEN, "Bearer wrong", None) == Caller(BEARER_SESSION)
    assert len(calls) == 2
    assert all(len(a) == len(b) == 32 for a, b in calls)  # SHA-256 digests, never the token
    assert all(TOKEN not in a + b for a, b in calls)


@pytest.mark.parametrize(
    "given",
    [
        TOKEN[:-1] + b"X",  # same length
        TOKEN[:-1],  # one byte short
        TOKEN + b"X",  # one byte long
        b"",
        TOKEN.upper(),
    ],
)
def test_wrong_tokens_of_any_length_are_refused(given: bytes) -> None:
    assert not token_matches(given, TOKEN)
    assert authenticate(TOKEN, f"Bearer {given.decode()}", None) == Refused("wrong token")


def test_the_right_token_is_let_in_as_a_bearer() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert authenticate(TOKEN, f"Bearer {TOKEN.decode()}", None) == Caller(BEARER_SESSION)
    assert authenticate(TOKEN, f"bearer  {TOKEN.decode()} ", None) == Caller(BEARER_SESSION)


def test_another_authorization_scheme_and_no_credentials_are_refused() -> None:
    assert authenticate(TOKEN, f"Basic {TOKEN.decode()}", None) == Refused(
        "authorization is not a bearer token"
    )
    assert authenticate(TOKEN, None, None) == Refused("not logged in")


def test_a_session_holds_no_token_and_only_its_token_makes_it_valid() -> None:
    session = new_session(TOKEN, now=1_000_000)
    assert TOKEN.decode() not in session
    assert session_valid(TOKEN, session, now=1_000_000 + 60)
    assert authenticate(TOKEN, None, session, now=1_000_060) == Caller(session)
    assert not session_valid(b"another-token-0123456789", session, now=1_000_060)
    assert new_session(TOKEN, now=1_000_000) != session  # a fresh nonce each login


def test_a_tampered_or_expired_session_is_refused() -> None:
    session = new_session(TOKEN, now=1_000_000)
    issued, nonce, mac = session.split(".")
    assert not session_valid(TOKEN, f"{int(issued) + 1}.{nonce}.{mac}", now=1_000_060)
    flipped = mac[:-1] + ("1" if mac[-1] == "0" else "0")
    assert not session_valid(TOKEN, f"{issued}.{nonce}.{flipped}", now=1_000_060)
    assert not session_valid(TOKEN, "garbage", now=1_000_060)
    assert not session_valid(TOKEN, "ünïcode.x.y", now=1_000_060)
    assert not session_valid(TOKEN, session, now=1_000_000 + SESSION_MAX_AGE_S + 1)
    assert authenticate(TOKEN, None, "garbage") == Refused("invalid or expired session")


def test_a_csrf_token_is_valid_for_its_own_session_only() -> None:
    one, other = new_session(TOKEN), new_session(TOKEN)
    token = csrf_token(TOKEN, one)
    assert csrf_valid(TOKEN, one, token)
    assert not csrf_valid(TOKEN, other, token)
    assert not csrf_valid(TOKEN, one, "")
    assert not csrf_valid(b"another-token-0123456789", one, token)
    assert hmac.compare_digest(csrf_token(TOKEN, one), token)  # stable for a session
