"""The operator console in a real browser (Debian's headless Chromium), in front of a whole
running system: no login and a wrong token are refused; the right one shows every
section; a dead letter the test caused is shown and replayed from its button, the ballot
then stored; purge asks first (a dialog); closing an election asks for its ID again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from election.domain.manifest import load_definition
from election.storage.elections import ElectionRegistry
from tests.conftest import REDIS_BROKER
from tests.support.browser import chromium, screenshot, until
from tests.support.processes import wait_for
from tests.support.system import ElectionSystem, give_up_on, heal
from tests.support.web import CONSOLE_SECTIONS, WebProcess, start_web

pytestmark = pytest.mark.e2e

TOKEN = "browser-operator-token-0123456789"
FAST_GIVE_UP = {
    "ACTOR_MAX_RETRIES": "2",
    "ACTOR_MIN_BACKOFF_MS": "50",
    "ACTOR_MAX_BACKOFF_MS": "200",
}


@pytest.fixture
def console(make_system: object, tmp_path: Path) -> Iterator[tuple[ElectionSystem, WebProcess]]:
    roles = ("bridge", "logger", "recorder")
    system: ElectionSystem = make_system(REDIS_BROKER, *roles, env=FAST_GIVE_UP)  # type: ignore[operator]
    web = start_web("web", {**system.env, "OPERATOR_TOKEN": TOKEN}, tmp_path)
    try:
        yield system, web
    finally:
        web.service.stop()


def log_in(driver: WebDriver, base: str, token: str) -> None:
    driver.get(f"{base}/operator")
    until(lambda: driver.find_elements(By.NAME, "token"), 10, "the login form")
    driver.find_element(By.NAME, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form[action='/operator/login'] button").click()


def dead_letter_rows(driver: WebDriver) -> list[str]:
    return [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#dead-letters + table tr")][
        1:
    ]


def test_the_console_refuses_a_wrong_login_and_replays_a_dead_letter_from_its_button(
    console: tuple[ElectionSystem, WebProcess],
) -> None:
    system, web = console
    give_up_on(system, "6201")
    try:
        kept = system.submit("op-2", 987654331, "6201")
        dropped = system.submit("op-2", 987654332, "6201")
        wait_for(
            lambda: len(system.redis.hgetall(f"{system.name}:dead-letters")) >= 2,
            90,
            "two dead letters",
        )
    finally:
        heal(system)
    with chromium() as driver:
        log_in(driver, web.base, "not-the-token-at-all-0000")
        until(lambda: "Operator login" in driver.title, 10, "the login page again")
        assert "operator_session" not in {c["name"] for c in driver.get_cookies()}
        screenshot(driver, "operator-login-refused")
        assert web.service.count(r"operator\.refused") >= 1

        log_in(driver, web.base, TOKEN)
        until(lambda: driver.title == "Operator console", 20, "the console")
        for section in CONSOLE_SECTIONS:
            assert driver.find_elements(By.ID, section), section
        rows = dead_letter_rows(driver)
        assert len(rows) == 2 and any(kept in row for row in rows)
        assert all("record step failing" in row for row in rows)
        assert "987654331" not in driver.page_source  # never a voter ID
        screenshot(driver, "operator-console")

        row = next(
            r
            for r in driver.find_elements(By.CSS_SELECTOR, "#dead-letters + table tr")
            if kept in r.text
        )
        row.find_element(By.XPATH, ".//button[text()='Replay']").click()
        until(
            lambda: "stored" in driver.find_element(By.TAG_NAME, "body").text,
            60,
            "the replay's outcome",
        )
        assert f"(ballot {kept}): stored" in driver.find_element(By.TAG_NAME, "body").text
        assert len(system.rows("6201")) == 1
        screenshot(driver, "operator-replayed")

        driver.get(f"{web.base}/operator")
        row = next(
            r
            for r in driver.find_elements(By.CSS_SELECTOR, "#dead-letters + table tr")
            if dropped in r.text
        )
        row.find_element(By.XPATH, ".//button[text()='Purge']").click()
        alert = driver.switch_to.alert  # static/confirm.js asks before a purge
        assert "Purge dead letter" in alert.text
        alert.dismiss()
        assert len(dead_letter_rows(driver)) == 1  # said no: nothing was sent
        row = next(
            r
            for r in driver.find_elements(By.CSS_SELECTOR, "#dead-letters + table tr")
            if dropped in r.text
        )
        row.find_element(By.XPATH, ".//button[text()='Purge']").click()
        driver.switch_to.alert.accept()
        until(lambda: "purged" in driver.find_element(By.TAG_NAME, "body").text, 30, "the purge")
        driver.get(f"{web.base}/operator")
        assert "No dead letters." in driver.find_element(By.TAG_NAME, "body").text


def test_closing_an_election_from_the_console_asks_for_its_id_and_is_audited(
    console: tuple[ElectionSystem, WebProcess],
) -> None:
    system, web = console
    manifest = b'id = "6202"\ntitle = "Harbour"\nchoices = ["A", "B"]\nroll = "r.txt"\n'
    definition = load_definition(manifest, lambda _: "1\n2\n", system.secrets)
    with system.database.connection_context():
        registry = ElectionRegistry(system.database)
        registry.create(definition)
        registry.open("6202")
    with chromium() as driver:
        log_in(driver, web.base, TOKEN)
        until(lambda: driver.title == "Operator console", 20, "the console")
        driver.find_element(By.CSS_SELECTOR, "a[href='/operator/elections/6202/close']").click()
        until(lambda: driver.find_elements(By.NAME, "confirm"), 10, "the confirmation")
        screenshot(driver, "operator-confirm-close")
        driver.find_element(By.NAME, "confirm").send_keys("6203")  # the wrong ID
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        until(lambda: driver.find_elements(By.NAME, "confirm"), 10, "the confirmation again")
        with system.database.connection_context():
            assert ElectionRegistry(system.database).require("6202").state().value == "open"
        driver.find_element(By.NAME, "confirm").send_keys("6202")
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        until(lambda: "Done" in driver.find_element(By.TAG_NAME, "body").text, 120, "the close")
        with system.database.connection_context():
            assert ElectionRegistry(system.database).require("6202").state().value == "closed"
        driver.get(f"{web.base}/operator")
        audit = driver.find_element(By.CSS_SELECTOR, "#audit + table").text
        assert "close" in audit and "6202" in audit
