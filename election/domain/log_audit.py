"""The audit of an election's log: do the rows, the leaves, the checkpoints and the sealed
result tell one story?

From the rows it recomputes every leaf (opening each commitment with the row's choice
and nonce), compares them with the leaves the log stored, recomputes the tree at every
checkpoint's size, checks each checkpoint's signature and the consistency of each with
the next, and recounts the ballots of the final checkpoint against the sealed result.
Each difference is one finding that names the leaf position it is about. Pure: the
caller reads the rows (``election audit``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from election.domain.checkpoints import SignedCheckpoint, verify_checkpoint
from election.domain.errors import InvalidInput
from election.domain.merkle import CompactRange, MerkleTree, leaf_hash, verify_consistency
from election.domain.receipts import commitment, leaf_data


@dataclass(frozen=True)
class AuditRow:
    """A recorded ballot's row: what its leaf is recomputed from."""

    position: int | None
    receipt: str | None
    choice: int
    nonce: bytes | None


@dataclass(frozen=True)
class Sealed:
    """The sealed result: counts per choice, and the final checkpoint it names."""

    counts: tuple[int, ...]
    log_size: int | None
    log_root: bytes | None


@dataclass
class AuditReport:
    """What the audit found: nothing in ``findings`` means the record is whole."""

    findings: list[str] = field(default_factory=list)
    leaves: int = 0
    checkpoints: int = 0
    #: Recorded rows the log has not taken in yet (normal while an election is open).
    pending: int = 0
    counts: dict[int, int] = field(default_factory=dict)


def audit(
    election_id: str,
    rows: Sequence[AuditRow],
    stored: Mapping[int, bytes],
    checkpoints: Sequence[SignedCheckpoint],
    public_key: Ed25519PublicKey,
    sealed: Sealed | None,
    earlier: Sequence[SignedCheckpoint] = (),
) -> AuditReport:
    """Audit one election; ``stored`` maps each stored leaf's position to its hash.

    ``earlier``: checkpoints kept from an earlier copy of the public record (a bulletin).
    The database alone cannot show that checkpoints, or the last leaves with them, were
    deleted; an earlier record can: each of its checkpoints must still hold."""
    report = AuditReport(leaves=len(stored), checkpoints=len(checkpoints))
    size = max(stored, default=-1) + 1
    report.findings += [f"leaf {p}: missing from the log" for p in range(size) if p not in stored]
    leaves = [stored.get(p, b"\x00" * 32) for p in range(size)]
    _check_rows(election_id, rows, stored, sealed, report)
    _check_checkpoints(leaves, checkpoints, public_key, report)
    _check_earlier(leaves, checkpoints, earlier, public_key, report)
    if sealed is not None:
        _check_sealed(rows, checkpoints, sealed, report)
        if sealed.log_size is not None:
            report.findings += [
                f"leaf {p}: taken into the log after the seal" for p in range(sealed.log_size, size)
            ]
    return report


def _check_earlier(
    leaves: list[bytes],
    checkpoints: Sequence[SignedCheckpoint],
    earlier: Sequence[SignedCheckpoint],
    public_key: Ed25519PublicKey,
    report: AuditReport,
) -> None:
    """Each checkpoint of an earlier record: still stored, and still the stored leaves'."""
    stored = {s.checkpoint.size: s.checkpoint.root for s in checkpoints}
    roots = _prefix_roots(leaves, {s.checkpoint.size for s in earlier})
    for signed in earlier:
        c = signed.checkpoint
        if not verify_checkpoint(signed, public_key):
            report.findings.append(
                f"earlier checkpoint of size {c.size}: its signature does not hold (not "
                "this log's key: that record proves nothing)"
            )
            continue
        if c.size not in stored:
            report.findings.append(
                f"checkpoint of size {c.size}: deleted (the earlier record has it)"
            )
        elif stored[c.size] != c.root:
            report.findings.append(
                f"checkpoint of size {c.size}: not the one the earlier record has"
            )
        if c.size > len(leaves):
            report.findings.append(
                f"leaves {len(leaves)}..{c.size - 1}: deleted (the earlier record's checkpoint "
                f"of size {c.size} holds them)"
            )
        elif roots.get(c.size) != c.root:
            report.findings.append(
                f"the leaves below {c.size} no longer give the earlier record's checkpoint of "
                "that size: a leaf among them was changed"
            )


