"""The voting record service's work, apart from Dramatiq: store a ballot, or give it up."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import peewee
import redis
import structlog

from actors.ballot_book import BallotBook, registry_reader
from actors.ballots import BallotRow, BallotTable, NewBallot
from actors.dead_letters import DeadLetters
from actors.payload import from_message, vote_message
from config import Settings
from election.domain import protocol
from election.domain.ballot_rules import check_choice as check_ballot_choice
from election.domain.receipts import new_nonce, new_receipt
from election.domain.routes import RECORDER
from election.domain.signing import BALLOT_REF, BadSignature, Expired, UnknownKey, Verifier, now_ms
from election.domain.votes import Ballot, InvalidVote, check_choice, parse_record, peek_uuid
from election.pubsub.client import Publisher
from election.storage.models import BallotState

log = structlog.get_logger(__name__)

#: Records signed with a key this process does not know are kept (an operator may have
#: rotated a key out too early) up to this many dead letters; beyond, only logged.
UNVERIFIED_CAP = 10_000
_REF = re.compile(r"[0-9a-f]{32}")

#: What became of a record (for the operator's replay and the tests).
STORED = "stored"
DUPLICATE = "already stored"
REFUSED = "refused"
GIVEN_UP = "given up"
UNVERIFIED = "kept: signed with an unknown key"
QUARANTINE_FULL = "dropped: signed with an unknown key, and the dead letters are full"
FORGED = "dropped: forged"

RESULT_GIVEN_UP_EARLIER = "not recorded: this ballot was given up earlier; the voter may vote again"
RESULT_SUPERSEDED = "not recorded: this ballot was given up earlier and the voter has voted since"
RESULT_OTHER_CHOICE = "not recorded: this ballot was recorded earlier with another choice"


def sealed_reason(election_id: str) -> str:
    """Why a ballot of a sealed election is not stored (or restored)."""
    return f"not recorded: election {election_id} is closed and its result is sealed"


@dataclass(frozen=True)
class _Record:
    data: bytes
    attributes: Mapping[str, str]
    message_id: str
    ref: bytes
    #: Its election's result is sealed: it is not stored, only answered.
    sealed: bool = False


class VoteRecorder:
    """Stores a ballot (once per reference) and answers ``successful`` to its machine.

    Only ``record vote`` messages signed by the voting logger are accepted: anything else
    could be ballot stuffing, and is logged and dropped without a trace in the database.
    A record signed correctly that cannot be stored (its signature expired, it breaks a
    rule of this worker, its retries ran out) is given up: a tombstone under its
    reference, a dead letter, and an answer that the voter may vote again. A tombstone
    makes any later copy of the record a no-op.

    A declared election's records are checked against its own ballot (``ballots``, this
    process's cache), not ``ELECTION_CHOICES``; once its result is sealed, nothing of it
    is stored or restored any more (a replay after the seal is refused), and a copy of a
    ballot already stored is still answered truly.
    """

    def __init__(
        self,
        ballots: BallotTable,
        publisher: Publisher,
        dead_letters: DeadLetters,
        *,
        verifier: Verifier,
        choices: int,
        book: BallotBook | None = None,
    ) -> None:
        self.book = book or BallotBook(lambda election_id: None)
        self.ballots = ballots
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.verifier = verifier
        self.choices = choices

    def handle_many(
        self,
        records: Sequence[tuple[bytes, Mapping[str, str], str]],
        outbox: list[protocol.OutgoingMessage] | None = None,
        *,
        replay: bool = False,
    ) -> list[str]:
        """Store ``(data, attributes, message_id)`` records with one multi-row insert,
        then answer each in one publish (or, given an ``outbox``, into it for the caller
        to publish); what became of each (``STORED`` ...). A failure to store raises.

        ``replay`` (an operator's replay of a dead letter) ignores the signature's expiry
        and records a given-up or fenced ballot after all, unless its voter voted since.
        """
        sending: list[protocol.OutgoingMessage] = [] if outbox is None else outbox
        outcomes: dict[str, str] = {}
        accepted, refused = self._parsed(records, replay, outcomes, sending)
        new = {
            record.ref: new_ballot(record.ref, ballot)
            for record, ballot in accepted
            if not record.sealed
        }
        inserted = self.ballots.insert(list(new.values()))
        others = self.ballots.rows(
            {record.ref for record, _ in accepted if record.ref not in inserted}
        )
        for record, ballot in accepted:
            row = others.get(record.ref)
            if record.ref in inserted:
                row = BallotRow(BallotState.RECORDED, ballot.choice, new[record.ref].receipt)
            outcomes[record.message_id] = self._answer(
                record, ballot, row, record.ref in inserted, replay, sending
            )
        for record, reason in refused:
            log.warning("vote.rejected", stage="recorder", reason=reason)
            answer = self._give_up(record, _as_message(record), 0, reason)
            if answer is not None:
                sending.append(answer)
            outcomes[record.message_id] = f"{GIVEN_UP}: {reason}"
        if outbox is None:
            self.publisher.publish_many(sending)
        return [outcomes.get(message_id, FORGED) for _, _, message_id in records]

    def _parsed(
        self,
        records: Sequence[tuple[bytes, Mapping[str, str], str]],
        replay: bool,
        outcomes: dict[str, str],
        outbox: list[protocol.OutgoingMessage],
    ) -> tuple[list[tuple[_Record, Ballot]], list[tuple[_Record, str]]]:
        """The records whose signature holds, as ballots to store, and those of them this
        worker refuses, with why."""
        accepted: list[tuple[_Record, Ballot]] = []
        refused: list[tuple[_Record, str]] = []
        for data, attributes, message_id in records:
            record = self._verified(data, attributes, message_id, replay, outcomes, outbox)
            if record is None:
                continue
            try:
                ballot = parse_record(data, attributes, choices=None)
                info = self.book.info(ballot.election_id, fresh=replay)
                if info is None:
                    check_choice(ballot, self.choices)  # undeclared: today's rule
            except InvalidVote as invalid:
                refused.append((record, invalid.reason))
                continue
            if info is not None:
                off = check_ballot_choice(info.election_id, info.choices, ballot.choice)
                if off is not None:
                    refused.append((record, off))
                    continue
                if info.sealed:
                    record = _Record(data, attributes, message_id, record.ref, sealed=True)
            accepted.append((record, ballot))
        return accepted, refused

    def _answer(
        self,
        record: _Record,
        ballot: Ballot,
        row: BallotRow | None,
        inserted: bool,
        replay: bool,
        outbox: list[protocol.OutgoingMessage],
    ) -> str:
        """Answer a ballot whose row is now ``row`` (``None``: it has none; ``inserted``
        by this batch); what became of it."""
        state = None if row is None else row.state
        receipt = None if row is None else row.receipt
        fields = {
            "uuid": ballot.uuid,
            "election_id": ballot.election_id,
            "message_id": record.message_id,
        }
        if record.sealed and state != BallotState.RECORDED:
            return self._sealed(record, ballot, state, outbox, fields)
        if replay and state in (BallotState.GIVEN_UP, BallotState.FENCED):
            again = new_ballot(record.ref, ballot)
            restored = self.ballots.restore(again)
            receipt = again.receipt if restored else receipt
        else:
            restored = False
        if state == BallotState.RECORDED and row is not None and row.choice != ballot.choice:
            # The same ballot (voter and UUID) again, but with another choice: the first
            # one counts, and this one is not "recorded".
            outbox.append(
                protocol.rejection_message(ballot.machine_id, ballot.uuid, RESULT_OTHER_CHOICE)
            )
            log.warning("vote.other_choice", **fields)
            return f"{REFUSED}: {RESULT_OTHER_CHOICE}"
        if state == BallotState.RECORDED or restored:
            outbox.append(protocol.successful_message(ballot.machine_id, ballot.uuid, receipt))
            duplicate = not inserted and not restored
            log.info("vote.recorded", duplicate=duplicate, restored=restored, **fields)
            return DUPLICATE if duplicate else STORED
        reason = RESULT_SUPERSEDED if state == BallotState.SUPERSEDED else RESULT_GIVEN_UP_EARLIER
        outbox.append(protocol.rejection_message(ballot.machine_id, ballot.uuid, reason))
        log.warning("vote.tombstoned", state=state, **fields)
        return f"{REFUSED}: {reason}"

    def _sealed(
        self,
        record: _Record,
        ballot: Ballot,
        state: int | None,
        outbox: list[protocol.OutgoingMessage],
        fields: dict[str, str],
    ) -> str:
        """A record of a sealed election with no recorded row: refused, and fenced if it
        has no row at all, so that nothing can store it later."""
        if state is None:
            self.ballots.tombstone(record.ref, ballot.election_id, BallotState.FENCED)
        reason = sealed_reason(ballot.election_id)
        outbox.append(protocol.rejection_message(ballot.machine_id, ballot.uuid, reason))
        log.warning("vote.sealed", state=state, **fields)
        return f"{REFUSED}: {reason}"

    def _verified(
        self,
        data: bytes,
        attributes: Mapping[str, str],
        message_id: str,
        replay: bool,
        outcomes: dict[str, str],
        outbox: list[protocol.OutgoingMessage],
    ) -> _Record | None:
        """The record if its signature holds; otherwise logged (and kept, or given up)."""
        at_ms = None if replay else now_ms()
        try:
            self.verifier.verify(data, attributes, function=protocol.RECORD_VOTE, at_ms=at_ms)
        except UnknownKey as unknown:
            letter = _as_message(_Record(data, attributes, message_id, b""))
            kept = self.dead_letters.add_if_room(letter, 0, error=str(unknown), cap=UNVERIFIED_CAP)
            log.warning("record.unverified", reason=str(unknown), message_id=message_id)
            outcomes[message_id] = UNVERIFIED if kept else QUARANTINE_FULL
            return None
        except Expired as expired:
            record = _Record(data, attributes, message_id, _ref(attributes))
            answer = self._give_up(record, _as_message(record), 0, str(expired))
            if answer is not None:
                outbox.append(answer)
            outcomes[message_id] = f"{GIVEN_UP}: {expired}"
            return None
        except BadSignature as forged:
            log.warning("record.forged", reason=str(forged), message_id=message_id)
            return None
        return _Record(data, attributes, message_id, _ref(attributes))

    def give_up(self, message: dict[str, Any], retries: int) -> None:
        """Retries of a record ran out: tombstone it, dead-letter it, tell the machine.

        Unless the ballot is stored after all (its insert committed, then the answer could
        not be published; or another copy of it got through): then it is answered
        ``successful``. Errors of the database, Redis or Pub/Sub make Dramatiq retry this,
        for as long as they last, so no ballot ends without an answer.

        ``message`` is Dramatiq's (``asdict()`` form) of a batch of one record, or of one
        record alone (a give-up from before batches of one); its dead letter keeps the
        record alone (``actors.payload``).
        """
        message = vote_message(message)
        data, attributes = from_message(message)
        try:
            self.verifier.verify(data, attributes, function=protocol.RECORD_VOTE)
        except BadSignature as bad:
            self.dead_letters.add_if_room(
                message, retries, error=f"unverifiable: {bad}", cap=UNVERIFIED_CAP
            )
            log.warning("record.unverified", reason=str(bad), message_id=message.get("message_id"))
            return
        record = _Record(data, attributes, str(message.get("message_id")), _ref(attributes))
        answer = self._give_up(record, message, retries, None)
        if answer is not None:
            self.publisher.publish(answer)

    def _give_up(
        self, record: _Record, message: dict[str, Any], retries: int, error: str | None
    ) -> protocol.OutgoingMessage | None:
        """Tombstone and dead-letter a record that will not be stored; the answer for its
        machine (``None`` when it cannot be identified)."""
        body = _loose_body(record.data)
        election_id = str(body.get("election_ID", ""))[:64]
        machine_id = record.attributes.get(protocol.MACHINE_ID)
        uuid = peek_uuid(base64.b64encode(record.data).decode("ascii"))
        if not self.ballots.tombstone(record.ref, election_id, BallotState.GIVEN_UP):
            row = self.ballots.rows([record.ref]).get(record.ref)
            state = None if row is None else row.state
            if row is not None and state == BallotState.RECORDED:
                log.warning("vote.recorded_after_all", uuid=uuid, retries=retries)
                if not machine_id:
                    return None
                return protocol.successful_message(machine_id, uuid, row.receipt)
            if state == BallotState.SUPERSEDED:
                # Given up before, and its voter has voted since: nothing to keep or free.
                log.warning("vote.tombstoned", state=state, uuid=uuid)
                return (
                    None
                    if not machine_id
                    else protocol.rejection_message(machine_id, uuid, RESULT_SUPERSEDED)
                )
        letter = self.dead_letters.add(
            message, retries, letter_id=f"record-{record.ref.hex()}", error=error
        )
        # No UUID here: with a reason such as a choice out of range, it would say something
        # of the ballot's choice (the dead letter keeps the record itself).
        log.warning("vote.given_up", letter=letter.message_id, election_id=election_id)
        if not machine_id:
            return None
        return protocol.rejection_message(
            machine_id, uuid, f"not recorded ({letter.error}); the voter may vote again"
        )


def new_ballot(ref: bytes, ballot: Ballot) -> NewBallot:
    """A ballot to store under ``ref``, with a fresh receipt and commitment nonce."""
    return NewBallot(ref, ballot.election_id, ballot.choice, new_receipt(), new_nonce())


def vote_recorder(
    settings: Settings, database: peewee.Database, client: redis.Redis, publisher: Publisher
) -> VoteRecorder:
    """The record service's worker for ``settings``, on the given clients."""
    return VoteRecorder(
        BallotTable(database),
        publisher,
        DeadLetters(client, settings.namespace),
        verifier=Verifier(settings.require_verifying_keys(), settings.namespace),
        choices=settings.choices,
        book=BallotBook(registry_reader(database)),
    )


def _ref(attributes: Mapping[str, str]) -> bytes:
    text = attributes.get(BALLOT_REF, "")
    if not _REF.fullmatch(text):
        # Only a signed message gets here, so only a broken logger could send this.
        raise ValueError(f"record carries no valid {BALLOT_REF}")
    return bytes.fromhex(text)


def _as_message(record: _Record) -> dict[str, Any]:
    """A record as the message of a dead letter (the one-vote form: ``actors.payload``)."""
    return {
        "message_id": record.message_id,
        "actor_name": RECORDER.actor,
        "args": [
            base64.b64encode(record.data).decode("ascii"),
            dict(record.attributes),
            record.message_id,
        ],
    }


def _loose_body(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
