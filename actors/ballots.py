"""The ``ballots`` table as both services use it: store, look up, tombstone, restore.

Every ballot has one row under its keyed reference (``election.domain.secrecy``): a recorded
vote, or a tombstone that makes sure it never will be one (``BallotState``). Each step
is one statement, and the unique reference decides every race: a late record, a fence
by the voting logger, a give-up and an operator's replay all contend on that one row.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import peewee

from election.storage.ballot_log import lock_key
from election.storage.models import Ballot, BallotState

T = TypeVar("T")

_RESTORABLE = (BallotState.GIVEN_UP, BallotState.FENCED)
#: Share-locks the row of the ballot's election, if it is declared (see ``restore``).
_LOCK_ELECTION = (
    "SELECT 1 FROM elections e JOIN ballots b ON b.election_id = e.election_id "
    "WHERE b.ref = %s FOR SHARE OF e"
)
_RESTORE = (
    "UPDATE ballots SET state = %s, choice = %s, receipt = %s, nonce = %s "
    "WHERE ref = %s AND state IN (%s, %s) "
    "AND NOT EXISTS (SELECT 1 FROM sealed_results s WHERE s.election_id = ballots.election_id)"
)
_COLUMNS = ("ref", "election_id", "choice", "state", "receipt", "nonce", "position")


@dataclass(frozen=True)
class NewBallot:
    """A ballot to record: its reference, election and choice, and the receipt and the
    commitment's nonce it gets if it is new (``election.domain.receipts``)."""

    ref: bytes
    election_id: str
    choice: int
    receipt: str
    nonce: bytes


@dataclass(frozen=True)
class BallotRow:
    """What a ballot's row holds for its answer: its state, choice and receipt."""

    state: int
    choice: int | None
    receipt: str | None


def _insert_statement(rows: int) -> str:
    """``INSERT ... ON CONFLICT (ref) DO NOTHING RETURNING ref`` for ``rows`` ballots, from
    the model (the models must be bound to a database). Only the reference may conflict:
    a receipt drawn twice (one in 2**64 after 2**64 ballots) fails the batch, whose retry
    draws new ones, instead of passing for a stored ballot."""
    row = {
        "ref": b"",
        "election_id": "",
        "choice": 0,
        "state": BallotState.RECORDED,
        "receipt": "",
        "nonce": b"",
    }
    query = (
        Ballot.insert_many([row] * rows)
        .on_conflict(conflict_target=[Ballot.ref], action="IGNORE")
        .returning(Ballot.ref)
    )
    sql = str(query.sql()[0])
    # insert() binds the values in this order.
    columns = '("ref", "election_id", "choice", "state", "receipt", "nonce")'
    if columns not in sql or 'ON CONFLICT ("ref") DO NOTHING' not in sql:
        raise RuntimeError(f"unexpected ballot insert: {sql}")
    return sql


