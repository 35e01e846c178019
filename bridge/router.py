"""Routes: which subscription feeds which actor, and how a Pub/Sub message becomes a
Dramatiq message.

The Pub/Sub message is acknowledged only after the Dramatiq enqueue returned (Redis
answered, or RabbitMQ confirmed); if the enqueue fails it is nacked and Pub/Sub
redelivers it. A crash in between at worst enqueues twice, which the actors absorb
(claims remember the ballot UUID, records are unique by UUID).

Anyone may publish to the topic, up to Pub/Sub's 10 MB with any attributes, and on the
emulator every message reaches every subscription. A message no actor would accept (a
body over ``election.domain.votes.MAX_BODY_BYTES``, or attributes over
:data:`MAX_ATTRIBUTES_BYTES`) is acked and dropped here with one ``message.oversized``
line, before it is enqueued. Like any malformed vote, an oversized ``submit vote`` whose
sender can be identified (a valid ``machineID`` attribute; the body is not read) is
answered ``rejected:`` with the reason the logger would give (SPEC: malformed votes are
rejected with an answer, never with silence), when the route has an ``answer``
publisher (the bridge gives every route one). The Dramatiq messages of a pull are capped
in bytes as well as in count (:func:`batch_bounds`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
import structlog

from actors.payload import to_args
from election.domain import protocol, routes
from election.domain.metrics import PUBLISHED_OPTION
from election.domain.votes import MAX_BODY_BYTES, canonical_cli_id
from election.pubsub.subscriber import PulledMessage

log = structlog.get_logger(__name__)


#: Most Pub/Sub messages carried by the first Dramatiq message of a pull, and by each of
#: the rest. The bridge sends a pull's batches one after another (each waits for
#: RabbitMQ's confirm). A small first batch lets the worker start on a wave while the
#: rest follow, which at M=50 often saves an emulator cycle; large batches for the rest
#: keep a busy bridge's cost per vote low: fewer enqueues, fetches, acks and publishes
#: (docs/SCALING.md, step 6). With pulls of ``election.pubsub.subscriber.BATCH`` (100), the
#: rest of a pull is one batch.
FIRST_BATCH = 25
MAX_BATCH = 100
#: Most bytes of Pub/Sub messages (bodies as base64, attributes; see :func:`wire_bytes`)
#: one Dramatiq message may carry. Far above a batch of real votes (a few hundred bytes
#: each), it bounds what a broker must hold per message whatever is published: 100
#: messages at the limits below would be 1.4 MB (RabbitMQ refuses messages over its
#: ``max_message_size``, 16 MiB by default since 4.0).
MAX_BATCH_BYTES = 512 * 1024
#: Most bytes of attributes (keys and values, UTF-8) a forwarded message may have. Ours
#: carry two short ones; the emulator accepts any number of any size.
MAX_ATTRIBUTES_BYTES = 8 * 1024


def attributes_bytes(attributes: Mapping[str, str]) -> int:
    """The size of a message's attributes: keys and values, UTF-8 encoded."""
    return sum(len(key.encode()) + len(value.encode()) for key, value in attributes.items())


def oversized(body_bytes: int, attributes_size: int) -> bool:
    """Whether a message of these sizes is too large to forward."""
    return body_bytes > MAX_BODY_BYTES or attributes_size > MAX_ATTRIBUTES_BYTES


def oversize_reason(body_bytes: int, attributes_size: int) -> str:
    """Why a message of these sizes is refused, in the words of ``election.domain.votes``."""
    if body_bytes > MAX_BODY_BYTES:
        return f"body too large ({body_bytes} bytes, limit {MAX_BODY_BYTES})"
    return f"attributes too large ({attributes_size} bytes, limit {MAX_ATTRIBUTES_BYTES})"


