"""``static/verify.js`` in a real browser (Debian's headless Chromium) against a lying
server: a page made by ``web.record_pages.receipt_page`` but carrying a genuine, signed
proof of another receipt (or of another election) than the one its address asks for.
The browser's own check is there to catch a server that lies; a proof that is true of
some other ballot must not pass for the voter's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By

from election.domain.bulletin import PublicLeaf, prove
from election.domain.checkpoints import Checkpoint, sign_checkpoint
from election.domain.ed25519 import load_private_key, new_private_key, public_key_text
from election.domain.merkle import MerkleTree, leaf_hash
from election.domain.receipts import commitment, leaf_data, new_nonce, new_receipt
from tests.support.browser import chromium, until
from web.record import Lookup
from web.record_pages import receipt_page
from web.views import SECURITY_HEADERS, STATIC

ELECTION = "5401"
PRIVATE = load_private_key(new_private_key())
KEY = public_key_text(PRIVATE.public_key())
RECEIPTS = [new_receipt() for _ in range(5)]


def proof_of(receipt: str, election_id: str = ELECTION) -> dict[str, Any]:
    """A genuine proof of ``receipt`` in a signed log of five ballots."""
    leaves = []
    for position, each in enumerate(RECEIPTS):
        opened = commitment(position % 2, new_nonce())
        data = leaf_data(election_id, each, opened)
        leaves.append(PublicLeaf(position, each, opened, leaf_hash(data)))
    root = MerkleTree([leaf.leaf_hash for leaf in leaves]).root()
    signed = sign_checkpoint(Checkpoint(election_id, len(leaves), root, 1_000), PRIVATE)
    proof = prove(election_id, receipt, leaves, signed)
    assert proof is not None
    return proof


class LyingServer(BaseHTTPRequestHandler):
    """Answers ``/elections/E/receipt?receipt=R`` with the proof of ``RECEIPTS[1]`` of
    election ``ELECTION`` whatever was asked, and the real ``/static/verify.js``."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/static/verify.js":
            body, kind = (STATIC / "verify.js").read_bytes(), "text/javascript"
        else:
            asked = parse_qs(parts.query)["receipt"][0]
            found = Lookup(
                200,
                {
                    "receipt": asked,  # the page says what was asked ...
                    "proof": proof_of(RECEIPTS[1]),  # ... and proves another ballot
                    "public_key": KEY,
                    "server_check": [],
                    "proved": True,
                },
            )
            election_id = parts.path.split("/")[2]
            body, kind = receipt_page(election_id, asked, found).encode(), "text/html"
        self.send_response(200)
        self.send_header("content-type", kind)
        for name, value in SECURITY_HEADERS:
            self.send_header(name.decode(), value.decode())
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def liar() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LyingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def browser_check(base: str, path: str) -> tuple[str, str]:
    with chromium() as driver:
        driver.get(base + path)
        check = driver.find_element(By.ID, "browser-check")
        until(lambda: check.get_attribute("data-result"), 20, "the browser's own check")
        return str(check.get_attribute("data-result")), check.text


def test_the_browser_proves_the_receipt_its_address_asks_for_however_it_is_typed(
    liar: str,
) -> None:
    typed = RECEIPTS[1].lower().replace("-", " ")
    result, text = browser_check(liar, f"/elections/{ELECTION}/receipt?receipt={typed}")
    assert result == "proved", text
    assert RECEIPTS[1] in text and "signature verifies" in text
    result, text = browser_check(liar, f"/elections/00{ELECTION}/receipt?receipt={RECEIPTS[1]}")
    assert result == "proved", text


def test_a_genuine_proof_of_another_receipt_or_election_is_not_proved_in_the_browser(
    liar: str,
) -> None:
    result, text = browser_check(liar, f"/elections/{ELECTION}/receipt?receipt={RECEIPTS[3]}")
    assert result == "failed" and "another receipt" in text, text
    result, text = browser_check(liar, f"/elections/5402/receipt?receipt={RECEIPTS[1]}")
    assert result == "failed" and "another election" in text, text
