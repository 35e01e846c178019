"""Voter tokens: what the dedup store keeps instead of voter IDs.

A token is a keyed hash (HMAC-SHA256 with ``VOTER_KEY``) of the election and the voter, cut
to :data:`TOKEN_BYTES`. Without the key nobody can tell which voter a token stands for, or
test a guess; the same voter in two elections gets unrelated tokens.
"""

from __future__ import annotations

import hashlib
import hmac

#: 2 bytes pick the bucket (a small Redis hash), 8 bytes identify the voter within it:
#: a false "already voted" needs two of ~15 voters in a bucket to share 64 bits.
BUCKET_BYTES = 2
TOKEN_BYTES = BUCKET_BYTES + 8


def voter_token(key: bytes, election_id: str, voter_id: str) -> bytes:
    """The token of ``voter_id`` in ``election_id``."""
    message = f"{election_id}\x00{voter_id}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:TOKEN_BYTES]


def ballot_tag(uuid: str) -> bytes:
    """A short fixed-size stand-in for a ballot UUID, for the short-lived ballot links."""
    return hashlib.sha256(uuid.encode()).digest()[:8]
