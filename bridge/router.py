"""Routes: which subscription feeds which actor, and how a Pub/Sub message becomes a
Dramatiq message.

The Pub/Sub message is acknowledged only after the Dramatiq enqueue returned (Redis
answered, or RabbitMQ confirmed); if the enqueue fails it is nacked and Pub/Sub
redelivers it. A crash in between at worst enqueues twice, which the actors absorb
(claims remember the ballot UUID, records are unique by UUID).
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import structlog

from actors.payload import to_args
from election.subscriber import PulledMessage

log = structlog.get_logger(__name__)


#: Most Pub/Sub messages carried by the first Dramatiq message of a pull, and by each of
#: the rest. The bridge sends a pull's batches one after another (each waits for
#: RabbitMQ's confirm). A small first batch lets the worker start on a wave while the
#: rest follow, which at M=50 often saves an emulator cycle; large batches for the rest
#: keep a busy bridge's cost per vote low: fewer enqueues, fetches, acks and publishes
#: (docs/SCALING.md, step 6). With pulls of ``election.subscriber.BATCH`` (100), the
#: rest of a pull is one batch.
FIRST_BATCH = 25
MAX_BATCH = 100


def batch_bounds(count: int, first: int = FIRST_BATCH, most: int = MAX_BATCH) -> list[slice]:
    """How ``count`` messages of one pull split into Dramatiq messages: ``first``, then
    runs of at most ``most``; none empty."""
    if first < 1 or most < 1:
        raise ValueError(f"batch sizes must be at least 1, not {first} and {most}")
    if count <= 0:
        return []
    parts = [slice(0, min(first, count))]
    for start in range(parts[0].stop, count, most):
        parts.append(slice(start, min(start + most, count)))
    return parts


@dataclass(frozen=True)
class Route:
    """One subscription feeding one actor (``actor`` takes one message's arguments).

    With ``batch_actor`` (taking a list of such argument triples), the matching messages
    of one pull travel as a few Dramatiq messages (see :func:`batch_bounds`): one enqueue,
    fetch and ack for many votes, which was the largest share of the services' CPU.
    """

    subscription: str
    actor: dramatiq.Actor  # type: ignore[type-arg]
    batch_actor: dramatiq.Actor | None = None  # type: ignore[type-arg]

    def forward_batch(self, messages: list[PulledMessage]) -> None:
        """Enqueue the messages in batches, then ack them; nack a batch whose enqueue fails."""
        if self.batch_actor is None:
            for message in messages:
                self.forward(message)
            return
        for part in batch_bounds(len(messages)):
            chunk = messages[part]
            try:
                self.batch_actor.send([to_args(m.data, m.attributes, m.message_id) for m in chunk])
            except Exception as exc:  # any broker failure: let Pub/Sub redeliver
                log.warning(
                    "bridge.enqueue_failed",
                    subscription=self.subscription,
                    messages=len(chunk),
                    error=repr(exc),
                )
                for message in chunk:
                    message.nack()
                continue
            for message in chunk:
                message.ack()
            log.debug(
                "bridge.forwarded",
                subscription=self.subscription,
                actor=self.batch_actor.actor_name,
                messages=len(chunk),
            )

    def forward(self, message: PulledMessage) -> None:
        """Enqueue ``message`` for the actor, then ack; nack if the enqueue fails."""
        try:
            self.actor.send(*to_args(message.data, message.attributes, message.message_id))
        except Exception as exc:  # any broker failure: let Pub/Sub redeliver
            log.warning(
                "bridge.enqueue_failed",
                subscription=self.subscription,
                message_id=message.message_id,
                error=repr(exc),
            )
            message.nack()
            return
        message.ack()
        log.debug(
            "bridge.forwarded",
            subscription=self.subscription,
            actor=self.actor.actor_name,
            message_id=message.message_id,
        )
