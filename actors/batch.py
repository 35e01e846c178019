"""Batches: many votes in one Dramatiq message, handled together.

The bridge sends the matching messages of a pull as a small first batch and then larger
ones (``bridge.router.batch_bounds``), which saves a Dramatiq enqueue, fetch and ack per
vote. The batch is handled as a whole (one Redis round trip for
its claims, one insert for its records) and all its answers go out in one publish. If
any of that fails, every vote of the batch goes on alone to the single-vote actor, which
has the retries with backoff, the dead letters and the give-up path. Handling a vote twice
is harmless (claims know the ballot, rows are unique), so nothing has to be undone.
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


def run_batch(
    batch: Sequence[Args],
    handle_many: HandleMany,
    publish: Publish,
    alone: Callable[..., object],
) -> None:
    """Handle the ``(data, attributes, message_id)`` argument triples of ``batch``, then
    publish their answers; if that fails, send every vote ``alone``.

    If the batch is interrupted (its time limit, a shutdown), every vote goes on alone
    too, so none waits on the batch's retries; then the interruption goes on.
    """
    try:
        outbox: list[OutgoingMessage] = []
        handle_many([_vote(args) for args in batch], outbox)
        publish(outbox)
    except Interrupt:
        split(batch, alone)
        raise
    except Exception as exc:  # each vote's own actor retries it, with backoff and a limit
        log.warning("batch.deferred", votes=len(batch), error=repr(exc)[:300])
        split(batch, alone)


def split(batch: Sequence[Args], alone: Callable[..., object]) -> None:
    """Each vote of ``batch`` goes on alone, with its own retries."""
    for args in batch:
        alone(*args)


def _vote(args: Args) -> Vote:
    data, attributes, message_id = args
    return body_of(str(data)), dict(attributes), str(message_id)  # type: ignore[call-overload]
