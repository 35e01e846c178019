"""Merkle tree hashing, proofs and their verification, as RFC 9162 section 2.1 defines them.

The ballot log is an append-only list of leaves; its tree head (the root at a size) is
what a checkpoint signs. Anyone holding a root can check that a leaf is in the tree
(an *inclusion* proof) and that a later tree extends an earlier one without changing it
(a *consistency* proof), with these SHA-256 hashes:

- a leaf: ``SHA-256(0x00 || data)``; an inner node: ``SHA-256(0x01 || left || right)``
  (the prefixes keep a leaf from passing for a node, RFC 9162 section 2.1.1);
- the empty tree: ``SHA-256()`` of nothing;
- a tree of ``n > 1`` leaves: the node over its first ``k`` leaves and its last ``n - k``,
  ``k`` being the largest power of two smaller than ``n``.

Producers (:func:`inclusion_proof`, :func:`consistency_proof`) refuse bad arguments with
:class:`BadTreeArgument`. Verifiers take what anyone sent and so never raise: a proof of
the wrong shape, length or type is simply not a proof, and they return ``False``.

A proof binds a tree size only through its root: some sizes share the bits a verifier
walks (leaf 0 has the same audit path in trees of 5 and 6 leaves), so a verifier must take
the size and the root from the same signed checkpoint, never the size from the prover.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from election.domain.errors import InvalidInput

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: RFC 9162 sizes and indexes are 64-bit; nothing larger can be a real tree.
MAX_SIZE = 2**64 - 1
_LEAF = b"\x00"
_NODE = b"\x01"


class BadTreeArgument(InvalidInput):
    """A proof was asked for a leaf or a size the tree does not have, or a hash is malformed."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf holding ``data``."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of the inner node over ``left`` and ``right``."""
    return hashlib.sha256(_NODE + left + right).digest()


def split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size >= 2``): the left subtree's size."""
    return 1 << ((size - 1).bit_length() - 1)


class CompactRange:
    """The root of a growing tree, from ``O(log n)`` hashes: one per perfect subtree.

    A tree of ``n`` leaves is, left to right, perfect subtrees whose sizes are the bits of
    ``n``; their roots (the *peaks*) are all an appender needs. Appending leaf ``n`` merges
    as many peaks as ``n`` has trailing one bits, and the root folds the peaks from the
    right, as the RFC's recursion does. The checkpointer keeps one of these per election and
    feeds it leaves as they arrive.
    """

    def __init__(self) -> None:
        self._peaks: list[bytes] = []
        self._size = 0

    @classmethod
    def restore(cls, size: int, peaks: Sequence[bytes]) -> CompactRange:
        """The range that :attr:`size` and :attr:`peaks` described: a restarted appender
        goes on from there without reading every leaf again."""
        if not _is_size(size) or len(peaks) != size.bit_count():
            raise BadTreeArgument(f"a tree of {size!r} leaves has one peak per bit of its size")
        tree = cls()
        tree._peaks = [_checked(peak, "peak") for peak in peaks]
        tree._size = size
        return tree

    @property
    def size(self) -> int:
        """How many leaves were appended."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """The roots of the perfect subtrees, the largest (leftmost) first."""
        return tuple(self._peaks)

    def append(self, hash_: bytes) -> None:
        """Add the leaf whose hash is ``hash_``; refuse what is not a hash."""
        node = _checked(hash_, "leaf hash")
        carry = self._size
        while carry & 1:
            node = node_hash(self._peaks.pop(), node)
            carry >>= 1
        self._peaks.append(node)
        self._size += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Append every leaf hash of ``hashes`` in order."""
        for hash_ in hashes:
            self.append(hash_)

    def root(self) -> bytes:
        """The tree head at the current size (:data:`EMPTY_ROOT` for no leaves)."""
        if not self._peaks:
            return EMPTY_ROOT
        node = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            node = node_hash(peak, node)
        return node


