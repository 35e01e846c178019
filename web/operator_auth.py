"""The operator console's login: one token from the environment, sessions and CSRF tokens
derived from it with HMAC, every comparison in constant time.

- The token (``OPERATOR_TOKEN``) is given once, on the login form (or on every request as
  ``Authorization: Bearer <token>``, for scripts). It is compared as SHA-256 digests with
  :func:`hmac.compare_digest`: equal lengths always, so neither its content nor its
  length leaks through timing.
- A login sets a cookie holding a session value ``<issued>.<nonce>.<mac>``, the MAC an
  HMAC of the rest under the token: never the token itself, checkable without any store,
  and void once :data:`SESSION_MAX_AGE_S` has passed or the token is changed (which is how
  every session is revoked at once).
- Every state-changing request is a POST carrying a CSRF token, an HMAC of the session
  value under the token, in a form field. The cookie is SameSite=Strict as well; the form
  token still stops a request forged from a page that shares the site.

Nothing here logs or returns the token given.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

#: The session cookie's name (``Path=/operator``, HttpOnly, SameSite=Strict).
SESSION_COOKIE = "operator_session"
#: Seconds a session lasts after its login.
SESSION_MAX_AGE_S = 12 * 3600
#: The form field (and JSON key) that carries the CSRF token.
CSRF_FIELD = "csrf"
#: The session of a request authenticated with a bearer token (no cookie).
BEARER_SESSION = "bearer"


def token_matches(given: bytes, token: bytes) -> bool:
    """Whether ``given`` is ``token``, in time independent of both (digests compared)."""
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(token).digest())


def _mac(token: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(token, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest().encode()


def new_session(token: bytes, now: float | None = None) -> str:
    """A fresh session value for a login at ``now``."""
    body = f"{int(time.time() if now is None else now)}.{secrets.token_hex(16)}"
    return f"{body}.{_mac(token, 'session', body).decode()}"


def session_valid(token: bytes, value: str, now: float | None = None) -> bool:
    """Whether ``value`` is a session this token made, not yet expired."""
    body, _, mac = value.rpartition(".")
    issued = body.partition(".")[0]
    if not issued.isdigit():
        return False
    if not hmac.compare_digest(mac.encode(), _mac(token, "session", body)):
        return False
    age = (time.time() if now is None else now) - int(issued)
    return 0 <= age <= SESSION_MAX_AGE_S


def csrf_token(token: bytes, session: str) -> str:
    """The CSRF token of ``session`` (what its forms carry)."""
    return _mac(token, "csrf", session).decode()


def csrf_valid(token: bytes, session: str, given: str) -> bool:
    """Whether ``given`` is ``session``'s CSRF token (constant time)."""
    return hmac.compare_digest(given.encode(), _mac(token, "csrf", session))


@dataclass(frozen=True)
class Caller:
    """An authenticated request's session (:data:`BEARER_SESSION` for a bearer token)."""

    session: str


@dataclass(frozen=True)
class Refused:
    """Why a request was refused (for the log; never the token given)."""

    reason: str


def authenticate(
    token: bytes, authorization: str | None, cookie: str | None, now: float | None = None
) -> Caller | Refused:
    """Who is asking: a bearer token in ``authorization``, else a session ``cookie``."""
    if authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return Refused("authorization is not a bearer token")
        if token_matches(given.strip().encode(), token):
            return Caller(BEARER_SESSION)
        return Refused("wrong token")
    if cookie:
        if session_valid(token, cookie, now):
            return Caller(cookie)
        return Refused("invalid or expired session")
    return Refused("not logged in")
