"""Signatures on the answers our services send voting machines.

Anyone who can publish to the topic can send a machine a ``result`` that says
``successful``. So the services sign every answer with the log key (Ed25519, the key of
the checkpoints), and our machine shows an answer only when the signature holds.

Signing each answer alone would cost more CPU than the rest of a vote's work, so the
answers of one publish are signed together: they are the leaves of a Merkle tree
(RFC 9162 hashing, ``election.domain.merkle``), the tree's head is signed once, and each
answer carries the signature and its own inclusion proof, as two extra attributes that
reference machines ignore:

- ``answerSignature``: base64 of the log key's Ed25519 signature for purpose ``answers``
  (``election.domain.ed25519``) over ``b"election-answers-v1\\x00"``, the namespace's
  length (2 bytes) and bytes, the tree's size (8 bytes) and its root;
- ``answerProof``: ``<index>:<size>:<base64 of the audit path's hashes, concatenated>``.

A leaf is ``b"election-answer-v1\\x00"`` followed by the namespace, the ``machineID``
attribute and the body, each with a 4-byte big-endian length. So an answer cannot be moved
to another machine, another deployment, or another body; replaying it for its own ballot
only repeats what it said (a ballot's UUID is unique).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from election.domain import protocol
from election.domain.ed25519 import SIGNATURE_BYTES, sign_bytes, verify_bytes
from election.domain.merkle import HASH_SIZE, MerkleTree, inclusion_root, leaf_hash

#: The signature's purpose (``election.domain.ed25519``): it never passes for a checkpoint's.
PURPOSE = "answers"
#: What the services send a machine, and so sign: a vote's answer and an election's ballot.
SIGNED_FUNCTIONS = (protocol.RESULT, protocol.BALLOT)
SIGNATURE = "answerSignature"
PROOF = "answerProof"
_LEAF = b"election-answer-v1\x00"
_NUMBER = re.compile(r"[0-9]{1,4}")
_HEAD = b"election-answers-v1\x00"
#: The most answers one signature covers (a proof of 100 is 7 hashes).
MAX_BATCH = 1_000


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def answer_leaf(namespace: str, machine_id: str, data: bytes) -> bytes:
    """The leaf hash of one answer."""
    return leaf_hash(
        _LEAF + _field(namespace.encode()) + _field(machine_id.encode()) + _field(data)
    )


def _head(namespace: str, size: int, root: bytes) -> bytes:
    name = namespace.encode()
    return _HEAD + len(name).to_bytes(2, "big") + name + size.to_bytes(8, "big") + root


@dataclass(frozen=True)
class AnswerSigner:
    """Signs the ``result`` messages of one publish in ``namespace`` with ``key``."""

    key: Ed25519PrivateKey
    namespace: str

    def sign(self, messages: Sequence[protocol.OutgoingMessage]) -> list[protocol.OutgoingMessage]:
        """``messages`` with every answer to a machine among them (``result``, ``ballot``)
        signed; the others unchanged."""
        answers = [
            i
            for i, m in enumerate(messages)
            if m.attributes.get(protocol.FUNCTION) in SIGNED_FUNCTIONS
        ]
        signed = list(messages)
        for start in range(0, len(answers), MAX_BATCH):
            part = answers[start : start + MAX_BATCH]
            leaves = [
                answer_leaf(
                    self.namespace,
                    messages[i].attributes.get(protocol.MACHINE_ID, ""),
                    messages[i].data(),
                )
                for i in part
            ]
            tree = MerkleTree(leaves)
            head = _head(self.namespace, tree.size, tree.root())
            signature = base64.b64encode(sign_bytes(self.key, PURPOSE, head)).decode("ascii")
            for index, i in enumerate(part):
                path = base64.b64encode(b"".join(tree.inclusion_proof(index))).decode("ascii")
                signed[i] = messages[i].with_attributes(
                    {SIGNATURE: signature, PROOF: f"{index}:{tree.size}:{path}"}
                )
        return signed


def answer_is_signed(
    public_key: Ed25519PublicKey,
    namespace: str,
    data: bytes,
    attributes: Mapping[str, str],
) -> bool:
    """Whether an answer as received carries a valid signature of ``public_key``. Never
    raises: whatever a forger sent is simply not signed."""
    proof = _parse_proof(attributes.get(PROOF, ""))
    try:
        signature = base64.b64decode(attributes.get(SIGNATURE, ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    if proof is None or len(signature) != SIGNATURE_BYTES:
        return False
    index, size, path = proof
    leaf = answer_leaf(namespace, attributes.get(protocol.MACHINE_ID, ""), data)
    root = inclusion_root(leaf, index, size, path)
    if root is None:
        return False
    return verify_bytes(public_key, PURPOSE, _head(namespace, size, root), signature)


def _parse_proof(text: str) -> tuple[int, int, list[bytes]] | None:
    parts = text.split(":")
    # ASCII digits only: str.isdigit() takes "²", which int() then refuses.
    if len(parts) != 3 or not all(_NUMBER.fullmatch(part) for part in parts[:2]):
        return None
    index, size = int(parts[0]), int(parts[1])
    if not 0 <= index < size <= MAX_BATCH:
        return None
    try:
        joined = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(joined) % HASH_SIZE:
        return None
    return index, size, [joined[n : n + HASH_SIZE] for n in range(0, len(joined), HASH_SIZE)]
