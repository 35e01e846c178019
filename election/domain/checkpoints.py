"""Signed checkpoints: the election log's tree head at a size, signed with Ed25519.

A checkpoint says "the log of this election had ``size`` leaves and this root at this
time". Once published, the log can only prove what agrees with it: inclusion proofs
against its root, consistency proofs to every later checkpoint. Its signed bytes are a
short versioned text in the spirit of C2SP's tlog-checkpoint, one field per line, each
line ending in a newline:

    election-log-v1
    <election ID, canonical (election.domain.votes.canonical_id)>
    <size, decimal>
    <root, 64 lowercase hex digits>
    <timestamp, ms since the epoch, decimal>

The signature is Ed25519 over that text for purpose ``checkpoint``
(``election.domain.ed25519``: the key signs ``"election-ed25519-v1" 0x00 "checkpoint"
0x00`` and then the text). In JSON (the bulletin, proof documents) a signed checkpoint
is ``{"format": "election-log-v1", "election_id", "size", "root", "timestamp_ms",
"signature"}``, root and signature in lowercase hex.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from election.domain import jsonfields
from election.domain.ed25519 import SIGNATURE_BYTES, sign_bytes, verify_bytes
from election.domain.errors import InvalidInput
from election.domain.merkle import HASH_SIZE, MAX_SIZE
from election.domain.votes import InvalidId, canonical_id

FORMAT = "election-log-v1"
PURPOSE = "checkpoint"
MAX_TIMESTAMP = 2**63 - 1
_FIELDS = ("format", "election_id", "size", "root", "timestamp_ms", "signature")


class BadCheckpoint(InvalidInput):
    """A checkpoint (or its JSON or text form) is malformed; the message names the field."""


def _canonical_election(value: object) -> str:
    try:
        canonical = canonical_id(value)
    except InvalidId as exc:
        raise BadCheckpoint(f"election_id {exc}") from None
    if canonical != value:
        raise BadCheckpoint(f"election_id is not in its canonical form {canonical!r}")
    return canonical


@dataclass(frozen=True)
class Checkpoint:
    """The tree head of one election's log at one size."""

    election_id: str
    size: int
    root: bytes
    timestamp_ms: int

    def __post_init__(self) -> None:
        # Checked here, so that every checkpoint has exactly one text form.
        _canonical_election(self.election_id)
        jsonfields.integer(self.size, MAX_SIZE, BadCheckpoint, "size")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise BadCheckpoint(f"root must be {HASH_SIZE} bytes")
        jsonfields.integer(self.timestamp_ms, MAX_TIMESTAMP, BadCheckpoint, "timestamp_ms")

    def body(self) -> bytes:
        """The signed text form."""
        lines = (FORMAT, self.election_id, str(self.size), self.root.hex(), str(self.timestamp_ms))
        return "".join(line + "\n" for line in lines).encode()


def parse_body(body: bytes) -> Checkpoint:
    """The checkpoint whose text form is ``body``, refusing any other spelling."""
    try:
        lines = body.decode("ascii").split("\n")
    except (AttributeError, UnicodeDecodeError):
        raise BadCheckpoint("a checkpoint's text is ASCII bytes") from None
    if len(lines) != 6 or lines[0] != FORMAT or lines[5] != "":
        raise BadCheckpoint(f"a checkpoint's text is {FORMAT!r} and 4 lines, each ending in \\n")
    _, election_id, size, root, timestamp, _ = lines
    # Both fit in 20 digits; a longer line would only make int() work for nothing.
    if not all(n.isdecimal() and len(n) <= 20 for n in (size, timestamp)):
        raise BadCheckpoint("size and timestamp are decimal numbers of at most 20 digits")
    root_bytes = jsonfields.hex_bytes(root, HASH_SIZE, BadCheckpoint, "root")
    checkpoint = Checkpoint(election_id, int(size), root_bytes, int(timestamp))
    if checkpoint.body() != body:
        raise BadCheckpoint("a checkpoint's numbers are written without leading zeros")
    return checkpoint


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and the log's signature on its text form."""

    checkpoint: Checkpoint
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (hashes and the signature in lowercase hex)."""
        checkpoint = self.checkpoint
        return {
            "format": FORMAT,
            "election_id": checkpoint.election_id,
            "size": checkpoint.size,
            "root": checkpoint.root.hex(),
            "timestamp_ms": checkpoint.timestamp_ms,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, value: object) -> SignedCheckpoint:
        """The signed checkpoint in JSON object form ``value``; raise :class:`BadCheckpoint`
        naming the first malformed field. The signature is not checked here."""
        doc: Mapping[str, Any] = jsonfields.document(value, _FIELDS, BadCheckpoint, "checkpoint")
        jsonfields.exact(doc["format"], FORMAT, BadCheckpoint, "format")
        checkpoint = Checkpoint(
            election_id=jsonfields.text(doc["election_id"], BadCheckpoint, "election_id"),
            size=jsonfields.integer(doc["size"], MAX_SIZE, BadCheckpoint, "size"),
            root=jsonfields.hex_bytes(doc["root"], HASH_SIZE, BadCheckpoint, "root"),
            timestamp_ms=jsonfields.integer(
                doc["timestamp_ms"], MAX_TIMESTAMP, BadCheckpoint, "timestamp_ms"
            ),
        )
        signature = jsonfields.hex_bytes(
            doc["signature"], SIGNATURE_BYTES, BadCheckpoint, "signature"
        )
        return cls(checkpoint, signature)


def sign_checkpoint(checkpoint: Checkpoint, private_key: Ed25519PrivateKey) -> SignedCheckpoint:
    """``checkpoint`` signed with the log's key."""
    return SignedCheckpoint(checkpoint, sign_bytes(private_key, PURPOSE, checkpoint.body()))


def verify_checkpoint(signed: SignedCheckpoint, public_key: Ed25519PublicKey) -> bool:
    """Whether ``signed`` carries ``public_key``'s signature on its checkpoint. Never raises."""
    if not isinstance(signed, SignedCheckpoint) or not isinstance(signed.checkpoint, Checkpoint):
        return False
    return verify_bytes(public_key, PURPOSE, signed.checkpoint.body(), signed.signature)
