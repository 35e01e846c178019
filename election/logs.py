"""The one logger setup: structlog events with fields, to standard error.

Console rendering for people (on a terminal), JSON lines for platforms and pipes. Every service
logs one canonical event per unit of work (``vote.claimed``, ``vote.recorded`` ...). Records
from the standard library's ``logging`` (Dramatiq, pika, google, grpc, redis, peewee, urllib3)
and Python warnings go through the same processors and renderer, so a process writes one format.
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

#: Library loggers kept at WARNING unless LOG_LEVEL is DEBUG, for what they say at INFO:
#: pika, about six lines per RabbitMQ connection opened or closed (every worker process
#: and every enqueueing process opens some).
CHATTY_LOGGERS = ("pika",)

#: Standard-library records below this never pass, whatever LOG_LEVEL says: libraries'
#: DEBUG lines are wire detail, and peewee's carry every SQL statement with its parameters
#: (voter IDs among them).
LIBRARY_FLOOR = logging.INFO


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    *,
    process: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Set up structlog and route the standard library's logging through the same renderer.

    Safe to call again (a Dramatiq worker process does after it is forked): the root
    handler is replaced, never added to, so no record is written twice.
    """
    numeric = _LEVELS.get(level.upper(), logging.INFO)
    out = stream or sys.stderr
    if fmt == "auto":
        # Aligned columns cost twice the CPU of JSON per line, and only people read them.
        fmt = "console" if out.isatty() else "json"
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    stamps = _stamps(process)
    structlog.configure(
        processors=[*stamps, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    redact_task_messages()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*stamps, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    _route_standard_logging(formatter, max(numeric, LIBRARY_FLOOR), out)
    _set_library_levels(numeric)


def _set_library_levels(numeric: int) -> None:
    """Quiet the chatty library loggers, and keep google's records coming to the root."""
    for name in CHATTY_LOGGERS:
        # NOTSET at DEBUG: they follow the root (INFO, the library floor). This also undoes
        # Dramatiq's worker processes setting pika to CRITICAL, which hid its warnings.
        quiet = max(numeric, logging.WARNING) if numeric > logging.DEBUG else logging.NOTSET
        logging.getLogger(name).setLevel(quiet)
    # google-api-core's first Pub/Sub client stops the "google" logger propagating unless
    # that logger looks configured (a level set): its records would then reach only
    # Python's last-resort handler, as bare text. So set one, and undo an earlier stop.
    google = logging.getLogger("google")
    google.setLevel(max(numeric, LIBRARY_FLOOR))
    google.propagate = True


def _stamps(process: str | None) -> list[structlog.typing.Processor]:
    """The fields every line gets, structlog event or library record alike."""
    stamps: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if process:
        stamps.append(_ProcessName(process))
    return stamps


class PipelineHandler(logging.StreamHandler[TextIO]):
    """The root handler :func:`configure_logging` installs (and replaces on a later call)."""


def _route_standard_logging(formatter: logging.Formatter, level: int, stream: TextIO) -> None:
    """Make ``formatter`` the one way out for standard-library records (and warnings).

    Besides a handler of ours from an earlier call, this removes plain ``StreamHandler``s
    from the root logger: those are what ``logging.basicConfig`` installs, as Dramatiq's
    CLI does in its main and worker processes (text lines in a format of its own, a
    second copy of every record). Other handlers (files, test capture) are left alone.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, PipelineHandler) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    handler = PipelineHandler(stream)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)
    # A warning would otherwise be printed as bare text lines among the JSON ones.
    logging.captureWarnings(True)


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
