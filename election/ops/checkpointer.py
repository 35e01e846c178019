"""The checkpointer: takes recorded ballots into their election's log, off the voting path.

Every :data:`INTERVAL_S` it looks for elections with ballots the log has not taken in,
appends them (``election.storage.ballot_log``) and signs a checkpoint of each, so a
ballot is in a signed checkpoint a second or two after its ``successful`` answer. Several
instances may run (the appends take turns on a lock per election); one is enough.
"""

from __future__ import annotations

import threading
import time

import peewee
import structlog

from election.domain.checkpoints import SignedCheckpoint
from election.domain.signing import now_ms
from election.storage.ballot_log import APPEND_LIMIT, BallotLog

log = structlog.get_logger(__name__)

#: Seconds between two passes; the checkpoint lag is about this plus a pass.
INTERVAL_S = 1.0
#: Back-off bounds after a pass failed (PostgreSQL restarting).
BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 10.0


class Checkpointer:
    """Appends each election's new ballots to its log, every ``interval_s``."""

    def __init__(self, ballot_log: BallotLog, interval_s: float = INTERVAL_S) -> None:
        self.ballot_log = ballot_log
        self.interval_s = interval_s

    def pass_once(self) -> list[SignedCheckpoint]:
        """One pass: a new checkpoint for each election that had new ballots."""
        made: list[SignedCheckpoint] = []
        database = self.ballot_log.database
        with database.connection_context():
            for election_id in self.ballot_log.behind():
                # Again at once only after a full append (a backlog catching up).
                while True:
                    started = time.monotonic()
                    appended = self.ballot_log.append(election_id)
                    if appended is None:
                        break
                    made.append(appended.signed)
                    checkpoint = appended.signed.checkpoint
                    # One line per checkpoint: the unit of this process's work.
                    log.info(
                        "log.checkpoint",
                        election_id=election_id,
                        size=checkpoint.size,
                        root=checkpoint.root.hex(),
                        taken=appended.taken,
                        took_ms=round((time.monotonic() - started) * 1000, 1),
                    )
                    if appended.taken < APPEND_LIMIT:
                        break  # the rest waits for the next pass
        return made

    def run(self, stop: threading.Event) -> None:
        """Pass every ``interval_s`` until ``stop`` is set; a failed pass is logged and
        tried again after a back-off (nothing is lost: the rows wait in the table)."""
        backoff = BACKOFF_MIN_S
        log.info("checkpointer.started", interval_s=self.interval_s, at_ms=now_ms())
        while not stop.wait(self.interval_s):
            try:
                self.pass_once()
            except peewee.PeeweeException as exc:  # peewee wraps the driver's errors
                log.warning("checkpointer.pass_failed", error=str(exc), retry_in_s=backoff)
                if stop.wait(backoff):
                    break
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_MIN_S
        log.info("checkpointer.stopped")
