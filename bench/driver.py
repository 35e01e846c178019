"""Closed-loop load: M simulated voting machines in one process.

Each machine sends its next vote as soon as the answer to its previous one arrives (no
interval), with a voter nobody used before, so every vote should be recorded. All answers
come through one subscription whose filter selects every machine of this run with
``hasPrefix`` on the machine ID.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from config import Settings
from election.domain import protocol
from election.domain.filters import parse_filter
from election.domain.outcomes import percentile
from election.pubsub.client import (
    CALL_TIMEOUT,
    Publisher,
    admin_retry,
    subscription_path,
    topic_path,
)
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage


@dataclass
class LoadResult:
    """What one closed-loop run measured."""

    machines: int
    sent: int
    answered: int
    timed_out: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    #: For each answer, seconds from its publish (the server's stamp, read on this
    #: machine's clock: the emulator runs here) to its arrival; ``None`` if unstamped.
    answer_lags: list[float | None] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    #: The receipt of each ``successful`` answer, with its arrival (wall clock, seconds).
    receipts: dict[str, float] = field(default_factory=dict)

    @property
    def votes_per_s(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def latency_ms(self, fraction: float) -> float | None:
        ordered = sorted(self.latencies)
        return percentile(ordered, fraction) * 1000 if ordered else None

    def hops_ms(self, fraction: float) -> tuple[float, float] | None:
        """Where the answers around this percentile spent their time, in ms: the mean time
        until the answer was published (the services' hops, or the relays'), and the mean
        time from there to the machine. The two add up to their mean latency."""
        timed = sorted(
            (total, lag)
            for total, lag in zip(self.latencies, self.answer_lags, strict=True)
            if lag is not None
        )
        if not timed:
            return None
        # The answers ranked within 5% of ``fraction``: one at least.
        low = min(int(len(timed) * max(0.0, fraction - 0.05)), len(timed) - 1)
        high = max(low + 1, int(len(timed) * min(1.0, fraction + 0.05)))
        window = timed[low:high]
        lag_ms = sum(lag for _, lag in window) * 1000 / len(window)
        total_ms = sum(total for total, _ in window) * 1000 / len(window)
        return total_ms - lag_ms, lag_ms


class ClosedLoop:
    """Drives ``machines`` machines until ``votes`` answers (or time-outs) are in."""

    def __init__(
        self,
        settings: Settings,
        subscriber: pubsub_v1.SubscriberClient,
        *,
        first_function: str,
        election_id: str,
        timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.client = subscriber
        self.first_function = first_function
        self.election_id = election_id
        self.timeout_s = timeout_s
        self.prefix = f"b{secrets.token_hex(3)}-"
        self.publisher = Publisher(settings)
        self.subscription = subscription_path(
            settings, f"{settings.namespace}-bench-{self.prefix}0"
        )
        self._voters = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, float]] = {}
        self._done = threading.Event()
        self._subscriber: FilteredSubscriber | None = None
        self._result: LoadResult | None = None
        self._budget = 0

    def open(self) -> None:
        text = protocol.machine_prefix_filter(self.prefix)
        self.client.create_subscription(
            request={
                "name": self.subscription,
                "topic": topic_path(self.settings),
                "filter": text,
                "ack_deadline_seconds": 10,
                "expiration_policy": {"ttl": duration_pb2.Duration(seconds=24 * 3600)},
            },
            timeout=CALL_TIMEOUT,
            retry=admin_retry(),
        )
        self._subscriber = FilteredSubscriber(
            self.client,
            self.subscription,
            self._on_answers,
            message_filter=parse_filter(text),
            batch=500,
        )
        self._subscriber.start()

    def close(self) -> None:
        if self._subscriber is not None:
            self._subscriber.stop(10)
        self.client.delete_subscription(
            subscription=self.subscription, timeout=CALL_TIMEOUT, retry=admin_retry()
        )
        self.publisher.close()

    def run(
        self,
        machines: int,
        votes: int,
        progress: Callable[[int, int], None] | None = None,
        limit_s: float = 600.0,
    ) -> LoadResult:
        """Send ``votes`` votes from ``machines`` machines, closed loop; bounded in time."""
        result = LoadResult(machines, 0, 0, 0, 0.0)
        with self._lock:
            self._result = result
            self._budget = votes
            self._pending.clear()
        self._done.clear()
        started = time.monotonic()
        self._publish([self._next_vote(machine) for machine in range(min(machines, votes))])
        deadline = started + limit_s
        while not self._done.wait(0.2):
            self._expire()
            if progress is not None:
                progress(result.answered + result.timed_out, votes)
            if time.monotonic() > deadline:
                break
        result.seconds = time.monotonic() - started
        if progress is not None:
            progress(result.answered + result.timed_out, votes)
        return result

    def _next_vote(self, machine: int) -> protocol.OutgoingMessage | None:
        """The next vote of ``machine``, or ``None`` when the run's budget is spent."""
        with self._lock:
            if self._budget <= 0:
                return None
            self._budget -= 1
            assert self._result is not None
            self._result.sent += 1
        uuid = secrets.token_hex(16)
        body = {
            "machine_ID": f"{self.prefix}{machine}",
            "voter_ID": next(self._voters),
            "voting": machine % 5,
            "election_ID": self.election_id,
            "UUID": uuid,
            "timestamp": int(time.time() * 1000),
        }
        with self._lock:
            self._pending[uuid] = (machine, time.monotonic())
        return protocol.OutgoingMessage(
            body=body,
            attributes={
                protocol.FUNCTION: self.first_function,
                protocol.MACHINE_ID: f"{self.prefix}{machine}",
            },
        )

    def _publish(self, votes: list[protocol.OutgoingMessage | None]) -> None:
        self.publisher.publish_many([vote for vote in votes if vote is not None])

    def _finish(
        self,
        uuid: str,
        answer: str | None,
        now: float,
        lag: float | None = None,
        receipt: tuple[str, float] | None = None,
    ) -> protocol.OutgoingMessage | None:
        """Count the answer (``None``: timed out) that arrived at ``now`` (monotonic), ``lag``
        seconds after its publish; the machine's next vote, if any."""
        with self._lock:
            found = self._pending.pop(uuid, None)
            if found is None or self._result is None:
                return None
            machine, sent_at = found
            if answer is None:
                self._result.timed_out += 1
            else:
                self._result.answered += 1
                self._result.latencies.append(now - sent_at)
                self._result.answer_lags.append(lag)
                self._result.outcomes[answer] = self._result.outcomes.get(answer, 0) + 1
                if receipt is not None:
                    self._result.receipts[receipt[0]] = receipt[1]
            finished = self._budget <= 0 and not self._pending
        if finished:
            self._done.set()
            return None
        return self._next_vote(machine)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.timeout_s
        with self._lock:
            late = [uuid for uuid, (_, sent) in self._pending.items() if sent < cutoff]
        now = time.monotonic()
        self._publish([self._finish(uuid, None, now) for uuid in late])

    def _on_answers(self, messages: list[PulledMessage]) -> None:
        """Every answer of one pull; the machines' next votes go out in one publish."""
        following = []
        # One arrival time for the whole pull: the work below is the driver's, not a hop's.
        now, wall = time.monotonic(), time.time()
        for message in messages:
            message.ack()
            body = json.loads(message.data)
            lag = None if message.publish_time is None else wall - message.publish_time
            receipt = body.get(protocol.RECEIPT)
            following.append(
                self._finish(
                    str(body.get("UUID")),
                    str(body.get("result")),
                    now,
                    lag,
                    (receipt, wall) if isinstance(receipt, str) else None,
                )
            )
        self._publish(following)
