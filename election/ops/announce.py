"""Telling the voting logger's workers that an election changed: a signed event.

``election create``, ``open`` and ``close`` publish an ``election changed`` event after
the change is stored. It is signed like a ``record vote`` (``RECORD_SIGNING_KEYS``, this
namespace, an expiry), so a forged or unsigned one is ignored by the workers; and it
only says *that* an election changed (its ID, stored state, definition digest, ``seq``):
a worker that hears it reads the election again from PostgreSQL, so an event can never
bring a ballot or a roll of its own.
"""

from __future__ import annotations

from config import Settings
from election.domain import protocol
from election.domain.signing import Signer
from election.pubsub.client import Publisher
from election.storage.elections import ElectionRecord

#: Seconds publishing one event may take.
ANNOUNCE_TIMEOUT_S = 30.0


def changed_event(settings: Settings, record: ElectionRecord) -> protocol.OutgoingMessage:
    """The signed ``election changed`` event of ``record``."""
    message = protocol.election_changed_message(
        record.election_id, record.stored_state.value, record.definition, record.seq
    )
    signer = Signer(*settings.require_signing_key(), settings.namespace, settings.signature_ttl_s)
    return protocol.OutgoingMessage(
        message.body, signer.attributes(message.data(), message.attributes)
    )


def announce(settings: Settings, publisher: Publisher, record: ElectionRecord) -> None:
    """Publish the ``election changed`` event of ``record`` and wait for Pub/Sub's ack."""
    publisher.publish(changed_event(settings, record), timeout=ANNOUNCE_TIMEOUT_S)
