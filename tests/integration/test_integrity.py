"""The integrity rules of the voting logger and the record service, on real Redis and
PostgreSQL: each voter counted once, every answer true, nothing replayed or hand-made
able to store a second ballot, free a voter whose ballot is stored, or change a choice.

Messages are handed from one service to the next by the test (see ``Services``), so a
captured message can be replayed at any moment, exactly as an attacker on the topic
could.
"""

from __future__ import annotations

import base64
import json
import uuid as uuidlib
from typing import Any

from playhouse.pool import PooledPostgresqlDatabase

from actors.dead_letters import DeadLetter
from actors.recording import DUPLICATE, STORED, UNVERIFIED
from actors.replay import DeadLetterReplay
from election.domain import protocol
from election.domain.routes import LOGGER, RECORDER
from election.domain.signing import BALLOT_REF, EXPIRES, KEY_ID, SIGNATURE, Signer, Verifier
from election.storage.models import Ballot, BallotState
from tests.integration.conftest import RECORD_KEYS, Services

SUCCESSFUL = protocol.RESULT_SUCCESSFUL
ALREADY = protocol.RESULT_ALREADY_VOTED


def uuid() -> str:
    return str(uuidlib.uuid4())


def rows(database: PooledPostgresqlDatabase) -> list[tuple[str, int | None, int]]:
    with database.connection_context():
        found = Ballot.select(Ballot.election_id, Ballot.choice, Ballot.state)
        return sorted(((b.election_id, b.choice, b.state) for b in found), key=str)


def recorded(database: PooledPostgresqlDatabase) -> int:
    return sum(1 for _, _, state in rows(database) if state == BallotState.RECORDED)


def record_of(messages: list[protocol.OutgoingMessage]) -> protocol.OutgoingMessage:
    (record,) = [m for m in messages if m.attributes[protocol.FUNCTION] == protocol.RECORD_VOTE]
    return record


def give_up(services: Services, record: protocol.OutgoingMessage, error: str) -> None:
    """The record service's give-up, as Dramatiq calls it when retries run out."""
    services.recorder.give_up(dramatiq_message(record, RECORDER.actor, error), 20)


def dramatiq_message(
    message: protocol.OutgoingMessage, actor: str, error: str, *, batch: bool = True
) -> dict[str, Any]:
    """A service actor's message of one vote (``asdict()`` form): a batch of one, or
    (``batch=False``) the single-vote message of before batches of one."""
    vote = [base64.b64encode(message.data()).decode(), dict(message.attributes), "p-1"]
    return {
        "message_id": f"m-{uuid()}",
        "actor_name": actor,
        "args": [[vote]] if batch else vote,
        "options": {"traceback": f"Traceback...\npsycopg2.errors.RaiseException: {error}"},
    }


def answers(services: Services) -> list[str]:
    return [str(m.body["result"]) for m in services.publisher.sent]


# -- one voter, one ballot -------------------------------------------------------------------


