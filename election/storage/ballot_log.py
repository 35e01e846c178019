"""Each election's append-only ballot log in PostgreSQL, and its signed checkpoints.

Every recorded ballot becomes one leaf (``election.domain.receipts.leaf_data``: the
election, the receipt and a commitment to the choice). The record service only stores
the row; this module takes rows into the log off the voting path: it gives each new row
its position, stores the leaf hash the checkpoints cover (``log_leaves``), and signs a
checkpoint of the new size and root (``log_checkpoints``).

One append is one transaction under an advisory lock per election, so any number of
processes (the checkpointer's instances, ``election close``) append in one order, and a
position is never given twice. Each append takes the rows not yet in the log and orders
them by leaf hash: positions say in which append a ballot was taken in, never its order
within it (docs/SECURITY.md). A row stored before receipts existed gets its receipt and
nonce here, so that every counted ballot is a leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import peewee
import structlog

from election.domain.bulletin import PublicLeaf
from election.domain.checkpoints import Checkpoint, SignedCheckpoint
from election.domain.errors import InvalidInput
from election.domain.log_audit import AuditRow
from election.domain.merkle import CompactRange, leaf_hash
from election.domain.receipts import commitment, leaf_data, new_nonce, new_receipt
from election.domain.signing import now_ms
from election.storage.models import Ballot, BallotState, LogCheckpoint, LogLeaf

log = structlog.get_logger(__name__)

#: Signs a checkpoint with the log key (``election.domain.checkpoints``).
CheckpointSigner = Callable[[Checkpoint], SignedCheckpoint]

#: The most rows one append takes in (a log started on many old rows catches up in steps).
APPEND_LIMIT = 10_000
_NEW_ROWS = (
    "SELECT ref, receipt, choice, nonce FROM ballots "
    "WHERE election_id = %s AND position IS NULL AND state = %s LIMIT %s FOR UPDATE"
)
_BEHIND = (
    "SELECT DISTINCT election_id FROM ballots WHERE position IS NULL AND state = %s "
    "AND election_id NOT IN (SELECT election_id FROM sealed_results)"
)
_SEALED = "SELECT 1 FROM sealed_results WHERE election_id = %s"


def lock_key(election_id: str) -> int:
    """The advisory lock of an election's log: a signed 64-bit number from its ID."""
    digest = hashlib.sha256(b"ballot-log\x00" + election_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class Appended:
    """What one append did: the checkpoint it signed and how many rows it took in."""

    signed: SignedCheckpoint
    taken: int


class BallotLog:
    """The logs of one database's elections. One per process; thread-safe only in that
    every append is its own transaction (the cache of trees is rebuilt when stale)."""

    def __init__(self, database: peewee.Database, sign: CheckpointSigner | None = None) -> None:
        self.database = database
        #: ``None`` for a reader (the bulletin, proofs, the audit): it cannot append.
        self.sign = sign
        # The tree of each election as this process last left it; checked against the
        # stored size under the lock, and rebuilt from the stored leaves when another
        # process appended since.
        self._trees: dict[str, CompactRange] = {}

    def behind(self) -> list[str]:
        """The elections with recorded ballots not yet in their log."""
        cursor = self.database.execute_sql(_BEHIND, (BallotState.RECORDED,))
        return sorted(str(row[0]) for row in cursor.fetchall())

    def append(self, election_id: str, *, final: bool = False) -> Appended | None:
        """Take the election's new rows into its log (at most :data:`APPEND_LIMIT`) and
        sign a checkpoint of it; ``None`` when there were none. ``final`` (the close): a
        checkpoint of the log as it is even with nothing new, unless the latest one
        already has its size (then that one, with nothing taken).

        Once the election's result is sealed, its log never grows: a row recorded after
        the seal stays out of it (``election audit`` names it), and this returns ``None``."""
        if self.sign is None:
            raise TypeError("this BallotLog only reads: it was given no signer")
        sign = self.sign
        with self.database.atomic():
            self.database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (lock_key(election_id),))
            if self.database.execute_sql(_SEALED, (election_id,)).fetchone() is not None:
                return None
            tree = self._tree(election_id)
            rows = self.database.execute_sql(
                _NEW_ROWS, (election_id, BallotState.RECORDED, APPEND_LIMIT)
            ).fetchall()
            leaves = self._take(election_id, tree.size, rows) if rows else []
            if not leaves:
                latest = self.latest(election_id)
                if not final:
                    return None
                if latest is not None and latest.checkpoint.size == tree.size:
                    return Appended(latest, 0)
            tree.extend(hash_ for _, hash_ in leaves)
            signed = sign(Checkpoint(election_id, tree.size, tree.root(), now_ms()))
            self._store(signed)
        self._trees[election_id] = tree
        return Appended(signed, len(rows))

    def _tree(self, election_id: str) -> CompactRange:
        """The election's tree at its stored size (call under the election's lock)."""
        size = self.size(election_id)
        cached = self._trees.get(election_id)
        latest = self.latest(election_id) if cached is not None else None
        # The cache holds only if the stored log is the one it was built from: the same
        # size and the root of the latest checkpoint (a transaction around an append of
        # this process, such as the seal's, may have rolled back since).
        if (
            cached is not None
            and latest is not None
            and cached.size == size == latest.checkpoint.size
            and cached.root() == latest.checkpoint.root
        ):
            # A copy: the append may still roll back.
            return CompactRange.restore(cached.size, cached.peaks)
        tree = CompactRange()
        tree.extend(self.leaf_hashes(election_id))
        return tree

    def _take(
        self, election_id: str, start: int, rows: Sequence[tuple[Any, ...]]
    ) -> list[tuple[bytes, bytes]]:
        """Give the rows positions from ``start`` on, in the order of their leaf hashes,
        and store their leaves; ``(ref, leaf hash)`` in position order."""
        computed: list[tuple[bytes, bytes, str, bytes, bool]] = []
        for ref, receipt, choice, nonce in rows:
            fresh = receipt is None  # stored before receipts existed
            receipt = new_receipt() if fresh else str(receipt)
            nonce = new_nonce() if fresh else bytes(nonce)
            try:
                hash_ = leaf_hash(leaf_data(election_id, receipt, commitment(int(choice), nonce)))
            except (InvalidInput, TypeError, ValueError) as bad:
                # A row no version of ours writes (edited by hand): it stays out of the
                # log and the count, and the audit names it; the election's log goes on.
                log.warning("log.row_refused", election_id=election_id, error=str(bad)[:200])
                continue
            computed.append((bytes(ref), hash_, receipt, nonce, fresh))
        if not computed:
            return []
        computed.sort(key=lambda leaf: leaf[1])
        # One statement, written here: peewee building it took half the pass's CPU.
        values: list[object] = []
        for n, leaf in enumerate(computed):
            values += [election_id, start + n, leaf[1]]
        rows_sql = ", ".join(["(%s, %s, %s)"] * len(computed))
        self.database.execute_sql(
            f"INSERT INTO log_leaves (election_id, position, leaf_hash) VALUES {rows_sql}", values
        )
        for n, (ref, _, receipt, nonce, fresh) in enumerate(computed):
            if fresh:
                self.database.execute_sql(
                    "UPDATE ballots SET position = %s, receipt = %s, nonce = %s WHERE ref = %s",
                    (start + n, receipt, nonce, ref),
                )
        moved = [(ref, start + n) for n, (ref, _, _, _, fresh) in enumerate(computed) if not fresh]
        if moved:
            placeholders = ", ".join(["(%s::bytea, %s::bigint)"] * len(moved))
            self.database.execute_sql(
                f"UPDATE ballots SET position = v.position FROM (VALUES {placeholders}) "
                "AS v(ref, position) WHERE ballots.ref = v.ref",
                [item for pair in moved for item in pair],
            )
        return [(ref, hash_) for ref, hash_, _, _, _ in computed]

    def _store(self, signed: SignedCheckpoint) -> None:
        checkpoint = signed.checkpoint
        LogCheckpoint.insert(
            election_id=checkpoint.election_id,
            size=checkpoint.size,
            root=checkpoint.root,
            timestamp_ms=checkpoint.timestamp_ms,
            signature=signed.signature,
        ).execute()

    def size(self, election_id: str) -> int:
        """How many leaves the election's log holds."""
        found = (
            LogLeaf.select(peewee.fn.MAX(LogLeaf.position))
            .where(LogLeaf.election_id == election_id)
            .scalar()
        )
        return 0 if found is None else int(found) + 1

    def leaf_hashes(self, election_id: str, size: int | None = None) -> list[bytes]:
        """The stored leaf hashes of the election's log, in position order (the first
        ``size`` of them)."""
        query = LogLeaf.select(LogLeaf.leaf_hash).where(LogLeaf.election_id == election_id)
        if size is not None:
            query = query.where(LogLeaf.position < size)
        rows = cast("list[tuple[Any]]", list(query.order_by(LogLeaf.position).tuples()))
        return [bytes(hash_) for (hash_,) in rows]

    def checkpoints(self, election_id: str) -> list[SignedCheckpoint]:
        """Every stored checkpoint of the election, smallest first."""
        query = (
            LogCheckpoint.select()
            .where(LogCheckpoint.election_id == election_id)
            .order_by(LogCheckpoint.size)
        )
        return [_signed(row) for row in query]

    def latest(self, election_id: str) -> SignedCheckpoint | None:
        """The election's largest checkpoint, or ``None`` before its first."""
        row = (
            LogCheckpoint.select()
            .where(LogCheckpoint.election_id == election_id)
            .order_by(LogCheckpoint.size.desc())
            .first()
        )
        return None if row is None else _signed(row)

    def leaves(self, election_id: str) -> list[PublicLeaf]:
        """The election's leaves with the public parts of their rows, in position order
        (rows the log has taken in; the bulletin's list)."""
        cursor = self.database.execute_sql(
            "SELECT l.position, b.receipt, b.choice, b.nonce, l.leaf_hash FROM log_leaves l "
            "LEFT JOIN ballots b ON b.election_id = l.election_id AND b.position = l.position "
            "WHERE l.election_id = %s ORDER BY l.position",
            (election_id,),
        )
        found: list[PublicLeaf] = []
        for position, receipt, choice, nonce, hash_ in cursor.fetchall():
            opened = b"" if nonce is None else commitment(int(choice), bytes(nonce))
            found.append(PublicLeaf(int(position), str(receipt or ""), opened, bytes(hash_)))
        return found


