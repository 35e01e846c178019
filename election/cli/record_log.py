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
from election.cli.elections import stored
from election.cli.exits import RET_ERROR, RET_OK
from election.domain.errors import InvalidInput

#: The files of a bulletin.
PUBLIC_KEY = "public-key.txt"
CHECKPOINTS = "checkpoints.json"
LEAVES = "leaves.json"
RESULT = "result.json"
README = "README.txt"


def add_parser(subparsers: Subparsers) -> None:
    """Register ``proof``, ``verify``, ``bulletin`` and ``audit``."""
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
        leaves, checkpoints = _read_bulletin(args.bulletin)
    else:
        leaves, checkpoints = _read_database(load_settings(), args.election_id)
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
        print(json.dumps(prove_consistency(leaves, old[0], checkpoints[-1]), indent=2))
        return RET_OK
    proof = prove(args.election_id, receipt, leaves, checkpoints[-1])
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
    text = sys.stdin.read() if str(args.proof) == "-" else _read_text(args.proof)
    doc = _json(text, str(args.proof))
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
        print(
            f"valid: receipt {inclusion.receipt} is leaf {inclusion.leaf_index} of "
            f"{inclusion.tree_size} in election {inclusion.election_id}'s checkpoint, "
            "signed by this key"
        )
    return RET_OK


def run_bulletin(settings: Settings, args: argparse.Namespace) -> int:
    """``election bulletin``: write the files, then say where."""
    from election.cli.tally import result_of, undeclared_json
    from election.domain.ed25519 import public_key_text
    from election.ops.log_signing import log_public_key
    from election.storage.ballot_log import BallotLog
    from election.storage.elections import ElectionRegistry

    election_id: str = args.election

    def read() -> tuple[Any, ...]:
        registry = ElectionRegistry(database)
        log = BallotLog(database)
        record = registry.get(election_id)
        if record is None:
            result = undeclared_json(election_id, registry.counts(election_id))
        else:
            result = result_of(registry, record).to_json()
        sealed = registry.sealed(election_id)
        if sealed is not None and sealed.log_size is not None and sealed.log_root is not None:
            result["log"] = {"size": sealed.log_size, "root": sealed.log_root.hex()}
        return log.checkpoints(election_id), log.leaves(election_id), result

    with postgres(settings, "bulletin") as database:
        checkpoints, leaves, result = stored(read, settings)
    if not checkpoints:
        print(f"election bulletin: election {election_id} has no checkpoint yet")
        return RET_ERROR
    public_key = public_key_text(log_public_key(settings))
    _write_bulletin(args.out, election_id, public_key, checkpoints, leaves, result)
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

    def read() -> tuple[Any, ...]:
        sealed = ElectionRegistry(database).sealed(election_id)
        shown = None if sealed is None else Sealed(sealed.counts, sealed.log_size, sealed.log_root)
        checkpoints = BallotLog(database).checkpoints(election_id)
        return audit_rows(election_id), stored_leaves(election_id), checkpoints, shown

    with postgres(settings, "audit") as database:
        rows, leaves, checkpoints, sealed = stored(read, settings)
    report = audit(election_id, rows, leaves, checkpoints, key, sealed)
    for finding in report.findings:
        print(f"FAILED {finding}")
    state = "sealed" if sealed is not None else f"not sealed, {report.pending} not yet logged"
    verdict = f"{len(report.findings)} problems" if report.findings else "the record is whole"
    print(
        f"audit of election {election_id}: {report.leaves} leaves, {report.checkpoints} "
        f"checkpoints, {len(rows)} recorded rows ({state}): {verdict}"
    )
    return RET_ERROR if report.findings else RET_OK


def _write_bulletin(
    out: Path,
    election_id: str,
    public_key: str,
    checkpoints: list[Any],
    leaves: list[Any],
    result: Any,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / PUBLIC_KEY).write_text(public_key + "\n")
    (out / CHECKPOINTS).write_text(
        json.dumps({"election": election_id, "checkpoints": [c.to_json() for c in checkpoints]})
    )
    (out / LEAVES).write_text(
        json.dumps({"election": election_id, "leaves": [leaf.to_json() for leaf in leaves]})
    )
    (out / RESULT).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (out / README).write_text(
        f"The public record of election {election_id}.\n\n"
        "Prove a receipt from these files alone, then check the proof offline:\n"
        f"  election proof --election-id {election_id} --receipt RECEIPT --bulletin . > p.json\n"
        '  election verify p.json --public-key "$(cat public-key.txt)"\n'
        "Check the public key against one you got elsewhere (`election log-key` of the\n"
        "deployment): a key read from these files proves only that they agree.\n"
    )


def _read_bulletin(directory: Path) -> tuple[list[Any], list[Any]]:
    """The leaves and checkpoints of a bulletin (no database)."""
    from election.domain.bulletin import PublicLeaf
    from election.domain.checkpoints import SignedCheckpoint

    leaves_doc = _json(_read_text(directory / LEAVES), str(directory / LEAVES))
    checkpoints_doc = _json(_read_text(directory / CHECKPOINTS), str(directory / CHECKPOINTS))
    try:
        leaves = [PublicLeaf.from_json(leaf) for leaf in leaves_doc["leaves"]]
        checkpoints = [SignedCheckpoint.from_json(c) for c in checkpoints_doc["checkpoints"]]
    except (KeyError, TypeError):
        raise InvalidInput(f"{directory} is not a bulletin (see README.txt there)") from None
    if leaves_doc.get("election") != checkpoints_doc.get("election"):
        raise InvalidInput(f"{directory}: leaves.json and checkpoints.json are of two elections")
    return leaves, sorted(checkpoints, key=lambda c: c.checkpoint.size)


def _read_database(settings: Settings, election_id: str) -> tuple[list[Any], list[Any]]:
    """The leaves and checkpoints of an election from PostgreSQL."""
    from election.storage.ballot_log import BallotLog

    with postgres(settings, "proof") as database:
        log = BallotLog(database)
        return stored(lambda: (log.leaves(election_id), log.checkpoints(election_id)), settings)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def _json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} is not JSON: {exc}") from None