def test_a_vote_is_recorded_once_however_often_it_is_delivered(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    ballot = uuid()
    assert services.vote(1, ballot) == SUCCESSFUL
    assert services.vote(1, ballot) == SUCCESSFUL  # a redelivered submit vote
    assert recorded(database) == 1


def test_a_batch_of_records_is_stored_once_each_and_every_one_answered(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    first, second = services.submit(1, uuid()), services.submit(2, uuid())
    batch = [record_of(first), record_of(second), record_of(first)]
    answers_ = services.store(batch)
    assert [a.body["result"] for a in answers_] == [SUCCESSFUL] * 3
    assert recorded(database) == 2


def test_a_second_ballot_of_a_recorded_voter_is_already_voted(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    assert services.vote(1, uuid()) == SUCCESSFUL
    assert services.vote(1, uuid()) == ALREADY
    assert recorded(database) == 1


def test_a_second_ballot_while_the_first_is_on_its_way_is_already_voted(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    on_its_way = record_of(services.submit(1, uuid()))
    (answer,) = services.submit(1, uuid())
    assert answer.body["result"] == ALREADY
    services.store([on_its_way])
    assert recorded(database) == 1


def test_the_same_ballot_uuid_in_two_elections_is_two_ballots(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    ballot = uuid()
    assert services.vote(1, ballot, election=7) == SUCCESSFUL
    assert services.vote(1, ballot, election=8) == SUCCESSFUL
    assert sorted(e for e, _, _ in rows(database)) == ["7", "8"]


def test_a_voter_whose_ballot_never_arrived_votes_again_and_the_late_copy_is_refused(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    services.logger.stale_s = 0  # every claim with no row counts as stale at once
    lost = record_of(services.submit(1, uuid()))  # never reaches the recorder
    assert services.vote(1, uuid()) == SUCCESSFUL
    (late,) = services.store([lost])
    assert late.body["result"].startswith("rejected: not recorded")
    assert recorded(database) == 1


def test_a_voter_whose_ballot_is_recorded_stays_claimed_however_old_the_claim(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    services.logger.stale_s = 0
    assert services.vote(1, uuid()) == SUCCESSFUL
    assert services.vote(1, uuid()) == ALREADY
    assert recorded(database) == 1


# -- give-ups: the voter is told the truth, and a late copy cannot count --------------------


def test_a_given_up_record_tells_the_voter_to_vote_again_and_they_can(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    record = record_of(services.submit(1, uuid()))
    give_up(services, record, "record step failing")
    assert answers(services)[-1].startswith("rejected: not recorded (RaiseException")
    assert answers(services)[-1].endswith("the voter may vote again")
    assert services.vote(1, uuid()) == SUCCESSFUL
    assert recorded(database) == 1


def test_a_captured_record_republished_after_its_give_up_and_a_new_vote_is_not_stored(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    captured = record_of(services.submit(1, uuid()))
    give_up(services, captured, "record step failing")
    assert services.vote(1, uuid()) == SUCCESSFUL
    (answer,) = services.store([captured])  # the attacker's replay
    assert answer.body["result"].startswith("rejected: not recorded")
    assert recorded(database) == 1


def test_a_give_up_of_a_ballot_that_is_stored_frees_nobody(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    ballot = uuid()
    messages = services.submit(1, ballot)
    services.store(messages)
    give_up(services, record_of(messages), "late give-up of a redelivered copy")
    assert answers(services)[-1] == SUCCESSFUL
    assert services.vote(1, uuid()) == ALREADY
    assert recorded(database) == 1


def test_a_hand_made_logger_give_up_of_a_stored_ballot_frees_nobody(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    ballot = uuid()
    submit = json.dumps(
        {
            "machine_ID": 4,
            "voter_ID": 1,
            "voting": 1,
            "election_ID": 7,
            "UUID": ballot,
            "timestamp": 1,
        }
    ).encode()
    services.store(services.submit(1, ballot))
    hand_made = {
        "message_id": "forged",
        "actor_name": LOGGER.actor,
        "args": [[[base64.b64encode(submit).decode(), {"function": "submit vote"}, "p"]]],
        "options": {},
    }
    services.logger.give_up(hand_made, 20)
    assert answers(services)[-1] == SUCCESSFUL
    assert services.vote(1, uuid()) == ALREADY
    assert recorded(database) == 1


def test_a_logger_give_up_fences_the_ballot_so_a_late_record_cannot_count(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    ballot = uuid()
    messages = services.submit(1, ballot)
    submit = {
        "machine_ID": 4,
        "voter_ID": 1,
        "voting": 1,
        "election_ID": 7,
        "UUID": ballot,
        "timestamp": 1,
    }
    given_up = protocol.OutgoingMessage(submit, {"function": "submit vote"})
    services.logger.give_up(dramatiq_message(given_up, LOGGER.actor, "redis died"), 20)
    assert answers(services)[-1].endswith("the voter may vote again")
    (late,) = services.store(messages)
    assert late.body["result"].startswith("rejected: not recorded")
    assert services.vote(1, uuid()) == SUCCESSFUL
    assert recorded(database) == 1
    (letter,) = services.letters.all()
    assert b"voter_ID" not in base64.b64decode(letter.message["args"][0])


def test_a_record_this_worker_refuses_is_given_up_and_its_voter_may_vote_again(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    record = record_of(services.submit(1, uuid(), choice=4))
    services.recorder.choices = 3  # another worker's ballot has fewer choices
    (answer,) = services.store([record])
    assert answer.body["result"].startswith("rejected: not recorded (voting must be")
    services.recorder.choices = 5
    assert services.vote(1, uuid()) == SUCCESSFUL
    assert len(services.letters.all()) == 1


def test_an_expired_record_is_given_up_and_its_voter_may_vote_again(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    services.logger.signer = Signer("k1", RECORD_KEYS["k1"], services.namespace, -120)
    (answer,) = services.store(services.submit(1, uuid()))
    assert "expired" in answer.body["result"]
    services.logger.signer = services.signer
    assert services.vote(1, uuid()) == SUCCESSFUL
    assert recorded(database) == 1


# -- forgeries and replays ---------------------------------------------------------------------


def test_a_record_signed_for_another_namespace_or_function_or_altered_is_dropped(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    genuine = record_of(services.submit(1, uuid()))
    other_namespace = Signer("k1", RECORD_KEYS["k1"], "elsewhere", 3600)
    resigned = protocol.OutgoingMessage(
        genuine.body,
        other_namespace.attributes(
            genuine.data(),
            {k: v for k, v in genuine.attributes.items() if k not in (KEY_ID, SIGNATURE, EXPIRES)},
        ),
    )
    as_result = protocol.OutgoingMessage(
        genuine.body, {**genuine.attributes, protocol.FUNCTION: protocol.RESULT}
    )
    altered = protocol.OutgoingMessage({**genuine.body, "voting": 2}, genuine.attributes)
    other_ref = protocol.OutgoingMessage(
        genuine.body, {**genuine.attributes, BALLOT_REF: "00" * 16}
    )
    outcomes = services.recorder.handle_many(
        [
            (m.data(), dict(m.attributes), f"f{n}")
            for n, m in enumerate([resigned, altered, other_ref])
        ]
        + [
            (
                as_result.data(),
                {**as_result.attributes, protocol.FUNCTION: protocol.RECORD_VOTE, SIGNATURE: "x"},
                "f4",
            )
        ]
    )
    assert set(outcomes) == {"dropped: forged"}
    assert rows(database) == []
    assert services.store([genuine])[0].body["result"] == SUCCESSFUL


def test_a_record_signed_with_a_rotated_out_key_is_kept_and_stored_once_the_key_is_back(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    services.logger.signer = Signer("old", b"o" * 16, services.namespace, 3600)
    record = record_of(services.submit(1, uuid()))
    (outcome,) = services.recorder.handle_many([(record.data(), dict(record.attributes), "r")])
    assert outcome == UNVERIFIED
    (letter,) = services.letters.all()
    services.recorder.verifier = Verifier({**RECORD_KEYS, "old": b"o" * 16}, services.namespace)
    done = DeadLetterReplay(services.recorder, services.letters).replay(letter)
    assert (done.outcome, done.final) == (STORED, True)
    assert services.letters.all() == []
    assert recorded(database) == 1


def test_a_dead_letter_replay_stores_a_given_up_ballot_and_says_so(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    give_up(services, record_of(services.submit(1, uuid())), "record step failing")
    (letter,) = services.letters.all()
    replay = DeadLetterReplay(services.recorder, services.letters)
    assert replay.replay(letter).outcome == STORED
    assert answers(services)[-1] == SUCCESSFUL
    assert services.vote(1, uuid()) == ALREADY
    assert recorded(database) == 1
    assert replay.replay(letter).outcome == DUPLICATE  # a second replay changes nothing


def test_a_give_up_and_a_dead_letter_from_before_batches_of_one_still_replay(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    record = record_of(services.submit(1, uuid()))
    old = dramatiq_message(record, "record_vote", "record step failing", batch=False)
    services.recorder.give_up(old, 20)
    (letter,) = services.letters.all()
    assert letter.actor == "record_vote" and letter.message["args"] == old["args"]
    assert DeadLetterReplay(services.recorder, services.letters).replay(letter).outcome == STORED
    assert services.letters.all() == []
    assert recorded(database) == 1


def test_a_new_dead_letter_keeps_its_record_alone_under_the_service_actor(
    services: Services,
) -> None:
    record = record_of(services.submit(1, uuid()))
    give_up(services, record, "record step failing")
    (letter,) = services.letters.all()
    assert (letter.actor, letter.error) == (RECORDER.actor, "RaiseException: record step failing")
    assert letter.message["args"] == [
        base64.b64encode(record.data()).decode(),
        dict(record.attributes),
        "p-1",
    ]
    assert letter.ballot == record.body["UUID"]


def test_a_logger_dead_letter_old_or_new_is_not_replayed(services: Services) -> None:
    submit = protocol.OutgoingMessage(
        {"machine_ID": 4, "voter_ID": 1, "voting": 1, "election_ID": 7, "UUID": uuid()},
        {"function": "submit vote"},
    )
    for actor in ("dedup_vote", LOGGER.actor):
        message = dramatiq_message(submit, actor, "redis died", batch=actor == LOGGER.actor)
        letter = services.letters.add(message, 20)
        done = DeadLetterReplay(services.recorder, services.letters).replay(letter)
        assert done.outcome.startswith("cannot be replayed") and not done.final


def test_a_dead_letter_replay_is_refused_once_the_voter_has_voted_again(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    give_up(services, record_of(services.submit(1, uuid())), "record step failing")
    (letter,) = services.letters.all()
    assert services.vote(1, uuid()) == SUCCESSFUL
    done = DeadLetterReplay(services.recorder, services.letters).replay(letter)
    assert done.outcome.startswith("refused") and "voted since" in done.outcome
    assert done.final and services.letters.all() == []
    assert recorded(database) == 1


def test_a_dead_letter_whose_choice_was_edited_in_redis_is_not_replayed(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    give_up(services, record_of(services.submit(1, uuid(), choice=1)), "record step failing")
    (letter,) = services.letters.all()
    body = json.loads(base64.b64decode(letter.message["args"][0]))
    body["voting"] = 3
    args = [base64.b64encode(json.dumps(body).encode()).decode(), *letter.message["args"][1:]]
    edited = DeadLetter(**{**letter.__dict__, "message": {**letter.message, "args": args}})
    done = DeadLetterReplay(services.recorder, services.letters).replay(edited)
    assert (done.outcome, done.final) == ("dropped: forged", False)
    assert recorded(database) == 0


def test_another_voter_sending_a_stored_ballots_uuid_casts_a_ballot_of_their_own(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    # The UUID was printed by the first voter's machine, or read in a log.
    copied = uuid()
    assert services.vote(1, copied) == SUCCESSFUL
    assert services.vote(2, copied) == SUCCESSFUL
    assert services.vote(2, uuid()) == ALREADY
    assert recorded(database) == 2


def test_the_same_ballot_sent_again_with_another_choice_is_not_said_to_be_recorded(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    ballot = uuid()
    assert services.vote(1, ballot, choice=1) == SUCCESSFUL
    answer = services.vote(1, ballot, choice=3)
    assert answer.startswith("rejected: not recorded") and "another choice" in answer
    assert rows(database) == [("7", 1, BallotState.RECORDED)]


def test_a_give_up_of_a_ballot_whose_voter_voted_since_says_so_and_keeps_nothing(
    services: Services, database: PooledPostgresqlDatabase
) -> None:
    record = record_of(services.submit(1, uuid()))
    give_up(services, record, "record step failing")
    assert services.vote(1, uuid()) == SUCCESSFUL
    (letter,) = services.letters.all()
    services.letters.remove(letter.message_id)
    give_up(services, record, "redelivered give-up")  # Dramatiq may deliver it twice
    assert "voter has voted since" in answers(services)[-1]
    assert services.letters.all() == []
    assert recorded(database) == 1


def test_the_quarantine_of_unverified_records_says_when_it_drops_one(
    services: Services, monkeypatch: object
) -> None:
    import actors.recording

    monkeypatch.setattr(actors.recording, "UNVERIFIED_CAP", 1)  # type: ignore[attr-defined]
    services.logger.signer = Signer("old", b"o" * 16, services.namespace, 3600)
    first, second = record_of(services.submit(1, uuid())), record_of(services.submit(2, uuid()))
    outcomes = services.recorder.handle_many(
        [(m.data(), dict(m.attributes), f"r{n}") for n, m in enumerate([first, second])]
    )
    assert outcomes == [
        UNVERIFIED,
        "dropped: signed with an unknown key, and the dead letters are full",
    ]
