"""The declared elections in PostgreSQL: define, open, close, read, seal.

Every change is one transaction that also bumps the election's ``seq``, so the workers
that learn of changes through ``election changed`` events can order them, and a worker
that starts later rebuilds the same view from here. The rules (what may change when)
are the domain's (``election.domain.lifecycle``); this module keeps them true in storage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import peewee

from election.domain.ballot_rules import ElectionView
from election.domain.checkpoints import Checkpoint
from election.domain.errors import InvalidInput, OperatorDecision
from election.domain.lifecycle import (
    State,
    close_election,
    effective_state,
    may_change_definition,
    open_election,
    parse_state,
)
from election.domain.manifest import Definition, DefinitionConflict
from election.storage.ballot_log import APPEND_LIMIT, BallotLog
from election.storage.models import Election, RollEntry, SealedResult, tally

#: Roll tokens inserted per statement.
ROLL_CHUNK = 5_000


class NoSuchElection(InvalidInput):
    """No election of that ID is declared."""


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class ElectionRecord:
    """One declared election as stored."""

    election_id: str
    title: str
    choices: tuple[str, ...]
    manifest_sha256: str
    definition: str
    roll_size: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    stored_state: State
    seq: int
    changed_at_ms: int

    def state(self, now: datetime | None = None) -> State:
        """The state now: the stored one, moved on by the manifest's times."""
        moment = now or datetime.now(UTC)
        return effective_state(self.stored_state, moment, self.opens_at, self.closes_at)

    def view(self, roll: frozenset[bytes] | None, now: datetime | None = None) -> ElectionView:
        """What the voting logger checks a vote against."""
        return ElectionView(self.election_id, self.state(now), len(self.choices), roll)


@dataclass(frozen=True)
class SealedRecord:
    """An election's sealed result: votes per choice in ballot order, zeros included."""

    election_id: str
    counts: tuple[int, ...]
    total: int
    roll_size: int | None
    sealed_at_ms: int
    #: The log's final checkpoint (size and root) that the counts are the leaves of;
    #: ``None`` for a result sealed without the log.
    log_size: int | None = None
    log_root: bytes | None = None


def _final_checkpoint(ballot_log: BallotLog, election_id: str) -> Checkpoint:
    """Take the election's last ballots into its log; its final checkpoint."""
    while True:
        appended = ballot_log.append(election_id, final=True)
        assert appended is not None  # a final append always names a checkpoint
        if appended.taken < APPEND_LIMIT:
            return appended.signed.checkpoint


def _record(row: Election) -> ElectionRecord:
    return ElectionRecord(
        election_id=row.election_id,
        title=row.title,
        choices=tuple(json.loads(row.choices)),
        manifest_sha256=row.manifest_sha256,
        definition=row.definition,
        roll_size=row.roll_size,
        opens_at=_moment(row.opens_at_ms),
        closes_at=_moment(row.closes_at_ms),
        stored_state=parse_state(row.state),
        seq=row.seq,
        changed_at_ms=row.changed_at_ms,
    )


