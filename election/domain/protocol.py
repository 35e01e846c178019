"""The wire contract on the topic: attribute names, function values and message shapes.

Nothing here does I/O. A :class:`OutgoingMessage` is what a service hands to the publisher:
a JSON body and the attributes that the consumers' subscription filters select on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from election.domain.filters import quote

FUNCTION = "function"
MACHINE_ID = "machineID"

SUBMIT_VOTE = "submit vote"
RECORD_VOTE = "record vote"
RESULT = "result"

RESULT_SUCCESSFUL = "successful"
RESULT_ALREADY_VOTED = "Already Voted!!!"
RESULT_REJECTED_PREFIX = "rejected:"

LOGGER_FILTER = f"attributes.{FUNCTION} = {quote(SUBMIT_VOTE)}"
RECORDER_FILTER = f"attributes.{FUNCTION} = {quote(RECORD_VOTE)}"


def machine_filter(machine_id: str) -> str:
    """The filter of one voting machine's answer subscription."""
    return (
        f"attributes.{FUNCTION} = {quote(RESULT)} AND attributes.{MACHINE_ID} = {quote(machine_id)}"
    )


def machine_prefix_filter(prefix: str) -> str:
    """A filter for the answers of every machine whose ID starts with ``prefix``."""
    return (
        f"attributes.{FUNCTION} = {quote(RESULT)} "
        f"AND hasPrefix(attributes.{MACHINE_ID}, {quote(prefix)})"
    )


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to publish: JSON-able body plus Pub/Sub attributes."""

    body: Mapping[str, Any]
    attributes: Mapping[str, str] = field(default_factory=dict)

    def data(self) -> bytes:
        """The body as compact UTF-8 JSON (deterministic, so signatures stay valid)."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()

    def with_attributes(self, extra: Mapping[str, str]) -> OutgoingMessage:
        """The same message with more attributes."""
        return OutgoingMessage(self.body, {**self.attributes, **extra})


#: The body field of a ``successful`` answer that carries the ballot's receipt (an extra
#: field: reference machines ignore it).
RECEIPT = "receipt"


def result_message(
    machine_id: str, uuid: str, result: str, *, receipt: str | None = None
) -> OutgoingMessage:
    """An answer to the machine ``machine_id`` about the ballot ``uuid``."""
    body = {"result": result, "UUID": uuid}
    if receipt is not None:
        body[RECEIPT] = receipt
    return OutgoingMessage(body=body, attributes={FUNCTION: RESULT, MACHINE_ID: machine_id})


def successful_message(machine_id: str, uuid: str, receipt: str | None) -> OutgoingMessage:
    """``successful``, with the ballot's receipt (a row stored before receipts has none)."""
    return result_message(machine_id, uuid, RESULT_SUCCESSFUL, receipt=receipt)


def rejection_message(machine_id: str, uuid: str, reason: str) -> OutgoingMessage:
    """A ``result`` that tells the machine its message was refused, and why."""
    return result_message(machine_id, uuid, f"{RESULT_REJECTED_PREFIX} {reason}")


# --------------------------------------------------------------------------------------------
# Declared elections (issue 12): change events for the loggers, ballots for the machines
# --------------------------------------------------------------------------------------------

ELECTION_CHANGED = "election changed"
BALLOT_REQUEST = "ballot request"
BALLOT = "ballot"


def function_filter(function: str) -> str:
    """The filter of the messages whose ``function`` attribute is ``function``."""
    return f"attributes.{FUNCTION} = {quote(function)}"


ELECTION_CHANGED_FILTER = function_filter(ELECTION_CHANGED)
BALLOT_REQUEST_FILTER = function_filter(BALLOT_REQUEST)


def ballot_filter(machine_id: str) -> str:
    """The filter of one voting machine's ballot subscription."""
    return f"{function_filter(BALLOT)} AND attributes.{MACHINE_ID} = {quote(machine_id)}"


def election_changed_message(
    election_id: str, state: str, definition_digest: str, seq: int
) -> OutgoingMessage:
    """Tell the loggers that an election was created, opened or closed.

    ``seq`` grows with every change of one election, so that a worker ignores an event older
    than what it knows (Pub/Sub does not keep order). IDs are sent as canonical text.
    """
    return OutgoingMessage(
        body={
            "election_ID": election_id,
            "state": state,
            "definition": definition_digest,
            "seq": seq,
        },
        attributes={FUNCTION: ELECTION_CHANGED},
    )


def ballot_request_message(machine_id: str, election_id: str) -> OutgoingMessage:
    """A machine's request for the ballot of ``election_id``."""
    return OutgoingMessage(
        body={"machine_ID": machine_id, "election_ID": election_id},
        attributes={FUNCTION: BALLOT_REQUEST, MACHINE_ID: machine_id},
    )


def ballot_message(
    machine_id: str, election_id: str, title: str, choices: tuple[str, ...], state: str
) -> OutgoingMessage:
    """The answer to a ``ballot request``: the title, the choice names (the index is the
    ``voting`` value) and the state."""
    return OutgoingMessage(
        body={"election_ID": election_id, "title": title, "choices": list(choices), "state": state},
        attributes={FUNCTION: BALLOT, MACHINE_ID: machine_id},
    )
