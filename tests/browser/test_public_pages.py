"""The public pages in a real browser (Debian's headless Chromium), against the running
system: emulator, Redis, PostgreSQL, bridge, workers, checkpointer and ``election web``.

While machines vote, the results page follows without a reload until it equals
``election results``; a receipt a machine printed is found and shown as proved, by the
server and by the page's own WebCrypto check; that check refuses a tampered proof.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from election.domain.manifest import load_definition
from election.local.emulator import free_port
from election.storage.elections import ElectionRegistry
from tests.conftest import REDIS_BROKER
from tests.support.browser import chromium, screenshot, until
from tests.support.processes import Service, election_command, run_election, wait_for
from tests.support.system import ElectionSystem, MachineRun

pytestmark = pytest.mark.e2e

ELECTION = "1401"
MANIFEST = f"""
id = "{ELECTION}"
title = "Browser test: a colour for the bridge"
choices = ["Red", "Green", "Blue"]
roll = "roll.txt"
""".encode()
ROLL = 60
RECORDED = "A vote was recorded successfully"


@pytest.fixture
def running(make_system: object, tmp_path: Path) -> Iterator[tuple[ElectionSystem, str]]:
    """The whole system with the checkpointer and ``election web``; its page's address."""
    roles = ("bridge", "logger", "recorder", "checkpointer")
    system: ElectionSystem = make_system(REDIS_BROKER, *roles)  # type: ignore[operator]
    port = free_port()
    web = Service("web", election_command("web"), {**system.env, "PORT": str(port)}, tmp_path)
    web.start()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, 30, "election web to answer")
        roll = "\n".join(str(voter) for voter in range(1, ROLL + 1))
        definition = load_definition(MANIFEST, lambda _: roll, system.secrets)
        with system.database.connection_context():
            registry = ElectionRegistry(system.database)
            registry.create(definition)
            registry.open(ELECTION)
        yield system, base
    finally:
        web.stop()


def cli_results(system: ElectionSystem) -> Any:
    done = run_election(["results", ELECTION, "--json"], system.env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def shown(driver: WebDriver) -> dict[str, Any]:
    """What the results page shows now."""
    cells = driver.find_elements(By.CSS_SELECTOR, "td[data-choice]")
    return {
        "total": int(driver.find_element(By.ID, "total").text),
        "votes": [int(cell.text) for cell in cells],
        "state": driver.find_element(By.ID, "state").text,
    }


def vote(system: ElectionSystem, machine: int, votes: int) -> MachineRun:
    """``votes`` votes of voters drawn from the roll (so some vote twice), one per 50 ms."""
    args = ["--election-id", ELECTION, "--machine-id", str(machine), "--interval", "0.05"]
    return system.machine(*args, "--votes", str(votes), "--voters", str(ROLL))


def test_the_results_page_follows_the_votes_live_until_it_equals_election_results(
    running: tuple[ElectionSystem, str],
) -> None:
    system, base = running
    with chromium() as driver:
        driver.get(f"{base}/elections/{ELECTION}")
        assert shown(driver)["total"] == 0
        until(lambda: "live" in driver.find_element(By.ID, "live-status").text, 20, "the stream")
        driver.execute_script("window.__notReloaded = true;")
        runs: list[MachineRun] = []
        threads = [
            threading.Thread(target=lambda m=m: runs.append(vote(system, m, 25))) for m in (1, 2, 3)
        ]
        for thread in threads:
            thread.start()
        # Mid-run the page has moved on from zero without a reload.
        until(lambda: shown(driver)["total"] > 0, 60, "the page to show the first votes")
        for thread in threads:
            thread.join(180)
        assert len(runs) == 3
        recorded = sum(len(run.with_outcome(RECORDED)) for run in runs)
        expected = cli_results(system)
        assert expected["total"] == recorded

        def matches() -> bool:
            now = shown(driver)
            return now["total"] == expected["total"] and now["votes"] == [
                choice["votes"] for choice in expected["choices"]
            ]

        until(matches, 20, "the page to equal `election results`")
        assert driver.execute_script("return window.__notReloaded === true;")
        until(lambda: driver.find_elements(By.CSS_SELECTOR, "#per-minute rect"), 20, "the chart")
        screenshot(driver, "results-live")
        driver.get(f"{base}/")
        assert ELECTION in driver.find_element(By.TAG_NAME, "table").text
        screenshot(driver, "elections")


def test_a_printed_receipt_is_shown_as_proved_by_the_server_and_in_the_browser(
    running: tuple[ElectionSystem, str],
) -> None:
    system, base = running
    run = vote(system, 7, 3)
    (uuid, *_) = run.with_outcome(RECORDED)
    receipt = run.receipts[uuid]
    with chromium() as driver:
        driver.get(f"{base}/elections/{ELECTION}/receipt")
        box = driver.find_element(By.ID, "receipt")
        box.send_keys(receipt.lower().replace("-", ""))  # as a voter might type it

        def proved() -> bool:
            box = driver.find_element(By.ID, "receipt")
            if not box.get_attribute("value"):
                box.send_keys(receipt)
            driver.find_element(By.TAG_NAME, "button").click()
            server = driver.find_element(By.ID, "server-check").text
            return server.startswith("Proved by the server")

        until(proved, 30, "the receipt to be in a checkpoint")
        check = driver.find_element(By.ID, "browser-check")
        until(lambda: check.get_attribute("data-result"), 20, "the browser's own check")
        assert check.get_attribute("data-result") == "proved", check.text
        assert "signature verifies" in check.text
        screenshot(driver, "receipt-proved")

        proof = json.loads(check.get_attribute("data-proof") or "{}")
        key = proof["public_key"]
        honest = verify_in_browser(driver, proof["proof"], key)
        assert honest == []
        for field, value in (
            ("commitment", "0" * 64),
            ("leaf_index", proof["proof"]["leaf_index"] + 1),
            ("receipt", "0000-0000-0000-0000-0000-0000-0000"),
        ):
            tampered = {**proof["proof"], field: value}
            assert verify_in_browser(driver, tampered, key), f"a changed {field} was proved"
        forged = {**proof["proof"]}
        forged["checkpoint"] = {**forged["checkpoint"], "timestamp_ms": 1}
        assert any("signature" in p for p in verify_in_browser(driver, forged, key))

        driver.get(f"{base}/elections/{ELECTION}/record")
        assert driver.find_element(By.ID, "public-key").text == key
        screenshot(driver, "record")


def verify_in_browser(driver: WebDriver, proof: Any, key: str) -> list[str]:
    """The page's own verifier (static/verify.js) run on ``proof``: its problems."""
    script = (
        "const done = arguments[arguments.length - 1];"
        "window.electionVerify.verifyProof(arguments[0], arguments[1])"
        ".then(r => done(r.problems), e => done(['error: ' + e.message]));"
    )
    return list(driver.execute_async_script(script, proof, key))
