"""Fixtures of the unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from election.logs import CHATTY_LOGGERS


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Leave the root logger, the chatty loggers and structlog as the test found them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = (*CHATTY_LOGGERS, "google")
    saved = {
        name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in names
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (each, propagate) in saved.items():
        logging.getLogger(name).setLevel(each)
        logging.getLogger(name).propagate = propagate
    logging.captureWarnings(False)
    structlog.reset_defaults()
