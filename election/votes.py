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

from election import protocol

MAX_BODY_BYTES = 4096
MAX_ID_LENGTH = 64
_ID_TEXT = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_UUID_TEXT = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_INTEGER_ID = 2**63 - 1
# Timestamps are milliseconds since the epoch; allow any 64-bit positive value.
MAX_TIMESTAMP = 2**63 - 1

SUBMISSION_FIELDS = ("machine_ID", "voter_ID", "voting", "election_ID", "UUID", "timestamp")
RECORD_FIELDS = ("machine_ID", "voting", "election_ID", "UUID", "timestamp")


class InvalidVote(ValueError):
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


def parse_submission(data: bytes, attributes: Mapping[str, str], *, choices: int) -> Ballot:
    """Validate a ``submit vote`` message; raise :class:`InvalidVote`."""
    body = _decode(data, attributes)
    ballot = _ballot(body, attributes, SUBMISSION_FIELDS, choices)
    voter_id = _id(body, "voter_ID", ballot)
    return Ballot(**{**ballot.__dict__, "voter_id": voter_id})


def parse_record(data: bytes, attributes: Mapping[str, str], *, choices: int) -> Ballot:
    """Validate a ``record vote`` message; it must not carry ``voter_ID``."""
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
    choices: int,
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
        raise _invalid("machine_ID must be an integer or a short ID", machine, uuid)
    if uuid is None:
        raise _invalid("UUID must be a string of letters, digits and -", machine, None)
    choice = body["voting"]
    if not _is_int(choice) or not 0 <= choice < choices:
        raise _invalid(f"voting must be an integer from 0 to {choices - 1}", machine, uuid)
    timestamp = body["timestamp"]
    if not _is_int(timestamp) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise _invalid("timestamp must be a non-negative integer (ms)", machine, uuid)
    partial = Ballot(machine, "", choice, uuid, timestamp)
    election = _id(body, "election_ID", partial)
    return Ballot(machine, election, choice, uuid, timestamp)


def _id(body: dict[str, Any], name: str, ballot: Ballot) -> str:
    value = body.get(name)
    if not _valid_id(value):
        raise _invalid(f"{name} must be an integer or a short ID", ballot.machine_id, ballot.uuid)
    return _text_id(value)


def _attribute_machine(attributes: Mapping[str, str]) -> str | None:
    value = attributes.get(protocol.MACHINE_ID)
    return value if value is not None and _ID_TEXT.fullmatch(value) else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_id(value: object) -> bool:
    if _is_int(value):
        return 0 <= value <= MAX_INTEGER_ID  # type: ignore[operator]
    return isinstance(value, str) and bool(_ID_TEXT.fullmatch(value))


def _text_id(value: object) -> str:
    return str(value)


def wire_id(text: str) -> int | str:
    """An ID as it goes on the wire: whole numbers as integers, as the reference does."""
    if text.isdecimal() and str(int(text)) == text and int(text) <= MAX_INTEGER_ID:
        return int(text)
    return text


def _invalid(reason: str, machine_id: str | None, uuid: str | None) -> InvalidVote:
    return InvalidVote(reason, machine_id=machine_id, uuid=uuid)


def is_valid_id(text: str) -> bool:
    """Whether ``text`` is acceptable as an election, machine or voter ID."""
    return bool(_ID_TEXT.fullmatch(text))


@dataclass(frozen=True)
class Release:
    """A signed request to free the voter of a ballot the record service gave up."""

    machine_id: str
    election_id: str
    uuid: str
    reason: str


def parse_release(data: bytes, attributes: Mapping[str, str]) -> Release:
    """Validate a ``release claim`` body; raise :class:`InvalidVote`."""
    body = _decode(data, attributes)
    ballot = Ballot("", "", 0, "", 0)
    machine = _id(body, "machine_ID", ballot)
    uuid = body.get("UUID")
    if not (isinstance(uuid, str) and _UUID_TEXT.fullmatch(uuid)):
        raise _invalid("UUID must be a string of letters, digits and -", machine, None)
    election = _id(body, "election_ID", Ballot(machine, "", 0, uuid, 0))
    reason = body.get("reason")
    return Release(machine, election, uuid, reason if isinstance(reason, str) else "")


def peek_uuid(data_b64: object) -> str:
    """The ``UUID`` of a base64 message body, or ``"?"``: for listings, never for logic."""
    import base64

    try:
        body = json.loads(base64.b64decode(str(data_b64)))
    except ValueError:
        return "?"
    uuid = body.get("UUID") if isinstance(body, dict) else None
    return uuid if isinstance(uuid, str) else "?"
