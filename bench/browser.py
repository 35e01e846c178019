"""Debian's headless Chromium, driven through its own ChromeDriver by Selenium: the
one way this project starts a browser (the browser tests, ``election bench-page``).

Both come from the distribution (``scripts/browser.sh``); Selenium is pointed at them so
it never looks for, or downloads, a browser of its own. The flags keep Chromium off the
network this machine does not have (no background fetches, no QUIC, no component
updates) and give every session an empty profile.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

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
