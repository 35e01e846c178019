"""Vote validation: raw message bytes in, a checked :class:`Ballot` out, or a reason why not.

The reference protocol sends IDs and the choice as integers; we also accept short strings
of a fixed alphabet for IDs (our own machines may be named), and nothing else. Every
rejection says what is wrong in words a voting machine can show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from election.domain import protocol
from election.domain.errors import InvalidInput

MAX_BODY_BYTES = 4096
MAX_ID_LENGTH = 64
_ID_TEXT = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_UUID_TEXT = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_INTEGER_ID = 2**63 - 1
# Timestamps are milliseconds since the epoch; allow any 64-bit positive value.
MAX_TIMESTAMP = 2**63 - 1
#: The largest choice (either sign) a vote may carry before any ballot is consulted: the
#: stored choice is a SMALLINT, and no ballot has more than 1000 choices.
MAX_CHOICE = 2**15 - 1

SUBMISSION_FIELDS = ("machine_ID", "voter_ID", "voting", "election_ID", "UUID", "timestamp")
RECORD_FIELDS = ("machine_ID", "voting", "election_ID", "UUID", "timestamp")


class InvalidVote(InvalidInput):
    """A message that is not a valid vote.

    ``machine_id`` and ``uuid`` are whatever could be recovered from it, so that the
    sender can be told; ``None`` when the sender cannot be identified.
    """

    def __init__(self, reason: str, *, machine_id: str | None, uuid: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.machine_id = machine_id
        self.uuid = uuid


@dataclass(frozen=True)
class Ballot:
    """A validated vote. IDs are kept in their canonical text form."""

    machine_id: str
    election_id: str
    choice: int
    uuid: str
    timestamp: int
    voter_id: str | None = None

    def record_body(self) -> dict[str, Any]:
        """The ``record vote`` body: the submission without ``voter_ID`` (ballot secrecy)."""
        return {
            "machine_ID": wire_id(self.machine_id),
            "voting": self.choice,
            "election_ID": wire_id(self.election_id),
            "UUID": self.uuid,
            "timestamp": self.timestamp,
        }


def parse_submission(data: bytes, attributes: Mapping[str, str], *, choices: int | None) -> Ballot:
    """Validate a ``submit vote`` message; raise :class:`InvalidVote`.

    ``choices`` bounds the choice to ``0..choices-1``; ``None`` lets any integer of at
    most :data:`MAX_CHOICE` through, for a caller that checks it against an election's
    own ballot (``election.domain.ballot_rules``) or with :func:`check_choice`."""
    body = _decode(data, attributes)
    ballot = _ballot(body, attributes, SUBMISSION_FIELDS, choices)
    voter_id = _id(body, "voter_ID", ballot)
    return Ballot(**{**ballot.__dict__, "voter_id": voter_id})


def parse_record(data: bytes, attributes: Mapping[str, str], *, choices: int | None) -> Ballot:
    """Validate a ``record vote`` message; it must not carry ``voter_ID``. ``choices`` as
    for :func:`parse_submission`."""
    body = _decode(data, attributes)
    ballot = _ballot(body, attributes, RECORD_FIELDS, choices)
    if "voter_ID" in body:
        raise _invalid("record vote must not carry voter_ID", ballot.machine_id, ballot.uuid)
    return ballot


def _decode(data: bytes, attributes: Mapping[str, str]) -> dict[str, Any]:
    machine = _attribute_machine(attributes)
    if len(data) > MAX_BODY_BYTES:
        raise _invalid(f"body too large ({len(data)} bytes, limit {MAX_BODY_BYTES})", machine, None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("body is not valid UTF-8", machine, None) from None
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise _invalid("body is not valid JSON", machine, None) from None
    if not isinstance(body, dict):
        raise _invalid("body is not a JSON object", machine, None)
    return body


def _ballot(
    body: dict[str, Any],
    attributes: Mapping[str, str],
    fields: tuple[str, ...],
    choices: int | None,
) -> Ballot:
    machine = _attribute_machine(attributes)
    raw_machine = body.get("machine_ID")
    if _valid_id(raw_machine):
        machine = _text_id(raw_machine)
    uuid = body.get("UUID")
    uuid = uuid if isinstance(uuid, str) and _UUID_TEXT.fullmatch(uuid) else None
    missing = [name for name in fields if name not in body]
    if missing:
        raise _invalid(f"missing field {', '.join(missing)}", machine, uuid)
    if machine is None or not _valid_id(raw_machine):
        raise _invalid(_id_problem("machine_ID", raw_machine), machine, uuid)
    if uuid is None:
        raise _invalid("UUID must be a string of letters, digits and -", machine, None)
    choice = body["voting"]
    if not _is_int(choice) or not -MAX_CHOICE <= choice <= MAX_CHOICE:
        raise _invalid(_choice_problem(choices), machine, uuid)
    if choices is not None and not 0 <= choice < choices:
        raise _invalid(_choice_problem(choices), machine, uuid)
    timestamp = body["timestamp"]
    if not _is_int(timestamp) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise _invalid("timestamp must be a non-negative integer (ms)", machine, uuid)
    partial = Ballot(machine, "", choice, uuid, timestamp)
    election = _id(body, "election_ID", partial)
    return Ballot(machine, election, choice, uuid, timestamp)


def _choice_problem(choices: int | None) -> str:
    if choices is None:
        return f"voting must be an integer from 0 to {MAX_CHOICE}"
    return f"voting must be an integer from 0 to {choices - 1}"


def check_choice(ballot: Ballot, choices: int) -> None:
    """Refuse a ballot parsed with ``choices=None`` whose choice is not in
    ``0..choices-1`` (today's rule for undeclared elections), with the reason
    :func:`parse_submission` gives; raise :class:`InvalidVote`."""
    if not 0 <= ballot.choice < choices:
        raise _invalid(_choice_problem(choices), ballot.machine_id, ballot.uuid)


def _id(body: dict[str, Any], name: str, ballot: Ballot) -> str:
    try:
        return canonical_id(body.get(name))
    except InvalidId as exc:
        raise _invalid(f"{name} {exc}", ballot.machine_id, ballot.uuid) from None


def _attribute_machine(attributes: Mapping[str, str]) -> str | None:
    """The ``machineID`` attribute in canonical form (so that "07" is answered as "7"), or
    ``None`` when it is missing or not a valid ID."""
    value = attributes.get(protocol.MACHINE_ID)
    return None if value is None else canonical_cli_id(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class InvalidId(InvalidInput):
    """A value that is not an ID. The message is a predicate that follows the field's name:
    ``f"{field} {exc}"`` reads as a sentence, e.g. ``voter_ID must be an integer or a short ID``.
    """


_NOT_AN_ID = "must be an integer or a short ID"
_DIGITS = re.compile(r"[0-9]+")
# What a number parser (JSON, JavaScript's Number(), Python's float() and int(text, 0)) would
# read as a number: decimal notation with an optional sign, fraction and exponent, and the
# 0x/0o/0b integer prefixes. Linear time: no two parts can match the same character.
_NUMBER_LIKE = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[+-]?0(?:[xX][0-9A-Fa-f]+|[oO][0-7]+|[bB][01]+)"
)


def canonical_id(value: object) -> str:
    r"""The one text form of an election, machine or voter ID; raise :class:`InvalidId`.

    One voter, one ID: every spelling of the same whole number gives the same ID, and any
    other spelling of a number is refused rather than kept as a second voter.

    - An ``int`` from 0 to 2**63 - 1 (not a ``bool``) gives its decimal text: ``7`` -> ``"7"``.
    - A string of 1-64 ASCII digits gives the same number's decimal text, leading zeros
      dropped: ``"007"`` -> ``"7"``, ``"000"`` -> ``"0"``; refused above 2**63 - 1.
    - Any other string that fully matches
      ``[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`` (sign, fraction or exponent:
      ``"7.0"``, ``"7."``, ``".5"``, ``"1e3"``, ``"-7"``, ``"+7"``, ``"-0"``) or
      ``[+-]?0([xX][0-9A-Fa-f]+|[oO][0-7]+|[bB][01]+)`` (``"0x1F"``, ``"0o17"``, ``"0b101"``)
      is refused: it looks like a number but is not a whole number in canonical form.
    - Any other string of 1-64 characters of ``A-Za-z0-9_.:-`` is a name, kept exactly as it
      is (``"machine-7"``, ``"1.2.3"``, ``"a:b"``, ``"07-booth"``, ``"1_000"``, ``"1e"``).
    - Anything else (floats, bools, null, lists, objects, other characters, longer strings,
      integers out of range) is refused.

    The result is canonical: ``canonical_id(canonical_id(v)) == canonical_id(v)``, and
    ``canonical_id(wire_id(c)) == c`` for every canonical ``c``.
    """
    if isinstance(value, bool):
        raise InvalidId(_NOT_AN_ID)
    if isinstance(value, int):
        if 0 <= value <= MAX_INTEGER_ID:
            return str(int(value))
        raise InvalidId(_NOT_AN_ID)
    if not isinstance(value, str):
        raise InvalidId(_NOT_AN_ID)
    if _ID_TEXT.fullmatch(value) is None:
        if len(value) <= MAX_ID_LENGTH and _NUMBER_LIKE.fullmatch(value):
            raise InvalidId(_not_canonical(value))  # "+7": say why, not only "not an ID"
        raise InvalidId(_NOT_AN_ID)
    if _DIGITS.fullmatch(value):
        number = int(value)
        if number > MAX_INTEGER_ID:
            raise InvalidId(f"is a whole number above the largest ID {MAX_INTEGER_ID}")
        return str(number)
    if _NUMBER_LIKE.fullmatch(value):
        raise InvalidId(_not_canonical(value))
    return value


def _not_canonical(text: str) -> str:
    # The value is not repeated: a reason goes to the machine and into logs, and a voter
    # ID must reach neither.
    return (
        "looks like a number but is not a whole number in canonical form"
        f" (digits only, 0 to {MAX_INTEGER_ID})"
    )


def canonical_cli_id(text: str) -> str | None:
    """The canonical form of an ID typed on the command line (``"07"`` -> ``"7"``), or
    ``None`` when it is not an ID; :func:`canonical_id` says why."""
    try:
        return canonical_id(text)
    except InvalidId:
        return None


def _id_problem(name: str, value: object) -> str:
    """Why ``value`` is not a valid ``name`` field, as a sentence naming the field."""
    try:
        canonical_id(value)
    except InvalidId as exc:
        return f"{name} {exc}"
    return f"{name} {_NOT_AN_ID}"  # not reached for an invalid value


def _valid_id(value: object) -> bool:
    try:
        canonical_id(value)
    except InvalidId:
        return False
    return True


def _text_id(value: object) -> str:
    return canonical_id(value)


def wire_id(text: str) -> int | str:
    """An ID as it goes on the wire: whole numbers as integers, as the reference does.

    Canonical IDs round-trip: ``canonical_id(wire_id(c)) == c``. Other text (``"007"``) is
    sent as it is, for the receiver to canonicalize or refuse.
    """
    if text.isdecimal() and str(int(text)) == text and int(text) <= MAX_INTEGER_ID:
        return int(text)
    return text


def _invalid(reason: str, machine_id: str | None, uuid: str | None) -> InvalidVote:
    return InvalidVote(reason, machine_id=machine_id, uuid=uuid)


def is_valid_id(text: str) -> bool:
    """Whether ``text`` is acceptable as an election, machine or voter ID: the same rule as
    for IDs in messages (:func:`canonical_id`), so ``"07"`` is valid (it is 7) and ``"7.0"``
    is not. Use :func:`canonical_cli_id` for the form to use."""
    return canonical_cli_id(text) is not None


def peek_uuid(data_b64: object) -> str:
    """The ``UUID`` of a base64 message body, or ``"?"``: for listings, never for logic."""
    import base64

    try:
        body = json.loads(base64.b64decode(str(data_b64)))
    except ValueError:
        return "?"
    uuid = body.get("UUID") if isinstance(body, dict) else None
    return uuid if isinstance(uuid, str) else "?"
