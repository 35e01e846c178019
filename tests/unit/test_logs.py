"""One log pipeline: structlog events and the standard library's records (Dramatiq, pika,
google ...) come out in one format, and never carry task-queue messages (they hold ballots
with voter IDs)."""

from __future__ import annotations

import io
import json
import logging
import warnings

import pytest
import structlog
from dramatiq import Message
from dramatiq.cli import LOGFORMAT
from google.api_core import client_logging

from election.logs import configure_logging

VOTER_ARG = "eyJ2b3Rlcl9JRCI6IDQ3MTF9"


#: Every test here sets up logging: each leaves it as it found it (tests/unit/conftest.py).
pytestmark = pytest.mark.usefixtures("restore_logging")


def a_message() -> Message[object]:
    return Message(
        queue_name="q", actor_name="dedup_votes", args=(VOTER_ARG,), kwargs={}, options={}
    )


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_dramatiq_message_in_a_log_line_shows_only_its_actor_and_id() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("dramatiq.worker.test")
    logger.addHandler(handler)
    message = a_message()
    try:
        logger.error("Failed to process message %s with unhandled exception.", message)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert message.message_id in text and "dedup_votes" in text
    assert VOTER_ARG not in text


def test_a_library_record_is_one_json_line_with_the_keys_of_a_structlog_event() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", process="bridge", stream=stream)
    structlog.get_logger("election").info("bridge.started")
    logging.getLogger("google.cloud.pubsub_v1").warning("stream %s closed", "s1")
    own, library = json_lines(stream)
    assert own == {
        "event": "bridge.started",
        "level": "info",
        "process": "bridge",
        "timestamp": own["timestamp"],
    }
    # The same keys, plus the library's logger name (structlog events have none).
    assert set(library) == set(own) | {"logger"}
    assert library["event"] == "stream s1 closed"
    assert library["level"] == "warning" and library["logger"] == "google.cloud.pubsub_v1"


def test_google_records_reach_the_pipeline_once_a_pubsub_client_set_up_its_logging() -> None:
    stream = io.StringIO()
    logging.getLogger("google").propagate = False  # a client made before configure_logging
    configure_logging("INFO", "json", stream=stream)
    client_logging.setup_logging()  # what each Pub/Sub client made after does
    logging.getLogger("google.api_core.retry").warning("retrying")
    (line,) = json_lines(stream)
    assert line["event"] == "retrying" and line["logger"] == "google.api_core.retry"


def test_a_library_record_renders_in_the_console_columns_of_a_structlog_event() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", process="logger", stream=stream)
    structlog.get_logger().info("vote.claimed", fresh=True)
    logging.getLogger("dramatiq.worker.Worker").info("Shutting down...")
    own, library = stream.getvalue().splitlines()
    level = " [info     ] "
    # The same columns: timestamp, padded level, padded event, then fields.
    assert own.index(level) == library.index(level) == len("2026-01-01T00:00:00.000000Z")
    assert own.index("fresh=True") == library.index("[dramatiq.worker.Worker]")
    assert library.endswith(
        "Shutting down...".ljust(30) + " [dramatiq.worker.Worker] process=logger"
    )
    assert own.endswith("vote.claimed".ljust(30) + " fresh=True process=logger")


def test_pika_says_only_warnings_unless_log_level_is_debug() -> None:
    stream = io.StringIO()
    pika = logging.getLogger("pika.adapters.blocking_connection")
    configure_logging("INFO", "json", stream=stream)
    pika.info("Created channel=1")
    pika.warning("Connection closed")
    configure_logging("DEBUG", "json", stream=stream)
    pika.info("Created channel=2")
    assert [line["event"] for line in json_lines(stream)] == [
        "Connection closed",
        "Created channel=2",
    ]


def test_configuring_again_replaces_handlers_so_no_line_is_written_twice() -> None:
    first, second, dramatiqs = io.StringIO(), io.StringIO(), io.StringIO()
    configure_logging("INFO", "json", process="worker-main", stream=first)
    # What Dramatiq's CLI does in a worker process, before our middleware runs.
    logging.basicConfig(format=LOGFORMAT, stream=dramatiqs)
    configure_logging("INFO", "json", process="worker", stream=second)
    configure_logging("INFO", "json", process="worker", stream=second)
    logging.getLogger("dramatiq.WorkerProcess(0)").info("Worker process is ready for action.")
    assert first.getvalue() == dramatiqs.getvalue() == ""
    (line,) = json_lines(second)
    assert line["process"] == "worker" and line["event"] == "Worker process is ready for action."


def test_a_dramatiq_log_line_through_the_pipeline_never_shows_a_message_s_arguments() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    message = a_message()
    try:
        raise RuntimeError("actor failed")
    except RuntimeError:
        logging.getLogger("dramatiq.worker.WorkerThread").exception(
            "Failed to process message %s with unhandled exception.", message
        )
    (line,) = json_lines(stream)
    assert line["event"] == (
        f"Failed to process message <dedup_votes message {message.message_id}> "
        "with unhandled exception."
    )
    assert "RuntimeError: actor failed" in str(line["exception"])
    assert VOTER_ARG not in stream.getvalue()


def test_a_python_warning_is_a_log_line_too() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        logging.captureWarnings(True)  # catch_warnings restored showwarning; capture again
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    (line,) = json_lines(stream)
    assert line["logger"] == "py.warnings" and "old API" in str(line["event"])
