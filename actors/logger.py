"""The logger's worker role (``election worker logger``), on the Dramatiq queue ``<ns>.logger``:
the voting logger's actors, on a :class:`actors.dedup.VoteLogger` (``dedup_votes`` and
``dedup_gave_up``), and the ballot desk's, on a :class:`actors.ballot_desk.BallotDesk`
(``answer_ballots`` and ``ballot_gave_up``), sharing one set of clients per process."""

from actors.ballot_desk import ballot_desk
from actors.dedup import vote_logger
from actors.service import declaring_role
from election.domain.routes import BALLOTS, LOGGER

#: ``declare(broker, settings)``: the logger role's actors, declared on ``broker``.
declare = declaring_role((LOGGER, vote_logger), (BALLOTS, ballot_desk))
