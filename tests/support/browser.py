"""The browser tests' side of Chromium: screenshots under ``.run/`` and bounded waits on
page state; the browser itself is started by ``bench.browser.chromium`` (re-exported)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.remote.webdriver import WebDriver

from bench.browser import chromium
from tests.support.processes import wait_for

__all__ = ["chromium", "screenshot", "until"]

#: The tallest screenshot, in pixels.
MAX_SHOT_PX = 8000
#: Where the browser tests leave a screenshot of each page they check.
SCREENSHOTS = Path(".run/screenshots")

T = TypeVar("T")


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save what the browser shows as ``.run/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # The whole page, not only the window: grow the window to the page's height first.
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    size = driver.get_window_size()
    driver.set_window_size(size["width"], min(max(height + 40, size["height"]), MAX_SHOT_PX))
    driver.save_screenshot(str(path))
    driver.set_window_size(size["width"], size["height"])
    return path


def until(condition: Callable[[], T], timeout_s: float, what: str) -> T:
    """:func:`~tests.support.processes.wait_for` on page state: a page being replaced (a
    form sent, a link followed) counts as not yet."""

    def settled() -> T | None:
        try:
            return condition()
        except (StaleElementReferenceException, NoSuchElementException):
            return None

    return cast(T, wait_for(settled, timeout_s, what))
