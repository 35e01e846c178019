"""``election proof``, ``verify``, ``bulletin`` and ``audit``: the record anyone can check.

``proof`` reads the database (or a bulletin's files, ``--bulletin``) and prints one JSON
inclusion proof of a receipt in the latest checkpoint. ``verify`` checks such a proof, or
a consistency proof, offline: no database, no network, only the public key.
``bulletin`` writes the public record of an election as static files: anyone can prove
and verify a receipt from them with the two commands above. ``audit`` holds the rows
against the log and the sealed result, and names every row that differs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from config import Settings
from election.cli.args import Subparsers, id_arg, postgres
from election.cli.exits import RET_ERROR, RET_OK
from election.domain.errors import InvalidInput
from election.ops import public_record
from election.ops.reach import stored


def add_parser(subparsers: Subparsers) -> None:
    """Register ``proof``, ``verify``, ``bulletin`` and ``audit``."""
    _add_proof(subparsers)
    _add_verify(subparsers)
    _add_bulletin(subparsers)
    _add_audit(subparsers)


def _add_proof(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "proof",
        help="print a JSON proof that a receipt is in the election's signed log",
        description="Print one JSON inclusion proof of the receipt's ballot in the latest "
        "signed checkpoint of the election's log: the leaf index, the tree size, the "
        "audit path and the checkpoint (hashes in lowercase hex). With --consistency "
        "SIZE instead, the proof that the latest checkpoint extends the one of that size "
        "unchanged. From the database, or with --bulletin DIR from a bulletin's files "
        "alone. Exits 1 if no checkpoint holds the receipt (yet: a ballot is in one about "
        "a second after its answer).",
    )
    p.add_argument("--election-id", required=True, type=id_arg, help="election ID")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--receipt", help="the receipt, as the machine printed it")
    which.add_argument(
        "--consistency",
        type=int,
        metavar="SIZE",
        help="prove the latest checkpoint consistent with the one of SIZE leaves",
    )
    p.add_argument("--bulletin", type=Path, metavar="DIR", help="read a bulletin's files instead")
    p.set_defaults(run_offline=run_proof)


def _add_verify(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check a proof offline with the log's public key",
        description="Check an inclusion proof (from `election proof`) or a consistency "
        "proof between two checkpoints, with nothing but the public key (`election "
        "log-key` prints it; a bulletin has it in public-key.txt). Prints `valid` and "
        "exits 0, or names each check that fails and exits 1.",
    )
    p.add_argument("proof", type=Path, metavar="PROOF.json", help="the proof ('-': stdin)")
    p.add_argument("--public-key", required=True, help="the log's public key (ed25519:...)")
    p.set_defaults(run_offline=run_verify)


def _add_bulletin(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "bulletin",
        help="write an election's public record as static files",
        description="Write the election's public record into DIR: public-key.txt, "
        "checkpoints.json (every signed checkpoint), leaves.json (each leaf's position, "
        "receipt, commitment and hash), result.json (the result, sealed or so far, and "
        "the final checkpoint it counts) and README.txt (how to check them). Nothing in "
        "it names a voter or opens a commitment.",
    )
    p.add_argument("election", metavar="E", type=id_arg, help="election ID")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="where to write")
    p.set_defaults(run=run_bulletin)


def _add_audit(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "audit",
        help="check an election's rows against its signed log and its sealed result",
        description="Recompute every leaf from the rows (opening each commitment), compare "
        "them with the leaves the log stored, recompute the tree at each checkpoint, check "
        "each checkpoint's signature and its consistency with the latest, and recount the "
        "final checkpoint's ballots against the sealed result. Prints one line per "
        "problem, naming the leaf position, and exits 1 if there is any; 0 and a summary "
        "if the record is whole. Needs the database; the key is LOG_PUBLIC_KEY (or "
        "--public-key).",
    )
    p.add_argument("--election-id", required=True, type=id_arg, help="election ID")
    p.add_argument("--public-key", help="the log's public key (default: LOG_PUBLIC_KEY)")
    p.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="an earlier bulletin of the election: each of its checkpoints must still hold "
        "(the database alone cannot show that checkpoints, or the last leaves, were deleted)",
    )
    p.set_defaults(run=run_audit)


def run_proof(args: argparse.Namespace) -> int:
    """``election proof``: one JSON proof, or exit 1 when no checkpoint holds the receipt.
    With ``--bulletin`` it reads files only, and needs no settings."""
    import sys

    from config import load_settings
    from election.domain.bulletin import prove, prove_consistency
    from election.domain.receipts import parse_receipt

    receipt = None if args.receipt is None else parse_receipt(args.receipt)
    if args.bulletin is not None:
        record = public_record.read_bulletin(args.bulletin)
        of = {c.checkpoint.election_id for c in record.checkpoints}
        if of and of != {args.election_id}:
            raise InvalidInput(f"{args.bulletin} is the record of election {sorted(of)[0]!r}")
    else:
        record = read_database(load_settings(), args.election_id)
    leaves, checkpoints = record.leaves, record.checkpoints
    if not checkpoints:
        print(f"election proof: election {args.election_id} has no checkpoint yet", file=sys.stderr)
        return RET_ERROR
    if receipt is None:
        old = [c for c in checkpoints if c.checkpoint.size == args.consistency]
        if not old:
            sizes = ", ".join(str(c.checkpoint.size) for c in checkpoints[-5:])
            raise InvalidInput(
                f"election {args.election_id} has no checkpoint of size {args.consistency} "
                f"(the latest: {sizes})"
            )
        print(json.dumps(prove_consistency(leaves, old[0], record.target()), indent=2))
        return RET_OK
    proof = prove(args.election_id, receipt, leaves, record.target())
    if proof is None:
        print(
            f"election proof: no checkpoint of election {args.election_id} holds receipt "
            f"{receipt} (yet: try again in a few seconds)",
            file=sys.stderr,
        )
        return RET_ERROR
    print(json.dumps(proof, indent=2))
    return RET_OK


def run_verify(args: argparse.Namespace) -> int:
    """``election verify``: ``valid`` (0), or every failed check (1)."""
    import sys

    from election.domain import proofs
    from election.domain.ed25519 import load_public_key

    key = load_public_key(args.public_key)
    if str(args.proof) == "-":
        text = public_record.decoded(
            sys.stdin.buffer.read(public_record.MAX_FILE_BYTES + 1), "standard input"
        )
    else:
        text = public_record.read_text(args.proof)
    doc = public_record.parse_json(text, str(args.proof))
    kind = doc.get("format") if isinstance(doc, dict) else None
    if kind == proofs.CONSISTENCY_FORMAT:
        problems = proofs.verify_consistency_document(doc, key)
    else:
        problems = proofs.verify_proof_document(doc, key)
    for problem in problems:
        print(f"invalid: {problem}")
    if problems:
        return RET_ERROR
    if kind == proofs.CONSISTENCY_FORMAT:
        consistency = proofs.ConsistencyProof.from_json(doc)
        print(
            f"valid: the log of {consistency.new.checkpoint.size} leaves extends the one "
            f"of {consistency.old.checkpoint.size}, both checkpoints signed by this key"
        )
    else:
        inclusion = proofs.InclusionProof.from_json(doc)
        signed = inclusion.checkpoint.checkpoint
        print(
            f"valid: receipt {inclusion.receipt} is leaf {inclusion.leaf_index} of "
            f"{inclusion.tree_size} in election {inclusion.election_id}'s checkpoint, "
            "signed by this key"
        )
        print(f"  checkpoint: size {signed.size}, root {signed.root.hex()}, at {_utc(signed)}")
    return RET_OK


def run_bulletin(settings: Settings, args: argparse.Namespace) -> int:
    """``election bulletin``: write the files, then say where."""
    from election.domain.ed25519 import public_key_text
    from election.ops.log_signing import log_public_key

    election_id: str = args.election
    with postgres(settings, "bulletin") as database:
        parts = stored(lambda: public_record.bulletin_parts(database, election_id), settings)
    checkpoints, leaves, result = parts.checkpoints, parts.leaves, parts.result
    if not checkpoints:
        print(f"election bulletin: election {election_id} has no checkpoint yet")
        return RET_ERROR
    public_key = public_key_text(log_public_key(settings))
    public_record.write_bulletin(args.out, election_id, public_key, checkpoints, leaves, result)
    latest = checkpoints[-1].checkpoint
    print(
        f"bulletin of election {election_id} in {args.out}: {len(checkpoints)} checkpoints, "
        f"{latest.size} leaves, root {latest.root.hex()}"
    )
    return RET_OK


def run_audit(settings: Settings, args: argparse.Namespace) -> int:
    """``election audit``: each finding (1), or a summary of a whole record (0)."""
    from election.domain.ed25519 import load_public_key
    from election.domain.log_audit import Sealed, audit
    from election.ops.log_signing import log_public_key
    from election.storage.ballot_log import BallotLog, audit_rows, stored_leaves
    from election.storage.elections import ElectionRegistry

    key = load_public_key(args.public_key) if args.public_key else log_public_key(settings)
    election_id: str = args.election_id

    earlier = [] if args.against is None else public_record.read_bulletin(args.against).checkpoints

    def read() -> tuple[Any, ...]:
        with public_record.snapshot(database):
            sealed = ElectionRegistry(database).sealed(election_id)
            shown = (
                None if sealed is None else Sealed(sealed.counts, sealed.log_size, sealed.log_root)
            )
            checkpoints = BallotLog(database).checkpoints(election_id)
            return audit_rows(election_id), stored_leaves(election_id), checkpoints, shown

    with postgres(settings, "audit") as database:
        rows, leaves, checkpoints, sealed = stored(read, settings)
    report = audit(election_id, rows, leaves, checkpoints, key, sealed, earlier)
    for finding in report.findings:
        print(f"FAILED {finding}")
    state = "sealed" if sealed is not None else f"not sealed, {report.pending} not yet logged"
    count = len(report.findings)
    verdict = f"{count} problem{'s' * (count != 1)}" if count else "the record is whole"
    print(
        f"audit of election {election_id}: {report.leaves} leaves, {report.checkpoints} "
        f"checkpoints, {len(rows)} recorded rows ({state}): {verdict}"
    )
    return RET_ERROR if report.findings else RET_OK


def _utc(checkpoint: Any) -> str:
    """A checkpoint's time, in UTC to the second."""
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(checkpoint.timestamp_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_database(settings: Settings, election_id: str) -> public_record.Record:
    """An election's record from PostgreSQL, in one snapshot."""
    with postgres(settings, "proof") as database:
        return stored(lambda: public_record.read_record(database, election_id), settings)
