"""Declared elections enforced by the voting logger and the record service, on real Redis
and PostgreSQL: each refusal is answered with its exact reason and claims nothing; the
recorder checks a declared election's own ballot and stores nothing once it is sealed."""

from __future__ import annotations

import uuid as uuidlib

import pytest
from playhouse.pool import PooledPostgresqlDatabase

from actors.ballot_book import BallotBook, registry_reader
from actors.ballots import NewBallot
from actors.election_book import ElectionBook, RegistrySource
from actors.recording import REFUSED, sealed_reason
from election.domain import protocol
from election.domain.ballot_rules import Undeclared
from election.domain.manifest import load_definition
from election.domain.receipts import new_nonce, new_receipt
from election.domain.secrecy import VoterSecrets
from election.domain.signing import BALLOT_REF
from election.storage.close_barrier import close_now
from election.storage.elections import ElectionRegistry
from tests.integration.conftest import Services
from tests.integration.test_integrity import give_up, record_of, recorded

SUCCESSFUL = protocol.RESULT_SUCCESSFUL


def declare(
    database: PooledPostgresqlDatabase,
    secrets: VoterSecrets,
    election_id: str,
    *,
    choices: int = 3,
    roll: list[int] | None = None,
) -> ElectionRegistry:
    """Create (draft) an election with ``choices`` choices and, if given, a roll."""
    names = ", ".join(f'"c{n}"' for n in range(choices))
    manifest = f'id = "{election_id}"\ntitle = "T"\nchoices = [{names}]\n'
    if roll is not None:
        manifest += 'roll = "roll.txt"\n'
    text = "\n".join(str(voter) for voter in roll or [])
    definition = load_definition(manifest.encode(), lambda _: text, secrets)
    registry = ElectionRegistry(database)
    with database.connection_context():
        registry.create(definition)
    return registry


def opened(
    database: PooledPostgresqlDatabase, secrets: VoterSecrets, election_id: str
) -> ElectionRegistry:
    """Create and open an election of three choices."""
    registry = declare(database, secrets, election_id)
    with database.connection_context():
        registry.open(election_id)
    return registry


def uuid() -> str:
    return str(uuidlib.uuid4())


@pytest.fixture
def book(services: Services, database: PooledPostgresqlDatabase) -> ElectionBook:
    made = ElectionBook(RegistrySource(database), refresh_s=0.0)
    services.logger.elections = made
    services.recorder.book = BallotBook(registry_reader(database), recheck_s=0.0)
    return made


def claimed(services: Services, election_id: str) -> int:
    return sum(1 for _ in services.claims.scan(election_id))


def test_each_refusal_has_its_reason_and_claims_nothing(
    services: Services, database: PooledPostgresqlDatabase, book: ElectionBook
) -> None:
    registry = declare(database, services.secrets, "42", roll=[1, 2, 3])
    assert services.vote(1, uuid(), election=42) == "rejected: election 42 is not open yet"
    with database.connection_context():
        registry.open("42")
    assert services.vote(1, uuid(), election=42, choice=7) == (
        "rejected: choice 7 is not on the ballot of election 42 (0-2)"
    )
    assert services.vote(1, uuid(), election=42, choice=-1) == (
        "rejected: choice -1 is not on the ballot of election 42 (0-2)"
    )
    assert services.vote(99, uuid(), election=42) == (
        "rejected: voter is not on the roll of election 42"
    )
    assert claimed(services, "42") == 0
    assert services.vote(1, uuid(), election=42, choice=2) == SUCCESSFUL
    with database.connection_context():
        registry.close("42")
    book.refresh()  # as its event would make it
    assert services.vote(2, uuid(), election=42) == "rejected: election 42 is closed"
    assert claimed(services, "42") == 1


def test_a_declared_ballot_larger_than_the_global_range_is_its_own_bound(
    services: Services, database: PooledPostgresqlDatabase, book: ElectionBook
) -> None:
    registry = declare(database, services.secrets, "8", choices=9)
    with database.connection_context():
        registry.open("8")
    assert services.vote(1, uuid(), election=8, choice=8) == SUCCESSFUL  # ELECTION_CHOICES=5
    assert services.vote(2, uuid(), election=9, choice=8) == (
        "rejected: voting must be an integer from 0 to 4"  # undeclared: today's rule
    )


def test_undeclared_elections_follow_the_policy(services: Services, book: ElectionBook) -> None:
    assert services.vote(1, uuid(), election=5) == SUCCESSFUL
    services.logger.undeclared = Undeclared.REJECT
    assert services.vote(2, uuid(), election=5) == "rejected: no such election"
    assert claimed(services, "5") == 1


def test_the_barrier_refuses_what_a_late_book_lets_through(
    services: Services, database: PooledPostgresqlDatabase, book: ElectionBook
) -> None:
    opened(database, services.secrets, "42")
    assert services.vote(1, uuid(), election=42) == SUCCESSFUL
    book.refresh_s = 3600.0  # this book will not hear of the close
    close_now(services.claims.client, services.namespace, "42")
    assert services.vote(2, uuid(), election=42) == "rejected: election 42 is closed"
    assert claimed(services, "42") == 1


def test_nothing_of_a_sealed_election_is_stored_and_a_stored_copy_is_still_successful(
    services: Services, database: PooledPostgresqlDatabase, book: ElectionBook
) -> None:
    registry = opened(database, services.secrets, "42")
    stored = services.submit(1, uuid(), election=42)
    late = record_of(services.submit(2, uuid(), election=42))  # on its way at the seal
    services.store(stored)
    with database.connection_context():
        registry.close("42")
        sealed = registry.seal("42")
    assert sealed.total == 1
    (answer,) = services.store([late])
    assert answer.body["result"] == (
        "rejected: not recorded: election 42 is closed and its result is sealed"
    )
    (again,) = services.store([record_of(stored)])
    assert again.body["result"] == SUCCESSFUL
    assert recorded(database) == 1


def test_a_dead_letter_replay_after_the_seal_changes_nothing(
    services: Services, database: PooledPostgresqlDatabase, book: ElectionBook
) -> None:
    registry = opened(database, services.secrets, "42")
    record = record_of(services.submit(1, uuid(), election=42))
    give_up(services, record, "a trigger said no")  # a tombstone and a dead letter
    with database.connection_context():
        registry.close("42")
        assert registry.seal("42").total == 0
    outbox: list[protocol.OutgoingMessage] = []
    (outcome,) = services.recorder.handle_many(
        [(record.data(), dict(record.attributes), "replay-1")], outbox, replay=True
    )
    assert outcome == f"{REFUSED}: {sealed_reason('42')}"
    assert recorded(database) == 0
    ref = bytes.fromhex(record.attributes[BALLOT_REF])
    again = NewBallot(ref, "42", 1, new_receipt(), new_nonce())
    assert services.ballots.restore(again) is False  # the table refuses it too
    with database.connection_context():
        assert registry.sealed("42") == registry.seal("42")


def test_a_malformed_choice_is_refused_with_todays_reason(
    services: Services, book: ElectionBook
) -> None:
    for choice in ("x", 2.5, 99_999):
        reason = services.vote(1, uuid(), election=5, choice=choice)  # type: ignore[arg-type]
        assert reason == "rejected: voting must be an integer from 0 to 4"
