"""Batches: many votes in one Dramatiq message, each still handled on its own.

The bridge sends every matching message of a pull as one batch, which saves a Dramatiq
enqueue, fetch and ack per vote. Inside, each vote is handled as before; their publishes
are started together and awaited together. A vote that fails does not fail the batch: it
goes on alone to the single-vote actor, which has the retries, the dead letters and the
give-up path. Handling a vote twice is harmless (claims know the ballot, rows are unique).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future

import structlog
from dramatiq.middleware import Interrupt

from actors.payload import body_of
from election.pubsub import CALL_TIMEOUT

log = structlog.get_logger(__name__)

Args = Sequence[object]
Handle = Callable[[bytes, Mapping[str, str], str, list[Future[str]]], None]


def run_batch(batch: Sequence[Args], handle: Handle, alone: Callable[..., object]) -> None:
    """Handle each ``(data, attributes, message_id)`` of ``batch``; send failures ``alone``.

    If the batch as a whole is interrupted (its time limit, a shutdown), every vote goes
    on alone, so none waits on the batch's retries; then the interruption goes on.
    """
    try:
        _run(batch, handle, alone)
    except (Exception, Interrupt):
        for args in batch:
            alone(*args)
        raise


def split(batch: Sequence[Args], alone: Callable[..., object]) -> None:
    """A batch whose retries ran out: each vote goes on alone, with its own retries."""
    for args in batch:
        alone(*args)


def _run(batch: Sequence[Args], handle: Handle, alone: Callable[..., object]) -> None:
    waiting: list[tuple[list[Future[str]], Args]] = []
    for args in batch:
        data, attributes, message_id = str(args[0]), dict(args[1]), str(args[2])  # type: ignore[call-overload]
        pending: list[Future[str]] = []
        try:
            handle(body_of(data), attributes, message_id, pending)
        except Exception as exc:  # its own actor retries it, with backoff and a limit
            _defer(args, exc, alone)
            continue
        waiting.append((pending, args))
    for pending, args in waiting:
        try:
            for future in pending:
                future.result(timeout=CALL_TIMEOUT)
        except Exception as exc:  # a publish failed: the vote goes on alone, and retries
            _defer(args, exc, alone)


def _defer(args: Args, exc: Exception, alone: Callable[..., object]) -> None:
    log.warning("vote.deferred", message_id=args[2], error=repr(exc)[:300])
    alone(*args)
