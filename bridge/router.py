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


@dataclass(frozen=True)
class Route:
    """One subscription feeding one actor."""

    subscription: str
    actor: dramatiq.Actor  # type: ignore[type-arg]

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
