"""Debian's headless Chromium, driven through its own ChromeDriver by Selenium.

Both come from the distribution (``scripts/browser.sh``); Selenium is pointed at them so
it never looks for, or downloads, a browser of its own. The flags keep Chromium off the
network this machine does not have (no background fetches, no QUIC, no component
updates) and give every session an empty profile.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,900",
)
#: Seconds a page may take to load, and a script to run.
PAGE_TIMEOUT_S = 30
#: Where the browser tests leave a screenshot of each page they check.
SCREENSHOTS = Path(".run/screenshots")

T = TypeVar("T")


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A headless Chromium session with an empty profile, quit afterwards."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
        driver.set_page_load_timeout(PAGE_TIMEOUT_S)
        driver.set_script_timeout(PAGE_TIMEOUT_S)
        try:
            yield driver
        finally:
            driver.quit()


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save what the browser shows as ``.run/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def until(condition: Callable[[], T], timeout_s: float, what: str) -> T:
    """Poll ``condition`` (page state) until truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)
