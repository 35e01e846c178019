"""Signatures on the messages only our services may produce.

Anyone who can publish to the topic could publish ``record vote`` and skip dedup (ballot
stuffing). The voting logger signs every ``record vote`` with HMAC-SHA256 and the record
service accepts only what a key it knows signed. A signature covers more than the body:

- the ``function`` attribute, so a signed message cannot be replayed as another kind;
- the namespace, so a message of one deployment (or test) is worthless in another;
- the ballot reference (``ballotRef``), the row key the record will be stored under;
- an expiry (``expires``, ms since the epoch), so a captured message goes stale.

Replays inside the expiry are harmless by design (a ballot's row key is unique, and a
given-up ballot leaves a tombstone under it; see docs/RELIABILITY.md). The ``keyID``
attribute names the key, so keys rotate without downtime: add the new key to every
consumer's ``RECORD_SIGNING_KEYS``, switch ``RECORD_SIGNING_KEY_ID``, then drop the old
key once nothing signed with it can still be in flight.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from election.domain.errors import InvalidInput

KEY_ID = "keyID"
SIGNATURE = "signature"
EXPIRES = "expires"
BALLOT_REF = "ballotRef"
_FUNCTION = "function"
_VERSION = b"election-signature-v2"


class BadSignature(InvalidInput):
    """A message is unsigned, signed with an unknown key, or signed wrongly."""


class UnknownKey(BadSignature):
    """Signed with a key this process does not hold (forged, or rotated out too early)."""


class Expired(BadSignature):
    """Signed correctly, but the signature's expiry has passed."""


def _payload(namespace: str, attributes: Mapping[str, str], data: bytes) -> bytes:
    fields = (
        attributes.get(_FUNCTION, ""),
        namespace,
        attributes.get(BALLOT_REF, ""),
        attributes.get(EXPIRES, ""),
    )
    return b"\n".join([_VERSION, *(f.encode() for f in fields), data])


def _mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def now_ms() -> int:
    """The time signatures are judged against, in ms since the epoch."""
    return int(time.time() * 1000)


class Signer:
    """Signs messages with one key, for one namespace."""

    def __init__(self, key_id: str, key: bytes, namespace: str, ttl_s: int) -> None:
        self.key_id = key_id
        self.key = key
        self.namespace = namespace
        self.ttl_ms = ttl_s * 1000

    def attributes(self, data: bytes, attributes: Mapping[str, str]) -> dict[str, str]:
        """``attributes`` plus the expiry and the signature over them and ``data``."""
        signed = {**attributes, EXPIRES: str(now_ms() + self.ttl_ms)}
        signed[KEY_ID] = self.key_id
        signed[SIGNATURE] = _mac(self.key, _payload(self.namespace, signed, data))
        return signed


class Verifier:
    """Checks signatures against every accepted key, for one namespace."""

    def __init__(self, keys: Mapping[str, bytes], namespace: str) -> None:
        self.keys = dict(keys)
        self.namespace = namespace

    def verify(
        self,
        data: bytes,
        attributes: Mapping[str, str],
        *,
        function: str,
        at_ms: int | None = None,
    ) -> None:
        """Return if ``data`` and ``attributes`` are a ``function`` message signed with a
        known key and, unless ``at_ms`` is ``None``, not expired at ``at_ms``; else raise
        :class:`BadSignature` (:class:`UnknownKey`, :class:`Expired`)."""
        key_id = attributes.get(KEY_ID)
        signature = attributes.get(SIGNATURE)
        if not key_id or not signature:
            raise BadSignature("unsigned")
        if attributes.get(_FUNCTION) != function:
            raise BadSignature(f"not a {function} message")
        key = self.keys.get(key_id)
        if key is None:
            raise UnknownKey(f"unknown key {key_id[:40]!r}")
        expected = _mac(key, _payload(self.namespace, attributes, data))
        if not hmac.compare_digest(expected, signature):
            raise BadSignature("signature does not match")
        if at_ms is None:
            return
        expires = attributes.get(EXPIRES, "")
        if not expires.isdecimal() or int(expires) < at_ms:
            raise Expired(f"signature expired at {expires[:20]}")
