"""A voting machine names a missing topic instead of timing out, and re-creates its
answer subscription as it made it. No server is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions

from config import load_settings
from election.domain import protocol
from election.domain.ed25519 import new_private_key
from election.machine.voting import TopicMissing, VotingMachine
from election.pubsub.client import OWN_ACK_DEADLINE_S
from election.pubsub.subscriber import RecreateLater


def error(kind: type[Exception], text: str) -> Exception:
    return kind(text)


class FailingPublisher:
    """A publisher whose every publish fails with ``failure``."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def publish(self, message: protocol.OutgoingMessage, timeout: float = 30.0) -> str:
        raise self.failure

    def close(self) -> None:
        pass


class RecordingAdmin:
    """Stands in for the subscriber client's create_subscription."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.requests: list[dict[str, Any]] = []

    def create_subscription(self, request: dict[str, Any], **kwargs: Any) -> None:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure


@pytest.fixture
def machine() -> Iterator[VotingMachine]:
    settings = load_settings(
        {
            "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
            "ELECTION_TOPIC": "votes",
            "LOG_SIGNING_KEY": new_private_key(),
        }
    )
    made = VotingMachine(
        settings,
        "m-1",
        "e-1",
        publisher=FailingPublisher(error(api_exceptions.NotFound, "Topic not found")),  # type: ignore[arg-type]
    )
    client = made.client
    yield made
    client.close()


def test_a_vote_whose_topic_is_missing_raises_topic_missing_not_a_time_out(
    machine: VotingMachine,
) -> None:
    with pytest.raises(TopicMissing, match=r"topic projects/.*/topics/votes does not exist"):
        machine.cast(7, 1, timeout=5)


def test_a_vote_whose_publish_is_not_confirmed_still_times_out(machine: VotingMachine) -> None:
    machine.publisher = FailingPublisher(error(api_exceptions.ServiceUnavailable, "down"))  # type: ignore[assignment]
    assert str(machine.cast(7, 1, timeout=0.1).outcome) == "Time out"


def test_the_answer_subscription_is_made_again_as_open_made_it(machine: VotingMachine) -> None:
    admin = RecordingAdmin()
    machine.client = admin
    machine._subscribe(10)
    assert machine._resubscribe() is True
    first, again = admin.requests
    assert again == first
    assert again["name"] == machine.subscription
    assert again["filter"] == protocol.machine_filter("m-1")
    assert again["ack_deadline_seconds"] == OWN_ACK_DEADLINE_S


def test_an_answer_subscription_that_exists_again_is_listened_on(machine: VotingMachine) -> None:
    machine.client = RecordingAdmin(error(api_exceptions.AlreadyExists, "exists"))
    assert machine._resubscribe() is True


def test_without_its_topic_the_subscription_is_made_again_later(machine: VotingMachine) -> None:
    machine.client = RecordingAdmin(error(api_exceptions.NotFound, "Topic not found"))
    with pytest.raises(RecreateLater, match=r"topic .* is missing"):
        machine._resubscribe()
