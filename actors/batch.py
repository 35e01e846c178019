"""Batches: many votes in one Dramatiq message, handled together; one path per vote.

The bridge sends the matching messages of a pull as a small first batch and then larger
ones (``bridge.router.batch_bounds``), which saves a Dramatiq enqueue, fetch and ack per
vote. The batch is handled as a whole (one Redis round trip for its claims, one insert
for its records) and all its answers go out in one publish. A single vote is a batch of
one. If a batch of more than one fails, each of its votes goes on as a batch of one to
the same actor; a batch of one that fails raises, and so has Dramatiq's retries with
backoff and then the service's give-up path. Handling a vote twice is harmless (claims
know the ballot, rows are unique), so nothing has to be undone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import structlog
from dramatiq.middleware import Interrupt

from actors.payload import body_of
from election.domain.protocol import OutgoingMessage

log = structlog.get_logger(__name__)

Args = Sequence[object]
Vote = tuple[bytes, Mapping[str, str], str]
#: Handles votes, adding the messages to publish to the outbox; raises if it fails.
HandleMany = Callable[[Sequence[Vote], list[OutgoingMessage]], object]
Publish = Callable[[Sequence[OutgoingMessage]], object]
#: Enqueues a batch (a list of argument triples) to the service's actor.
Send = Callable[[list[list[object]]], object]


def run_batch(batch: Sequence[Args], handle_many: HandleMany, publish: Publish, send: Send) -> None:
    """Handle the ``(data, attributes, message_id)`` argument triples of ``batch``, then
    publish their answers. If that fails, a batch of more than one is split: each vote is
    ``send`` on as a batch of one; a batch of one raises, for its retries.

    If a batch of more than one is interrupted (its time limit, a shutdown), it is split
    too, so no vote waits on the batch's retries; then the interruption goes on.
    """
    try:
        outbox: list[OutgoingMessage] = []
        handle_many([_vote(args) for args in batch], outbox)
        publish(outbox)
    except Interrupt:
        if len(batch) > 1:
            split(batch, send)
        raise
    except Exception as exc:  # whatever failed, each vote goes on alone with its retries
        if len(batch) <= 1:
            raise  # its own retries, with backoff and a limit, then its give-up
        log.warning("batch.deferred", votes=len(batch), error=repr(exc)[:300])
        split(batch, send)


def split(batch: Sequence[Args], send: Send) -> None:
    """Each vote of ``batch`` goes on as a batch of one, with its own retries."""
    for args in batch:
        send([list(args)])


def _vote(args: Args) -> Vote:
    data, attributes, message_id = args
    return body_of(str(data)), dict(attributes), str(message_id)  # type: ignore[call-overload]
