"""Tests for election.domain.lifecycle: draft -> open -> closed, by command or by the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain.errors import InvalidInput
from election.domain.lifecycle import (
    State,
    TransitionRefused,
    close_election,
    effective_state,
    may_change_definition,
    next_change,
    open_election,
    parse_state,
)

OPENS = datetime(2027, 3, 1, 8, tzinfo=UTC)
CLOSES = datetime(2027, 3, 1, 20, tzinfo=UTC)
BEFORE = OPENS - timedelta(hours=1)
DURING = OPENS + timedelta(hours=1)
AFTER = CLOSES + timedelta(hours=1)
TIMES = {"opens_at": OPENS, "closes_at": CLOSES}


def test_the_states_have_the_names_that_are_stored_and_sent() -> None:
    assert [state.value for state in State] == ["draft", "open", "closed"]


# --------------------------------------------------------------------------------------------
# The effective state: what the stored state and the times say together
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stored", list(State))
def test_without_times_the_stored_state_is_the_state(stored: State) -> None:
    assert effective_state(stored, DURING) is stored


def test_a_draft_stays_a_draft_until_opens_at() -> None:
    assert effective_state(State.DRAFT, BEFORE, **TIMES) is State.DRAFT


def test_a_draft_opens_at_opens_at_to_the_instant() -> None:
    assert effective_state(State.DRAFT, OPENS, **TIMES) is State.OPEN
    assert effective_state(State.DRAFT, OPENS - timedelta(microseconds=1), **TIMES) is State.DRAFT


@pytest.mark.parametrize("stored", [State.DRAFT, State.OPEN])
def test_an_election_closes_at_closes_at_to_the_instant(stored: State) -> None:
    assert effective_state(stored, CLOSES, **TIMES) is State.CLOSED
    assert effective_state(stored, CLOSES - timedelta(microseconds=1), **TIMES) is State.OPEN


def test_a_draft_whose_closing_time_passed_without_opening_is_closed() -> None:
    assert effective_state(State.DRAFT, AFTER, closes_at=CLOSES) is State.CLOSED


def test_an_election_opened_by_hand_before_opens_at_is_open() -> None:
    assert effective_state(State.OPEN, BEFORE, **TIMES) is State.OPEN


@pytest.mark.parametrize("now", [BEFORE, DURING])
def test_an_explicit_close_is_final_whatever_the_times(now: datetime) -> None:
    assert effective_state(State.CLOSED, now, **TIMES) is State.CLOSED


def test_times_in_another_zone_are_the_same_instants() -> None:
    paris = OPENS.astimezone(timezone(timedelta(hours=2)))
    assert effective_state(State.DRAFT, paris, **TIMES) is State.OPEN
    assert effective_state(State.DRAFT, paris - timedelta(seconds=1), **TIMES) is State.DRAFT


@given(
    stored=st.sampled_from(State),
    now=st.datetimes(timezones=st.just(UTC)),
    opens=st.none() | st.datetimes(timezones=st.just(UTC)),
    length=st.none() | st.timedeltas(min_value=timedelta(seconds=1)),
)
def test_time_never_moves_an_election_backwards(
    stored: State, now: datetime, opens: datetime | None, length: timedelta | None
) -> None:
    order = [State.DRAFT, State.OPEN, State.CLOSED]
    closes = None if opens is None or length is None else _plus(opens, length)
    state = effective_state(stored, now, opens, closes)
    later = _plus(now, timedelta(days=1))
    assert order.index(state) >= order.index(stored)
    assert order.index(effective_state(stored, later, opens, closes)) >= order.index(state)


def _plus(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------------------------


def test_a_draft_can_be_opened() -> None:
    assert open_election("42", State.DRAFT) is State.OPEN


def test_a_draft_can_be_opened_before_its_opening_time() -> None:
    current = effective_state(State.DRAFT, BEFORE, **TIMES)
    assert open_election("42", current) is State.OPEN


def test_an_open_election_can_be_closed_before_its_closing_time() -> None:
    current = effective_state(State.OPEN, DURING, **TIMES)
    assert close_election("42", current) is State.CLOSED


def test_a_draft_can_be_closed_to_call_the_election_off() -> None:
    assert close_election("42", State.DRAFT) is State.CLOSED


Command = Callable[[str, State], State]
REFUSALS: list[tuple[str, Command, State, datetime, str]] = [
    ("open twice", open_election, State.OPEN, DURING, "election 42 is already open"),
    ("opened by time", open_election, State.DRAFT, DURING, "election 42 is already open"),
    (
        "open closed",
        open_election,
        State.CLOSED,
        BEFORE,
        "election 42 is closed: it cannot be opened again",
    ),
    (
        "open past close",
        open_election,
        State.DRAFT,
        AFTER,
        "election 42 is closed: it cannot be opened again",
    ),
    ("close twice", close_election, State.CLOSED, DURING, "election 42 is already closed"),
    ("closed by time", close_election, State.OPEN, AFTER, "election 42 is already closed"),
]


@pytest.mark.parametrize(
    ("command", "stored", "now", "reason"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_a_command_the_state_does_not_allow_is_refused_with_a_one_line_reason(
    command: Command, stored: State, now: datetime, reason: str
) -> None:
    with pytest.raises(TransitionRefused) as refused:
        command("42", effective_state(stored, now, **TIMES))
    assert str(refused.value) == reason


def test_a_refused_transition_is_invalid_input() -> None:
    assert issubclass(TransitionRefused, InvalidInput)


# --------------------------------------------------------------------------------------------
# The definition, the next change, the stored names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "allowed"), [(State.DRAFT, True), (State.OPEN, False), (State.CLOSED, False)]
)
def test_the_ballot_and_roll_may_change_only_in_draft(state: State, allowed: bool) -> None:
    assert may_change_definition(state) is allowed


@pytest.mark.parametrize(
    ("stored", "now", "expected"),
    [
        (State.DRAFT, BEFORE, OPENS),
        (State.DRAFT, DURING, CLOSES),
        (State.OPEN, BEFORE, CLOSES),
        (State.DRAFT, AFTER, None),
        (State.CLOSED, BEFORE, None),
    ],
)
def test_the_next_change_is_the_next_time_that_moves_the_state(
    stored: State, now: datetime, expected: datetime | None
) -> None:
    assert next_change(stored, now, **TIMES) == expected


def test_without_times_nothing_changes_by_itself() -> None:
    assert next_change(State.DRAFT, BEFORE) is None
    assert next_change(State.OPEN, BEFORE) is None


@pytest.mark.parametrize("state", list(State))
def test_a_stored_state_name_reads_back_as_the_state(state: State) -> None:
    assert parse_state(state.value) is state


def test_an_unknown_state_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^state must be one of draft, open, closed$"):
        parse_state("opened")
