"""The election registry on the real PostgreSQL, a schema per test: definitions that never
change once open, the life cycle, sealed results that PostgreSQL itself keeps final, and
a roll stored only as keyed tokens."""

from __future__ import annotations

import os

import peewee
import pytest
from playhouse.pool import PooledPostgresqlDatabase

from election.domain.lifecycle import State, TransitionRefused
from election.domain.manifest import Definition, DefinitionConflict, load_definition
from election.domain.secrecy import VoterSecrets
from election.storage.elections import ElectionRegistry, NoSuchElection
from election.storage.models import Ballot, BallotState, SealedResult
from tests.support.manifests import MANIFEST

SECRETS = VoterSecrets(b"v" * 32)
#: Voter IDs no digest or token could contain by chance (letters beyond hex).
VOTERS = ("voter-quill-7731", "voter-zephyr-42", "voter-wren-9")


def definition(manifest: str = MANIFEST, voters: tuple[str, ...] = VOTERS) -> Definition:
    return load_definition(manifest.encode(), lambda _: "\n".join(voters), SECRETS)


@pytest.fixture
def registry(database: PooledPostgresqlDatabase) -> ElectionRegistry:
    return ElectionRegistry(database)


def record_ballots(election_id: str, choice: int, count: int, state: int = 1) -> None:
    for _ in range(count):
        Ballot.insert(
            ref=os.urandom(16), election_id=election_id, choice=choice, state=state
        ).execute()


# --------------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------------


def test_create_stores_a_draft_and_the_same_definition_again_is_a_no_op(
    registry: ElectionRegistry,
) -> None:
    first, created = registry.create(definition())
    again, created_again = registry.create(definition())

    assert (created, created_again) == (True, False)
    assert again == first
    assert first.state() is State.DRAFT
    assert first.choices == ("North", "South", "East")
    assert first.roll_size == len(VOTERS)
    assert [r.election_id for r in registry.all()] == ["4201"]


def test_a_different_manifest_for_an_existing_id_is_refused_and_nothing_changes(
    registry: ElectionRegistry,
) -> None:
    first, _ = registry.create(definition())

    with pytest.raises(DefinitionConflict, match="election 4201 exists with a different"):
        registry.create(definition(MANIFEST.replace('"East"', '"West"')))

    assert registry.require("4201") == first


def test_a_different_roll_for_an_existing_id_is_refused_and_the_roll_stays(
    registry: ElectionRegistry,
) -> None:
    registry.create(definition())
    roll = registry.roll("4201")

    with pytest.raises(DefinitionConflict, match="different manifest or roll"):
        registry.create(definition(voters=(*VOTERS, "voter-extra-1")))

    assert registry.roll("4201") == roll
    assert roll == definition().roll


def test_nothing_about_the_ballot_or_roll_changes_once_open(registry: ElectionRegistry) -> None:
    registry.create(definition())
    opened = registry.open("4201")

    for changed in (
        definition(MANIFEST.replace("Water board", "Sewer board")),
        definition(voters=VOTERS[:2]),
    ):
        with pytest.raises(DefinitionConflict, match="is open: its ballot and roll can no longer"):
            registry.create(changed)
    assert registry.create(definition()) == (opened, False)  # the same one: still a no-op
    assert registry.roll("4201") == definition().roll


def test_an_election_whose_opens_at_has_come_is_open_and_cannot_change(
    registry: ElectionRegistry,
) -> None:
    past = MANIFEST.replace("2099-03-01T08", "2001-03-01T08")
    record, _ = registry.create(definition(past))

    assert record.stored_state is State.DRAFT and record.state() is State.OPEN
    with pytest.raises(DefinitionConflict, match="can no longer change"):
        registry.create(definition(past, voters=VOTERS[:1]))


# --------------------------------------------------------------------------------------------
# Life cycle
# --------------------------------------------------------------------------------------------


