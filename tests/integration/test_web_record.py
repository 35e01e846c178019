"""The web process's public record over plain HTTP, against a real ``election web`` on an
isolated schema whose log the test appends and signs: the live stream starts with the
result and follows new ballots, the record page and JSON name the latest checkpoint, the
bulletin's files are ``election bulletin``'s (the leaves only after the seal), and a
receipt's proof is served checked, while garbage and unknown receipts are refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from election.domain.ed25519 import load_private_key, new_private_key, public_key_text
from election.domain.proofs import verify_proof_document
from election.domain.receipts import new_receipt
from election.ops.log_signing import checkpoint_signer, log_public_key
from election.storage.ballot_log import BallotLog
from election.storage.elections import ElectionRegistry
from election.storage.models import Ballot
from tests.integration.test_web import Web, web_on_own_schema
from tests.support.processes import run_election
from tests.support.web import start_web


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """An ``election web`` given only the log's public key; the test holds the private."""
    private = new_private_key()
    public = public_key_text(load_private_key(private))
    log_dir = tmp_path_factory.mktemp("w")
    with web_on_own_schema(log_dir, LOG_PUBLIC_KEY=public, LOG_SIGNING_KEY=None) as running:
        running.env["TEST_LOG_SIGNING_KEY"] = private  # the test's, never the web process's
        yield running


def ballot_log(web: Web) -> BallotLog:
    signing = load_settings({**web.env, "LOG_SIGNING_KEY": web.env["TEST_LOG_SIGNING_KEY"]})
    return BallotLog(web.database, checkpoint_signer(signing))


def checkpoint(web: Web, election_id: str) -> None:
    with web.database.connection_context():
        assert ballot_log(web).append(election_id) is not None


def receipts_of(web: Web, election_id: str) -> list[str]:
    with web.database.connection_context():
        query = Ballot.select(Ballot.receipt).where(Ballot.election_id == election_id)
        return [str(row.receipt) for row in query]


def seal(web: Web, election_id: str) -> None:
    with web.database.connection_context():
        registry = ElectionRegistry(web.database)
        registry.close(election_id)
        registry.seal(election_id, ballot_log(web))


def events(web: Web, path: str, timeout_s: float = 20) -> Iterator[Any]:
    """The ``results`` events of the stream at ``path``, as they come (each read bounded)."""
    with urllib.request.urlopen(web.base + path, timeout=timeout_s) as stream:
        event = ""
        for raw in stream:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "results":
                yield json.loads(line.split(":", 1)[1])


def test_the_live_stream_starts_with_the_result_and_sends_each_change(web: Web) -> None:
    web.declare("5201")
    web.ballots("5201", 0, 1)
    stream = events(web, "/api/elections/5201/live")
    first = next(stream)
    assert first["result"] == web.cli_results("5201") and first["result"]["total"] == 2
    web.ballots("5201", 2)
    second = next(stream)
    stream.close()
    assert second["result"] == web.cli_results("5201") and second["result"]["total"] == 3
    assert second["turnout"] == "turnout 3 of 3 (100.0%)" and "<svg" in second["chart"]


def test_the_stream_of_an_unknown_election_or_a_bad_id_is_404_and_starts_no_poller(
    web: Web,
) -> None:
    # Only the status is read: before, an unknown ID got a stream (and a poller reading
    # PostgreSQL four times a second, as many as anyone opened streams).
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(web.base + "/api/elections/5299/live", timeout=10).close()
    assert refused.value.code == 404
    assert json.loads(refused.value.read()) == {"error": "no such election 5299"}
    assert web.json("/api/elections/x%20y/live")[0] == 404


def test_the_record_names_the_latest_checkpoint_and_serves_no_leaves_before_the_seal(
    web: Web,
) -> None:
    web.declare("5202")
    web.ballots("5202", 0, 1, 1)
    status, before = web.json("/api/elections/5202/record")
    assert (status, before["latest"], before["files"]) == (200, None, [])
    checkpoint(web, "5202")
    status, summary = web.json("/api/elections/5202/record")
    assert summary["latest"]["size"] == 3 and summary["sealed"] is None
    assert summary["public_key"] == web.env["LOG_PUBLIC_KEY"]
    assert "leaves.json" not in summary["files"]
    assert web.get("/elections/5202/bulletin/leaves.json")[0] == 404
    status, _, result = web.get("/elections/5202/bulletin/result.json")
    assert status == 200 and "votes" not in result  # no counts before the seal
    status, _, page = web.get("/elections/5202/record")
    assert status == 200 and summary["latest"]["root"] in page
    assert "published at the seal" in page