def audit_rows(election_id: str) -> list[AuditRow]:
    """Every recorded ballot of the election as the audit reads it (models bound)."""
    query = (
        Ballot.select(Ballot.position, Ballot.receipt, Ballot.choice, Ballot.nonce)
        .where((Ballot.election_id == election_id) & (Ballot.state == BallotState.RECORDED))
        .tuples()
    )
    rows = cast("list[tuple[Any, ...]]", list(query))
    return [
        AuditRow(
            None if position is None else int(position),
            None if receipt is None else str(receipt),
            int(choice),
            None if nonce is None else bytes(nonce),
        )
        for position, receipt, choice, nonce in rows
    ]


def stored_leaves(election_id: str) -> dict[int, bytes]:
    """The leaf hashes the election's log stored, by position (models bound)."""
    query = (
        LogLeaf.select(LogLeaf.position, LogLeaf.leaf_hash)
        .where(LogLeaf.election_id == election_id)
        .tuples()
    )
    rows = cast("list[tuple[Any, Any]]", list(query))
    return {int(position): bytes(hash_) for position, hash_ in rows}


def _signed(row: LogCheckpoint) -> SignedCheckpoint:
    checkpoint = Checkpoint(
        str(row.election_id), int(row.size), bytes(row.root), int(row.timestamp_ms)
    )
    return SignedCheckpoint(checkpoint, bytes(row.signature))
