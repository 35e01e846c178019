"""The exit codes of ``election`` and the one mapping from the project's errors to them.

Every error the project raises on purpose is an ``ElectionError`` of one family
(``election.domain.errors``); ``election.cli.main`` catches it once, prints the line
:func:`exit_for` gives and returns its code. Keeping the table here means a command
never decides an exit code for an error by itself.
"""

from __future__ import annotations

from election.domain.errors import (
    ConfigError,
    ElectionError,
    InvalidInput,
    OperatorDecision,
    ProcessFailed,
    Unavailable,
)

RET_OK = 0
RET_ERROR = 1  # the command ran and failed
RET_USAGE = 2  # bad command line (argparse uses 2 as well)
RET_CONFIG = 3  # a configuration variable is missing or malformed
RET_UNAVAILABLE = 4  # a service it needs (Pub/Sub, Redis, PostgreSQL) cannot be reached
RET_INTERRUPTED = 130

#: ``election status``: every dependency healthy, or not (then a service cannot be used).
RET_HEALTHY = RET_OK
RET_UNHEALTHY = RET_UNAVAILABLE

#: Each family, most specific first: its exit code and its one line on standard error
#: (``{command}`` is the subcommand, ``{message}`` the error's text).
FAMILIES: tuple[tuple[type[ElectionError], int, str], ...] = (
    (ConfigError, RET_CONFIG, "election: configuration error: {message}"),
    (Unavailable, RET_UNAVAILABLE, "election: {message}"),
    (InvalidInput, RET_USAGE, "election {command}: {message}"),
    (OperatorDecision, RET_ERROR, "election: {command} failed: {message}"),
    (ProcessFailed, RET_ERROR, "election: {command} failed: {message}"),
    (ElectionError, RET_ERROR, "election: {command} failed: {message}"),
)


def exit_for(error: ElectionError, command: str) -> tuple[int, str]:
    """The exit code for ``error`` raised by ``election command``, and the line to print."""
    for family, code, line in FAMILIES:
        if isinstance(error, family):
            return code, line.format(command=command, message=error)
    raise AssertionError("unreachable: ElectionError is the last family")  # pragma: no cover


def exit_for_health(healthy: bool) -> int:
    """The exit code of ``election status``: 0 only when every check is healthy."""
    return RET_HEALTHY if healthy else RET_UNHEALTHY
