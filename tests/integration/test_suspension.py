"""A vote refused while the dedup store cannot vouch for itself ("voting is suspended ...
this vote was not counted") on real Redis and PostgreSQL: the answer stays true once the
store is restored, whatever claim of it Redis kept.

Redis can make a claim (the script ran, the claim is on disk) and die before it answers;
the retry meets the Redis restarted empty and is refused as suspended, and the operator's
restore brings the claim back (tests/faults/test_stores.py does this under load).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable

from playhouse.pool import PooledPostgresqlDatabase

from election.domain import protocol
from election.storage.models import Ballot, BallotState
from tests.integration.conftest import Services

SUSPENDED = "rejected: voting is suspended"


def uuid() -> str:
    return str(uuidlib.uuid4())


def restart_empty(services: Services) -> Callable[[], None]:
    """Make the namespace's Redis look restarted empty (its keys moved aside, under the
    namespace still, so the fixture removes them whatever happens); the restore."""
    client, prefix = services.claims.client, services.namespace
    moved = [bytes(key) for key in client.scan_iter(f"{prefix}:*")]
    for key in moved:
        client.rename(key, f"{prefix}:aside:".encode() + key)

    def restore() -> None:
        for key in moved:
            client.rename(f"{prefix}:aside:".encode() + key, key)

    return restore


def recorded(database: PooledPostgresqlDatabase) -> int:
    with database.connection_context():
        return Ballot.select().where(Ballot.state == BallotState.RECORDED).count()


def test_a_voter_told_not_counted_while_suspended_is_free_once_the_claims_are_restored(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    first = uuid()
    services.submit(1, first)  # claimed; its answer (and record) lost as Redis died
    restore = restart_empty(services)
    assert services.vote(1, first).startswith(SUSPENDED)  # the retry, on the empty Redis
    restore()  # the claim of ``first`` is back, though its voter was told "not counted"
    assert services.vote(1, uuid()) == protocol.RESULT_SUCCESSFUL  # not "Already voted"
    assert recorded(database) == 1


def test_a_ballot_told_not_counted_while_suspended_is_not_stored_when_it_comes_again(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    first = uuid()
    services.submit(1, first)
    restore = restart_empty(services)
    assert services.vote(1, first).startswith(SUSPENDED)
    restore()
    assert services.vote(1, first).startswith("rejected: not recorded")  # a redelivery
    assert recorded(database) == 0


def test_a_ballot_stored_before_the_store_went_wrong_is_still_said_to_be_recorded(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    ballot = uuid()
    assert services.vote(1, ballot) == protocol.RESULT_SUCCESSFUL
    restore = restart_empty(services)
    (answer,) = services.submit(1, ballot)  # a redelivery, while voting is suspended
    restore()
    assert answer.body["result"] == protocol.RESULT_SUCCESSFUL
    assert answer.body.get(protocol.RECEIPT)
    assert recorded(database) == 1
