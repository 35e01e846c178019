"""An operator's replay of a dead letter, run by ``election dead-letters replay``.

A dead-lettered record is handed to the record service's own code once more, in replay
mode: its signature must still hold (a letter altered in Redis is refused), its expiry
is not checked, and a given-up or fenced ballot is recorded after all unless its voter
has voted again since. The letter is removed only once its outcome is final, and the
outcome printed is the one that happened.

A record service's letter names its actor: ``record_votes`` (``RECORDER.actor``), or
``record_vote``, the single-vote actor of letters written before votes went as batches of
one; both keep the record alone (``actors.payload``). A voting logger's letter
(``dedup_votes``, or ``dedup_vote`` before) cannot be replayed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.dead_letters import DeadLetter, DeadLetters
from actors.payload import from_message
from actors.recording import DUPLICATE, REFUSED, STORED, VoteRecorder
from election.domain import protocol
from election.domain.routes import RECORDER

if TYPE_CHECKING:
    import peewee
    import redis

    from config import Settings

#: The actor names of the record service's dead letters: today's, and the one of letters
#: written before a single vote was a batch of one.
RECORD_ACTORS = (RECORDER.actor, "record_vote")


@dataclass(frozen=True)
class Replayed:
    """What one replay did; ``final`` when the dead letter was removed."""

    letter_id: str
    outcome: str
    final: bool


class DeadLetterReplay:
    """Replays dead letters through a :class:`VoteRecorder`."""

    def __init__(self, recorder: VoteRecorder, store: DeadLetters) -> None:
        self.recorder = recorder
        self.store = store

    def replay(self, letter: DeadLetter) -> Replayed:
        """Replay one letter; its answer goes to its machine."""
        if letter.actor not in RECORD_ACTORS:
            return Replayed(
                letter.message_id,
                "cannot be replayed: the voting logger keeps a given-up vote without its "
                "voter ID and told the voter to vote again; purge it",
                final=False,
            )
        data, attributes = from_message(letter.message)
        outbox: list[protocol.OutgoingMessage] = []
        (outcome,) = self.recorder.handle_many(
            [(data, attributes, letter.message_id)], outbox, replay=True
        )
        self.recorder.publisher.publish_many(outbox)
        final = outcome in (STORED, DUPLICATE) or outcome.startswith(REFUSED)
        if final:
            self.store.remove(letter.message_id)
        return Replayed(letter.message_id, outcome, final)


@contextlib.contextmanager
def replaying(
    settings: Settings, client: redis.Redis, database: peewee.Database
) -> Iterator[DeadLetterReplay]:
    """A replay of ``settings``' dead letters through the record service's own worker
    (its answers signed and published), for ``election dead-letters replay`` and the
    operator console alike; its publisher is closed when the block ends."""
    from actors.recording import vote_recorder
    from election.ops.log_signing import answer_signer
    from election.pubsub.client import Publisher

    publisher = Publisher(settings, signer=answer_signer(settings))
    try:
        store = DeadLetters(client, settings.namespace)
        yield DeadLetterReplay(vote_recorder(settings, database, client, publisher), store)
    finally:
        publisher.close()
