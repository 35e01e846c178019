"""The bridge re-creates a missing service subscription (and the topic) as provisioning
makes them, and stops with one clear reason when it cannot. No server is contacted: the
Pub/Sub admin calls are recorded by stand-ins."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from dramatiq.brokers.stub import StubBroker
from google.api_core import exceptions as api_exceptions
from structlog.testing import LogCapture

from bridge import service as service_module
from bridge.service import Bridge, BridgeFailed
from config import Settings, load_settings
from election.domain import protocol
from election.domain.ed25519 import new_private_key
from election.domain.routes import LOGGER, RECORDER, ROUTES, Route
from election.ops.provision import ProvisionError, service_subscriptions
from election.pubsub.client import subscription_path, topic_path


def error(kind: type[Exception], text: str) -> Exception:
    return kind(text)


@dataclass(frozen=True)
class Found:
    """What get_subscription tells of an existing subscription."""

    filter: str
    topic: str


class Admin:
    """Records create_topic and create_subscription; ``existing`` subscriptions by name."""

    def __init__(
        self, existing: dict[str, Found] | None = None, *, topic_exists: bool = False
    ) -> None:
        self.topics: list[str] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.existing = existing or {}
        self.topic_exists = topic_exists

    def create_topic(self, name: str, **kwargs: Any) -> None:
        if self.topic_exists:
            raise error(api_exceptions.AlreadyExists, "exists")
        self.topic_exists = True
        self.topics.append(name)

    def create_subscription(self, request: dict[str, Any], **kwargs: Any) -> None:
        if not self.topic_exists:
            raise error(api_exceptions.NotFound, "Topic not found")
        if request["name"] in self.existing:
            raise error(api_exceptions.AlreadyExists, "exists")
        self.subscriptions.append(request)

    def get_subscription(self, subscription: str, **kwargs: Any) -> Found:
        return self.existing[subscription]


#: A route of no service subscription: provisioning does not make it.
NOT_PROVISIONED = Route("not-a-service", 'attributes.function = "x"', "none", "none_gave_up")


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        {
            "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
            "ELECTION_NAMESPACE": "heal",
            "LOG_SIGNING_KEY": new_private_key(),
        }
    )


@pytest.fixture
def bridge(settings: Settings) -> Iterator[Bridge]:
    made = Bridge(settings, StubBroker(), [*ROUTES, NOT_PROVISIONED])
    clients = made.client, made.publisher
    yield made
    clients[0].close()
    clients[1].transport.close()


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> LogCapture:
    capture = LogCapture()
    monkeypatch.setattr(service_module, "log", structlog.wrap_logger(None, processors=[capture]))
    return capture


def test_a_missing_subscription_brings_back_the_topic_and_every_service_subscription(
    bridge: Bridge, settings: Settings, captured: LogCapture
) -> None:
    admin = Admin()
    bridge.client = bridge.publisher = admin
    recorder = bridge.subscribers[1]
    assert recorder.on_not_found is not None

    assert recorder.on_not_found() is True

    assert admin.topics == [topic_path(settings)]
    expected = {spec.name: spec.filter for spec in service_subscriptions(settings)}
    made = {r["name"]: r["filter"] for r in admin.subscriptions}
    assert made == {subscription_path(settings, name): text for name, text in expected.items()}
    assert all(r["topic"] == topic_path(settings) for r in admin.subscriptions)
    # The logger's comes last: a vote lost before it exists was never claimed.
    assert admin.subscriptions[-1]["filter"] == protocol.LOGGER_FILTER
    (line,) = captured.entries
    assert line["event"] == "bridge.recreated"
    assert len(line["created"]) == 1 + len(expected)


def test_a_deleted_subscription_is_made_again_without_touching_the_topic_that_exists(
    bridge: Bridge, settings: Settings, captured: LogCapture
) -> None:
    others = {
        subscription_path(settings, spec.name): Found(spec.filter, topic_path(settings))
        for spec in service_subscriptions(settings)
        if spec.name != RECORDER.subscription(settings.namespace)
    }
    admin = Admin(existing=others, topic_exists=True)
    bridge.client = bridge.publisher = admin
    hook = bridge.subscribers[1].on_not_found
    assert hook is not None

    assert hook() is True

    assert admin.topics == []
    assert [r["name"] for r in admin.subscriptions] == [
        subscription_path(settings, RECORDER.subscription(settings.namespace))
    ]
    (line,) = captured.entries
    recorder = subscription_path(settings, RECORDER.subscription(settings.namespace))
    assert line["created"] == [f"subscription {recorder} created"]


def test_when_another_subscriber_was_first_nothing_is_made_or_logged(
    bridge: Bridge, settings: Settings, captured: LogCapture
) -> None:
    existing = {
        subscription_path(settings, spec.name): Found(spec.filter, topic_path(settings))
        for spec in service_subscriptions(settings)
    }
    bridge.client = bridge.publisher = Admin(existing=existing, topic_exists=True)
    hook = bridge.subscribers[0].on_not_found
    assert hook is not None

    assert hook() is True
    assert captured.entries == []


def test_a_subscription_of_that_name_with_another_filter_is_not_taken_over(
    bridge: Bridge, settings: Settings
) -> None:
    path = subscription_path(settings, LOGGER.subscription(settings.namespace))
    found = Found('attributes.function = "result"', topic_path(settings))
    bridge.client = bridge.publisher = Admin(existing={path: found}, topic_exists=True)
    hook = bridge.subscribers[0].on_not_found
    assert hook is not None
    with pytest.raises(ProvisionError, match="filters cannot be changed"):
        hook()


def test_a_subscription_that_is_not_provisioned_has_no_hook_and_is_not_made(
    bridge: Bridge,
) -> None:
    assert bridge.subscribers[-1].on_not_found is None
    assert all(s.on_not_found is not None for s in bridge.subscribers[:-1])
    assert NOT_PROVISIONED.subscription("heal") not in [spec.name for spec in bridge.specs]


def test_a_subscriber_that_stopped_for_good_stops_the_bridge_with_its_reason(
    bridge: Bridge,
) -> None:
    bridge.subscribers[1].failure = error(api_exceptions.PermissionDenied, "caller lacks pubsub")
    with pytest.raises(BridgeFailed, match="caller lacks pubsub"):
        bridge.run_until(threading.Event(), poll_s=0.01)