def _checked(hash_: object, what: str) -> bytes:
    if not isinstance(hash_, bytes) or len(hash_) != HASH_SIZE:
        raise BadTreeArgument(f"a {what} must be {HASH_SIZE} bytes")
    return hash_


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The tree head (RFC 9162 MTH) of the leaves whose hashes are ``hashes``, in one pass
    and ``O(log n)`` memory."""
    tree = CompactRange()
    tree.extend(hashes)
    return tree.root()


class MerkleTree:
    """Every node of the tree of some leaves: its head, and any proof in ``O(log n)``.

    Built level by level: each level pairs the nodes of the one below, and an odd node
    out at the right end goes up unchanged. That is RFC 9162's tree (its right edge is
    where the subtrees are not perfect), so the subtree over leaves ``start..end-1`` of
    the RFC's recursion is one stored node. About ``2n`` hashes are kept.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        level = [_checked(hash_, "leaf hash") for hash_ in leaf_hashes]
        self._levels = [level]
        while len(level) > 1:
            pairs = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            level = pairs + level[-1:] if len(level) % 2 else pairs
            self._levels.append(level)

    @property
    def size(self) -> int:
        """How many leaves the tree has."""
        return len(self._levels[0])

    def root(self) -> bytes:
        """The tree head (:data:`EMPTY_ROOT` for no leaves)."""
        return self._levels[-1][0] if self.size else EMPTY_ROOT

    def _subtree(self, start: int, end: int) -> bytes:
        # The recursion only asks for subtrees that start at a multiple of their height's
        # power of two: exactly the stored nodes.
        height = (end - start - 1).bit_length()
        return self._levels[height][start >> height]

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The audit path (RFC 9162 PATH) of leaf ``index``: from the root down, the
        sibling of the side holding the leaf at each node, listed bottom up."""
        if not _is_size(index) or not index < self.size:
            raise BadTreeArgument(f"no leaf {index!r} in a tree of {self.size} leaves")
        path: list[bytes] = []
        start, end = 0, self.size
        while end - start > 1:
            middle = start + split(end - start)
            if index < middle:
                path.append(self._subtree(middle, end))
                end = middle
            else:
                path.append(self._subtree(start, middle))
                start = middle
        path.reverse()
        return path

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """The proof (RFC 9162 PROOF) that this tree extends its first ``old_size``
        leaves; empty when ``old_size`` is 0 or the whole tree (nothing to prove).

        SUBPROOF unrolled: descend towards the old tree's last leaf keeping each subtree
        on the other side, and stop at a subtree the old tree holds whole, which goes in
        first unless it is the old tree itself (the verifier has that root already).
        """
        if not _is_size(old_size) or not old_size <= self.size:
            raise BadTreeArgument(f"no earlier tree of {old_size!r} leaves in one of {self.size}")
        if old_size in (0, self.size):
            return []
        proof: list[bytes] = []
        start, end, whole = 0, self.size, True
        while old_size != end:
            middle = start + split(end - start)
            if old_size <= middle:
                proof.append(self._subtree(middle, end))
                end = middle
            else:
                proof.append(self._subtree(start, middle))
                start, whole = middle, False
        if not whole:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaf_hashes`` (``O(n)``: build a
    :class:`MerkleTree` once to ask for many)."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of ``leaf_hashes`` extends its first ``old_size`` leaves."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SIZE


def _are_hashes(values: object) -> bool:
    return isinstance(values, (list, tuple)) and all(
        isinstance(value, bytes) and len(value) == HASH_SIZE for value in values
    )


def _same(left: bytes, right: object) -> bool:
    # In constant time: nothing here is secret, but it costs nothing and settles the question.
    return isinstance(right, bytes) and hmac.compare_digest(left, right)


def inclusion_root(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The head of the tree of ``size`` leaves in which ``path`` puts the leaf hashed
    ``leaf_hash`` at ``index`` (RFC 9162 section 2.1.3.2 up to its last comparison), or
    ``None`` when the path cannot be one. Never raises. Where no head is known yet (an
    answer's signature covers the head), this gives the head to check."""
    if not (_is_size(index) and _is_size(size) and index < size and _are_hashes(path)):
        return None
    if not (isinstance(leaf_hash, bytes) and len(leaf_hash) == HASH_SIZE):
        return None
    node_index, last = index, size - 1
    node = leaf_hash
    for sibling in path:
        if last == 0:
            return None  # the path is longer than the tree is high
        if node_index & 1 or node_index == last:
            node = node_hash(sibling, node)
            # A right edge node has no sibling on the levels it was promoted through.
            while not node_index & 1 and node_index != 0:
                node_index, last = node_index >> 1, last >> 1
        else:
            node = node_hash(node, sibling)
        node_index, last = node_index >> 1, last >> 1
    return node if last == 0 else None


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves the leaf hashed ``leaf_hash`` is leaf ``index`` of the tree
    of ``size`` leaves with head ``root`` (RFC 9162 section 2.1.3.2). Never raises."""
    computed = inclusion_root(leaf_hash, index, size, path)
    return computed is not None and _same(computed, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``new_size`` leaves with head ``new_root`` extends
    the tree of ``old_size`` leaves with head ``old_root`` (RFC 9162 section 2.1.4.2).

    Equal sizes need equal roots and an empty proof; every tree extends the empty tree,
    whose head must then be :data:`EMPTY_ROOT`, with an empty proof. Never raises.
    """
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        return False
    if not (_are_hashes(proof) and _are_hashes([old_root, new_root])):
        return False
    if old_size == new_size:
        # The same tree twice; of size 0, that is the empty tree.
        expected = old_root if old_size else EMPTY_ROOT
        return not proof and _same(expected, old_root) and _same(expected, new_root)
    if old_size == 0:
        return not proof and _same(EMPTY_ROOT, old_root)
    return _check_consistency(old_size, new_size, old_root, new_root, list(proof))


def _check_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    # For 0 < old_size < new_size; the steps are numbered as in RFC 9162 section 2.1.4.2.
    if not proof:
        return False  # 1
    if old_size & (old_size - 1) == 0:
        proof.insert(0, old_root)  # 2: the old tree is a perfect subtree, left implicit
    old_index, last = old_size - 1, new_size - 1  # 3
    while old_index & 1:  # 4
        old_index, last = old_index >> 1, last >> 1
    old_node = new_node = proof[0]  # 5
    for node in proof[1:]:  # 6
        if last == 0:
            return False
        if old_index & 1 or old_index == last:
            old_node = node_hash(node, old_node)
            new_node = node_hash(node, new_node)
            while not old_index & 1 and old_index != 0:
                old_index, last = old_index >> 1, last >> 1
        else:
            new_node = node_hash(new_node, node)
        old_index, last = old_index >> 1, last >> 1
    return last == 0 and _same(old_node, old_root) and _same(new_node, new_root)  # 7
