"""The one error root: every error this project raises on purpose is an :class:`ElectionError`.

Each subclass family says what the caller can do about it, and the CLI maps each family
to one exit code (``election.cli.exits``). Errors of libraries (gRPC, redis-py, peewee)
are caught where they can be handled and turned into one of these, or left alone.
"""

from __future__ import annotations


class ElectionError(Exception):
    """Root of the project's errors."""


class ConfigError(ElectionError, ValueError):
    """A configuration variable is missing or malformed; the message names it."""


class InvalidInput(ElectionError, ValueError):
    """Input from outside (a message, a command-line value, a filter) breaks a rule."""


class Unavailable(ElectionError):
    """A server the process needs (Pub/Sub, Redis, PostgreSQL, the broker) does not answer."""


class OperatorDecision(ElectionError):
    """The system cannot go on by itself: an operator must decide (the message says what)."""


class ProcessFailed(ElectionError):
    """A long-running part of a process stopped for good; the message says which and why."""