def test_open_then_close_and_every_refused_transition(registry: ElectionRegistry) -> None:
    registry.create(definition())
    first_seq = registry.require("4201").seq

    opened = registry.open("4201")
    assert opened.stored_state is State.OPEN and opened.seq == first_seq + 1
    with pytest.raises(TransitionRefused, match="already open"):
        registry.open("4201")

    closed = registry.close("4201")
    assert closed.state() is State.CLOSED and closed.seq == opened.seq + 1
    with pytest.raises(TransitionRefused, match="cannot be opened again"):
        registry.open("4201")
    assert registry.require("4201").stored_state is State.CLOSED


def test_a_draft_may_be_closed_and_never_opened_afterwards(registry: ElectionRegistry) -> None:
    registry.create(definition())

    assert registry.close("4201").state() is State.CLOSED
    with pytest.raises(TransitionRefused):
        registry.open("4201")


def test_an_undeclared_election_cannot_be_opened_or_closed(registry: ElectionRegistry) -> None:
    for move in (registry.open, registry.close, registry.require):
        with pytest.raises(NoSuchElection, match="no such election: 99"):
            move("99")
    assert registry.get("99") is None


# --------------------------------------------------------------------------------------------
# Sealed results
# --------------------------------------------------------------------------------------------


def test_seal_stores_every_choice_with_zeros_and_the_total(registry: ElectionRegistry) -> None:
    registry.create(definition())
    registry.open("4201")
    record_ballots("4201", choice=2, count=3)
    record_ballots("4201", choice=0, count=1)
    record_ballots("4201", choice=1, count=2, state=BallotState.GIVEN_UP)  # never counted
    record_ballots("other", choice=1, count=5)
    registry.close("4201")

    sealed = registry.seal("4201")

    assert sealed.counts == (1, 0, 3)
    assert sealed.total == 4
    assert sealed.roll_size == len(VOTERS)
    assert registry.sealed("4201") == sealed


def test_a_sealed_result_never_changes_not_even_by_sealing_again(
    registry: ElectionRegistry,
) -> None:
    registry.create(definition())
    record_ballots("4201", choice=1, count=2)
    registry.close("4201")
    sealed = registry.seal("4201")

    record_ballots("4201", choice=1, count=7)  # a late row cannot reach the sealed result

    assert registry.seal("4201") == sealed
    assert registry.sealed("4201") == sealed
    assert sealed.counts == (0, 2, 0)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sealed_results SET total = total + 1",
        "UPDATE sealed_results SET counts = '[9, 9, 9]'",
        "DELETE FROM sealed_results",
    ],
)
def test_postgresql_refuses_to_update_or_delete_a_sealed_result(
    registry: ElectionRegistry, database: PooledPostgresqlDatabase, statement: str
) -> None:
    registry.create(definition())
    registry.close("4201")
    sealed = registry.seal("4201")

    refused = "sealed result of election 4201 cannot change"
    with pytest.raises(peewee.DatabaseError, match=refused), database.atomic():
        database.execute_sql(statement)
    with pytest.raises(peewee.DatabaseError, match=refused), database.atomic():
        SealedResult.delete().execute()

    assert registry.sealed("4201") == sealed


# --------------------------------------------------------------------------------------------
# The roll holds only tokens
# --------------------------------------------------------------------------------------------


def test_no_voter_id_is_stored_in_any_column_of_any_table(
    registry: ElectionRegistry, database: PooledPostgresqlDatabase
) -> None:
    registry.create(definition())
    registry.open("4201")
    registry.close("4201")
    registry.seal("4201")
    schema = database.execute_sql("SELECT current_schema()").fetchone()[0]
    tables = [
        row[0]
        for row in database.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
    ]
    assert {"elections", "roll_entries", "sealed_results"} <= set(tables)

    values = []
    for table in tables:
        for row in database.execute_sql(f'SELECT * FROM "{schema}"."{table}"'):
            values += [bytes(v) if isinstance(v, memoryview) else str(v).encode() for v in row]

    assert len(values) > len(VOTERS)
    for voter in VOTERS:
        assert not [v for v in values if voter.encode() in v], voter
    tokens = {SECRETS.voter_token("4201", voter) for voter in VOTERS}
    assert tokens <= set(values)  # what the roll holds instead
