"""The ballot a voting machine shows: its request, the answer, and what the machine makes of it.

Pure: bytes in, checked values out. The logger's worker role answers a ``ballot request``
(``actors.ballot_desk``) with the election's title, choice names and state; the machine
(``election.machine.ballot``) reads the answer and decides how to start.

Decisions (issue 12):

- An answer never says anything about voters: no roll, no roll size, no counts.
- An election that is not declared is answered too, with the state ``undeclared`` and no
  choices, so a machine need not wait for its time-out to vote as the reference machine does.
- The machine reads any answer from the topic as untrusted: the title and names are shown
  on one line each (white space runs become one space, control characters are dropped),
  and an answer it cannot read counts as no answer.
- A draft or closed election stops the machine (exit code 1): no vote it could send would
  be accepted, and an operator should see why at once rather than a column of refusals.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from election.domain import protocol
from election.domain.errors import InvalidInput
from election.domain.lifecycle import State
from election.domain.votes import MAX_BODY_BYTES, InvalidId, canonical_id

#: The state of an answer for an election that is not declared.
UNDECLARED = "undeclared"
#: The states an answer may carry.
STATES = frozenset({*(state.value for state in State), UNDECLARED})
#: Longest title and choice name a machine shows (the manifest's limits are lower).
MAX_SHOWN = 200
#: Most choices a machine takes from an answer (the manifest allows at most 1000).
MAX_SHOWN_CHOICES = 1000
#: Largest answer body a machine reads: 1000 choices of 100 characters, with room.
MAX_ANSWER_BYTES = 512 * 1024
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class InvalidRequest(InvalidInput):
    """A ``ballot request`` that cannot be answered; the reason repeats no value."""


@dataclass(frozen=True)
class BallotRequest:
    """A checked ``ballot request``: who asks, for which election (canonical IDs)."""

    machine_id: str
    election_id: str


def parse_ballot_request(data: bytes) -> BallotRequest:
    """Check a ``ballot request`` body; raise :class:`InvalidRequest`."""
    body = _object(data, MAX_BODY_BYTES)
    if body is None:
        raise InvalidRequest(f"body is not a JSON object of at most {MAX_BODY_BYTES} bytes")
    ids = []
    for name in ("machine_ID", "election_ID"):
        if name not in body:
            raise InvalidRequest(f"missing field {name}")
        try:
            ids.append(canonical_id(body[name]))
        except InvalidId as exc:
            raise InvalidRequest(f"{name} {exc}") from None
    return BallotRequest(*ids)


def ballot_answer(
    request: BallotRequest, declared: tuple[str, tuple[str, ...], State] | None
) -> protocol.OutgoingMessage:
    """The answer to ``request``: the ``(title, choices, state)`` of the declared election,
    or, when ``declared`` is ``None``, an answer that says the election is undeclared."""
    if declared is None:
        return protocol.ballot_message(request.machine_id, request.election_id, "", (), UNDECLARED)
    title, choices, state = declared
    return protocol.ballot_message(
        request.machine_id, request.election_id, title, choices, state.value
    )


@dataclass(frozen=True)
class ShownBallot:
    """A ballot as a machine got it; ``state`` is one of :data:`STATES`."""

    election_id: str
    state: str
    title: str = ""
    choices: tuple[str, ...] = ()

    @property
    def declared(self) -> bool:
        return self.state != UNDECLARED

    def header(self) -> str:
        """The one line a machine prints before it votes on a declared ballot."""
        names = ", ".join(f"{index} {name}" for index, name in enumerate(self.choices))
        return f"election {self.election_id}: {self.title} | choices: {names}"

    def stop_reason(self) -> str | None:
        """Why a machine must not vote on this ballot, or ``None`` when it may."""
        if self.state == State.DRAFT.value:
            return f"election {self.election_id} is not open yet"
        if self.state == State.CLOSED.value:
            return f"election {self.election_id} is closed"
        return None


def parse_ballot(data: bytes, election_id: str) -> ShownBallot | None:
    """The ballot of ``election_id`` in an answer's body, or ``None`` when the body is not
    a readable answer about that election (another election's, a forged or broken one)."""
    body = _object(data, MAX_ANSWER_BYTES)
    if body is None or _canonical(body.get("election_ID")) != election_id:
        return None
    state, title, choices = body.get("state"), body.get("title", ""), body.get("choices", [])
    if state not in STATES or not isinstance(title, str) or not isinstance(choices, list):
        return None
    if state == UNDECLARED:
        return ShownBallot(election_id, UNDECLARED)
    names = tuple(_shown(name) for name in choices[: MAX_SHOWN_CHOICES + 1])
    if not names or len(names) > MAX_SHOWN_CHOICES or not all(names):
        return None
    return ShownBallot(election_id, str(state), _shown(title), names)


def choice_label(index: int, names: tuple[str, ...]) -> str:
    """How a per-vote line names a choice: ``1 (South)`` on a named ballot, ``1`` otherwise."""
    return f"{index} ({names[index]})" if 0 <= index < len(names) else str(index)


def _shown(value: object) -> str:
    """``value`` as one line of at most :data:`MAX_SHOWN` characters; ``""`` if not text."""
    if not isinstance(value, str):
        return ""
    kept = "".join(c for c in value if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    return " ".join(kept.split())[:MAX_SHOWN]


def _canonical(value: object) -> str | None:
    try:
        return canonical_id(value)
    except InvalidId:
        return None


def _object(data: bytes, limit: int) -> Mapping[str, Any] | None:
    """The JSON object in ``data`` (at most ``limit`` bytes), or ``None``."""
    if len(data) > limit:
        return None
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None
