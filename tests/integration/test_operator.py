"""The operator console of a real ``election web``, over plain HTTP, in front of a whole
running system (bridge, both workers, the emulator, Redis, PostgreSQL): no token set is
no console; a missing or wrong login is refused and logged; the right one shows every
section; a POST without its CSRF token is refused; a dead letter the system made is shown,
replayed and purged; open and close need the election's ID typed again, change its state
and leave an audit line."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pytest

from election.domain.manifest import load_definition
from election.local.emulator import free_port
from election.ops.preflight import check_postgres
from election.storage.elections import ElectionRegistry
from election.storage.heartbeats import beat
from election.storage.models import Election, open_database
from election.storage.redis_client import connect_redis
from tests.conftest import RABBITMQ_BROKER, REDIS_BROKER
from tests.support.factory import system_factory
from tests.support.processes import wait_for
from tests.support.system import ElectionSystem, give_up_on, heal
from tests.support.web import CONSOLE_SECTIONS, Answer, WebProcess, cookie_value, start_web
from web import operator_state
from web.operator_state import service_queues

TOKEN = "operator-token-for-tests-0123456789"
FAST_GIVE_UP = {
    "ACTOR_MAX_RETRIES": "2",
    "ACTOR_MIN_BACKOFF_MS": "50",
    "ACTOR_MAX_BACKOFF_MS": "200",
}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
DISABLED = "operator console disabled: OPERATOR_TOKEN is not set"


@dataclass
class Console:
    """The system, and its ``election web`` with ``OPERATOR_TOKEN`` set."""

    system: ElectionSystem
    web: WebProcess

    def login(self) -> dict[str, str]:
        """Log in with the form; the headers that carry the session cookie."""
        answer = self.web.request("POST", "/operator/login", form={"token": TOKEN})
        assert answer.status == 303, answer
        value, _ = cookie_value(answer, "operator_session")
        return {"Cookie": f"operator_session={value}"}

    def state(self) -> Any:
        answer = self.web.request("GET", "/operator/api/console", headers=BEARER)
        assert answer.status == 200, answer
        return answer.json()

    def post(self, path: str, session: dict[str, str], **form: str) -> Answer:
        """A POST from the console's own page: its form's CSRF token included."""
        csrf = self.web.request("GET", "/operator/api/console", headers=session).json()["csrf"]
        return self.web.request("POST", path, form={"csrf": csrf, **form}, headers=session)

    def refusals(self, reason: str) -> int:
        return self.web.service.count(rf"operator\.refused.*reason='?{reason}")


@pytest.fixture(scope="module")
def console(emulator_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    log_dir = tmp_path_factory.mktemp("operator")
    with system_factory(emulator_host, log_dir) as make:
        system = make(REDIS_BROKER, "bridge", "logger", "recorder", env=FAST_GIVE_UP)
        web = start_web("web", {**system.env, "OPERATOR_TOKEN": TOKEN}, log_dir)
        try:
            yield Console(system, web)
        finally:
            web.service.stop()
            assert TOKEN not in web.service.log()  # never logged, whatever happened


def test_with_no_token_configured_the_console_refuses_everything(
    console: Console, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {k: v for k, v in console.system.env.items() if k != "OPERATOR_TOKEN"}
    web = start_web("web-no-token", env, tmp_path_factory.mktemp("no-token"))
    try:
        for method, path in [
            ("GET", "/operator"),
            ("GET", "/operator/login"),
            ("GET", "/operator/api/console"),
            ("POST", "/operator/login"),
            ("POST", "/operator/api/elections/1/open"),
        ]:
            answer = web.request(method, path, form={"token": TOKEN}, headers=BEARER)
            assert answer.status == 503, (path, answer)
            assert DISABLED in answer.body
        assert web.service.count(r"operator\.refused.*reason='?disabled") == 5
    finally:
        web.service.stop()


def test_without_a_login_a_page_redirects_to_the_form_and_the_api_is_401_both_logged(
    console: Console,
) -> None:
    before = console.refusals("not logged in")
    page = console.web.request("GET", "/operator")
    assert (page.status, page.headers["location"]) == (303, "/operator/login")
    api = console.web.request("GET", "/operator/api/console")
    assert api.status == 401 and api.headers["www-authenticate"] == "Bearer"
    assert api.json() == {"error": "login required"}
    form = console.web.request("GET", "/operator/login")
    assert form.status == 200 and 'name="token"' in form.body
    wait_for(lambda: console.refusals("not logged in") >= before + 2, 10, "two refusals")
    assert console.web.service.count(r"operator\.refused.*path=/operator/api/console") >= 1
    assert console.web.service.count(r"operator\.refused.*client=127\.0\.0\.1") >= 2


def test_a_wrong_token_is_refused_on_the_form_and_as_a_bearer_and_logged(
    console: Console,
) -> None:
    before = console.refusals("wrong token")
    for wrong in (TOKEN[:-1] + "X", TOKEN[:-1], TOKEN + "X", ""):
        answer = console.web.request("POST", "/operator/login", form={"token": wrong})
        assert answer.status == 401 and answer.cookies == [], answer
        assert "Wrong token." in answer.body
        bearer = {"Authorization": f"Bearer {wrong}"}
        assert console.web.request("GET", "/operator/api/console", headers=bearer).status == 401
    forged = {"Cookie": "operator_session=1.2.3"}
    assert console.web.request("GET", "/operator/api/console", headers=forged).status == 401
    wait_for(lambda: console.refusals("wrong token") >= before + 8, 10, "eight refusals")
    assert console.refusals("invalid or expired session") >= 1
    assert "operator-token-for-tests-012345678X" not in console.web.service.log()


def test_the_right_token_gives_a_strict_cookie_and_the_console_with_every_section(
    console: Console,
) -> None:
    system = console.system
    answer = console.web.request("POST", "/operator/login", form={"token": TOKEN})
    assert (answer.status, answer.headers["location"]) == (303, "/operator")
    value, flags = cookie_value(answer, "operator_session")
    assert TOKEN not in value
    assert flags["httponly"] and flags["samesite"] == "strict" and flags["path"] == "/operator"
    beat(system.redis, system.name, "checkpointer", "test-1", time.time())
    # A dead message in Dramatiq's own dead-letter queue of the logger's queue.
    xq = f"dramatiq:{system.name}.logger.XQ"
    broker = connect_redis(REDIS_BROKER)
    now_ms = time.time() * 1000  # older than its TTL, Dramatiq's maintenance drops it
    broker.zadd(xq, {"m-a": now_ms, "m-b": now_ms})
    try:
        page = console.web.request(
            "GET", "/operator", headers={"Cookie": f"operator_session={value}"}
        )
        state = console.state()
    finally:
        broker.delete(xq)
        broker.close()
    assert page.status == 200
    for section in CONSOLE_SECTIONS:
        assert f'id="{section}"' in page.body
    assert {check["name"] for check in state["health"]} >= {"redis", "postgres", "broker", "pubsub"}
    assert all(check["ok"] for check in state["health"]), state["health"]
    assert [s["subscription"] for s in state["subscriptions"]] == [
        f"{system.name}-recorder",
        f"{system.name}-ballots",
        f"{system.name}-logger",
    ]
    assert {s["backlog_note"] for s in state["subscriptions"]} == {"unknown (emulator)"}
    assert "unknown (emulator)" in page.body
    queues = {q["queue"]: q for q in state["queues"]["queues"]}
    assert set(queues) == {f"{system.name}.logger", f"{system.name}.recorder"}
    assert queues[f"{system.name}.logger"]["dead"] == 2
    assert queues[f"{system.name}.recorder"]["dead"] == 0
    assert state["queues"]["broker"] == "redis" and state["queues"]["error"] is None
    (instance,) = state["instances"]["checkpointer"]
    assert instance["instance"] == "test-1"
    assert "test-1" in page.body


def test_a_post_without_its_csrf_token_is_refused_and_logged(console: Console) -> None:
    session = console.login()
    before = console.refusals("missing or wrong CSRF token")
    path = "/operator/dead-letters/nothing/purge"
    assert console.web.request("POST", path, form={}, headers=session).status == 403
    wrong = {"csrf": "0" * 64}
    assert console.web.request("POST", path, form=wrong, headers=session).status == 403
    # Another session's token is not this one's.
    other = console.web.request("GET", "/operator/api/console", headers=console.login())
    stolen = {"csrf": other.json()["csrf"]}
    assert console.web.request("POST", path, form=stolen, headers=session).status == 403
    assert console.web.request("GET", path, headers=session).status == 405
    wait_for(lambda: console.refusals("missing or wrong CSRF") >= before + 3, 10, "refusals")
    # With it, the action runs (and says there is no such letter).
    answer = console.post(path, session)
    assert answer.status == 409 and "no such dead letter: nothing" in answer.body


def test_a_dead_letter_the_system_made_is_shown_and_its_replay_and_purge_work(
    console: Console,
) -> None:
    system = console.system
    give_up_on(system, "6101")
    try:
        kept = system.submit("op-1", 987654321, "6101")
        dropped = system.submit("op-1", 987654322, "6101")
        wait_for(lambda: len(console.state()["dead_letters"]) >= 2, 90, "two dead letters")
    finally:
        heal(system)
    letters = {letter["ballot"]: letter for letter in console.state()["dead_letters"]}
    assert set(letters) == {kept, dropped}
    assert "record step failing" in letters[kept]["error"]
    assert letters[kept]["retries"] == 2 and letters[kept]["age_s"] >= 0
    session = console.login()
    page = console.web.request("GET", "/operator", headers=session).body
    assert letters[kept]["id"] in page and kept in page and "record step failing" in page
    assert "987654321" not in page + json.dumps(console.state())  # never a voter ID

    replayed = console.post(f"/operator/dead-letters/{letters[kept]['id']}/replay", session)
    assert replayed.status == 200, replayed.body
    assert f"replayed {letters[kept]['id']} (ballot {kept}): stored" in replayed.body
    assert len(system.rows("6101")) == 1
    purged = console.post(f"/operator/api/dead-letters/{letters[dropped]['id']}/purge", session)
    assert (purged.status, purged.json()) == (
        200,
        {"ok": True, "outcome": f"purged {letters[dropped]['id']}"},
    )
    state = console.state()
    assert state["dead_letters"] == []
    actions = {(line["action"], line["letter"]) for line in state["audit"] if "letter" in line}
    assert {("replay", letters[kept]["id"]), ("purge", letters[dropped]["id"])} <= actions
    assert len(system.rows("6101")) == 1


def declare(system: ElectionSystem, election_id: str) -> None:
    manifest = f'id = "{election_id}"\ntitle = "Harbour"\nchoices = ["A", "B"]\nroll = "r.txt"\n'
    definition = load_definition(manifest.encode(), lambda _: "1\n2\n", system.secrets)
    with system.database.connection_context():
        ElectionRegistry(system.database).create(definition)


def election_state(console: Console, election_id: str) -> tuple[str, bool]:
    state = console.state()
    rows = [r for r in state["elections"] if r["election"] == election_id]
    assert len(rows) == 1, state["elections_error"]
    (row,) = rows
    return row["state"], row["sealed"]


def test_open_and_close_need_the_id_typed_again_change_the_state_and_are_audited(
    console: Console,
) -> None:
    system = console.system
    declare(system, "6201")
    session = console.login()
    confirm = console.web.request("GET", "/operator/elections/6201/open", headers=session)
    assert confirm.status == 200 and 'name="confirm"' in confirm.body

    for typed in ("", "6202"):
        answer = console.post("/operator/elections/6201/open", session, confirm=typed)
        assert answer.status == 400 and "not confirmed" in answer.body
    assert election_state(console, "6201") == ("draft", False)

    opened = console.post("/operator/elections/6201/open", session, confirm="6201")
    assert opened.status == 200 and "election 6201 is open" in opened.body, opened.body[-400:]
    assert election_state(console, "6201") == ("open", False)

    closed = console.post("/operator/api/elections/6201/close", session, confirm="6201")
    assert closed.status == 200, closed.body
    assert closed.json() == {"ok": True, "outcome": "election 6201 is closed, sealed with 0 votes"}
    assert election_state(console, "6201") == ("closed", True)

    again = console.post("/operator/api/elections/6201/open", session, confirm="6201")
    assert again.status == 409 and again.json()["ok"] is False
    audit = [line for line in console.state()["audit"] if line.get("election") == "6201"]
    assert [(line["action"], line["ok"]) for line in audit] == [
        ("open", False),
        ("close", True),
        ("open", True),
    ]
    assert all(line["client"] == "127.0.0.1" for line in audit)
    wait_for(
        lambda: (
            console.web.service.count(r"operator\.action.*action='?close.*election='?6201") >= 1
        ),
        10,
        "the close's audit line in the log",
    )


def test_a_health_check_leaves_the_models_on_the_process_own_pool(console: Console) -> None:
    # The console reads while the health check runs; a check that bound the models to
    # its own one-connection pool made those reads fail (MaxConnectionsExceeded).
    settings = console.system.settings
    database = open_database(settings, max_connections=1)
    try:
        check_postgres(settings, provisioned=True)
        assert Election._meta.database is database  # type: ignore[attr-defined]
    finally:
        database.close_all()


def test_rabbitmq_queue_depths_come_from_a_passive_declare(console: Console) -> None:
    settings = dataclasses.replace(
        console.system.settings, broker_url=RABBITMQ_BROKER, namespace=f"q{uuidlib.uuid4().hex[:8]}"
    )
    logger, recorder = service_queues(settings.namespace)
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_BROKER))
    channel = connection.channel()
    try:
        for name in (logger, f"{logger}.DQ"):
            channel.queue_declare(queue=name, auto_delete=False)
        for _ in range(3):
            channel.basic_publish(exchange="", routing_key=logger, body=b"x")
        wait_for(
            lambda: operator_state.queues(settings, 5.0)["queues"][0]["ready"] == 3,
            10,
            "three messages counted",
        )
        depths = operator_state.queues(settings, 5.0)
        assert depths["broker"] == "rabbitmq" and depths["error"] is None
        assert depths["queues"] == [
            {"queue": logger, "ready": 3, "delayed": 0, "dead": None},
            {"queue": recorder, "ready": None, "delayed": None, "dead": None},
        ]
    finally:
        for name in (logger, f"{logger}.DQ"):
            channel.queue_delete(queue=name)
        connection.close()


def test_an_unreachable_broker_is_an_error_in_its_section_not_a_failure(console: Console) -> None:
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    settings = dataclasses.replace(console.system.settings, broker_url=dead)
    depths = operator_state.queues(settings, 2.0)
    assert depths["queues"] == [] and depths["error"]
