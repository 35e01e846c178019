"""An election's result: the counts per named choice, for people and for programs.

Every choice on the ballot is listed, zeros included, in ballot order. A count for an
index that is not on the ballot is an error, never dropped: a sealed result must account
for every vote. Turnout is the total against the roll and is not capped: more votes than
voters (votes cast before the election was declared) shows as over 100%, for an operator
to see rather than for the result to hide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from election.domain.ballot_rules import choice_range
from election.domain.errors import OperatorDecision
from election.domain.lifecycle import State


class CountsOffBallot(OperatorDecision):
    """Stored counts that do not fit the ballot: an operator must find where they came from."""


class BallotDefinition(Protocol):
    """What a result needs of a manifest."""

    @property
    def election_id(self) -> str:
        """The canonical election ID."""

    @property
    def title(self) -> str:
        """The election's title."""

    @property
    def choices(self) -> tuple[str, ...]:
        """The choice names, in ballot order (the index is the wire's ``voting``)."""


@dataclass(frozen=True)
class Result:
    """Counts per named choice in ballot order; ``turnout`` is ``total / roll_size``."""

    election_id: str
    title: str
    state: State
    sealed: bool
    choices: tuple[tuple[str, int], ...]
    total: int
    roll_size: int | None
    turnout: float | None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object; keys in a fixed order (``json.dumps`` keeps it)."""
        return {
            "election": self.election_id,
            "title": self.title,
            "state": self.state.value,
            "sealed": self.sealed,
            "total": self.total,
            "roll": self.roll_size,
            "turnout": self.turnout,
            "choices": [{"name": name, "votes": votes} for name, votes in self.choices],
        }

    def to_lines(self) -> list[str]:
        """The result for people: a heading, the choices aligned, the total, the turnout."""
        seal = "sealed" if self.sealed else "not sealed"
        width = max(len("total"), *(len(name) for name, _ in self.choices))
        digits = len(str(self.total))
        lines = [f"election {self.election_id}: {self.title} ({self.state.value}, {seal})"]
        lines += [f"  {name:<{width}}  {votes:>{digits}}" for name, votes in self.choices]
        lines.append(f"  {'total':<{width}}  {self.total:>{digits}}")
        lines.append(turnout_text(self.total, self.roll_size))
        return lines


def turnout_text(total: int, roll_size: int | None) -> str:
    """``turnout 12 of 20 (60.0%)``, or a line saying there is no roll to count against."""
    if not roll_size:
        return "turnout: no roll"
    return f"turnout {total} of {roll_size} ({100 * total / roll_size:.1f}%)"


def tally(
    ballot: BallotDefinition,
    counts: Mapping[int, int],
    *,
    state: State,
    sealed: bool,
    roll_size: int | None,
) -> Result:
    """The result of ``counts`` (choice index -> votes); raise :class:`CountsOffBallot`."""
    names = ballot.choices
    for index, votes in sorted(counts.items()):
        if not 0 <= index < len(names):
            raise CountsOffBallot(
                f"election {ballot.election_id} has {votes} votes for choice {index},"
                f" which is not on its ballot ({choice_range(len(names))})"
            )
        if votes < 0:
            raise CountsOffBallot(
                f"election {ballot.election_id} has a negative count for choice {index}"
            )
    per_choice = tuple((name, counts.get(index, 0)) for index, name in enumerate(names))
    total = sum(votes for _, votes in per_choice)
    turnout = total / roll_size if roll_size else None
    return Result(
        ballot.election_id, ballot.title, state, sealed, per_choice, total, roll_size, turnout
    )
