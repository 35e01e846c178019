"""The exact close of an election: barrier, announce, drain, seal.

``election close E`` (``election.cli.closing``) runs :meth:`ElectionCloser.close`:

1. **the stored state**: ``ElectionRegistry.close`` (a draft may be closed too; an
   election closed already, by hand or by its ``closes_at``, is closed again, which is how
   it gets sealed);
2. **the barrier**: ``close_now`` in the dedup Redis. Every claim and reclaim of E reads
   it in the claim script (``actors.claims``), so from here on no logger worker can claim
   a voter of E, however late it hears of the close; and since no claim can appear any
   more, one scan of E's claims after it sees every ballot that will ever count;
3. **the announcement**: a signed ``election changed``, so the loggers' books refuse E's
   votes before they reach Redis (a failed publish changes nothing exact: the barrier
   answers the same ``rejected: election E is closed``);
4. **the drain**: wait, bounded, until every claim of E has a row in ``ballots``
   (recorded, or a tombstone). A claim older than ``CLAIM_STALE_S`` with no row is fenced,
   as the logger fences it (a tombstone: a late record of it can never count);
5. **the seal**: ``ElectionRegistry.seal`` stores the counts, which never change again
   (a trigger refuses it; a recorder stores nothing of a sealed election).

So when it returns, every ballot accepted before the barrier is recorded or fenced, and
the sealed result is exactly the ballots answered ``successful``. An election whose
result is sealed already is only reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import structlog
from google.api_core import exceptions as api_exceptions

from actors.audit import claim_views, election_rows
from actors.ballots import BallotTable
from actors.claims import Seal, VoterClaims
from config import Settings
from election.domain.errors import ProcessFailed
from election.domain.secrecy import VoterSecrets
from election.ops.announce import announce
from election.ops.log_signing import checkpoint_signer
from election.pubsub.client import Publisher
from election.storage.ballot_log import BallotLog
from election.storage.close_barrier import close_now
from election.storage.elections import ElectionRecord, ElectionRegistry, SealedRecord
from election.storage.models import BallotState

log = structlog.get_logger(__name__)

#: Seconds between two looks at the ballots still on their way.
DRAIN_POLL_S = 0.1


class DrainTimedOut(ProcessFailed):
    """Ballots of the election were still on their way when the drain's time ran out."""


@dataclass(frozen=True)
class Drained:
    """What the drain found: claims, rows recorded, tombstones, and those it fenced."""

    claims: int
    recorded: int
    tombstones: int
    fenced: int
    waited_s: float


@dataclass(frozen=True)
class Closed:
    """The outcome of ``election close``; ``drained`` is ``None`` when it was sealed
    already, ``announced`` whether the event was published."""

    record: ElectionRecord
    sealed: SealedRecord
    drained: Drained | None
    announced: bool


#: Called with (ballots stored or fenced, claims) while the drain waits.
Progress = Callable[[int, int], None]


class ElectionCloser:
    """Closes elections of one namespace exactly (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        registry: ElectionRegistry,
        client: redis.Redis,
        publisher: Publisher,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.client = client
        self.publisher = publisher
        self.secrets = VoterSecrets(settings.require_voter_key())
        self.claims = VoterClaims(client, settings.namespace, Seal("", ""))  # scans only
        self.ballots = BallotTable(registry.database)
        # The seal takes the last ballots into the log and signs its final checkpoint.
        self.ballot_log = BallotLog(registry.database, checkpoint_signer(settings))
        self.progress = progress

    def close(self, election_id: str, timeout_s: float) -> Closed:
        """Close ``election_id``; raise :class:`DrainTimedOut` (nothing sealed) if its
        ballots on their way are not all stored or fenced within ``timeout_s``."""
        record = self.registry.require(election_id)
        sealed = self.registry.sealed(election_id)
        if sealed is not None:
            close_now(self.client, self.settings.namespace, election_id)  # idempotent
            return Closed(record, sealed, None, announced=False)
        record = self.registry.close(election_id)
        close_now(self.client, self.settings.namespace, election_id)
        announced = self._announce(record)
        drained = self.drain(election_id, timeout_s)
        sealed = self.registry.seal(election_id, self.ballot_log)
        log.info(
            "election.closed",
            election_id=election_id,
            total=sealed.total,
            claims=drained.claims,
            fenced=drained.fenced,
            drain_s=round(drained.waited_s, 3),
            announced=announced,
        )
        return Closed(record, sealed, drained, announced)

    def _announce(self, record: ElectionRecord) -> bool:
        try:
            announce(self.settings, self.publisher, record)
        except api_exceptions.GoogleAPICallError as exc:
            log.warning("election.announce_failed", election_id=record.election_id, error=str(exc))
            return False
        return True

    def drain(self, election_id: str, timeout_s: float) -> Drained:
        """Wait until every claim of the election has a row, fencing stale ones (call it
        after the barrier: then no claim can appear, and one scan sees them all)."""
        started = time.monotonic()
        views = {view.ref: view for view in claim_views(election_id, self.claims, self.secrets)}
        rows = election_rows(election_id, self.ballots.database)
        pending = {ref: view for ref, view in views.items() if ref not in rows}
        fenced = 0
        while True:
            now_s = int(self.client.time()[0])  # claims are stamped by Redis' clock
            stale = [
                ref
                for ref, view in pending.items()
                if now_s - view.claimed_at >= self.settings.claim_stale_s
            ]
            for ref in stale:
                if self.ballots.tombstone(ref, election_id, BallotState.FENCED):
                    log.warning("vote.fenced", election_id=election_id, at="close")
                    fenced += 1
            found = self.ballots.states(list(pending))
            rows.update(found)
            for ref in found:
                del pending[ref]
            if self.progress is not None:
                self.progress(len(views) - len(pending), len(views))
            if not pending:
                break
            if time.monotonic() - started > timeout_s:
                raise DrainTimedOut(
                    f"{len(pending)} ballots of election {election_id} are still on their way "
                    f"after {timeout_s:.0f} s (its votes are refused already); nothing was "
                    f"sealed: run `election close {election_id}` again"
                )
            time.sleep(DRAIN_POLL_S)
        held = [rows[ref] for ref in views]
        recorded = sum(state == BallotState.RECORDED for state in held)
        return Drained(
            len(views), recorded, len(held) - recorded, fenced, time.monotonic() - started
        )
