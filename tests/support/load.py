"""A steady voting load from several machines, and the check of the promise after a fault.

The promise: every ballot a machine was told was recorded is counted exactly once; no
ballot is counted that nobody cast; a ballot that timed out is, after recovery, either
recorded (and answered late) or its voter is free to vote again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from election.machine import VotingMachine
from election.outcomes import Kind, Outcome
from election.protocol import OutgoingMessage
from election.pubsub import Publisher
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
    notes: list[str] = field(default_factory=list)

    HEADER = (
        f"{'fault':<34} {'sent':>6} {'recorded':>9} {'answered':>9} "
        f"{'timed out':>10} {'lost':>5} {'doubled':>8}"
    )

    def line(self) -> str:
        return (
            f"{self.fault:<34} {self.sent:>6} {self.recorded:>9} {self.answered:>9} "
            f"{self.timed_out:>10} {self.lost:>5} {self.doubled:>8}"
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
            voter = (index + 1) * 1_000_000 + n
            cast = machine.cast(voter, n % 5, self.timeout)
            with self._lock:
                self.casts.append(Cast(cast.uuid, voter, machine.machine_id, cast.outcome, n % 5))

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


def settle_and_check(load: Load, fault: str, recovery_s: float = 120.0) -> FaultRow:
    """Wait for timed-out ballots to settle, then count what was lost and what doubled."""
    system = load.system
    casts = list(load.casts)
    timed_out = [c for c in casts if c.outcome.kind is Kind.TIMED_OUT]

    def settled() -> bool:
        recorded = {row.uuid for row in system.rows(load.election)}
        return all(c.uuid in recorded or load.late_outcome(c.uuid) for c in timed_out)

    # What is still unsettled afterwards is judged below: recorded, or its voter is free.
    with contextlib.suppress(AssertionError):
        wait_for(settled, recovery_s, "timed-out ballots to be recorded or answered")
    # A timed-out ballot that was not recorded must have left its voter free: vote again.
    recorded_now = {row.uuid for row in system.rows(load.election)}
    probes = _probe(load, [c for c in timed_out if c.uuid not in recorded_now])
    rows = system.rows(load.election)
    recorded = Counter(row.uuid for row in rows)
    known = {c.uuid: c for c in [*casts, *probes]}
    told_recorded = [
        c
        for c in casts
        if Kind.RECORDED in (c.outcome.kind, getattr(load.late_outcome(c.uuid), "kind", None))
    ]
    lost = [c for c in told_recorded if recorded[c.uuid] != 1]
    locked_out = [
        p
        for p in probes
        if p.outcome.kind is not Kind.RECORDED
        and not any(recorded[c.uuid] for c in timed_out if c.voter == p.voter)
    ]
    phantom = [uuid for uuid in recorded if uuid not in known]
    per_voter = Counter(known[uuid].voter for uuid in recorded if uuid in known)
    doubled = [voter for voter, n in per_voter.items() if n > 1]
    notes = [f"lost (told recorded, no row): {c.uuid}" for c in lost]
    notes += [f"voter {p.voter} locked out: probe got {p.outcome}" for p in locked_out]
    notes += [f"row nobody cast: {uuid}" for uuid in phantom]
    notes += [f"voter {voter} has {per_voter[voter]} rows" for voter in doubled]
    return FaultRow(
        fault=fault,
        sent=len(casts),
        recorded=len(rows) - sum(1 for p in probes if recorded[p.uuid]),
        answered=len(casts) - len(timed_out),
        timed_out=len(timed_out),
        lost=len(lost) + len(locked_out),
        doubled=len(doubled) + len(phantom),
        notes=notes,
    )


def _probe(load: Load, unrecorded: list[Cast]) -> list[Cast]:
    """Cast a fresh ballot for each voter; a free voter's is recorded."""
    if not unrecorded:
        return []
    probe = VotingMachine(
        load.system.settings,
        f"ld{load.election}-probe",
        load.election,
        publisher=load.publisher,
    )
    probe.open()
    try:
        casts = []
        for c in unrecorded:
            cast = probe.cast(c.voter, 0, timeout=20.0)
            casts.append(Cast(cast.uuid, c.voter, probe.machine_id, cast.outcome))
        return casts
    finally:
        probe.close()
