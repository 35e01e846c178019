"""Proof documents a voter or an auditor checks offline, with the log's public key only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain.checkpoints import Checkpoint, SignedCheckpoint, sign_checkpoint
from election.domain.ed25519 import load_private_key, load_public_key, new_private_key
from election.domain.ed25519 import public_key_text as text_of
from election.domain.merkle import MerkleTree, leaf_hash
from election.domain.proofs import (
    BadProof,
    consistency_document,
    inclusion_document,
    verify_consistency_document,
    verify_proof_document,
)
from election.domain.receipts import BadReceipt, commitment, leaf_data, new_receipt

PRIVATE = load_private_key(new_private_key())
PUBLIC = load_public_key(text_of(PRIVATE))
INTRUDER = load_private_key(new_private_key())
ELECTION = "e-7"
RECEIPTS = [new_receipt() for _ in range(11)]
COMMITMENTS = [commitment(i % 3, bytes([i]) * 32) for i in range(11)]
LEAVES = [leaf_hash(leaf_data(ELECTION, r, c)) for r, c in zip(RECEIPTS, COMMITMENTS, strict=True)]
TREE = MerkleTree(LEAVES)
OLD_TREE = MerkleTree(LEAVES[:6])


def signed(
    size: int, root: bytes, election: str = ELECTION, key: Any = PRIVATE
) -> SignedCheckpoint:
    return sign_checkpoint(Checkpoint(election, size, root, 1_700_000_000_000 + size), key)


CHECKPOINT = signed(11, TREE.root())
OLD_CHECKPOINT = signed(6, OLD_TREE.root())


def document(index: int = 4, checkpoint: SignedCheckpoint = CHECKPOINT) -> dict[str, Any]:
    return inclusion_document(
        ELECTION,
        RECEIPTS[index],
        COMMITMENTS[index],
        index,
        checkpoint.checkpoint.size,
        TREE.inclusion_proof(index),
        checkpoint,
    )


def test_the_proof_of_every_ballot_verifies() -> None:
    for index in range(11):
        assert verify_proof_document(document(index), PUBLIC) == []


def test_a_proof_survives_json_text_and_still_verifies() -> None:
    doc = json.loads(json.dumps(document()))
    assert verify_proof_document(doc, PUBLIC) == []


def test_the_document_has_the_documented_fields_in_hex() -> None:
    doc = document()
    assert set(doc) == {
        "format",
        "election_id",
        "receipt",
        "commitment",
        "leaf_hash",
        "leaf_index",
        "tree_size",
        "audit_path",
        "checkpoint",
    }
    assert doc["format"] == "election-inclusion-v1"
    assert doc["leaf_hash"] == LEAVES[4].hex()
    assert doc["audit_path"] == [node.hex() for node in TREE.inclusion_proof(4)]


def with_changes(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**doc, **changes}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"receipt": RECEIPTS[5]}, "the leaf hash is not that of"),
        ({"commitment": COMMITMENTS[0].hex()}, "the leaf hash is not that of"),
        ({"election_id": "e-8"}, "the checkpoint is of election 'e-7', the proof of 'e-8'"),
        ({"leaf_hash": LEAVES[5].hex()}, "the audit path does not lead"),
        ({"leaf_index": 5}, "the audit path does not lead"),
        ({"leaf_index": 11}, "leaf 11 is not in a tree of 11 leaves"),
        ({"tree_size": 12}, "the proof is for a tree of 12 leaves, the checkpoint signs 11"),
        ({"audit_path": [LEAVES[0].hex()] * 4}, "the audit path does not lead"),
        ({"audit_path": []}, "the audit path does not lead"),
        ({"receipt": RECEIPTS[4].lower()}, "the leaf cannot be recomputed"),
    ],
)
def test_each_kind_of_tampering_is_named(change: dict[str, Any], problem: str) -> None:
    problems = verify_proof_document(with_changes(document(), **change), PUBLIC)
    assert any(problem in p for p in problems), problems


def test_a_checkpoint_the_log_did_not_sign_is_named() -> None:
    # An intruder's tree with a forged ballot, signed with the intruder's own key.
    forged = MerkleTree([*LEAVES, leaf_hash(b"stuffed")])
    doc = with_changes(document(), checkpoint=signed(12, forged.root(), key=INTRUDER).to_json())
    problems = verify_proof_document(doc, PUBLIC)
    assert "the checkpoint's signature does not verify with this public key" in problems


def test_a_checkpoint_with_a_changed_root_fails_its_signature() -> None:
    checkpoint = CHECKPOINT.to_json()
    checkpoint["root"] = OLD_TREE.root().hex()
    problems = verify_proof_document(with_changes(document(), checkpoint=checkpoint), PUBLIC)
    assert problems[0] == "the checkpoint's signature does not verify with this public key"


def test_a_proof_against_an_earlier_checkpoint_needs_that_trees_path() -> None:
    doc = inclusion_document(
        ELECTION, RECEIPTS[4], COMMITMENTS[4], 4, 6, TREE.inclusion_proof(4), OLD_CHECKPOINT
    )
    assert verify_proof_document(doc, PUBLIC) == [
        "the audit path does not lead from the leaf to the checkpoint's root"
    ]
    good = inclusion_document(
        ELECTION, RECEIPTS[4], COMMITMENTS[4], 4, 6, OLD_TREE.inclusion_proof(4), OLD_CHECKPOINT
    )
    assert verify_proof_document(good, PUBLIC) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "election-inclusion-v0"}, "format"),
        ({"commitment": "zz"}, "commitment"),
        ({"leaf_hash": LEAVES[4].hex().upper()}, "leaf_hash"),
        ({"leaf_index": -1}, "leaf_index"),
        ({"tree_size": "11"}, "tree_size"),
        ({"audit_path": "00" * 32}, "audit_path"),
        ({"audit_path": ["00" * 31]}, "audit_path[0]"),
        ({"audit_path": ["00" * 32] * 65}, "audit_path"),
        ({"receipt": None}, "receipt"),
        ({"checkpoint": {}}, "checkpoint: checkpoint lacks"),
        ({"surprise": True}, "unknown fields: 'surprise'"),
    ],
)
def test_a_malformed_document_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    problems = verify_proof_document(with_changes(document(), **change), PUBLIC)
    assert len(problems) == 1 and problems[0].startswith("malformed: ") and field in problems[0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_verifying_anything_at_all_lists_problems_instead_of_raising(doc: Any) -> None:
    assert verify_proof_document(doc, PUBLIC) != []
    assert verify_consistency_document(doc, PUBLIC) != []


@given(st.sampled_from(sorted(document())), json_values)
def test_any_field_replaced_by_anything_else_is_a_problem(field: str, value: Any) -> None:
    doc = document()
    if value == doc[field]:
        return
    assert verify_proof_document(with_changes(doc, **{field: value}), PUBLIC) != []


def test_building_a_document_of_malformed_fields_is_refused() -> None:
    with pytest.raises(BadProof, match="audit_path must be at most 64 hashes of 32 bytes"):
        inclusion_document(ELECTION, RECEIPTS[0], COMMITMENTS[0], 0, 11, [b"short"], CHECKPOINT)
    with pytest.raises(BadReceipt):
        inclusion_document(ELECTION, "nope", COMMITMENTS[0], 0, 11, [], CHECKPOINT)
    with pytest.raises(BadProof, match="leaf_index"):
        inclusion_document(ELECTION, RECEIPTS[0], COMMITMENTS[0], -1, 11, [], CHECKPOINT)


def consistency(
    old: SignedCheckpoint = OLD_CHECKPOINT, new: SignedCheckpoint = CHECKPOINT
) -> dict[str, Any]:
    return consistency_document(old, new, TREE.consistency_proof(old.checkpoint.size))


def test_a_consistency_proof_between_two_signed_checkpoints_verifies() -> None:
    doc = json.loads(json.dumps(consistency()))
    assert doc["format"] == "election-consistency-v1"
    assert verify_consistency_document(doc, PUBLIC) == []


def test_a_log_that_rewrote_a_counted_ballot_fails_the_consistency_check() -> None:
    rewritten = MerkleTree([leaf_hash(b"rewritten"), *LEAVES[1:]])
    new = signed(11, rewritten.root())
    doc = consistency_document(OLD_CHECKPOINT, new, rewritten.consistency_proof(6))
    assert verify_consistency_document(doc, PUBLIC) == [
        "the proof does not show the new tree extends the old one"
    ]


def test_two_roots_for_one_size_are_named_a_fork() -> None:
    fork = signed(6, MerkleTree([leaf_hash(b"other"), *LEAVES[1:6]]).root())
    doc = consistency_document(OLD_CHECKPOINT, fork, [])
    assert verify_consistency_document(doc, PUBLIC) == [
        "two different roots for the same size: the log forked"
    ]


def test_a_shrinking_log_and_mixed_elections_are_named() -> None:
    doc = consistency_document(CHECKPOINT, OLD_CHECKPOINT, [])
    assert verify_consistency_document(doc, PUBLIC) == [
        "the new checkpoint has 6 leaves, the old one 11"
    ]
    other = signed(11, TREE.root(), election="e-8")
    problems = verify_consistency_document(consistency(new=other), PUBLIC)
    assert problems == ["the checkpoints are of two elections, 'e-7' and 'e-8'"]


def test_consistency_checkpoints_the_log_did_not_sign_are_named() -> None:
    new = signed(11, TREE.root(), key=INTRUDER)
    problems = verify_consistency_document(consistency(new=new), PUBLIC)
    assert problems == ["the new checkpoint's signature does not verify with this key"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": None}, "format"),
        ({"proof": ["00" * 32] * 129}, "proof"),
        ({"old": None}, "old: checkpoint must be a JSON object"),
        ({"new": {**CHECKPOINT.to_json(), "size": -3}}, "new: size"),
    ],
)
def test_a_malformed_consistency_document_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    problems = verify_consistency_document({**consistency(), **change}, PUBLIC)
    assert len(problems) == 1 and problems[0].startswith("malformed: ") and field in problems[0]
