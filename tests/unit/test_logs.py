"""Log lines never carry task-queue messages (they hold ballots with voter IDs)."""

from __future__ import annotations

import io
import logging

from dramatiq import Message

from election.logs import configure_logging


def test_a_dramatiq_message_in_a_log_line_shows_only_its_actor_and_id() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("dramatiq.worker.test")
    logger.addHandler(handler)
    message = Message(
        queue_name="q",
        actor_name="dedup_votes",
        args=("eyJ2b3Rlcl9JRCI6IDQ3MTF9",),
        kwargs={},
        options={},
    )
    try:
        logger.error("Failed to process message %s with unhandled exception.", message)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert message.message_id in text and "dedup_votes" in text
    assert "eyJ2b3Rlcl9JRCI6IDQ3MTF9" not in text
