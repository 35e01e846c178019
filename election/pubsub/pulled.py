"""What a :class:`~election.pubsub.subscriber.FilteredSubscriber` hands its owner: the
matching messages of one pull, each to be acked or nacked.

A subscriber has one delivery path, a list per pull (a single message is a list of one),
so a handler that forwards in batches (the bridge) and one that works per message (a
voting machine's answers, through :func:`one_by_one`) are served the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog

log = structlog.get_logger(__name__)


class PulledMessage:
    """One received message; the handler must call :meth:`ack` or :meth:`nack`.

    ``publish_time`` is when Pub/Sub accepted it, in seconds since the epoch on the
    server's clock (``None`` if the message carried no stamp).
    """

    __slots__ = ("_settled", "ack_id", "attributes", "data", "message_id", "publish_time")

    def __init__(
        self,
        data: bytes,
        attributes: Mapping[str, str],
        message_id: str,
        ack_id: str,
        publish_time: float | None = None,
    ) -> None:
        self.data = data
        self.attributes = dict(attributes)
        self.message_id = message_id
        self.ack_id = ack_id
        self.publish_time = publish_time
        self._settled: bool | None = None

    def ack(self) -> None:
        """Done with it: Pub/Sub will not deliver it again."""
        self._settled = True

    def nack(self) -> None:
        """Not done: Pub/Sub should redeliver it now."""
        self._settled = False

    @property
    def acked(self) -> bool | None:
        """``True`` acked, ``False`` nacked, ``None`` neither (yet)."""
        return self._settled


#: Takes every matching message of one pull at once, in order (and settles each); a pull
#: that matched one message hands over a list of one, one that matched none calls nothing.
Handler = Callable[[list[PulledMessage]], None]


def one_by_one(handle: Callable[[PulledMessage], None]) -> Handler:
    """A :data:`Handler` that hands the messages of a pull to ``handle`` one after
    another, for owners whose work is per message (answers, test collectors). Should
    ``handle`` raise on one, that one is nacked (Pub/Sub redelivers it) with one log line,
    and the others go on, as if each had been pulled alone."""

    def each(messages: list[PulledMessage]) -> None:
        for message in messages:
            try:
                handle(message)
            except Exception as exc:  # one message's failure must not hold up the others
                log.warning(
                    "message.handler_failed", message_id=message.message_id, error=repr(exc)
                )
                message.nack()

    return each