class BallotTable:
    """The ballots of one database. Thread-safe: each thread keeps its own connection."""

    def __init__(self, database: peewee.Database) -> None:
        self.database = database
        # Peewee writes the statement once per batch size; building it per vote was a
        # seventh of the recorder's CPU. Values are bound as parameters.
        self._insert_sql: dict[int, str] = {}

    def insert(self, ballots: Sequence[NewBallot]) -> set[bytes]:
        """Record ballots in one statement; the refs that were new (a ref already there,
        recorded or a tombstone, is left alone, and keeps its receipt).

        The rows go in a random order: a row's place in the table should not tell which
        vote of a batch it was."""
        if not ballots:
            return set()
        sql = self._insert_sql.get(len(ballots))
        if sql is None:
            sql = self._insert_sql[len(ballots)] = _insert_statement(len(ballots))
        shuffled = list(ballots)
        random.shuffle(shuffled)
        values: list[object] = []
        for new in shuffled:
            values += [
                new.ref,
                new.election_id,
                new.choice,
                BallotState.RECORDED,
                new.receipt,
                new.nonce,
            ]
        rows = self._run(lambda: self.database.execute_sql(sql, values).fetchall())
        return {bytes(row[0]) for row in rows}

    def states(self, refs: Collection[bytes]) -> dict[bytes, int]:
        """The state of each of ``refs`` that has a row."""
        return {ref: row.state for ref, row in self.rows(refs).items()}

    def rows(self, refs: Collection[bytes]) -> dict[bytes, BallotRow]:
        """The row of each of ``refs`` that has one."""
        if not refs:
            return {}
        query = (
            Ballot.select(Ballot.ref, Ballot.state, Ballot.choice, Ballot.receipt)
            .where(Ballot.ref.in_(list(refs)))
            .tuples()
        )
        return self._run(
            lambda: {
                bytes(ref): BallotRow(int(state), choice, receipt)
                for ref, state, choice, receipt in _rows(query)
            }
        )

    def tombstone(self, ref: bytes, election_id: str, state: int) -> bool:
        """Leave a tombstone under ``ref``; ``False`` if the ref has a row already."""
        query = (
            Ballot.insert(ref=ref, election_id=election_id, choice=None, state=state)
            .on_conflict_ignore()
            .returning(Ballot.ref)
        )
        return self._run(lambda: bool(list(query.execute())))

    def fence_many(self, fences: Mapping[bytes, str]) -> dict[bytes, BallotRow]:
        """Leave a fence (a ``FENCED`` tombstone) under each ref of ``fences`` (ref ->
        its election) that has no row yet, in one statement; the rows the others have."""
        if not fences:
            return {}
        query = (
            Ballot.insert_many(
                [
                    {
                        "ref": ref,
                        "election_id": election_id,
                        "choice": None,
                        "state": BallotState.FENCED,
                    }
                    for ref, election_id in fences.items()
                ]
            )
            .on_conflict_ignore()
            .returning(Ballot.ref)
            .tuples()
        )
        fenced = self._run(lambda: {bytes(row[0]) for row in _rows(query)})
        return self.rows(set(fences) - fenced)

    def supersede(self, ref: bytes) -> bool:
        """Mark a tombstone as superseded: its voter votes again, so it can never be
        restored. ``False`` if the ref is not a tombstone (a replay restored it)."""
        query = Ballot.update(state=BallotState.SUPERSEDED).where(
            (Ballot.ref == ref) & Ballot.state.in_(BallotState.TOMBSTONES)
        )
        return self._run(lambda: int(query.execute()) == 1)

    def restore(self, new: NewBallot) -> bool:
        """Record a given-up or fenced ballot after all (an operator's replay), with the
        receipt and nonce of ``new``; ``False``
        if its voter has voted again since, it is not a tombstone, or its election's
        result is sealed.

        The election's row is share-locked first, and ``ElectionRegistry.seal`` locks it
        for update before it counts: a restore and a seal never overlap, so a restore
        either counts in the sealed result or does not happen."""

        def guarded() -> bool:
            with self.database.atomic():
                self.database.execute_sql(_LOCK_ELECTION, (new.ref,))
                cursor = self.database.execute_sql(
                    _RESTORE,
                    (
                        BallotState.RECORDED,
                        new.choice,
                        new.receipt,
                        new.nonce,
                        new.ref,
                        *_RESTORABLE,
                    ),
                )
                return int(cursor.rowcount) == 1

        return self._run(guarded)

    def mix(self, election_id: str) -> int:
        """Rewrite an election's rows in one transaction, in reference order; how many.

        PostgreSQL keeps the order in which rows were stored (each row's ``xmin`` and
        ``ctid``), which anyone who saw who voted when could join to the voters. After a
        mix, every row of the election has the same ``xmin`` and its place follows its
        keyed reference. New inserts wait for the lock while it runs; rows stored after
        it keep their order until the next mix (docs/SECURITY.md)."""

        columns = ", ".join(_COLUMNS)

        def rewrite() -> int:
            with self.database.atomic():
                # The log's lock first, as its appends take it before their row locks:
                # otherwise an append and a mix of one election deadlock.
                self.database.execute_sql(
                    "SELECT pg_advisory_xact_lock(%s)", (lock_key(election_id),)
                )
                self.database.execute_sql("LOCK TABLE ballots IN SHARE ROW EXCLUSIVE MODE")
                self.database.execute_sql(
                    f"CREATE TEMPORARY TABLE mixing ON COMMIT DROP AS "
                    f"SELECT {columns} FROM ballots WHERE election_id = %s",
                    (election_id,),
                )
                self.database.execute_sql(
                    "DELETE FROM ballots WHERE election_id = %s", (election_id,)
                )
                cursor = self.database.execute_sql(
                    f"INSERT INTO ballots ({columns}) SELECT {columns} FROM mixing ORDER BY ref"
                )
                return int(cursor.rowcount)

        moved = self._run(rewrite)
        # The old row versions stay in the table's pages until a vacuum removes them.
        self._run(lambda: self.database.execute_sql("VACUUM ballots"))
        return moved

    def _run(self, call: Callable[[], T]) -> T:
        return on_thread_connection(self.database, call)


def on_thread_connection(database: peewee.Database, call: Callable[[], T]) -> T:
    """``call`` on the calling thread's own connection, kept open for its next call.

    Each worker thread keeps its own connection between messages (checking one out of the
    pool per message cost a fifth of the recorder's CPU); a connection that failed is
    closed, so the retry opens a fresh one."""
    database.connect(reuse_if_open=True)
    try:
        return call()
    except (peewee.OperationalError, peewee.InterfaceError):
        database.close()
        raise


def _rows(query: Any) -> list[tuple[Any, ...]]:
    # .tuples() yields plain rows; peewee's hints only know model rows.
    return cast("list[tuple[Any, ...]]", list(query))
