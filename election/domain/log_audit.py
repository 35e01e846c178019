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

from election.domain.checkpoints import Checkpoint, SignedCheckpoint, verify_checkpoint
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
    differ = _check_rows(election_id, rows, stored, sealed, report)
    from_rows = [differ.get(p, leaf) for p, leaf in enumerate(leaves)]
    _check_checkpoints(leaves, from_rows, differ, checkpoints, public_key, report)
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
) -> dict[int, bytes]:
    """Each row against the leaf the log stored at its position; the leaves recomputed
    from rows that differ from the stored ones, by position (which side was changed, the
    checkpoints tell: ``_check_checkpoints``)."""
    where = {hash_: position for position, hash_ in stored.items()}
    differ: dict[int, bytes] = {}
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
            differ[row.position] = computed
    report.findings += [f"leaf {p}: its row was deleted" for p in sorted(set(stored) - held)]
    return differ


def _check_checkpoints(
    leaves: list[bytes],
    from_rows: list[bytes],
    differ: Mapping[int, bytes],
    checkpoints: Sequence[SignedCheckpoint],
    public_key: Ed25519PublicKey,
    report: AuditReport,
) -> None:
    """Every checkpoint's signature, and its root against the stored leaves and against
    the leaves recomputed from the rows (one pass over each); which side of each
    differing leaf was changed; the consistency of the checkpoints that hold with the
    latest of them (consistent with it, every two are consistent with each other)."""
    ordered = sorted(checkpoints, key=lambda s: s.checkpoint.size)
    sizes = {s.checkpoint.size for s in ordered}
    stored_roots, row_roots = _prefix_roots(leaves, sizes), _prefix_roots(from_rows, sizes)
    signed_ok = [s.checkpoint for s in ordered if verify_checkpoint(s, public_key)]
    report.findings += [
        f"checkpoint of size {s.checkpoint.size}: its signature does not hold (edited, or "
        "not this log's key)"
        for s in ordered
        if s.checkpoint not in signed_ok
    ]
    good_size = 0
    for c in signed_ok:
        if c.size not in stored_roots:
            report.findings.append(
                f"checkpoint of size {c.size}: the log holds only {len(leaves)} leaves"
            )
        elif stored_roots[c.size] == c.root:
            good_size = c.size
        elif row_roots[c.size] != c.root:  # neither the stored leaves nor the rows give it
            report.findings.append(
                f"checkpoint of size {c.size}: neither the stored leaves nor the rows give "
                f"its root (a leaf among positions {good_size}..{c.size - 1} was changed)"
            )
    for position in sorted(differ):
        covering = next((c for c in signed_ok if c.size > position), None)
        if covering is not None and row_roots.get(covering.size) == covering.root:
            report.findings.append(
                f"leaf {position}: its stored hash was altered (the row still gives the "
                "signed checkpoints)"
            )
        else:
            report.findings.append(
                f"leaf {position}: its row was altered (its choice, receipt or nonce no "
                "longer gives the logged leaf)"
            )
    _check_consistency(leaves, [c for c in signed_ok if stored_roots.get(c.size) == c.root], report)


def _check_consistency(
    leaves: list[bytes], held: Sequence[Checkpoint], report: AuditReport
) -> None:
    """Each checkpoint that holds against the latest that holds: the RFC 9162 proof."""
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
