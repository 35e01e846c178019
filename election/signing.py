"""Signatures on the messages only the voting logger may produce.

Anyone who can publish to the topic could publish ``record vote`` and skip dedup (ballot
stuffing), or ``release claim`` and free a voter. The logger signs the body of each such
message with HMAC-SHA256; the consumer accepts only bodies signed with a key it knows.
The ``keyID`` attribute names the key, so keys rotate without downtime: add the new key
to every consumer's ``RECORD_SIGNING_KEYS``, switch ``RECORD_SIGNING_KEY_ID``, then drop
the old key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

KEY_ID = "keyID"
SIGNATURE = "signature"


class BadSignature(ValueError):
    """A message is unsigned, signed with an unknown key, or signed wrongly."""


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


class Signer:
    """Signs message bodies with one key."""

    def __init__(self, key_id: str, key: bytes) -> None:
        self.key_id = key_id
        self.key = key

    def attributes(self, data: bytes) -> dict[str, str]:
        """The attributes that carry the signature of ``data``."""
        return {KEY_ID: self.key_id, SIGNATURE: _mac(self.key, data)}


class Verifier:
    """Checks signatures against every accepted key."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self.keys = dict(keys)

    def verify(self, data: bytes, attributes: Mapping[str, str]) -> None:
        """Return if ``data`` is signed with a known key; raise :class:`BadSignature`."""
        key_id = attributes.get(KEY_ID)
        signature = attributes.get(SIGNATURE)
        if not key_id or not signature:
            raise BadSignature("unsigned")
        key = self.keys.get(key_id)
        if key is None:
            raise BadSignature(f"unknown key {key_id[:40]!r}")
        if not hmac.compare_digest(_mac(key, data), signature):
            raise BadSignature("signature does not match")
