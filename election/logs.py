"""The one logger setup: structlog events with fields, to standard error.

Console rendering for people (on a terminal), JSON lines for platforms and pipes. Every service
logs one canonical event per unit of work (``vote.claimed``, ``vote.recorded`` ...).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import structlog

from config import Settings

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    *,
    process: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Set up structlog (and the standard library's logging, which Dramatiq uses)."""
    numeric = _LEVELS.get(level.upper(), logging.INFO)
    if fmt == "auto":
        # Aligned columns cost twice the CPU of JSON per line, and only people read them.
        fmt = "console" if (stream or sys.stderr).isatty() else "json"
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if process:
        processors.append(_ProcessName(process))
    processors += [structlog.processors.format_exc_info, renderer]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
    redact_task_messages()
    # Libraries (grpc, dramatiq, pika) log through the standard library; keep them quieter.
    logging.basicConfig(
        level=max(numeric, logging.INFO),
        stream=stream or sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def redact_task_messages() -> None:
    """Keep task-queue messages out of log lines: they carry ballots, voter IDs included.

    Dramatiq logs a failing message with ``%s``, which prints its arguments (here the
    Pub/Sub body). Every log record made in this process gets such arguments replaced by
    the actor name and message ID.
    """
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts_messages", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if isinstance(record.args, tuple) and any(_is_message(a) for a in record.args):
            record.args = tuple(_redacted(a) for a in record.args)
        return record

    factory.redacts_messages = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _is_message(value: object) -> bool:
    return hasattr(value, "message_id") and hasattr(value, "actor_name")


def _redacted(value: object) -> object:
    if _is_message(value):
        return f"<{getattr(value, 'actor_name', '?')} message {getattr(value, 'message_id', '?')}>"
    return value


def configure_from_settings(
    settings: Settings, *, process: str | None = None, stream: TextIO | None = None
) -> None:
    """Set up logging from the ``LOG_LEVEL`` / ``LOG_FORMAT`` settings."""
    configure_logging(settings.log_level, settings.log_format, process=process, stream=stream)


def own_stderr() -> TextIO:
    """This process's standard error (file descriptor 2), line-buffered: one write per line.

    Dramatiq's worker processes replace ``sys.stderr`` with a pipe to their parent, which
    copies each line on to the real standard error: three system calls per write in the
    worker, more in the parent, and a quarter of a worker's CPU at one line per vote. The
    file descriptor still is the process's real standard error, shared with the parent.
    Lines are written whole, so processes interleave by line.
    """
    return open(os.dup(2), "w", buffering=1, encoding="utf-8", errors="backslashreplace")


class _ProcessName:
    """Adds the process role to every event, so mixed Procfile output stays readable."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(
        self, logger: object, method: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event.setdefault("process", self.name)
        return event