def test_after_the_seal_the_files_are_those_election_bulletin_writes(
    web: Web, tmp_path: Path
) -> None:
    web.declare("5203")
    web.ballots("5203", 2, 2)
    checkpoint(web, "5203")
    seal(web, "5203")
    _, summary = web.json("/api/elections/5203/record")
    assert "leaves.json" in summary["files"] and summary["sealed"]["size"] == 2
    env = {**web.env, "LOG_SIGNING_KEY": web.env["TEST_LOG_SIGNING_KEY"]}
    done = run_election(["bulletin", "5203", "--out", str(tmp_path)], env, timeout=60)
    assert done.returncode == 0, done.stderr
    for name in summary["files"]:
        status, _, served = web.get(f"/elections/5203/bulletin/{name}")
        assert status == 200 and served == (tmp_path / name).read_text(), name


def test_a_receipt_is_served_with_its_proof_checked_by_the_server(web: Web) -> None:
    web.declare("5204")
    web.ballots("5204", 0, 1, 2, 0, 1)
    receipt = receipts_of(web, "5204")[3]
    status, pending = web.json(f"/api/elections/5204/proof?receipt={receipt}")
    assert status == 404 and "no checkpoint" in pending["error"]
    checkpoint(web, "5204")
    status, found = web.json(f"/api/elections/5204/proof?receipt={receipt.lower()}")
    assert status == 200 and found["proved"] is True and found["server_check"] == []
    assert found["receipt"] == receipt
    key = log_public_key(load_settings(web.env))
    assert verify_proof_document(found["proof"], key) == []
    status, _, page = web.get(f"/elections/5204/receipt?receipt={receipt}")
    assert status == 200 and "Proved by the server" in page and "data-proof=" in page


def test_garbage_and_unknown_receipts_are_refused_in_words(web: Web) -> None:
    web.declare("5205")
    web.ballots("5205", 1)
    checkpoint(web, "5205")
    status, body = web.json("/api/elections/5205/proof?receipt=%3Cscript%3E")
    assert status == 400 and body["error"].startswith("not a receipt")
    status, body = web.json(f"/api/elections/5205/proof?receipt={new_receipt()}")
    assert status == 404 and "no checkpoint" in body["error"]
    status, _, page = web.get("/elections/5205/receipt?receipt=%3Cscript%3Ex")
    assert status == 400 and "<script>x" not in page


def test_every_response_carries_the_security_headers(web: Web) -> None:
    with urllib.request.urlopen(web.base + "/", timeout=10) as response:
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"


def test_with_live_results_total_no_count_per_choice_is_shown_before_the_seal(
    web: Web, tmp_path: Path
) -> None:
    web.declare("5206")
    web.ballots("5206", 0, 2, 2)
    totals = start_web("web-total", {**web.env, "LIVE_RESULTS": "total"}, tmp_path)
    try:
        status, result = totals.json("/api/elections/5206/results")
        assert status == 200 and result["total"] == 3
        assert [choice["votes"] for choice in result["choices"]] == [None, None, None]
        assert "published at the seal" in result["withheld"]
        event = next(
            events(
                Web(totals.base, totals.service, web.env, web.database), "/api/elections/5206/live"
            )
        )
        assert [c["votes"] for c in event["result"]["choices"]] == [None, None, None]
        _, _, page = totals.get("/elections/5206")
        assert 'data-choice="2">—</td>' in page and ">2</td>" not in page
        checkpoint(web, "5206")
        seal(web, "5206")
        status, result = totals.json("/api/elections/5206/results")
        assert result == web.cli_results("5206") and "withheld" not in result
    finally:
        totals.service.stop()
