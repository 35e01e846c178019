"""The Merkle tree against a naive oracle: RFC 9162's recursive definitions, word for word.

The oracle recomputes every subtree from its leaves each time it needs one: slow, but
there is nothing in it to get wrong. The product's one-pass code must agree with it on
every tree up to a few hundred leaves, every leaf and every pair of sizes.
"""

from __future__ import annotations

import hashlib

import pytest

from election.domain.merkle import (
    CompactRange,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

#: Distinct leaf data; their hashes are the leaves of every tree below.
LEAVES = [leaf_hash(f"ballot {i}".encode()) for i in range(300)]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes (RFC 9162 2.1.1 with the leaf hashing already done)."""
    if not d:
        return sha256(b"")
    if len(d) == 1:
        return d[0]
    k = largest_power_of_two_below(len(d))
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 2.1.3.1)."""
    if len(d) == 1:
        return []
    k = largest_power_of_two_below(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (RFC 9162 2.1.4.1)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def test_the_oracle_itself_agrees_with_a_published_root() -> None:
    # transparency-dev/merkle testonly/constants.go: the first two leaves' root.
    two = [leaf_hash(b""), leaf_hash(b"\x00")]
    assert mth(two).hex().startswith("fac54203e7cc696c")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 64, 100, 255, 256])
def test_the_root_of_empty_single_power_of_two_and_odd_trees_matches_the_oracle(
    size: int,
) -> None:
    assert root_from_leaf_hashes(LEAVES[:size]) == mth(LEAVES[:size])


def test_a_compact_range_has_the_oracle_root_at_every_size_as_it_grows() -> None:
    tree = CompactRange()
    assert tree.root() == mth([]) == MerkleTree([]).root()
    for size, leaf in enumerate(LEAVES, start=1):
        tree.append(leaf)
        assert tree.size == size
        assert tree.root() == mth(LEAVES[:size])


def test_a_restored_compact_range_goes_on_as_the_original_would() -> None:
    tree = CompactRange()
    tree.extend(LEAVES[:77])
    restored = CompactRange.restore(tree.size, tree.peaks)
    restored.extend(LEAVES[77:100])
    assert restored.root() == mth(LEAVES[:100])


def test_every_index_of_every_tree_up_to_300_leaves_proves_and_verifies() -> None:
    for size in range(1, len(LEAVES) + 1):
        leaves = LEAVES[:size]
        tree = MerkleTree(leaves)
        root = mth(leaves)
        assert tree.root() == root
        # The oracle's PATH costs O(n log n) per leaf: ask it on a sample of the sizes.
        oracle = size <= 64 or size % 37 == 0
        for index in range(size):
            proof = tree.inclusion_proof(index)
            if oracle:
                assert proof == path(index, leaves), (index, size)
            assert verify_inclusion(leaves[index], index, size, proof, root), (index, size)


def test_the_one_shot_functions_give_the_trees_proofs() -> None:
    for size in (1, 2, 3, 6, 13, 64, 65, 100):
        leaves = LEAVES[:size]
        tree = MerkleTree(leaves)
        for i in range(size):
            assert inclusion_proof(i, leaves) == tree.inclusion_proof(i)
            assert consistency_proof(i, leaves) == tree.consistency_proof(i)


def test_consistency_between_every_pair_of_sizes_up_to_64_proves_and_verifies() -> None:
    for new in range(0, 65):
        tree = LEAVES[:new]
        new_root = mth(tree)
        for old in range(0, new + 1):
            proof = consistency_proof(old, tree)
            expected = subproof(old, tree, True) if 0 < old < new else []
            assert proof == expected, (old, new)
            assert verify_consistency(old, new, mth(tree[:old]), new_root, proof), (old, new)


def test_a_consistency_proof_fails_against_another_trees_old_root() -> None:
    other = [leaf_hash(b"forged " + bytes([i])) for i in range(64)]
    for new in range(2, 65):
        for old in range(1, new):
            proof = consistency_proof(old, LEAVES[:new])
            forged_old = mth(other[:old])
            assert not verify_consistency(old, new, forged_old, mth(LEAVES[:new]), proof)


def test_a_tree_of_100k_leaves_gives_the_same_root_both_ways_and_proves_a_leaf() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(100_000)]
    tree = MerkleTree(leaves)
    root = root_from_leaf_hashes(leaves)
    assert tree.root() == root
    proof = tree.inclusion_proof(71_234)
    assert len(proof) == 17
    assert verify_inclusion(leaves[71_234], 71_234, 100_000, proof, root)
    old_root = root_from_leaf_hashes(leaves[:65_537])
    assert verify_consistency(65_537, 100_000, old_root, root, tree.consistency_proof(65_537))
