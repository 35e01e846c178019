"""What a voting machine waits for: the ballots it sent, and what became of each.

:class:`AnswerBoard` is the one piece of the machine shared between the thread that sends
a vote and the subscriber's threads that deliver answers, so it lives apart from the
machine's Pub/Sub plumbing (``election.machine.voting``) and is tested on its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass

from election.domain.outcomes import Outcome


@dataclass(frozen=True)
class Cast:
    """One vote sent and what became of it; ``latency`` is ``None`` on time-out."""

    uuid: str
    voter_id: int
    choice: int
    outcome: Outcome
    latency: float | None


class AnswerBoard:
    """Ballots waiting for an answer, by UUID, resolved from the subscriber's threads.

    It remembers the last :data:`REMEMBERED` ballots it stopped waiting for (answered or
    timed out), so a late or repeated answer is told apart from another machine's.
    """

    REMEMBERED = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Future[Outcome]] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()

    def expect(self, uuid: str) -> Future[Outcome]:
        """Start waiting for ``uuid``."""
        future: Future[Outcome] = Future()
        with self._lock:
            self._pending[uuid] = future
        return future

    def give_up(self, uuid: str) -> None:
        """Stop waiting for ``uuid`` (it timed out); a later answer is logged as late."""
        with self._lock:
            self._pending.pop(uuid, None)
            self._remember(uuid)

    def waiting_for(self, uuid: str) -> bool:
        """Whether a vote of this machine waits for the answer to ``uuid``."""
        with self._lock:
            return uuid in self._pending

    def resolve(self, uuid: str, outcome: Outcome) -> str:
        """Deliver an answer: ``"current"``, ``"late"`` (or repeated), or ``"foreign"``."""
        with self._lock:
            future = self._pending.pop(uuid, None)
            if future is None:
                return "late" if uuid in self._finished else "foreign"
            self._remember(uuid)
        future.set_result(outcome)
        return "current"

    def _remember(self, uuid: str) -> None:
        self._finished[uuid] = None
        if len(self._finished) > self.REMEMBERED:
            self._finished.popitem(last=False)
