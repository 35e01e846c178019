"""The voting logger's actors, on a :class:`actors.dedup.VoteLogger`: ``dedup_votes`` and
``dedup_gave_up`` on the Dramatiq queue ``<ns>.logger`` (``election worker logger``)."""

from actors.dedup import vote_logger
from actors.process import on_own_clients
from actors.service import declaring
from election.domain.routes import LOGGER

#: ``declare(broker, settings)``: the voting logger's actors, declared on ``broker``.
declare = declaring(LOGGER, on_own_clients(vote_logger))
