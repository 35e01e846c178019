"""The web process attacked over plain HTTP, each attack against a real ``election web``
on an isolated schema (``test_web_record``'s): what anyone on the internet may ask costs
the process little and PostgreSQL less, and what a page shows cannot be turned against
the voter who reads it."""

from __future__ import annotations

import random
import socket
import time
from urllib.parse import urlsplit

from election.domain.receipts import new_receipt
from tests.integration import test_web_record
from tests.integration.test_web_record import Web, ballot_log, receipts_of

web = test_web_record.web  # the same kind of process, one of this module's own

#: Ballots of the large election: reading them all takes the web process about a second.
LARGE = 50_000
#: What a request that reads one row may take, on a busy test machine.
QUICK_S = 0.5


def sent_request(web: Web, path: str) -> socket.socket:
    """A connection on which ``GET path`` has been sent whole; its answer is still to read."""
    parts = urlsplit(web.base)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=60)
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
    return connection


def timed(web: Web, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    status, _, _ = web.get(path)
    return status, time.perf_counter() - started


def test_on_a_large_election_the_record_and_a_receipt_lookup_read_no_ballot_but_one(
    web: Web,
) -> None:
    web.declare("5301")
    for _ in range(LARGE // 10_000):
        web.ballots("5301", *(random.randrange(3) for _ in range(10_000)))
    with web.database.connection_context():
        log = ballot_log(web)
        while log.append("5301") is not None:
            pass
    for path in (
        "/api/elections/5301/record",
        "/elections/5301/record",
        f"/api/elections/5301/proof?receipt={new_receipt()}",
        f"/elections/5301/receipt?receipt={new_receipt()}",
        "/elections/5301/bulletin/checkpoints.json",
        "/elections/5301/bulletin/result.json",
    ):
        status, took = timed(web, path)
        # Before, each read every ballot's row and hashed the whole tree: about a second
        # here, half a minute on an election of a million (a few requests a second took
        # the process down).
        assert status in (200, 404) and took < QUICK_S, (path, status, took)
    receipt = receipts_of(web, "5301")[LARGE // 2]
    status, found = web.json(f"/api/elections/5301/proof?receipt={receipt}")
    assert status == 200 and found["proved"] is True, found


def test_a_flood_of_readyz_checks_the_dependencies_once_and_leaves_the_pages_quick(
    web: Web,
) -> None:
    web.declare("5302")
    # Pub/Sub is a dead port here, so each check waits out its timeout (3 s).
    # Each request is sent whole before the read below: the flood is in the server then.
    flood = [sent_request(web, "/readyz") for _ in range(60)]
    status, took = timed(web, "/api/elections/5302/results")
    for connection in flood:
        with connection:
            assert connection.recv(12).startswith(b"HTTP/1.1 ")  # each is answered
    # Before, 60 checks at once held every worker thread: this read took 3 s and more.
    assert status == 200 and took < QUICK_S, took
    assert web.get("/readyz")[0] == 503
