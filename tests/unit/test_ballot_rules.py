"""Tests for election.domain.ballot_rules: one vote against its election, word for word."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.domain.ballot_rules import (
    NO_SUCH_ELECTION,
    ElectionView,
    Undeclared,
    admit,
    check_undeclared,
    check_vote,
    choice_range,
    parse_undeclared,
)
from election.domain.errors import ConfigError
from election.domain.lifecycle import State
from election.domain.protocol import RESULT_REJECTED_PREFIX, rejection_message
from election.domain.secrecy import VoterSecrets

SECRETS = VoterSecrets(b"test voter key")
ON_ROLL = SECRETS.voter_token("42", "1001")
OFF_ROLL = SECRETS.voter_token("42", "9999")
ROLL = frozenset({ON_ROLL, SECRETS.voter_token("42", "1002")})


def view(
    state: State = State.OPEN, choices: int = 3, roll: frozenset[bytes] | None = ROLL
) -> ElectionView:
    return ElectionView(election_id="42", state=state, choices=choices, roll=roll)


# --------------------------------------------------------------------------------------------
# Each reason, exactly
# --------------------------------------------------------------------------------------------


def test_a_vote_on_the_ballot_by_a_voter_on_the_roll_of_an_open_election_counts() -> None:
    assert check_vote(view(), 2, ON_ROLL) is None


def test_a_vote_for_a_draft_election_is_refused_as_not_open_yet() -> None:
    assert check_vote(view(State.DRAFT), 0, ON_ROLL) == "election 42 is not open yet"


def test_a_vote_for_a_closed_election_is_refused_as_closed() -> None:
    assert check_vote(view(State.CLOSED), 0, ON_ROLL) == "election 42 is closed"


@pytest.mark.parametrize("choice", [3, 7, -1])
def test_a_choice_off_the_ballot_is_refused_with_the_ballots_range(choice: int) -> None:
    reason = check_vote(view(), choice, ON_ROLL)
    assert reason == f"choice {choice} is not on the ballot of election 42 (0-2)"


def test_the_exact_reason_for_choice_7_on_a_ballot_of_three() -> None:
    assert check_vote(view(), 7, ON_ROLL) == "choice 7 is not on the ballot of election 42 (0-2)"


def test_a_voter_off_the_roll_is_refused() -> None:
    assert check_vote(view(), 0, OFF_ROLL) == "voter is not on the roll of election 42"


def test_without_a_roll_any_voter_may_vote() -> None:
    assert check_vote(view(roll=None), 0, OFF_ROLL) is None


def test_an_empty_roll_lets_nobody_vote() -> None:
    assert (
        check_vote(view(roll=frozenset()), 0, ON_ROLL) == "voter is not on the roll of election 42"
    )


def test_a_token_of_another_election_is_not_on_the_roll() -> None:
    assert check_vote(view(), 0, SECRETS.voter_token("43", "1001")) is not None


def test_a_reason_is_sent_after_the_rejected_prefix() -> None:
    reason = check_vote(view(State.CLOSED), 0, ON_ROLL)
    assert reason is not None
    message = rejection_message("7", "u-1", reason)
    assert message.body["result"] == f"{RESULT_REJECTED_PREFIX} election 42 is closed"


# --------------------------------------------------------------------------------------------
# The order of the checks: state, then choice, then roll
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "reason"),
    [(State.DRAFT, "election 42 is not open yet"), (State.CLOSED, "election 42 is closed")],
)
def test_an_election_that_is_not_open_says_so_whatever_the_choice_and_voter(
    state: State, reason: str
) -> None:
    assert check_vote(view(state), 7, OFF_ROLL) == reason


def test_a_choice_off_the_ballot_is_said_before_the_roll() -> None:
    assert check_vote(view(), 7, OFF_ROLL) == "choice 7 is not on the ballot of election 42 (0-2)"


@given(
    state=st.sampled_from(State),
    choices=st.integers(1, 1000),
    choice=st.integers(-5, 1005),
    on_roll=st.booleans(),
)
def test_a_vote_is_refused_for_the_first_broken_rule_only(
    state: State, choices: int, choice: int, on_roll: bool
) -> None:
    reason = check_vote(view(state, choices), choice, ON_ROLL if on_roll else OFF_ROLL)
    if state is not State.OPEN:
        assert reason is not None and reason.startswith("election 42 is")
    elif not 0 <= choice < choices:
        assert reason is not None and reason.startswith(f"choice {choice} is not on the ballot")
    elif not on_roll:
        assert reason == "voter is not on the roll of election 42"
    else:
        assert reason is None


# --------------------------------------------------------------------------------------------
# The range, the undeclared policy, the whole rule
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("choices", "text"), [(1, "0"), (2, "0-1"), (3, "0-2"), (1000, "0-999")])
def test_the_choice_range_names_the_first_and_last_index(choices: int, text: str) -> None:
    assert choice_range(choices) == text


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("accept", Undeclared.ACCEPT),
        ("reject", Undeclared.REJECT),
        (" Reject ", Undeclared.REJECT),
        ("", Undeclared.ACCEPT),
    ],
)
def test_the_undeclared_setting_reads_accept_or_reject_and_defaults_to_accept(
    text: str, policy: Undeclared
) -> None:
    assert parse_undeclared(text) is policy


def test_an_unknown_undeclared_setting_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^ELECTION_UNDECLARED must be accept or reject$"):
        parse_undeclared("ignore")


def test_an_undeclared_election_follows_todays_rules_under_accept() -> None:
    assert check_undeclared(Undeclared.ACCEPT) is None


def test_an_undeclared_election_is_refused_as_no_such_election_under_reject() -> None:
    assert check_undeclared(Undeclared.REJECT) == NO_SUCH_ELECTION == "no such election"


@pytest.mark.parametrize("policy", list(Undeclared))
def test_a_declared_election_is_checked_whatever_the_undeclared_policy(policy: Undeclared) -> None:
    assert admit(view(State.CLOSED), policy, 0, ON_ROLL) == "election 42 is closed"
    assert admit(view(), policy, 0, ON_ROLL) is None


def test_an_undeclared_election_follows_the_policy() -> None:
    assert admit(None, Undeclared.ACCEPT, 7, OFF_ROLL) is None
    assert admit(None, Undeclared.REJECT, 0, ON_ROLL) == "no such election"
