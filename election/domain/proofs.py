"""Proof documents anyone can check offline: a receipt's inclusion in a signed checkpoint,
and the consistency of two signed checkpoints of one log.

An inclusion proof is one JSON object (hashes in lowercase hex)::

    {"kind": "inclusion", "election": "4201", "receipt": "K7QD-...",
     "commitment": "<hex>", "leaf_index": 12, "tree_size": 40,
     "audit_path": ["<hex>", ...], "checkpoint": {<a signed checkpoint's JSON>}}

It holds when the checkpoint's signature is the given public key's, the checkpoint is of
the same election and size, and the leaf recomputed from the election, the receipt and
the commitment (``election.domain.receipts.leaf_data``) is at ``leaf_index`` under the
checkpoint's root. The commitment hides the choice: the proof says a ballot is counted,
not how it was cast.

A consistency proof holds two signed checkpoints (``old``, ``new``) and the RFC 9162 proof
that the new tree extends the old one unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from election.domain import jsonfields
from election.domain.checkpoints import BadCheckpoint, SignedCheckpoint, verify_checkpoint
from election.domain.ed25519 import public_key_text
from election.domain.errors import InvalidInput
from election.domain.merkle import (
    HASH_SIZE,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from election.domain.receipts import BadReceipt, leaf_data, parse_receipt

INCLUSION = "inclusion"
CONSISTENCY = "consistency"


class BadProof(InvalidInput):
    """A proof document that is malformed (not one that fails: see :func:`check`)."""


@dataclass(frozen=True)
class PublicLeaf:
    """One leaf of a log as the public record shows it: its position, the receipt and the
    commitment it binds, and its hash (what the checkpoints cover)."""

    position: int
    receipt: str
    commitment: bytes
    leaf_hash: bytes

    def to_json(self) -> dict[str, Any]:
        """The bulletin's form."""
        return {
            "position": self.position,
            "receipt": self.receipt,
            "commitment": self.commitment.hex(),
            "leaf_hash": self.leaf_hash.hex(),
        }

    @classmethod
    def from_json(cls, doc: object) -> PublicLeaf:
        """A leaf of a bulletin; :class:`BadProof` naming the field that is wrong."""
        if not isinstance(doc, Mapping):
            raise BadProof("a leaf is a JSON object")
        commitment = hash_from_hex(doc.get("commitment"), "commitment")
        hash_ = hash_from_hex(doc.get("leaf_hash"), "leaf_hash")
        return cls(_field(doc, "position", int), _field(doc, "receipt", str), commitment, hash_)


