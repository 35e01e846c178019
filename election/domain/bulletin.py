"""The public record of an election's log, and proofs made from it.

The log's leaves are public as :class:`PublicLeaf` (position, receipt, commitment, leaf
hash): nothing in them names a voter or opens a commitment. :func:`prove` turns them and
a signed checkpoint into an inclusion proof document (``election.domain.proofs``); it is
the one way proofs are made, from the database (``election proof``) and from a
bulletin's files alone (``election proof --bulletin``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from election.domain import jsonfields
from election.domain.checkpoints import SignedCheckpoint
from election.domain.merkle import HASH_SIZE, MAX_SIZE, MerkleTree
from election.domain.proofs import BadProof, consistency_document, inclusion_document
from election.domain.receipts import COMMITMENT_BYTES

_LEAF_FIELDS = ("position", "receipt", "commitment", "leaf_hash")


@dataclass(frozen=True)
class PublicLeaf:
    """One leaf of a log as the public record shows it."""

    position: int
    receipt: str
    commitment: bytes
    leaf_hash: bytes

    def to_json(self) -> dict[str, Any]:
        """The bulletin's form (hashes in lowercase hex)."""
        return {
            "position": self.position,
            "receipt": self.receipt,
            "commitment": self.commitment.hex(),
            "leaf_hash": self.leaf_hash.hex(),
        }

    @classmethod
    def from_json(cls, value: object) -> PublicLeaf:
        """A bulletin's leaf; :class:`BadProof` naming the field that is wrong."""
        doc: Mapping[str, Any] = jsonfields.document(value, _LEAF_FIELDS, BadProof, "leaf")
        return cls(
            position=jsonfields.integer(doc["position"], MAX_SIZE, BadProof, "position"),
            receipt=jsonfields.text(doc["receipt"], BadProof, "receipt"),
            commitment=jsonfields.hex_bytes(
                doc["commitment"], COMMITMENT_BYTES, BadProof, "commitment"
            ),
            leaf_hash=jsonfields.hex_bytes(doc["leaf_hash"], HASH_SIZE, BadProof, "leaf_hash"),
        )


def prove(
    election_id: str, receipt: str, leaves: Sequence[PublicLeaf], latest: SignedCheckpoint
) -> dict[str, Any] | None:
    """The inclusion proof document of ``receipt`` in the tree of ``latest``, a signed
    checkpoint of the log whose leaves are ``leaves`` (in position order); ``None`` when
    that checkpoint does not hold the receipt (yet)."""
    held = _held(leaves, latest)
    found = next((leaf for leaf in held if leaf.receipt == receipt), None)
    if found is None:
        return None
    path = MerkleTree([leaf.leaf_hash for leaf in held]).inclusion_proof(found.position)
    return inclusion_document(
        election_id, receipt, found.commitment, found.position, len(held), path, latest
    )


def prove_consistency(
    leaves: Sequence[PublicLeaf], old: SignedCheckpoint, new: SignedCheckpoint
) -> dict[str, Any]:
    """The consistency proof document from checkpoint ``old`` to ``new`` of the log whose
    leaves are ``leaves``: that the later tree extends the earlier one unchanged."""
    if old.checkpoint.size > new.checkpoint.size:
        raise BadProof("the earlier checkpoint is the larger one")
    tree = MerkleTree([leaf.leaf_hash for leaf in _held(leaves, new)])
    return consistency_document(old, new, tree.consistency_proof(old.checkpoint.size))


def _held(leaves: Sequence[PublicLeaf], checkpoint: SignedCheckpoint) -> list[PublicLeaf]:
    """The leaves ``checkpoint`` covers; :class:`BadProof` if they do not run 0..size-1 or
    do not give its root (a proof from them could never verify: the record is damaged)."""
    size = checkpoint.checkpoint.size
    held = list(leaves[:size])
    if len(held) != size or any(leaf.position != n for n, leaf in enumerate(held)):
        raise BadProof(f"the leaves do not run 0..{size - 1} in order: the record is damaged")
    if MerkleTree([leaf.leaf_hash for leaf in held]).root() != checkpoint.checkpoint.root:
        raise BadProof(
            f"the leaves do not give the root of the checkpoint of size {size}: the record "
            "is damaged"
        )
    return held