def _check_rows(
    election_id: str,
    rows: Sequence[AuditRow],
    stored: Mapping[int, bytes],
    sealed: Sealed | None,
    report: AuditReport,
) -> None:
    """Each row against the leaf the log stored at its position."""
    where = {hash_: position for position, hash_ in stored.items()}
    held: set[int] = set()
    for row in rows:
        if row.position is None:
            if sealed is not None:
                who = row.receipt or "no receipt"
                report.findings.append(
                    f"a row not in the log ({who}): inserted after the final checkpoint"
                )
            else:
                report.pending += 1
            continue
        held.add(row.position)
        if row.position not in stored:
            report.findings.append(f"leaf {row.position}: a row claims it, the log has none")
            continue
        if row.receipt is None or row.nonce is None:
            report.findings.append(f"leaf {row.position}: its row lost its receipt or nonce")
            continue
        try:
            opened = commitment(row.choice, row.nonce)
            computed = leaf_hash(leaf_data(election_id, row.receipt, opened))
        except InvalidInput as bad:  # a receipt or nonce edited out of shape
            report.findings.append(f"leaf {row.position}: its row is malformed ({bad})")
            continue
        if computed == stored[row.position]:
            continue
        moved = where.get(computed)
        if moved is not None:
            report.findings.append(
                f"leaf {row.position}: its row is the one logged at leaf {moved} (reordered)"
            )
        else:
            report.findings.append(
                f"leaf {row.position}: its row was altered (its choice, receipt or nonce no "
                "longer gives the logged leaf)"
            )
    report.findings += [f"leaf {p}: its row was deleted" for p in sorted(set(stored) - held)]


def _check_checkpoints(
    leaves: list[bytes],
    checkpoints: Sequence[SignedCheckpoint],
    public_key: Ed25519PublicKey,
    report: AuditReport,
) -> None:
    """Every checkpoint's signature, its root against the stored leaves (one pass over
    them), and its consistency with the latest checkpoint: consistent with the latest,
    every two are consistent with each other."""
    ordered = sorted(checkpoints, key=lambda s: s.checkpoint.size)
    roots = _prefix_roots(leaves, {s.checkpoint.size for s in ordered})
    good_size = 0
    for signed in ordered:
        c = signed.checkpoint
        if not verify_checkpoint(signed, public_key):
            report.findings.append(f"checkpoint of size {c.size}: its signature does not hold")
        if c.size not in roots:
            report.findings.append(
                f"checkpoint of size {c.size}: the log holds only {len(leaves)} leaves"
            )
        elif roots[c.size] != c.root:
            report.findings.append(
                f"checkpoint of size {c.size}: its root is not the stored leaves' (a leaf "
                f"among positions {good_size}..{c.size - 1} was changed)"
            )
        else:
            good_size = c.size
    held = [s.checkpoint for s in ordered if s.checkpoint.size in roots]
    if not held:
        return
    latest = held[-1]
    tree = MerkleTree(leaves[: latest.size])
    for c in held[:-1]:
        proof = tree.consistency_proof(c.size)
        if not verify_consistency(c.size, latest.size, c.root, latest.root, proof):
            report.findings.append(
                f"checkpoint of size {c.size}: not consistent with the latest (size {latest.size})"
            )


def _prefix_roots(leaves: list[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The tree head at each of ``sizes`` (those the leaves reach), in one pass."""
    tree = CompactRange()
    roots = {0: tree.root()} if 0 in sizes else {}
    for hash_ in leaves:
        tree.append(hash_)
        if tree.size in sizes:
            roots[tree.size] = tree.root()
    return roots


def _check_sealed(
    rows: Sequence[AuditRow],
    checkpoints: Sequence[SignedCheckpoint],
    sealed: Sealed,
    report: AuditReport,
) -> None:
    """The sealed counts against a recount of the final checkpoint's rows."""
    if sealed.log_size is None or sealed.log_root is None:
        report.findings.append("the sealed result names no final checkpoint")
        return
    report.findings += [
        f"checkpoint of size {s.checkpoint.size}: signed after the seal (the final one has "
        f"{sealed.log_size} leaves)"
        for s in checkpoints
        if s.checkpoint.size > sealed.log_size
    ]
    final = [s for s in checkpoints if s.checkpoint.size == sealed.log_size]
    if not final or final[-1].checkpoint.root != sealed.log_root:
        report.findings.append(
            f"the sealed result names a checkpoint of size {sealed.log_size} that the log "
            "does not hold"
        )
    counted = Counter(
        row.choice for row in rows if row.position is not None and row.position < sealed.log_size
    )
    report.counts = dict(counted)
    for choice in sorted(set(counted) | set(range(len(sealed.counts)))):
        said = sealed.counts[choice] if choice < len(sealed.counts) else 0
        if counted.get(choice, 0) != said:
            report.findings.append(
                f"choice {choice}: sealed {said}, the logged rows hold {counted.get(choice, 0)}"
            )
