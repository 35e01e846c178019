"""``election web`` as a real process on an isolated, provisioned PostgreSQL schema, asked
over plain HTTP: its JSON is the CLI's, its pages escape what manifests say, and its
readiness names the dependency that does not answer (Pub/Sub here: a dead port)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playhouse.pool import PooledPostgresqlDatabase

from actors.ballots import BallotTable, NewBallot
from config import load_settings
from election.domain.manifest import load_definition
from election.domain.receipts import new_nonce, new_receipt
from election.domain.secrecy import VoterSecrets
from election.local.emulator import free_port
from election.storage.elections import ElectionRegistry
from election.storage.models import create_schema, open_database
from tests.support.processes import run_election, wait_for
from tests.support.web import WebProcess, start_web

SECRETS = VoterSecrets(b"v" * 32)
HOSTILE_TITLE = "<script>alert('x')</script> & co"


@dataclass
class Web(WebProcess):
    """A running ``election web``, its environment and its schema's database."""

    env: dict[str, str]
    database: PooledPostgresqlDatabase

    def cli_results(self, election_id: str) -> Any:
        """What ``election results E --json`` prints."""
        done = run_election(["results", election_id, "--json"], self.env, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def declare(self, election_id: str, title: str = "Water board", *, open_: bool = True) -> None:
        manifest = (
            f'id = "{election_id}"\ntitle = {json.dumps(title)}\n'
            'choices = ["North", "South", "East"]\nroll = "roll.txt"\n'
        )
        definition = load_definition(manifest.encode(), lambda _: "1001\n1002\n1003\n", SECRETS)
        with self.database.connection_context():
            registry = ElectionRegistry(self.database)
            registry.create(definition)
            if open_:
                registry.open(election_id)

    def ballots(self, election_id: str, *choices: int) -> None:
        new = [
            NewBallot(os.urandom(32), election_id, c, new_receipt(), new_nonce()) for c in choices
        ]
        with self.database.connection_context():
            BallotTable(self.database).insert(new)


@contextlib.contextmanager
def web_on_own_schema(log_dir: Path, **env_changes: str | None) -> Iterator[Web]:
    """A real ``election web`` on a provisioned schema of its own (dropped afterwards),
    Pub/Sub a dead port; ``env_changes`` set (or, as ``None``, remove) variables."""
    schema = f"t{uuidlib.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}",  # nothing listens there
        "DATABASE_SCHEMA": schema,
    }
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    settings = load_settings(env)
    env["DATABASE_URL"] = settings.database_url
    database = open_database(
        dataclasses.replace(settings, database_schema=schema), max_connections=2
    )
    create_schema(database, schema)
    try:
        process = start_web("web", env, log_dir)
        try:
            yield Web(process.base, process.service, env, database)
        finally:
            process.service.stop()
    finally:
        with database.connection_context():
            database.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        database.close_all()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    with web_on_own_schema(tmp_path_factory.mktemp("web")) as running:
        yield running


def test_healthz_answers_200_and_each_request_is_one_log_line(web: Web) -> None:
    assert web.json("/healthz") == (200, {"ok": True})
    wait_for(lambda: web.service.count(r"request.*/healthz.*200") >= 1, 10, "a request line")


def test_api_elections_lists_a_created_election_with_its_state(web: Web) -> None:
    web.declare("5101", "Harbour board", open_=False)
    status, rows = web.json("/api/elections")
    assert status == 200
    (row,) = [row for row in rows if row["election"] == "5101"]
    assert (row["title"], row["state"], row["sealed"], row["total"]) == (
        "Harbour board",
        "draft",
        False,
        0,
    )


def test_results_of_an_open_election_equal_election_results_json(web: Web) -> None:
    web.declare("5102")
    web.ballots("5102", 1, 1, 2)
    status, result = web.json("/api/elections/5102/results")
    assert status == 200
    assert result == web.cli_results("5102")
    assert (result["total"], result["choices"][1]) == (3, {"name": "South", "votes": 2})


def test_results_of_a_sealed_election_equal_election_results_json(web: Web) -> None:
    web.declare("5103")
    web.ballots("5103", 0, 2)
    with web.database.connection_context():
        registry = ElectionRegistry(web.database)
        registry.close("5103")
        registry.seal("5103")
    web.ballots("5103", 0)  # after the seal: not in the result
    status, result = web.json("/api/elections/5103/results")
    assert status == 200
    assert result == web.cli_results("5103")
    assert (result["state"], result["sealed"], result["total"]) == ("closed", True, 2)


def test_an_undeclared_election_with_votes_is_the_same_undeclared_object(web: Web) -> None:
    web.ballots("5104", 3)
    status, result = web.json("/api/elections/5104/results")
    assert (status, result) == (200, web.cli_results("5104"))
    assert result["state"] == "undeclared"


def test_an_unknown_election_is_404_json_and_a_404_page(web: Web) -> None:
    assert web.json("/api/elections/42/results") == (404, {"error": "no such election 42"})
    assert web.json("/api/elections/x%20y/results")[0] == 404
    status, kind, page = web.get("/elections/42")
    assert (status, kind.split(";")[0]) == (404, "text/html")
    assert "no such election 42" in page and "Traceback" not in page


def test_the_pages_show_the_state_counts_and_the_title_escaped(web: Web) -> None:
    web.declare("5105", HOSTILE_TITLE)
    web.ballots("5105", 2, 2)
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co"

    status, kind, index = web.get("/")
    assert (status, kind.split(";")[0]) == (200, "text/html")
    assert escaped in index and '<a href="/elections/5105">' in index
    assert "<script" not in index

    status, _, page = web.get("/elections/5105")
    assert status == 200
    assert escaped in page and HOSTILE_TITLE not in page
    assert page.count("<script") == 1 and '<script src="/static/live.js" defer>' in page
    assert '<td>East</td><td class="n" data-choice="2">2</td>' in page
    assert "not sealed" in page and "turnout 2 of 3 (66.7%)" in page


def test_a_postgresql_outage_is_503_json_and_a_short_page_never_a_traceback(
    web: Web, tmp_path: Path
) -> None:
    dead = {**web.env, "DATABASE_URL": f"postgresql://election@127.0.0.1:{free_port()}/x"}
    down = start_web("web-no-db", dead, tmp_path)
    try:
        status, body = down.json("/api/elections")
        assert status == 503 and body["error"].startswith("cannot read from PostgreSQL")
        assert down.json("/api/elections/5102/results")[0] == 503
        status, kind, page = down.get("/elections/5102")
        assert (status, kind.split(";")[0]) == (503, "text/html")
        assert "Traceback" not in page + down.service.log()
    finally:
        down.service.stop()


def test_readyz_is_503_naming_the_check_that_failed(web: Web) -> None:
    status, body = web.json("/readyz")
    assert status == 503 and body["ok"] is False
    failed = {check["name"] for check in body["checks"] if not check["ok"]}
    assert "pubsub" in failed
    assert {"postgres"} <= {check["name"] for check in body["checks"] if check["ok"]}
