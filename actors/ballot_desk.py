"""The ballot desk: answers a voting machine's ``ballot request`` over the topic.

It runs in the logger's worker role (``election.domain.routes.BALLOTS``: the actor
``answer_ballots`` on the queue ``<ns>.logger``), on the clients the role's workers share.
For each request it reads the election from PostgreSQL (one read per election per batch:
a machine asks once, when it starts, so nothing is cached across batches, and an
``election open`` is seen by the next machine that starts) and answers the machine with
the ballot's title, choice names and state, or with the state ``undeclared``. The answer
says nothing about voters (``election.domain.ballot``). A request that cannot be read is
dropped with one warning line; nothing about it is retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import peewee
import redis
import structlog

from config import Settings
from election.domain import protocol
from election.domain.ballot import InvalidRequest, ballot_answer, parse_ballot_request
from election.domain.lifecycle import State
from election.pubsub.client import Publisher
from election.storage.elections import ElectionRegistry

log = structlog.get_logger(__name__)

#: What an answer says of a declared election: its title, choice names and state.
Declared = tuple[str, tuple[str, ...], State]


class BallotDesk:
    """Answers ballot requests from the elections of ``registry``, through ``publisher``."""

    def __init__(self, registry: ElectionRegistry, publisher: Publisher) -> None:
        self.registry = registry
        self.publisher = publisher

    def handle_many(
        self,
        requests: Sequence[tuple[bytes, Mapping[str, str], str]],
        outbox: list[protocol.OutgoingMessage],
    ) -> None:
        """Add the answer of each readable request to ``outbox``; drop the others."""
        known: dict[str, Declared | None] = {}
        for data, _attributes, message_id in requests:
            try:
                request = parse_ballot_request(data)
            except InvalidRequest as exc:
                log.warning("ballot.request_dropped", reason=str(exc), message_id=message_id)
                continue
            if request.election_id not in known:
                known[request.election_id] = self.declared(request.election_id)
            outbox.append(ballot_answer(request, known[request.election_id]))
        if outbox:
            log.debug("ballot.answered", answers=len(outbox))

    def declared(self, election_id: str) -> Declared | None:
        """The title, choices and state (now) of the election, or ``None`` if undeclared."""
        database = self.registry.database
        # Each worker thread keeps its connection; a failed one is closed for the retry.
        database.connect(reuse_if_open=True)
        try:
            record = self.registry.get(election_id)
        except (peewee.OperationalError, peewee.InterfaceError):
            database.close()
            raise
        return None if record is None else (record.title, record.choices, record.state())

    def give_up(self, message: dict[str, Any], retries: int) -> None:
        """A request whose answer could not be sent in all its retries: its machine has
        long stopped waiting (and votes as on an undeclared election). One line."""
        log.warning("ballot.given_up", message_id=message.get("message_id"), retries=retries)


def ballot_desk(
    settings: Settings, database: peewee.Database, client: redis.Redis, publisher: Publisher
) -> BallotDesk:
    """The ballot desk for ``settings``, on the role's clients (Redis is not used)."""
    return BallotDesk(ElectionRegistry(database), publisher)
