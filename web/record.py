"""The public record on the web: the latest checkpoint, the public key, the bulletin's
files, and a receipt's inclusion proof, checked here and (``static/verify.js``) again in
the voter's browser.

Proofs are made the one way the CLI makes them (``election.domain.bulletin.prove`` over
one snapshot of the record) and verified with the one verifier (``verify_proof_document``)
before they are served. The list of leaves, with every receipt, is published only after
the seal: this process also shows the counts live, and a count that moved beside a leaf
that came would tell the choice of that receipt (the reason the bulletin holds no counts
before the seal, docs/SECURITY.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config import Settings
from election.domain.bulletin import PublicLeaf, prove
from election.domain.checkpoints import SignedCheckpoint
from election.domain.ed25519 import public_key_text
from election.domain.errors import InvalidInput
from election.domain.proofs import verify_proof_document
from election.domain.receipts import commitment, parse_receipt
from election.domain.votes import InvalidId, canonical_id
from election.ops import public_record
from election.ops.log_signing import log_public_key
from election.storage.ballot_log import BallotLog
from election.storage.elections import ElectionRegistry
from election.storage.models import Ballot, LogCheckpoint

#: The bulletin files served before the seal (no leaves, and a result without counts).
BEFORE_SEAL = (public_record.PUBLIC_KEY, public_record.CHECKPOINTS, public_record.RESULT)
#: Every bulletin file, served once the result is sealed.
AFTER_SEAL = (*BEFORE_SEAL, public_record.LEAVES, public_record.README)


def public_key_of(settings: Settings) -> Ed25519PublicKey | None:
    """The log's public key, or ``None`` when the deployment gives none; a malformed key
    is a :class:`ConfigError` (the process refuses to start rather than serve a wrong one)."""
    if settings.log_public_key is None and settings.log_key is None:
        return None
    return log_public_key(settings)


def election_of(text: str) -> str | None:
    """``text`` as a canonical election ID, or ``None`` when it cannot be one."""
    try:
        return canonical_id(text)
    except InvalidId:
        return None


def summary(
    database: peewee.Database, election_id: str, public_key: Ed25519PublicKey | None
) -> dict[str, Any]:
    """``/api/elections/E/record``: the latest checkpoint, the seal, the key, the files.

    Read without the leaves (one row each, every ballot): this page is linked from every
    election's, and reading them made each visit cost as much as a whole bulletin."""
    with public_record.snapshot(database):
        latest = BallotLog(database).latest(election_id)
        checkpoints = LogCheckpoint.select().where(LogCheckpoint.election_id == election_id)
        count = checkpoints.count()
        sealed_record = ElectionRegistry(database).sealed(election_id)
    sealed = None
    if sealed_record is not None and sealed_record.log_size is not None:
        root = sealed_record.log_root
        sealed = {"size": sealed_record.log_size, "root": None if root is None else root.hex()}
    files = list(AFTER_SEAL if sealed else BEFORE_SEAL) if latest else []
    return {
        "election": election_id,
        "public_key": None if public_key is None else public_key_text(public_key),
        "latest": None if latest is None else latest.to_json(),
        "checkpoints": count,
        "sealed": sealed,
        "files": files,
    }


def bulletin_file(
    database: peewee.Database, election_id: str, name: str, public_key: Ed25519PublicKey
) -> str | None:
    """The bulletin file ``name`` as ``election bulletin`` writes it, or ``None`` when it
    is not served (yet): no checkpoint, an unknown name, or the leaves before the seal."""
    # Only the leaves' own file reads every ballot (a second per 100,000 of them).
    wanted = name == public_record.LEAVES
    parts = public_record.bulletin_parts(database, election_id, leaves=wanted)
    served = AFTER_SEAL if "log" in parts.result else BEFORE_SEAL
    if not parts.checkpoints or name not in served:
        return None
    files = public_record.bulletin_files(
        election_id, public_key_text(public_key), parts.checkpoints, parts.leaves, parts.result
    )
    return files[name]


@dataclass(frozen=True)
class Lookup:
    """The answer to a receipt lookup: HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


def lookup(
    database: peewee.Database,
    election_id: str,
    receipt_text: str,
    public_key: Ed25519PublicKey | None,
) -> Lookup:
    """The inclusion proof of a receipt against the latest checkpoint (the final one once
    sealed), checked here with the log's public key before it is served."""
    try:
        receipt = parse_receipt(receipt_text)
    except InvalidInput as exc:
        return Lookup(400, {"error": f"not a receipt: {exc}"})
    try:
        held = _held_leaves(database, election_id, receipt)
        if held is None:
            return Lookup(404, {"error": f"election {election_id} has no checkpoint yet"})
        leaves, target = held
        proof = None if leaves is None else prove(election_id, receipt, leaves, target)
    except InvalidInput as exc:
        return Lookup(500, {"error": f"the record cannot prove receipts: {exc}"})
    if proof is None:
        return Lookup(
            404,
            {
                "error": f"no checkpoint of election {election_id} holds receipt {receipt} "
                "(yet: a ballot is logged a second or two after its answer; try again)",
                "receipt": receipt,
            },
        )
    problems = None if public_key is None else verify_proof_document(proof, public_key)
    body = {
        "receipt": receipt,
        "proof": proof,
        "public_key": None if public_key is None else public_key_text(public_key),
        "server_check": "not checked (no public key)" if problems is None else problems,
        "proved": problems == [],
    }
    return Lookup(200, body)


def _held_leaves(
    database: peewee.Database, election_id: str, receipt: str
) -> tuple[list[PublicLeaf] | None, SignedCheckpoint] | None:
    """The leaves a proof of ``receipt`` is made from (``None`` when that checkpoint holds
    no such receipt), and the checkpoint it is made against (``Record.target``'s);
    ``None`` before the first checkpoint.

    Only the receipt's own row is read, by its unique receipt: a receipt held by no leaf
    costs one lookup, not a read of every ballot (anyone may ask for any receipt). The
    other leaves are their stored hashes, which is all a path needs; ``prove`` still
    checks they give the checkpoint's root."""
    with public_record.snapshot(database):
        log = BallotLog(database)
        latest = log.latest(election_id)
        if latest is None:
            return None
        sealed = ElectionRegistry(database).sealed(election_id)
        sealed_size = None if sealed is None else sealed.log_size
        checkpoints = [latest]
        if sealed_size is not None and sealed_size != latest.checkpoint.size:
            checkpoints = log.checkpoints(election_id)  # a damaged record: target() says so
        target = public_record.Record([], checkpoints, sealed_size).target()
        size = target.checkpoint.size
        row = (
            Ballot.select(Ballot.position, Ballot.choice, Ballot.nonce)
            .where((Ballot.receipt == receipt) & (Ballot.election_id == election_id))
            .tuples()
            .first()
        )
        if row is None or row[0] is None or row[2] is None or not 0 <= int(row[0]) < size:
            return None, target
        hashes = log.leaf_hashes(election_id, size)
    position, opened = int(row[0]), commitment(int(row[1]), bytes(row[2]))
    leaves = [PublicLeaf(n, "", b"", leaf) for n, leaf in enumerate(hashes)]
    if position < len(leaves):  # else prove() says the record is damaged
        leaves[position] = PublicLeaf(position, receipt, opened, hashes[position])
    return leaves, target
