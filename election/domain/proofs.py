"""Proof documents: what a voter or an auditor takes away and checks offline.

An **inclusion proof** shows that the ballot of a receipt is leaf ``leaf_index`` of the
log a signed checkpoint commits to::

    {"format": "election-inclusion-v1", "election_id", "receipt", "commitment",
     "leaf_hash", "leaf_index", "tree_size", "audit_path": [...], "checkpoint": {...}}

A **consistency proof** shows that a later signed checkpoint extends an earlier one,
so nothing counted then was changed or dropped since::

    {"format": "election-consistency-v1", "old": {...}, "new": {...}, "proof": [...]}

Hashes are lowercase hex; checkpoints are in ``SignedCheckpoint.to_json`` form. Reading
one (``*.from_json``) refuses anything malformed with :class:`BadProof` naming the field.
Verifying one needs only the log's public key and lists every check that failed, in
words; an empty list means the document proves what it says. Verifiers never raise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from election.domain import jsonfields
from election.domain.checkpoints import BadCheckpoint, SignedCheckpoint, verify_checkpoint
from election.domain.errors import InvalidInput
from election.domain.merkle import (
    HASH_SIZE,
    MAX_SIZE,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from election.domain.receipts import COMMITMENT_BYTES, leaf_data

INCLUSION_FORMAT = "election-inclusion-v1"
CONSISTENCY_FORMAT = "election-consistency-v1"
#: A path has one hash per level (64 at most for 64-bit sizes); a consistency proof up
#: to two per level.
MAX_PATH = 64
MAX_PROOF = 2 * MAX_PATH
_INCLUSION_FIELDS = (
    "format",
    "election_id",
    "receipt",
    "commitment",
    "leaf_hash",
    "leaf_index",
    "tree_size",
    "audit_path",
    "checkpoint",
)
_CONSISTENCY_FIELDS = ("format", "old", "new", "proof")
_Proof = TypeVar("_Proof")


class BadProof(InvalidInput):
    """A proof document is malformed; the message names the field."""


def _checkpoint(value: object, name: str) -> SignedCheckpoint:
    try:
        return SignedCheckpoint.from_json(value)
    except BadCheckpoint as exc:
        raise BadProof(f"{name}: {exc}") from None


@dataclass(frozen=True)
class InclusionProof:
    """That the ballot of ``receipt`` is leaf ``leaf_index`` under ``checkpoint``."""

    election_id: str
    receipt: str
    commitment: bytes
    leaf_hash: bytes
    leaf_index: int
    tree_size: int
    audit_path: tuple[bytes, ...]
    checkpoint: SignedCheckpoint

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "format": INCLUSION_FORMAT,
            "election_id": self.election_id,
            "receipt": self.receipt,
            "commitment": self.commitment.hex(),
            "leaf_hash": self.leaf_hash.hex(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "audit_path": [node.hex() for node in self.audit_path],
            "checkpoint": self.checkpoint.to_json(),
        }

    @classmethod
    def from_json(cls, value: object) -> InclusionProof:
        """The proof in JSON object form ``value``; raise :class:`BadProof`. Nothing is
        verified here but the form of each field."""
        doc = jsonfields.document(value, _INCLUSION_FIELDS, BadProof, "inclusion proof")
        jsonfields.exact(doc["format"], INCLUSION_FORMAT, BadProof, "format")
        return cls(
            election_id=jsonfields.text(doc["election_id"], BadProof, "election_id"),
            receipt=jsonfields.text(doc["receipt"], BadProof, "receipt"),
            commitment=jsonfields.hex_bytes(
                doc["commitment"], COMMITMENT_BYTES, BadProof, "commitment"
            ),
            leaf_hash=jsonfields.hex_bytes(doc["leaf_hash"], HASH_SIZE, BadProof, "leaf_hash"),
            leaf_index=jsonfields.integer(doc["leaf_index"], MAX_SIZE, BadProof, "leaf_index"),
            tree_size=jsonfields.integer(doc["tree_size"], MAX_SIZE, BadProof, "tree_size"),
            audit_path=jsonfields.hex_list(
                doc["audit_path"], HASH_SIZE, MAX_PATH, BadProof, "audit_path"
            ),
            checkpoint=_checkpoint(doc["checkpoint"], "checkpoint"),
        )


def inclusion_document(
    election_id: str,
    receipt: str,
    commitment: bytes,
    leaf_index: int,
    tree_size: int,
    audit_path: Sequence[bytes],
    checkpoint: SignedCheckpoint,
) -> dict[str, Any]:
    """The inclusion proof document of one ballot; raise an :class:`InvalidInput` if
    a field is malformed (what is published must read back)."""
    path = _hashes(audit_path, MAX_PATH, "audit_path")
    if not isinstance(checkpoint, SignedCheckpoint):
        raise BadProof("checkpoint must be a signed checkpoint")
    leaf = leaf_hash(leaf_data(election_id, receipt, commitment))
    proof = InclusionProof(
        election_id, receipt, commitment, leaf, leaf_index, tree_size, path, checkpoint
    )
    doc = proof.to_json()
    InclusionProof.from_json(doc)
    return doc


def _hashes(values: Sequence[bytes], limit: int, name: str) -> tuple[bytes, ...]:
    hashes = tuple(values)
    if len(hashes) > limit or not all(
        isinstance(value, bytes) and len(value) == HASH_SIZE for value in hashes
    ):
        raise BadProof(f"{name} must be at most {limit} hashes of {HASH_SIZE} bytes")
    return hashes


def _read(reader: Callable[[object], _Proof], doc: object) -> tuple[_Proof | None, list[str]]:
    try:
        return reader(doc), []
    except InvalidInput as exc:
        return None, [f"malformed: {exc}"]
    except (TypeError, ValueError, AttributeError) as exc:
        # The readers raise only InvalidInput; a verifier must not crash if one slips.
        return None, [f"malformed: {type(exc).__name__}"]


def verify_proof_document(doc: object, public_key: Ed25519PublicKey) -> list[str]:
    """What is wrong with the inclusion proof document ``doc``; empty if nothing is.

    Checked: the form of every field; the checkpoint's signature; that proof and
    checkpoint are of one election and one tree size; that the leaf index is in the
    tree; that the leaf hash is that of the election, receipt and commitment; and that
    the audit path leads from it to the checkpoint's root.
    """
    proof, problems = _read(InclusionProof.from_json, doc)
    if proof is None:
        return problems
    checkpoint = proof.checkpoint.checkpoint
    if not verify_checkpoint(proof.checkpoint, public_key):
        problems.append("the checkpoint's signature does not verify with this public key")
    if checkpoint.election_id != proof.election_id:
        problems.append(
            f"the checkpoint is of election {checkpoint.election_id!r},"
            f" the proof of {proof.election_id[:70]!r}"
        )
    if proof.tree_size != checkpoint.size:
        problems.append(
            f"the proof is for a tree of {proof.tree_size} leaves,"
            f" the checkpoint signs {checkpoint.size}"
        )
    if proof.leaf_index >= proof.tree_size:
        problems.append(f"leaf {proof.leaf_index} is not in a tree of {proof.tree_size} leaves")
    problems += _leaf_problems(proof)
    # The size comes from the checkpoint: a proof binds a size only through its root.
    path, root = list(proof.audit_path), checkpoint.root
    if not verify_inclusion(proof.leaf_hash, proof.leaf_index, checkpoint.size, path, root):
        problems.append("the audit path does not lead from the leaf to the checkpoint's root")
    return problems


def _leaf_problems(proof: InclusionProof) -> list[str]:
    try:
        data = leaf_data(proof.election_id, proof.receipt, proof.commitment)
    except InvalidInput as exc:
        return [f"the leaf cannot be recomputed: {exc}"]
    if leaf_hash(data) != proof.leaf_hash:
        return ["the leaf hash is not that of this election, receipt and commitment"]
    return []


@dataclass(frozen=True)
class ConsistencyProof:
    """That checkpoint ``new`` extends checkpoint ``old``."""

    old: SignedCheckpoint
    new: SignedCheckpoint
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "format": CONSISTENCY_FORMAT,
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "proof": [node.hex() for node in self.proof],
        }

    @classmethod
    def from_json(cls, value: object) -> ConsistencyProof:
        """The proof in JSON object form ``value``; raise :class:`BadProof`."""
        doc = jsonfields.document(value, _CONSISTENCY_FIELDS, BadProof, "consistency proof")
        jsonfields.exact(doc["format"], CONSISTENCY_FORMAT, BadProof, "format")
        return cls(
            old=_checkpoint(doc["old"], "old"),
            new=_checkpoint(doc["new"], "new"),
            proof=jsonfields.hex_list(doc["proof"], HASH_SIZE, MAX_PROOF, BadProof, "proof"),
        )


def consistency_document(
    old: SignedCheckpoint, new: SignedCheckpoint, proof: Sequence[bytes]
) -> dict[str, Any]:
    """The consistency proof document from ``old`` to ``new``; raise :class:`BadProof`
    if a field is malformed."""
    if not (isinstance(old, SignedCheckpoint) and isinstance(new, SignedCheckpoint)):
        raise BadProof("old and new must be signed checkpoints")
    doc = ConsistencyProof(old, new, _hashes(proof, MAX_PROOF, "proof")).to_json()
    ConsistencyProof.from_json(doc)
    return doc


def verify_consistency_document(doc: object, public_key: Ed25519PublicKey) -> list[str]:
    """What is wrong with the consistency proof document ``doc``; empty if nothing is.

    Checked: the form; both signatures; one election; that the new tree is not smaller;
    and that the proof shows the new root's tree extends the old root's.
    """
    proof, problems = _read(ConsistencyProof.from_json, doc)
    if proof is None:
        return problems
    old, new = proof.old.checkpoint, proof.new.checkpoint
    for name, signed in (("old", proof.old), ("new", proof.new)):
        if not verify_checkpoint(signed, public_key):
            problems.append(f"the {name} checkpoint's signature does not verify with this key")
    if old.election_id != new.election_id:
        elections = f"{old.election_id!r} and {new.election_id!r}"
        problems.append(f"the checkpoints are of two elections, {elections}")
    if old.size > new.size:
        problems.append(f"the new checkpoint has {new.size} leaves, the old one {old.size}")
    elif old.size == new.size and old.root != new.root:
        problems.append("two different roots for the same size: the log forked")
    elif not verify_consistency(old.size, new.size, old.root, new.root, list(proof.proof)):
        problems.append("the proof does not show the new tree extends the old one")
    return problems