@dataclass(frozen=True)
class InclusionProof:
    """A receipt's leaf, its place in a tree, and the checkpoint of that tree."""

    election_id: str
    receipt: str
    commitment: bytes
    leaf_index: int
    audit_path: tuple[bytes, ...]
    checkpoint: SignedCheckpoint

    @property
    def tree_size(self) -> int:
        """The size of the tree the proof is for (the checkpoint's)."""
        return self.checkpoint.checkpoint.size

    def to_json(self) -> dict[str, Any]:
        """The document."""
        return {
            "kind": INCLUSION,
            "election": self.election_id,
            "receipt": self.receipt,
            "commitment": self.commitment.hex(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "audit_path": [h.hex() for h in self.audit_path],
            "checkpoint": self.checkpoint.to_json(),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """Two checkpoints of one log and the proof that the second extends the first."""

    old: SignedCheckpoint
    new: SignedCheckpoint
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """The document."""
        return {
            "kind": CONSISTENCY,
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "proof": [h.hex() for h in self.path],
        }


def parse_proof(doc: object) -> InclusionProof | ConsistencyProof:
    """A proof document; :class:`BadProof` naming the field that is wrong."""
    if not isinstance(doc, Mapping):
        raise BadProof("a proof is a JSON object")
    try:
        if doc.get("kind") == INCLUSION:
            return _inclusion(doc)
        if doc.get("kind") == CONSISTENCY:
            old, new = (
                SignedCheckpoint.from_json(doc.get("old")),
                SignedCheckpoint.from_json(doc.get("new")),
            )
            return ConsistencyProof(old, new, _hashes(doc, "proof"))
    except BadCheckpoint as bad:
        raise BadProof(str(bad)) from None
    raise BadProof(f"proof field 'kind' must be {INCLUSION!r} or {CONSISTENCY!r}")


def _inclusion(doc: Mapping[str, Any]) -> InclusionProof:
    election = _field(doc, "election", str)
    try:
        receipt = parse_receipt(_field(doc, "receipt", str))
    except BadReceipt as bad:
        raise BadProof(f"proof field 'receipt': {bad}") from None
    index, size = _field(doc, "leaf_index", int), _field(doc, "tree_size", int)
    checkpoint = SignedCheckpoint.from_json(doc.get("checkpoint"))
    if size != checkpoint.checkpoint.size:
        raise BadProof("proof field 'tree_size' is not its checkpoint's size")
    if not 0 <= index < size:
        raise BadProof("proof field 'leaf_index' is not a leaf of a tree of 'tree_size'")
    commitment = hash_from_hex(doc.get("commitment"), "commitment")
    return InclusionProof(
        election, receipt, commitment, index, _hashes(doc, "audit_path"), checkpoint
    )


def check(proof: InclusionProof | ConsistencyProof, public_key: Ed25519PublicKey) -> list[str]:
    """What does not hold in ``proof`` under ``public_key``, one line each (none: valid)."""
    if isinstance(proof, ConsistencyProof):
        return _check_consistency(proof, public_key)
    problems = _signature_problems(proof.checkpoint, public_key, "the checkpoint")
    if proof.checkpoint.checkpoint.election_id != proof.election_id:
        problems.append("the checkpoint is of another election")
    leaf = leaf_hash(leaf_data(proof.election_id, proof.receipt, proof.commitment))
    root = proof.checkpoint.checkpoint.root
    if not verify_inclusion(leaf, proof.leaf_index, proof.tree_size, proof.audit_path, root):
        problems.append(
            f"the receipt's leaf is not at index {proof.leaf_index} of the checkpoint's tree"
        )
    return problems


def _check_consistency(proof: ConsistencyProof, public_key: Ed25519PublicKey) -> list[str]:
    problems = _signature_problems(proof.old, public_key, "the old checkpoint")
    problems += _signature_problems(proof.new, public_key, "the new checkpoint")
    old, new = proof.old.checkpoint, proof.new.checkpoint
    if old.election_id != new.election_id:
        problems.append("the checkpoints are of two elections")
    if not verify_consistency(old.size, new.size, old.root, new.root, proof.path):
        problems.append(f"the tree of {new.size} leaves does not extend the one of {old.size}")
    return problems


def _signature_problems(
    signed: SignedCheckpoint, public_key: Ed25519PublicKey, what: str
) -> list[str]:
    if not verify_checkpoint(signed, public_key):
        return [f"{what}'s signature is not {public_key_text(public_key)}'s"]
    return []


def _field(doc: Mapping[str, Any], name: str, kind: type) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadProof(f"proof field {name!r} must be a {kind.__name__}")
    return value


def _hashes(doc: Mapping[str, Any], name: str) -> tuple[bytes, ...]:
    values = doc.get(name)
    if not isinstance(values, list):
        raise BadProof(f"proof field {name!r} must be a list of hex hashes")
    return tuple(hash_from_hex(v, name) for v in values)


def hash_from_hex(value: object, name: str) -> bytes:
    """A 32-byte hash from lowercase hex; :class:`BadProof` naming ``name`` otherwise."""
    return jsonfields.hex_bytes(value, HASH_SIZE, BadProof, name)


def prove(
    election_id: str, receipt: str, leaves: Sequence[PublicLeaf], latest: SignedCheckpoint
) -> InclusionProof | None:
    """The inclusion proof of ``receipt`` in the tree of ``latest``, a checkpoint of the
    log whose leaves are ``leaves`` (in position order); ``None`` when that checkpoint
    does not hold it (yet). One function for the database and for a bulletin's files."""
    size = latest.checkpoint.size
    held = list(leaves[:size])
    if len(held) != size or any(leaf.position != n for n, leaf in enumerate(held)):
        raise BadProof(f"the leaves do not run 0..{size - 1} in order: the record is damaged")
    found = next((leaf for leaf in held if leaf.receipt == receipt), None)
    if found is None:
        return None
    tree = MerkleTree([leaf.leaf_hash for leaf in held])
    path = tuple(tree.inclusion_proof(found.position))
    return InclusionProof(election_id, receipt, found.commitment, found.position, path, latest)
