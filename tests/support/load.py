"""A steady voting load from several machines, and the check of the promise after a fault.

The promise: every ballot a machine was told was recorded is counted exactly once; no
ballot is counted that nobody cast; every answer is true; a ballot that timed out is,
after recovery, either recorded (and answered late) or its voter is free to vote again.
Every fourth ballot of the load is a repeat voter, and after the fault every voter votes
once more (``tests.support.recheck`` judges all of it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.api_core import exceptions as api_exceptions

from election.domain.outcomes import Kind, Outcome
from election.domain.protocol import OutgoingMessage
from election.machine.board import Cast as CastResult
from election.machine.voting import TopicMissing, VotingMachine
from election.pubsub.client import Publisher, topic_path
from tests.support import recheck
from tests.support.processes import wait_for
from tests.support.system import ElectionSystem


class DuplicatingPublisher(Publisher):
    """Publishes every message twice, as a faulty client or network might."""

    def publish_many(self, messages: Sequence[OutgoingMessage], timeout: float = 30.0) -> list[str]:
        first = super().publish_many(messages, timeout)
        super().publish_many(messages, timeout)
        return first


@dataclass
class Cast:
    """One ballot of the load."""

    uuid: str
    voter: int
    machine: str
    outcome: Outcome
    choice: int = 0


@dataclass
class FaultRow:
    """One line of the fault table."""

    fault: str
    sent: int
    recorded: int
    answered: int
    timed_out: int
    lost: int
    doubled: int
    wrong: int = 0
    rechecked: int = 0
    notes: list[str] = field(default_factory=list)

    HEADER = (
        f"{'fault':<36} {'sent':>5} {'recorded':>8} {'answered':>8} "
        f"{'timed out':>9} {'lost':>4} {'doubled':>7} {'wrong':>5} {'rechecked':>9}"
    )

    def line(self) -> str:
        return (
            f"{self.fault:<36} {self.sent:>5} {self.recorded:>8} {self.answered:>8} "
            f"{self.timed_out:>9} {self.lost:>4} {self.doubled:>7} {self.wrong:>5} "
            f"{self.rechecked:>9}"
        )


class Load:
    """``machines`` voting machines, each voting as fast as answers come (unique voters)."""

    def __init__(
        self,
        system: ElectionSystem,
        election: str,
        *,
        machines: int = 4,
        votes: int = 60,
        timeout: float = 8.0,
        publisher: Publisher | None = None,
    ) -> None:
        self.system = system
        self.election = election
        self.votes = votes
        self.timeout = timeout
        self.publisher = publisher or Publisher(system.settings)
        self.machines = [
            VotingMachine(system.settings, f"ld{election}-{n}", election, publisher=self.publisher)
            for n in range(machines)
        ]
        self.casts: list[Cast] = []
        #: Votes not sent because the topic was missing (each was sent again once it was
        #: back: see :meth:`_cast`).
        self.topic_missing = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> Load:
        for machine in self.machines:
            machine.open()
        self._threads = [
            threading.Thread(target=self._vote, args=(n, machine), daemon=True)
            for n, machine in enumerate(self.machines)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _vote(self, index: int, machine: VotingMachine) -> None:
        for n in range(self.votes):
            # Every fourth ballot is a repeat voter: one this machine sent two ballots ago.
            voter = (index + 1) * 1_000_000 + (n - 2 if n % 4 == 3 else n)
            cast = self._cast(machine, voter, n % 5)
            with self._lock:
                self.casts.append(Cast(cast.uuid, voter, machine.machine_id, cast.outcome, n % 5))

    def _cast(self, machine: VotingMachine, voter: int, choice: int) -> CastResult:
        """Cast one vote; if the topic is missing (the vote was not sent), wait until the
        topic and the machine's own subscription are back, as a person at a machine
        would, and vote again."""
        while True:
            try:
                return machine.cast(voter, choice, self.timeout)
            except TopicMissing:
                with self._lock:
                    self.topic_missing += 1
                wait_for(
                    lambda: self._listening(machine),
                    120,
                    f"the topic and {machine.machine_id}'s subscription",
                    interval=0.2,
                )

    def _listening(self, machine: VotingMachine) -> bool:
        """Whether the topic and ``machine``'s answer subscription both exist."""
        try:
            self.publisher.client.get_topic(topic=topic_path(self.system.settings), timeout=5)
            machine.client.get_subscription(subscription=machine.subscription, timeout=5)
        except api_exceptions.GoogleAPICallError:  # missing, or the server not back yet
            return False
        return True

    @property
    def sent(self) -> int:
        with self._lock:
            return len(self.casts)

    def wait_until_sent(self, count: int, timeout: float = 120.0) -> None:
        wait_for(lambda: self.sent >= count, timeout, f"{count} ballots sent")

    def finish(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "the load did not finish"

    def late_outcome(self, uuid: str) -> Outcome | None:
        for machine in self.machines:
            if uuid in machine.late:
                return machine.late[uuid]
        return None

    def close(self) -> None:
        for machine in self.machines:
            machine.close()


def settle_and_check(
    load: Load,
    fault: str,
    recovery_s: float = 120.0,
    *,
    suspended_ok: bool = False,
    still_suspended: bool = False,
) -> FaultRow:
    """Wait for timed-out ballots to settle, then have every voter of the load vote once
    more, and judge every answer against the stored rows (``tests.support.recheck``)."""
    system = load.system
    casts = list(load.casts)
    timed_out = [c for c in casts if c.outcome.kind is Kind.TIMED_OUT]
    voters = sorted({c.voter for c in casts})

    def settled() -> bool:
        recorded = system.recorded(load.election, [c.uuid for c in timed_out], voters)
        return all(c.uuid in recorded or load.late_outcome(c.uuid) for c in timed_out)

    # What is still unsettled afterwards is judged below, like every other ballot.
    with contextlib.suppress(AssertionError):
        wait_for(settled, recovery_s, "timed-out ballots to be recorded or answered")
    probes = _probe(load, sorted({c.voter for c in casts}))
    ballots = [
        recheck.Ballot(c.uuid, c.voter, c.outcome, load.late_outcome(c.uuid)) for c in casts
    ] + [recheck.Ballot(p.uuid, p.voter, p.outcome, probe=True) for p in probes]
    uuids = [b.uuid for b in ballots]
    recorded = system.recorded(load.election, uuids, voters)
    rows = system.rows(load.election)
    verdict = recheck.judge(
        ballots,
        recorded,
        len(rows) - len(recorded),
        suspended_ok=suspended_ok,
        still_suspended=still_suspended,
    )
    return FaultRow(
        fault=fault,
        sent=len(casts),
        recorded=len(recorded - {p.uuid for p in probes}),
        answered=len(casts) - len(timed_out),
        timed_out=len(timed_out),
        lost=verdict.lost,
        doubled=verdict.doubled,
        wrong=verdict.wrong,
        rechecked=verdict.rechecked,
        notes=verdict.notes,
    )


#: Probe machines that vote again for the load's voters, side by side.
PROBES = 4


def _probe(load: Load, voters: list[int]) -> list[Cast]:
    """Cast a fresh ballot for each voter: a free voter's is recorded, a counted voter's
    is a repeat."""
    machines = [
        VotingMachine(
            load.system.settings,
            f"ld{load.election}-probe{n}",
            load.election,
            publisher=load.publisher,
        )
        for n in range(PROBES)
    ]
    casts: list[Cast] = []
    lock = threading.Lock()

    def vote(machine: VotingMachine, mine: list[int]) -> None:
        for voter in mine:
            cast = machine.cast(voter, 0, timeout=20.0)
            with lock:
                casts.append(Cast(cast.uuid, voter, machine.machine_id, cast.outcome))

    for machine in machines:
        machine.open()
    try:
        threads = [
            threading.Thread(target=vote, args=(m, voters[n::PROBES]), daemon=True)
            for n, m in enumerate(machines)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        return casts
    finally:
        for machine in machines:
            machine.close()
