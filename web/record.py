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
from election.cli import public_record
from election.domain.bulletin import prove
from election.domain.ed25519 import public_key_text
from election.domain.errors import InvalidInput
from election.domain.proofs import verify_proof_document
from election.domain.receipts import parse_receipt
from election.domain.votes import InvalidId, canonical_id
from election.ops.log_signing import log_public_key

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
    """``/api/elections/E/record``: the latest checkpoint, the seal, the key, the files."""
    parts = public_record.bulletin_parts(database, election_id)
    latest = parts.checkpoints[-1].to_json() if parts.checkpoints else None
    sealed = parts.result.get("log")
    files = list(AFTER_SEAL if sealed else BEFORE_SEAL) if latest else []
    return {
        "election": election_id,
        "public_key": None if public_key is None else public_key_text(public_key),
        "latest": latest,
        "checkpoints": len(parts.checkpoints),
        "sealed": sealed,
        "files": files,
    }


def bulletin_file(
    database: peewee.Database, election_id: str, name: str, public_key: Ed25519PublicKey
) -> str | None:
    """The bulletin file ``name`` as ``election bulletin`` writes it, or ``None`` when it
    is not served (yet): no checkpoint, an unknown name, or the leaves before the seal."""
    parts = public_record.bulletin_parts(database, election_id)
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
    record = public_record.read_record(database, election_id)
    if not record.checkpoints:
        return Lookup(404, {"error": f"election {election_id} has no checkpoint yet"})
    try:
        proof = prove(election_id, receipt, record.leaves, record.target())
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