def wire_bytes(body_bytes: int, attributes_size: int) -> int:
    """What one Pub/Sub message weighs in a Dramatiq message: its body base64-encoded
    (see ``actors.payload.to_args``) and its attributes."""
    return 4 * ((body_bytes + 2) // 3) + attributes_size


def batch_bounds(
    count: int,
    first: int = FIRST_BATCH,
    most: int = MAX_BATCH,
    *,
    sizes: Sequence[int] | None = None,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[slice]:
    """How ``count`` messages of one pull split into Dramatiq messages, in order: at most
    ``first`` in the first, at most ``most`` in each of the rest, and, given the
    messages' ``sizes``, at most ``max_bytes`` in each (a message larger than that on its
    own goes alone); none empty."""
    if first < 1 or most < 1 or max_bytes < 1:
        raise ValueError(
            f"batch sizes must be at least 1, not {first}, {most} and {max_bytes} bytes"
        )
    if sizes is not None and len(sizes) != count:
        raise ValueError(f"{len(sizes)} sizes for {count} messages")
    parts: list[slice] = []
    start, weight = 0, 0
    for index in range(count):
        size = sizes[index] if sizes is not None else 0
        limit = first if not parts else most
        if index > start and (index - start >= limit or weight + size > max_bytes):
            parts.append(slice(start, index))
            start, weight = index, 0
        weight += size
    if count > 0:
        parts.append(slice(start, count))
    return parts


def published_ms(messages: Sequence[PulledMessage]) -> int | None:
    """The earliest Pub/Sub publish of ``messages``, in ms (``None`` if none has one)."""
    stamps = [m.publish_time for m in messages if m.publish_time is not None]
    return int(min(stamps) * 1000) if stamps else None


@dataclass(frozen=True)
class Route:
    """One service subscription feeding one actor's queue through ``broker``.

    The matching messages of one pull travel as a few Dramatiq messages (see
    :func:`batch_bounds`; a single message is a batch of one): one enqueue, fetch and ack
    for many votes, which was the largest share of the services' CPU. Each carries a list
    of ``actors.payload.to_args`` triples, the message ``actor.send(batch)`` would make,
    built here from names so that the bridge needs none of the actor modules.
    """

    subscription: str
    queue: str
    actor: str
    broker: dramatiq.Broker
    #: Publishes an answer to a sender (see the module's docstring); ``None``: no answers.
    answer: Callable[[protocol.OutgoingMessage], object] | None = None
    #: As ``election.domain.routes.Route.pace_s``.
    pace_s: float = 0.0

    @classmethod
    def of(
        cls,
        entry: routes.Route,
        namespace: str,
        broker: dramatiq.Broker,
        answer: Callable[[protocol.OutgoingMessage], object] | None = None,
    ) -> Route:
        """The route of a route table entry (``election.domain.routes``) in ``namespace``."""
        return cls(
            entry.subscription(namespace),
            entry.queue(namespace),
            entry.actor,
            broker,
            answer,
            entry.pace_s,
        )

    def forward_batch(self, messages: list[PulledMessage]) -> None:
        """Enqueue the messages in batches, then ack them; nack a batch whose enqueue fails.
        Oversized messages are acked and dropped first."""
        kept: list[PulledMessage] = []
        sizes: list[int] = []
        for message in messages:
            body, attributes = len(message.data), attributes_bytes(message.attributes)
            if oversized(body, attributes):
                self._refuse(message, body, attributes)
                continue
            kept.append(message)
            sizes.append(wire_bytes(body, attributes))
        for part in batch_bounds(len(kept), sizes=sizes):
            self._forward(kept[part])

    def _forward(self, chunk: list[PulledMessage]) -> None:
        """Enqueue one batch, then ack its messages; nack them all if the enqueue fails."""
        try:
            self.broker.enqueue(
                self.message(
                    [to_args(m.data, m.attributes, m.message_id) for m in chunk],
                    published_ms(chunk),
                )
            )
        except Exception as exc:  # any broker failure: let Pub/Sub redeliver
            log.warning(
                "bridge.enqueue_failed",
                subscription=self.subscription,
                messages=len(chunk),
                error=repr(exc),
            )
            for message in chunk:
                message.nack()
            return
        for message in chunk:
            message.ack()
        log.debug(
            "bridge.forwarded",
            subscription=self.subscription,
            actor=self.actor,
            messages=len(chunk),
        )

    def message(
        self, batch: list[tuple[str, dict[str, str], str]], published: int | None = None
    ) -> dramatiq.Message[Any]:
        """The Dramatiq message of one batch: what the actor's ``send(batch)`` builds
        (``Actor.message_with_options``: no kwargs, enqueued without delay), with the
        batch's earliest Pub/Sub publish as an option when known (where the actors'
        answer latency starts, ``election.domain.metrics``)."""
        options = {} if published is None else {PUBLISHED_OPTION: published}
        return dramatiq.Message(
            queue_name=self.queue, actor_name=self.actor, args=(batch,), kwargs={}, options=options
        )

    def _refuse(self, message: PulledMessage, body_bytes: int, attributes_size: int) -> None:
        """Refuse an oversized message: one warning line (never its body), the sender's
        answer if it can be told, then ack (nack if that answer could not be sent)."""
        reason = oversize_reason(body_bytes, attributes_size)
        # The machine's ID in its one canonical form, as the logger answers it ("07" -> "7").
        given = message.attributes.get(protocol.MACHINE_ID)
        machine = None if given is None else canonical_cli_id(given)
        if self.answer is None or message.attributes.get(protocol.FUNCTION) != protocol.SUBMIT_VOTE:
            machine = None
        log.warning(
            "message.oversized",
            subscription=self.subscription,
            message_id=message.message_id,
            body_bytes=body_bytes,
            attributes_bytes=attributes_size,
            max_body_bytes=MAX_BODY_BYTES,
            max_attributes_bytes=MAX_ATTRIBUTES_BYTES,
            answered=machine,
        )
        if machine is not None and self.answer is not None:
            try:
                # No UUID: it is in the body, which is not read.
                self.answer(protocol.rejection_message(machine, "", reason))
            except Exception as exc:  # any publish failure: Pub/Sub redelivers it
                log.warning(
                    "bridge.answer_failed",
                    subscription=self.subscription,
                    message_id=message.message_id,
                    error=repr(exc),
                )
                message.nack()
                return
        message.ack()
