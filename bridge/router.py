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


#: Most Pub/Sub messages carried by one Dramatiq message. The bridge sends a pull's
#: batches one after another (each waits for RabbitMQ's confirm) and the worker starts on
#: the first while the rest follow, so smaller batches get a wave's first answers to the
#: next hop sooner, for more CPU per vote. 25 instead of 100: at M=50, one emulator cycle
#: in 5 of 9 starts instead of 0 of 9; at M=200, 0.4 instead of 0.27 ms of service CPU
#: per vote (docs/SCALING.md).
MAX_BATCH = 25


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
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
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
