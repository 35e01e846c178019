"""Keyed stand-ins for voters and ballots: what the stores keep instead of IDs.

Everything here is derived from ``VOTER_KEY``, which only the voting logger (and an
operator's ``election check``) holds:

- a **voter token** (HMAC of the election and the voter) is what the dedup store keeps
  instead of the voter ID; the same voter gets unrelated tokens in two elections;
- a **ballot tag** (HMAC of the election, the voter's token and the ballot UUID) is what
  a voter's claim holds: it tells a redelivered ballot from a second one of the voter;
- a **ballot reference** (HMAC of the tag, under another key) is the ballot's unique key
  in PostgreSQL. Redis holds tags and PostgreSQL holds references: without the key,
  nothing joins a claim (a voter) to a row (a choice), and neither reveals the UUID,
  which reference machines build from the time and the host.
- a **key check** is stored beside the claims so that a logger started with another
  ``VOTER_KEY`` notices (its tokens would not match a single earlier claim).

Each purpose has a key of its own, derived from ``VOTER_KEY`` with HMAC, so no value
computed for one purpose can stand for another.
"""

from __future__ import annotations

import hashlib
import hmac

#: 2 bytes pick the bucket (a small Redis hash), 8 bytes identify the voter within it:
#: a false "already voted" needs two of ~15 voters in a bucket to share 64 bits.
BUCKET_BYTES = 2
TOKEN_BYTES = BUCKET_BYTES + 8
#: Two ballots of one election share a tag with odds of about n^2 / 2^81 (n ballots).
TAG_BYTES = 10
REF_BYTES = 16


def _derived(key: bytes, purpose: str) -> bytes:
    return hmac.new(key, f"election/{purpose}".encode(), hashlib.sha256).digest()


class VoterSecrets:
    """The keyed hashes of one ``VOTER_KEY``; the derived keys are computed once."""

    def __init__(self, voter_key: bytes) -> None:
        self._voter = hmac.new(voter_key, digestmod=hashlib.sha256)
        self._tag = hmac.new(_derived(voter_key, "ballot-tag"), digestmod=hashlib.sha256)
        self._ref = hmac.new(_derived(voter_key, "ballot-ref"), digestmod=hashlib.sha256)
        self.key_check = hmac.new(
            _derived(voter_key, "key-check"), b"", hashlib.sha256
        ).hexdigest()[:16]

    @staticmethod
    def _mac(base: hmac.HMAC, message: bytes) -> bytes:
        mac = base.copy()
        mac.update(message)
        return mac.digest()

    def voter_token(self, election_id: str, voter_id: str) -> bytes:
        """The token of ``voter_id`` in ``election_id``."""
        return self._mac(self._voter, f"{election_id}\x00{voter_id}".encode())[:TOKEN_BYTES]

    def ballot_tag(self, election_id: str, token: bytes, uuid: str) -> bytes:
        """The tag a claim holds for the ballot ``uuid`` of the voter ``token``.

        The voter is part of it: another voter sending the same UUID (copied from a
        printout or a log) casts another ballot, with a row of its own, and takes nothing
        from the first."""
        message = election_id.encode() + b"\x00" + token + b"\x00" + uuid.encode()
        return self._mac(self._tag, message)[:TAG_BYTES]

    def ballot_ref(self, tag: bytes) -> bytes:
        """The unique key in PostgreSQL of the ballot whose tag is ``tag``."""
        return self._mac(self._ref, tag)[:REF_BYTES]
