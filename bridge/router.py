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
#: rest follow: at M=50, one emulator cycle in 5 of 9 starts with batches of 25 against
#: 0 of 9 with batches of 100. Large batches for the rest keep the cost per vote of a
#: busy bridge low: fewer enqueues, fetches, acks and publishes (docs/SCALING.md).
FIRST_BATCH = 25
MAX_BATCH = 100


def batch_bounds(count: int, first: int = FIRST_BATCH, most: int = MAX_BATCH) -> list[slice]:
    """How ``count`` messages of one pull split into Dramatiq messages: ``first``, then
    runs of at most ``most``."""
    if count <= 0:
        return []
    bounds = [slice(0, min(first, count))]
    for start in range(bounds[0].stop, count, most):
        bounds.append(slice(start, min(start + most, count)))
    return bounds


@dataclass(frozen=True)
class Route:
    """One subscription feeding one actor (``actor`` takes one message's arguments).

    With ``batch_actor`` (taking a list of such argument triples), all the matching
    messages of one pull travel as one Dramatiq message: one enqueue, fetch and ack for
    many votes, which was the largest share of the services' CPU.
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
        for bounds in batch_bounds(len(messages)):
            chunk = messages[bounds]
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
