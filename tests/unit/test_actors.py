"""Each service's actor set on a StubBroker, run by a real Dramatiq worker: one path per
vote (a batch; a single vote is a batch of one), split on failure, retried, given up.

As Dramatiq's own tests test actors: a StubBroker with the middleware the workers use
(``actors.broker.middleware``), a ``dramatiq.Worker`` started and stopped by a fixture,
then ``broker.join(queue)`` and ``worker.join()``. The service's worker is a fake.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from actors import logger, recorder
from actors import service as service_module
from actors.broker import DEAD_MESSAGE_TTL_MS, build_broker, middleware
from actors.service import ServiceActors, declare_service
from config import load_settings
from election.domain.protocol import OutgoingMessage, result_message
from election.domain.routes import BALLOTS, LOGGER, RECORDER, Route

MAX_RETRIES = 2
EMULATOR = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}
SETTINGS = load_settings(
    {
        **EMULATOR,
        "ELECTION_NAMESPACE": "unit",
        "ACTOR_MAX_RETRIES": str(MAX_RETRIES),
        "ACTOR_MIN_BACKOFF_MS": "1",
        "ACTOR_MAX_BACKOFF_MS": "5",
    }
)
Vote = tuple[bytes, Mapping[str, str], str]


def args(n: int) -> list[Any]:
    """One vote's arguments, as the bridge enqueues them."""
    return [base64.b64encode(f"vote {n}".encode()).decode(), {"function": "submit vote"}, f"m{n}"]


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[list[str]] = []

    def publish_many(self, messages: Sequence[OutgoingMessage], /) -> object:
        self.published.append([str(m.body["UUID"]) for m in messages])
        return None


class FakeWorker:
    """Records what it is asked; fails a batch of votes for which ``fails`` says so."""

    def __init__(self) -> None:
        self.publisher = FakePublisher()
        self.handled: list[list[str]] = []
        self.given_up: list[tuple[dict[str, Any], int]] = []
        self.fails = lambda ids: False
        self._lock = threading.Lock()

    def handle_many(self, votes: Sequence[Vote], outbox: list[OutgoingMessage], /) -> object:
        ids = [message_id for _, _, message_id in votes]
        with self._lock:
            self.handled.append(ids)
        if self.fails(ids):
            raise ValueError(f"failing {ids}")
        outbox.extend(result_message("1", message_id, "successful") for message_id in ids)
        return None

    def give_up(self, message: dict[str, Any], retries: int, /) -> None:
        with self._lock:
            self.given_up.append((message, retries))


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    stub = StubBroker(middleware=middleware(SETTINGS))
    stub.emit_after("process_boot")
    yield stub
    stub.flush_all()
    stub.close()


@pytest.fixture(params=[LOGGER, RECORDER], ids=lambda route: route.service)
def route(request: pytest.FixtureRequest) -> Route:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def fake() -> FakeWorker:
    return FakeWorker()


@pytest.fixture
def actors(broker: StubBroker, route: Route, fake: FakeWorker) -> ServiceActors:
    return declare_service(broker, route, lambda settings: fake, SETTINGS)


@pytest.fixture
def worker(broker: StubBroker, actors: ServiceActors) -> Iterator[dramatiq.Worker]:
    running = dramatiq.Worker(broker, worker_timeout=100)
    running.start()
    yield running
    running.stop()


def run(broker: StubBroker, route: Route, worker: dramatiq.Worker) -> None:
    """Wait until the service's queue (and its retries) are done."""
    broker.join(route.queue(SETTINGS.namespace), fail_fast=False)
    worker.join()


def test_a_batch_that_succeeds_is_handled_once_and_publishes_its_outbox_once(
    broker: StubBroker, route: Route, fake: FakeWorker, actors: ServiceActors, worker: Any
) -> None:
    actors.work.send([args(1), args(2)])
    run(broker, route, worker)
    assert fake.handled == [["m1", "m2"]]
    assert fake.publisher.published == [["m1", "m2"]]
    assert fake.given_up == []


def test_a_batch_of_two_that_fails_is_split_into_two_batches_of_one(
    broker: StubBroker, route: Route, fake: FakeWorker, actors: ServiceActors, worker: Any
) -> None:
    fake.fails = lambda ids: len(ids) > 1
    actors.work.send([args(1), args(2)])
    run(broker, route, worker)
    assert fake.handled[0] == ["m1", "m2"]
    assert sorted(fake.handled[1:]) == [["m1"], ["m2"]]
    assert sorted(fake.publisher.published) == [["m1"], ["m2"]]
    assert fake.given_up == []


def test_a_batch_of_one_that_fails_is_retried_then_given_up_by_the_give_up_actor(
    broker: StubBroker, route: Route, fake: FakeWorker, actors: ServiceActors, worker: Any
) -> None:
    fake.fails = lambda ids: True
    sent = actors.work.send([args(1)])
    run(broker, route, worker)
    assert fake.handled == [["m1"]] * (1 + MAX_RETRIES)
    assert fake.publisher.published == []
    ((message, retries),) = fake.given_up
    assert retries == MAX_RETRIES
    assert (message["actor_name"], message["message_id"]) == (route.actor, sent.message_id)
    assert message["args"] == [[args(1)]]
    assert "ValueError: failing ['m1']" in message["options"]["traceback"]


