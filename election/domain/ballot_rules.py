"""The voting logger's check of one vote against its election: pure, one reason or none.

The reasons are what the machine shows after ``rejected:`` (issue 12), word for word.

Order of the checks: the state, then the choice, then the roll.

- The state first: an election that is not open says so whatever the ballot or voter; a
  machine told "not open yet" learns what to do (wait), and nothing more.
- The choice before the roll: a choice off the ballot is the machine's fault (an old or
  wrong ballot) and is said as such; and whether a voter is on the roll is told only for
  a vote that would otherwise count, so a malformed message learns nothing about the roll.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from election.domain.errors import ConfigError
from election.domain.lifecycle import State

UNDECLARED_SETTING = "ELECTION_UNDECLARED"
NO_SUCH_ELECTION = "no such election"


@dataclass(frozen=True)
class ElectionView:
    """What the logger knows of a declared election: its effective state, the number of
    choices on its ballot, and its roll's voter tokens (``None``: no roll)."""

    election_id: str
    state: State
    choices: int
    roll: frozenset[bytes] | None = None


class Undeclared(enum.Enum):
    """What the logger does with a vote for an election nobody declared."""

    ACCEPT = "accept"  # today's rules: the global choice range, no roll
    REJECT = "reject"


def choice_range(choices: int) -> str:
    """The ballot's indexes as a reason shows them: ``"0-2"`` for three, ``"0"`` for one."""
    return "0" if choices == 1 else f"0-{choices - 1}"


def check_vote(view: ElectionView, choice: int, voter_token: bytes) -> str | None:
    """``None`` if the vote may count, else the reason to send after ``rejected:``."""
    election = view.election_id
    if view.state is State.DRAFT:
        return f"election {election} is not open yet"
    if view.state is State.CLOSED:
        return closed_reason(election)
    off_ballot = check_choice(election, view.choices, choice)
    if off_ballot is not None:
        return off_ballot
    if view.roll is not None and voter_token not in view.roll:
        return f"voter is not on the roll of election {election}"
    return None


def closed_reason(election_id: str) -> str:
    """The reason a vote of a closed election is refused (by the rules, or the barrier)."""
    return f"election {election_id} is closed"


def check_choice(election_id: str, choices: int, choice: int) -> str | None:
    """``None`` if ``choice`` is on a ballot of ``choices`` choices, else the reason."""
    if 0 <= choice < choices:
        return None
    shown = choice_range(choices)
    return f"choice {choice} is not on the ballot of election {election_id} ({shown})"


def parse_undeclared(text: str) -> Undeclared:
    """The ``ELECTION_UNDECLARED`` setting (``accept`` when empty); raise :class:`ConfigError`."""
    value = text.strip().lower() or Undeclared.ACCEPT.value
    try:
        return Undeclared(value)
    except ValueError:
        raise ConfigError(f"{UNDECLARED_SETTING} must be accept or reject") from None


def check_undeclared(policy: Undeclared) -> str | None:
    """``None`` if a vote for an undeclared election goes on under today's rules, else the
    reason to send after ``rejected:``."""
    return NO_SUCH_ELECTION if policy is Undeclared.REJECT else None


def admit(
    view: ElectionView | None, policy: Undeclared, choice: int, voter_token: bytes
) -> str | None:
    """The logger's whole rule: a declared election's checks, else the undeclared policy."""
    if view is None:
        return check_undeclared(policy)
    return check_vote(view, choice, voter_token)
