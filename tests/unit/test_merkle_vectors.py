"""The ballot log's Merkle tree against published RFC 6962 / RFC 9162 test vectors.

The values (not the code) come from github.com/transparency-dev/merkle:
``testonly/constants.go`` (leaf inputs, every node and root of the 8-leaf tree) and
``proof/verify_test.go`` (inclusion and consistency proofs), the vectors Google's
certificate-transparency code has used since RFC 6962.
"""

from __future__ import annotations

import pytest

from election.domain.merkle import (
    EMPTY_ROOT,
    BadTreeArgument,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAVES = [leaf_hash(data) for data in LEAF_INPUTS]

#: Node hashes of the 8-leaf tree by level (0 = leaves), then position in the level.
NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

#: The tree head of the first n leaves, n = 0..8.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

#: (leaf index, tree size, audit path); verify_test.go numbers its leaves from 1.
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

#: (old size, new size, proof).
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def hashes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def test_the_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == bytes.fromhex(ROOTS[0])


def test_each_leaf_and_each_node_of_the_8_leaf_tree_hashes_as_published() -> None:
    level = LEAVES
    for published in NODES:
        assert [node.hex() for node in level] == published
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]


@pytest.mark.parametrize("size", range(9))
def test_the_tree_of_the_first_n_leaves_has_the_published_root(size: int) -> None:
    assert root_from_leaf_hashes(LEAVES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_a_published_audit_path_is_what_we_produce_and_it_verifies(
    index: int, size: int, path: list[str]
) -> None:
    assert [node.hex() for node in inclusion_proof(index, LEAVES[:size])] == path
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(LEAVES[index], index, size, hashes(path), root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_a_published_consistency_proof_is_what_we_produce_and_it_verifies(
    old: int, new: int, proof: list[str]
) -> None:
    assert [node.hex() for node in consistency_proof(old, LEAVES[:new])] == proof
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, hashes(proof))


def test_the_size_5_to_7_proof_is_the_nodes_the_reference_names() -> None:
    # proof/proof_test.go, TestConsistency: 5 -> 7 is e f j k (two leaves, a leaf, a node).
    expected = [NODES[0][4], NODES[0][5], NODES[0][6], NODES[2][0]]
    assert [node.hex() for node in consistency_proof(5, LEAVES[:7])] == expected


@pytest.mark.parametrize(
    ("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (3, 0), (8, 7), (-1, 3)]
)
def test_an_audit_path_for_a_leaf_the_tree_lacks_is_refused(index: int, size: int) -> None:
    with pytest.raises(BadTreeArgument, match="no leaf"):
        inclusion_proof(index, LEAVES[:size])


@pytest.mark.parametrize(("old", "new"), [(5, 0), (9, 8), (-1, 3)])
def test_a_consistency_proof_from_a_larger_tree_is_refused(old: int, new: int) -> None:
    with pytest.raises(BadTreeArgument, match="no earlier tree"):
        consistency_proof(old, LEAVES[:new])


def test_a_leaf_hash_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(BadTreeArgument, match="32 bytes"):
        root_from_leaf_hashes([*LEAVES[:3], b"short"])


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def inclusion_corruptions(
    index: int, size: int, path: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[int, int, list[bytes], bytes, bytes]]:
    """The reference's corruptInclusionProof probes: (index, size, path, root, leaf)."""
    probes = [
        (index - 1, size, path, root, leaf),
        (index + 1, size, path, root, leaf),
        (index ^ 2, size, path, root, leaf),
        (index, size * 2, path, root, leaf),
        (index, size // 2, path, root, leaf),
        (index, size, path, root, b"WrongLeaf"),
        (index, size, path, EMPTY_ROOT, leaf),
        (index, size, path, SOME_HASH, leaf),
        (index, size, [*path, b""], root, leaf),
        (index, size, [*path, root], root, leaf),
        (index, size, [b"", *path], root, leaf),
        (index, size, [root, *path], root, leaf),
    ]
    for i in range(len(path)):
        flipped = bytes([path[i][0] ^ 8]) + path[i][1:]
        probes.append((index, size, [*path[:i], flipped, *path[i + 1 :]], root, leaf))
    if path:
        probes.append((index, size, path[:-1], root, leaf))
    if len(path) > 1:
        probes.append((index, size, [path[0], SOME_HASH, *path[1:]], root, leaf))
    return probes


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION[1:])
def test_every_corruption_of_a_published_audit_path_the_reference_tries_fails(
    index: int, size: int, path: list[str]
) -> None:
    root = bytes.fromhex(ROOTS[size])
    for probe in inclusion_corruptions(index, size, hashes(path), root, LEAVES[index]):
        i, n, bad_path, bad_root, leaf = probe
        assert not verify_inclusion(leaf, i, n, bad_path, bad_root), probe


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY[1:])
def test_every_corruption_of_a_published_consistency_proof_the_reference_tries_fails(
    old: int, new: int, proof: list[str]
) -> None:
    r1, r2, good = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), hashes(proof)
    probes = [
        (old - 1, new, r1, r2, good),
        (old + 1, new, r1, r2, good),
        (old ^ 2, new, r1, r2, good),
        (old, new * 2, r1, r2, good),
        (old, new // 2, r1, r2, good),
        (old, new, b"WrongRoot", r2, good),
        (old, new, r1, b"WrongRoot", good),
        (old, new, r2, r1, good),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*good, b""]),
        (old, new, r1, r2, [*good, r1]),
        (old, new, r1, r2, [*good, r2]),
        (old, new, r1, r2, [b"", *good]),
        (old, new, r1, r2, [r1, *good]),
        (old, new, r1, r2, [r2, *good]),
        (old, new, r1, r2, [good[0], *good]),
        (old, new, r1, r2, good[:-1]),
    ]
    for i in range(len(good)):
        flipped = bytes([good[i][0] ^ 16]) + good[i][1:]
        probes.append((old, new, r1, r2, [*good[:i], flipped, *good[i + 1 :]]))
    for probe in probes:
        assert not verify_consistency(*probe), probe


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "valid"),
    [
        # From verify_test.go's TestVerifyConsistency, with real roots where it had
        # "don't care": we also ask an empty old tree to have the empty root.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 1, EMPTY_ROOT, LEAVES[0], [], True),
        (1, 1, LEAVES[0], LEAVES[0], [], True),
        (1, 1, LEAVES[0], LEAVES[1], [], False),
        (1, 0, LEAVES[0], EMPTY_ROOT, [], False),
        (2, 1, LEAVES[0], LEAVES[1], [], False),
        (1, 2, LEAVES[0], LEAVES[1], [], False),
        (0, 0, EMPTY_ROOT, LEAVES[1], [], False),
        (0, 1, LEAVES[0], LEAVES[0], [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_trivial_consistency_holds_only_with_an_empty_proof_and_matching_roots(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], valid: bool
) -> None:
    assert verify_consistency(old, new, old_root, new_root, proof) is valid


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_an_empty_audit_path_proves_nothing_with_a_malformed_or_wrong_root(
    index: int, size: int
) -> None:
    for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        assert not verify_inclusion(leaf, index, size, [], root)


def test_in_a_one_leaf_tree_the_leaf_is_the_root_and_the_path_is_empty() -> None:
    assert verify_inclusion(SOME_HASH, 0, 1, [], SOME_HASH)
    assert not verify_inclusion(SOME_HASH, 1, 2, [], SOME_HASH)