class ElectionRegistry:
    """The declared elections of one database (its models bound by ``open_database``)."""

    def __init__(self, database: peewee.Database) -> None:
        self.database = database

    def create(self, definition: Definition) -> tuple[ElectionRecord, bool]:
        """Declare an election in ``draft``; ``(record, True)`` when it was created.

        The same definition again is a no-op (``False``); a different one for an existing
        ID is refused (:class:`DefinitionConflict`), and so is any once it has opened.
        """
        manifest = definition.manifest
        with self.database.atomic():
            existing = Election.get_or_none(Election.election_id == manifest.election_id)
            if existing is not None:
                record = _record(existing)
                if record.definition != definition.digest:
                    if not may_change_definition(record.state()):
                        raise DefinitionConflict(
                            f"election {record.election_id} is {record.state().value}: "
                            "its ballot and roll can no longer change"
                        )
                    raise DefinitionConflict(
                        f"election {record.election_id} exists with a different manifest or roll"
                    )
                return record, False
            Election.insert(
                election_id=manifest.election_id,
                title=manifest.title,
                choices=json.dumps(list(manifest.choices)),
                manifest_sha256=manifest.sha256,
                definition=definition.digest,
                roll_size=None if definition.roll is None else len(definition.roll),
                opens_at_ms=_ms(manifest.opens_at),
                closes_at_ms=_ms(manifest.closes_at),
                state=State.DRAFT.value,
                seq=1,
                changed_at_ms=now_ms(),
            ).execute()
            self._insert_roll(manifest.election_id, definition.roll or ())
        return self.require(manifest.election_id), True

    def _insert_roll(self, election_id: str, tokens: Iterable[bytes]) -> None:
        rows = [{"election_id": election_id, "token": token} for token in sorted(tokens)]
        for start in range(0, len(rows), ROLL_CHUNK):
            RollEntry.insert_many(rows[start : start + ROLL_CHUNK]).execute()

    def get(self, election_id: str) -> ElectionRecord | None:
        """The election, or ``None`` when it is not declared."""
        row = Election.get_or_none(Election.election_id == election_id)
        return None if row is None else _record(row)

    def require(self, election_id: str) -> ElectionRecord:
        """The election; :class:`NoSuchElection` when it is not declared."""
        record = self.get(election_id)
        if record is None:
            raise NoSuchElection(f"no such election: {election_id}")
        return record

    def all(self) -> list[ElectionRecord]:
        """Every declared election, by ID."""
        return [_record(row) for row in Election.select().order_by(Election.election_id)]

    def changed_since(self, seq_by_id: dict[str, int]) -> list[ElectionRecord]:
        """The elections that are new or have changed against ``seq_by_id``."""
        return [r for r in self.all() if seq_by_id.get(r.election_id) != r.seq]

    def roll(self, election_id: str) -> frozenset[bytes] | None:
        """The roll's voter tokens, or ``None`` when the election has no roll."""
        record = self.require(election_id)
        if record.roll_size is None:
            return None
        query = RollEntry.select(RollEntry.token).where(RollEntry.election_id == election_id)
        # .tuples() yields (token,) rows; peewee's hints only know model rows.
        tokens = cast("list[tuple[bytes]]", list(query.tuples()))
        return frozenset(bytes(token) for (token,) in tokens)

    def open(self, election_id: str) -> ElectionRecord:
        """Open the election (``TransitionRefused`` says why not)."""
        return self._move(election_id, open_election)

    def close(self, election_id: str) -> ElectionRecord:
        """Mark the election closed (final). The exact close around it is the caller's
        (``actors.closing``): this is only the stored state."""
        return self._move(election_id, close_election, closed_ok=True)

    def _move(
        self, election_id: str, step: Callable[[str, State], State], *, closed_ok: bool = False
    ) -> ElectionRecord:
        with self.database.atomic():
            row = (
                Election.select()
                .where(Election.election_id == election_id)
                .for_update()
                .get_or_none()
            )
            if row is None:
                raise NoSuchElection(f"no such election: {election_id}")
            record = _record(row)
            current = record.state()
            if closed_ok and current is State.CLOSED:
                new = State.CLOSED  # closing again (say, after its closes_at) is how it is sealed
            else:
                new = step(election_id, current)
            Election.update(state=new.value, seq=Election.seq + 1, changed_at_ms=now_ms()).where(
                Election.election_id == election_id
            ).execute()
        return self.require(election_id)

    def counts(self, election_id: str) -> dict[int, int]:
        """Recorded ballots per choice index, as the ballots table has them now."""
        return tally(election_id)

    def seal(self, election_id: str, ballot_log: BallotLog | None = None) -> SealedRecord:
        """Store the election's result from its recorded ballots, once: a second call
        returns the result sealed first. The caller makes sure nothing is on its way.

        With ``ballot_log`` (``election close`` always gives it), the log takes in the
        last ballots and signs its final checkpoint first, in the same transaction, and
        the result counts the log's leaves and names that checkpoint."""
        record = self.require(election_id)
        with self.database.atomic():
            # Locked against a restore of one of its ballots (``BallotTable.restore``).
            Election.select().where(Election.election_id == election_id).for_update().get()
            sealed = self.sealed(election_id)
            if sealed is not None:
                return sealed
            final = None if ballot_log is None else _final_checkpoint(ballot_log, election_id)
            counts = tally(election_id, logged_only=final is not None)
            unlogged = {} if final is None else tally(election_id, unlogged_only=True)
            if unlogged:
                raise OperatorDecision(
                    f"{sum(unlogged.values())} recorded ballots of election {election_id} are "
                    f"not in its log (malformed rows?); nothing was sealed: run `election "
                    f"audit --election-id {election_id}`"
                )
            if final is not None and sum(counts.values()) != final.size:
                raise OperatorDecision(
                    f"election {election_id}'s log holds {final.size} leaves but "
                    f"{sum(counts.values())} logged ballots; nothing was sealed: run "
                    f"`election audit --election-id {election_id}`"
                )
            ordered = [counts.get(index, 0) for index in range(len(record.choices))]
            off_ballot = set(counts) - set(range(len(record.choices)))
            if off_ballot:
                raise InvalidInput(
                    f"election {election_id} has recorded votes for choices not on its "
                    f"ballot ({sorted(off_ballot)}); nothing was sealed"
                )
            SealedResult.insert(
                election_id=election_id,
                counts=json.dumps(ordered),
                total=sum(ordered),
                roll_size=record.roll_size,
                sealed_at_ms=now_ms(),
                log_size=None if final is None else final.size,
                log_root=None if final is None else final.root,
            ).execute()
        result = self.sealed(election_id)
        assert result is not None
        return result

    def sealed(self, election_id: str) -> SealedRecord | None:
        """The sealed result, or ``None`` before the close."""
        row = SealedResult.get_or_none(SealedResult.election_id == election_id)
        if row is None:
            return None
        return SealedRecord(
            row.election_id,
            tuple(json.loads(row.counts)),
            row.total,
            row.roll_size,
            row.sealed_at_ms,
            None if row.log_size is None else int(row.log_size),
            None if row.log_root is None else bytes(row.log_root),
        )
