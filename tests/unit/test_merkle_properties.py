"""Properties of the Merkle proofs over any tree: honest proofs verify, any change fails,
and the verifiers answer ``False`` to anything at all instead of raising."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from election.domain.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

hashes = st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE)
#: Leaves that extend any drawn tree, for trees of other sizes over the same prefix.
MORE = [leaf_hash(b"more %d" % i) for i in range(60)]
trees = st.lists(hashes, min_size=1, max_size=140)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = draw(trees)
    return leaves, draw(st.integers(0, len(leaves) - 1))


@st.composite
def tree_and_old_size(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = draw(trees)
    return leaves, draw(st.integers(1, len(leaves)))


def flip(value: bytes, bit: int) -> bytes:
    """``value`` with one bit changed."""
    position = bit % (len(value) * 8)
    changed = bytearray(value)
    changed[position // 8] ^= 1 << (position % 8)
    return bytes(changed)


@given(tree_and_index())
def test_for_any_tree_and_any_index_the_audit_path_verifies(case: tuple[list[bytes], int]) -> None:
    leaves, index = case
    tree = MerkleTree(leaves)
    proof = tree.inclusion_proof(index)
    assert verify_inclusion(leaves[index], index, len(leaves), proof, tree.root())


@given(tree_and_index(), st.integers(0, 10**6), st.sampled_from(["leaf", "path", "root"]))
def test_changing_one_bit_of_the_leaf_a_path_element_or_the_root_fails(
    case: tuple[list[bytes], int], bit: int, target: str
) -> None:
    leaves, index = case
    tree = MerkleTree(leaves)
    leaf, proof, root = leaves[index], tree.inclusion_proof(index), tree.root()
    if target == "leaf":
        leaf = flip(leaf, bit)
    elif target == "root":
        root = flip(root, bit)
    else:
        assume(proof)
        at = bit % len(proof)
        proof[at] = flip(proof[at], bit // len(proof))
    assert not verify_inclusion(leaf, index, len(leaves), proof, root)


@given(tree_and_index(), st.integers(0, 139))
def test_the_audit_path_of_one_index_proves_nothing_for_another(
    case: tuple[list[bytes], int], other: int
) -> None:
    leaves, index = case
    # Equal leaves at two indexes would make either index honest: keep leaves distinct.
    assume(len(set(leaves)) == len(leaves) and other != index)
    tree = MerkleTree(leaves)
    proof, root = tree.inclusion_proof(index), tree.root()
    assert not verify_inclusion(leaves[index], other, len(leaves), proof, root)


@given(tree_and_index(), st.integers(1, 140 + len(MORE)))
def test_an_audit_path_verifies_against_no_tree_of_another_size(
    case: tuple[list[bytes], int], other: int
) -> None:
    leaves, index = case
    assume(index < other != len(leaves))
    proof = MerkleTree(leaves).inclusion_proof(index)
    other_root = MerkleTree([*leaves, *MORE][:other]).root()
    assert not verify_inclusion(leaves[index], index, other, proof, other_root)


@given(tree_and_index(), hashes)
def test_adding_or_dropping_a_path_element_fails(
    case: tuple[list[bytes], int], extra: bytes
) -> None:
    leaves, index = case
    tree = MerkleTree(leaves)
    proof, root, size = tree.inclusion_proof(index), tree.root(), len(leaves)
    assert not verify_inclusion(leaves[index], index, size, [*proof, extra], root)
    assert not verify_inclusion(leaves[index], index, size, [extra, *proof], root)
    if proof:
        assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)


@given(tree_and_old_size())
def test_for_any_sizes_m_up_to_n_the_consistency_proof_verifies(
    case: tuple[list[bytes], int],
) -> None:
    leaves, old = case
    tree, old_tree = MerkleTree(leaves), MerkleTree(leaves[:old])
    proof = tree.consistency_proof(old)
    assert verify_consistency(old, len(leaves), old_tree.root(), tree.root(), proof)


@given(tree_and_old_size(), st.integers(0, 10**6), st.sampled_from(["old", "new", "proof"]))
def test_changing_one_bit_of_either_root_or_of_the_consistency_proof_fails(
    case: tuple[list[bytes], int], bit: int, target: str
) -> None:
    leaves, old = case
    tree = MerkleTree(leaves)
    old_root, new_root = MerkleTree(leaves[:old]).root(), tree.root()
    proof = tree.consistency_proof(old)
    if target == "old":
        old_root = flip(old_root, bit)
    elif target == "new":
        new_root = flip(new_root, bit)
    else:
        assume(proof)
        at = bit % len(proof)
        proof[at] = flip(proof[at], bit // len(proof))
    assert not verify_consistency(old, len(leaves), old_root, new_root, proof)


@given(tree_and_old_size(), st.data())
def test_a_new_tree_that_rewrote_an_old_leaf_fails_the_consistency_check(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, old = case
    rewritten = list(leaves)
    at = data.draw(st.integers(0, old - 1))
    rewritten[at] = flip(rewritten[at], data.draw(st.integers(0, 255)))
    forged = MerkleTree(rewritten)
    old_root = MerkleTree(leaves[:old]).root()
    proof = forged.consistency_proof(old)
    assert not verify_consistency(old, len(leaves), old_root, forged.root(), proof)


@given(tree_and_old_size(), st.integers(0, 140 + len(MORE)), st.integers(0, 140 + len(MORE)))
def test_only_the_honest_consistency_proof_verifies_for_a_pair_of_sizes(
    case: tuple[list[bytes], int], old_other: int, new_other: int
) -> None:
    leaves, old = case
    everything = [*leaves, *MORE]
    assume(old_other <= new_other <= len(everything))
    assume((old_other, new_other) != (old, len(leaves)))
    proof = MerkleTree(leaves).consistency_proof(old)
    other = MerkleTree(everything[:new_other])
    old_root = MerkleTree(everything[:old_other]).root()
    if verify_consistency(old_other, new_other, old_root, other.root(), proof):
        assert proof == other.consistency_proof(old_other)


def test_a_proof_binds_the_tree_size_only_through_the_root() -> None:
    # RFC 9162 verifiers only see the size's bits on the path, and some sizes share
    # them: leaf 0 of 5 leaves has the path of leaf 0 of 6, and 6 -> 7 the proof of
    # 6 -> 8. So a size means nothing without the root signed with it: a checkpoint signs
    # both, and a proof document must use its checkpoint's size (election.domain.proofs).
    leaves = [leaf_hash(bytes([i])) for i in range(8)]
    five, six, seven = (MerkleTree(leaves[:n]) for n in (5, 6, 7))
    assert verify_inclusion(leaves[0], 0, 6, five.inclusion_proof(0), five.root())
    proof = seven.consistency_proof(6)
    assert verify_consistency(6, 8, six.root(), seven.root(), proof)


def trivially_consistent(old: Any, new: Any, old_root: Any, new_root: Any, proof: Any) -> bool:
    """Whether garbage happens to be a right answer: a tree to itself, or from the empty one."""
    same = old == new and old_root == new_root and (old != 0 or old_root == EMPTY_ROOT)
    return proof == [] and (same or (old == 0 and old_root == EMPTY_ROOT))


garbage: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.binary(max_size=40),
    st.text(max_size=10),
    st.lists(st.one_of(st.binary(max_size=40), st.integers(), st.none()), max_size=70),
    st.lists(hashes, max_size=70),
)


@given(garbage, garbage, garbage, garbage, garbage)
def test_the_inclusion_verifier_answers_false_to_anything_at_all(
    leaf: Any, index: Any, size: Any, path: Any, root: Any
) -> None:
    assert verify_inclusion(leaf, index, size, path, root) is False


@given(garbage, garbage, garbage, garbage, garbage)
def test_the_consistency_verifier_answers_false_to_anything_at_all(
    old: Any, new: Any, old_root: Any, new_root: Any, proof: Any
) -> None:
    answer = verify_consistency(old, new, old_root, new_root, proof)
    assert answer is False or trivially_consistent(old, new, old_root, new_root, proof)


@given(
    st.integers(0, 2**64 + 5),
    st.integers(0, 2**64 + 5),
    st.lists(hashes, max_size=70),
    hashes,
    hashes,
)
def test_random_proofs_for_random_huge_trees_fail_without_raising(
    index: int, size: int, path: list[bytes], leaf: bytes, root: bytes
) -> None:
    # A one-leaf tree's head is its leaf: the only way random values can be right.
    one_leaf = (index, size, path) == (0, 1, []) and leaf == root
    assert verify_inclusion(leaf, index, size, path, root) is one_leaf
    answer = verify_consistency(index, size, leaf, root, path)
    assert answer is False or trivially_consistent(index, size, leaf, root, path)


def test_a_leaf_hash_differs_from_the_node_hash_over_the_same_bytes() -> None:
    # The 0x00 / 0x01 prefixes: an inner node can never be passed off as a leaf.
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    two = MerkleTree([left, right]).root()
    assert leaf_hash(left + right) != two
