"""An election's states, ``draft -> open -> closed``, moved by an operator or by the clock.

The store keeps the state an operator last set (``stored``); the state that counts is
:func:`effective_state`, which also applies the manifest's ``opens_at`` and ``closes_at``.

Decisions (issue 12):

- ``closes_at`` is reached: the election is closed, whatever was stored (also a draft that
  never opened: it took no vote).
- An explicit close is final: no command and no time opens a closed election again.
- An explicit open is allowed before ``opens_at``: the operator's command is the decision,
  the time only the default. ``opens_at`` reached opens a draft.
- A draft may be closed (the election is called off); closing is final there too.
- The commands take the effective state, not the stored one: an election whose
  ``closes_at`` has come is closed, whatever the store says.
- Times are aware datetimes; an instant equal to ``opens_at`` (``closes_at``) is already
  open (closed): both are the first instant of the next state.
"""

from __future__ import annotations

import enum
from datetime import datetime

from election.domain.errors import InvalidInput


class State(enum.Enum):
    """Where an election is: ``draft`` (being prepared), ``open`` (taking votes), ``closed``."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class TransitionRefused(InvalidInput):
    """An ``election open``/``close`` that the election's state does not allow."""


def effective_state(
    stored: State,
    now: datetime,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
) -> State:
    """The state at ``now``: ``stored``, moved on by the times that have come."""
    if stored is State.CLOSED or (closes_at is not None and now >= closes_at):
        return State.CLOSED
    if stored is State.OPEN or (opens_at is not None and now >= opens_at):
        return State.OPEN
    return State.DRAFT


def next_change(
    stored: State,
    now: datetime,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
) -> datetime | None:
    """When the effective state will next change by itself, or ``None`` if the clock never
    moves it again: for a worker that wants to tell others when it happens."""
    state = effective_state(stored, now, opens_at, closes_at)
    if state is State.DRAFT and opens_at is not None:
        return opens_at
    if state is not State.CLOSED and closes_at is not None:
        return closes_at
    return None


def open_election(election_id: str, current: State) -> State:
    """The state to store for ``election open``, from the ``current`` (effective) state;
    raise :class:`TransitionRefused`."""
    if current is State.OPEN:
        raise TransitionRefused(f"election {election_id} is already open")
    if current is State.CLOSED:
        raise TransitionRefused(f"election {election_id} is closed: it cannot be opened again")
    return State.OPEN


def close_election(election_id: str, current: State) -> State:
    """The state to store for ``election close``, from the ``current`` (effective) state;
    raise :class:`TransitionRefused`."""
    if current is State.CLOSED:
        raise TransitionRefused(f"election {election_id} is already closed")
    return State.CLOSED


def may_change_definition(state: State) -> bool:
    """Whether the ballot and the roll may still change: only while the election is a draft
    (pass the effective state: a draft whose ``opens_at`` has come is open)."""
    return state is State.DRAFT


def parse_state(text: str) -> State:
    """The state named ``text`` (as stored or sent: ``"open"``); raise :class:`InvalidInput`."""
    try:
        return State(text)
    except ValueError:
        names = ", ".join(state.value for state in State)
        raise InvalidInput(f"state must be one of {names}") from None