def test_a_batch_of_one_that_fails_once_is_retried_and_not_given_up(
    broker: StubBroker, route: Route, fake: FakeWorker, actors: ServiceActors, worker: Any
) -> None:
    tries = iter([True])
    fake.fails = lambda ids: next(tries, False)
    actors.work.send([args(1)])
    run(broker, route, worker)
    assert fake.handled == [["m1"], ["m1"]]
    assert fake.publisher.published == [["m1"]]
    assert fake.given_up == []


def test_a_batch_whose_retries_ran_out_is_split_by_the_give_up_actor(
    broker: StubBroker, route: Route, fake: FakeWorker, actors: ServiceActors, worker: Any
) -> None:
    # As when a batch of two was interrupted (its time limit) every time it was tried.
    exhausted = actors.work.message([args(1), args(2)]).asdict()
    actors.gave_up.send(exhausted, {"retries": MAX_RETRIES, "max_retries": MAX_RETRIES})
    run(broker, route, worker)
    assert sorted(fake.handled) == [["m1"], ["m2"]]
    assert fake.given_up == []


def test_the_declared_actors_are_named_and_queued_by_the_route_table() -> None:
    for declare, routes in ((logger.declare, (LOGGER, BALLOTS)), (recorder.declare, (RECORDER,))):
        stub = StubBroker(middleware=middleware(SETTINGS))
        declared = declare(stub, SETTINGS)
        assert set(stub.actors) == {name for r in routes for name in (r.actor, r.gave_up)}
        assert len(declared) == len(routes)
        for route, each in zip(routes, declared, strict=True):
            queue = route.queue(SETTINGS.namespace)
            assert (each.work.actor_name, each.work.queue_name) == (route.actor, queue)
            assert each.work.options["on_retry_exhausted"] == route.gave_up
            assert (each.gave_up.actor_name, each.gave_up.queue_name) == (route.gave_up, queue)
            assert each.gave_up.options["retry_when"](10_000, ValueError()) is True


def test_the_services_of_one_role_share_one_set_of_clients_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[object] = []

    def clients(settings: Any) -> tuple[object, object, object]:
        made = (object(), object(), object())
        built.append(made)
        return made

    monkeypatch.setattr(service_module, "own_clients", clients)
    seen: list[tuple[object, ...]] = []

    def factory(settings: Any, *given: object) -> FakeWorker:
        seen.append(given)
        return FakeWorker()

    declare = service_module.declaring_role((LOGGER, factory), (BALLOTS, factory))
    votes, ballots = declare(StubBroker(middleware=middleware(SETTINGS)), SETTINGS)
    votes.worker.get(), ballots.worker.get()
    assert len(built) == 1 and seen == [built[0], built[0]]


class FakeChannel:
    def __init__(self) -> None:
        self.declared: list[tuple[str, dict[str, Any]]] = []

    def queue_declare(self, *, queue: str, durable: bool, arguments: dict[str, Any]) -> None:
        self.declared.append((queue, arguments))


def test_the_rabbitmq_broker_keeps_dramatiqs_dead_messages_an_hour_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("dramatiq_dead_message_ttl", raising=False)
    rabbitmq = build_broker(
        load_settings({**EMULATOR, "DRAMATIQ_BROKER_URL": "amqp://127.0.0.1:1/"})
    )
    channel = FakeChannel()
    rabbitmq.state.channel = channel  # type: ignore[attr-defined]
    rabbitmq._declare_xq_queue("unit.logger")  # type: ignore[attr-defined]
    assert channel.declared == [("unit.logger.XQ", {"x-message-ttl": DEAD_MESSAGE_TTL_MS})]
    redis_broker = build_broker(
        load_settings({**EMULATOR, "DRAMATIQ_BROKER_URL": "redis://127.0.0.1:1/0"})
    )
    assert redis_broker.dead_message_ttl == DEAD_MESSAGE_TTL_MS  # type: ignore[attr-defined]


def python(code: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **EMULATOR, **environ},
        capture_output=True,
        text=True,
    )


def test_importing_the_actor_modules_configures_nothing() -> None:
    done = python(
        "import os, dramatiq.broker\n"
        "import actors.broker, actors.logger, actors.recorder, actors.service, actors.worker\n"
        "assert dramatiq.broker.global_broker is None, dramatiq.broker.global_broker\n"
        "assert 'dramatiq_dead_message_ttl' not in os.environ\n"
    )
    assert done.returncode == 0, done.stderr


def test_the_worker_entry_point_declares_the_actors_of_its_role_on_the_global_broker() -> None:
    done = python(
        "import dramatiq, actors.entry as entry\n"
        "assert dramatiq.get_broker() is entry.broker\n"
        "print(sorted(entry.broker.actors))\n",
        ELECTION_WORKER_ROLE="recorder",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(sorted([RECORDER.actor, RECORDER.gave_up]))
    both = python(
        "import actors.entry as entry\nprint(sorted(entry.broker.actors))\n",
        ELECTION_WORKER_ROLE="logger",
    )
    assert both.returncode == 0, both.stderr
    names = [LOGGER.actor, LOGGER.gave_up, BALLOTS.actor, BALLOTS.gave_up]
    assert both.stdout.strip() == str(sorted(names))
    unnamed = python("import actors.entry")
    assert unnamed.returncode != 0 and "ELECTION_WORKER_ROLE" in unnamed.stderr
