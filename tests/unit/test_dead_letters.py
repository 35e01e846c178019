"""Summaries of why an actor message was given up."""

from actors.dead_letters import error_summary

PSYCOPG_TRACEBACK = """Traceback (most recent call last):
  File "/app/actors/recording.py", line 70, in handle
    .execute()
peewee.InternalError: record step failing for election 401
CONTEXT:  PL/pgSQL function refuse() line 2 at RAISE
"""


def test_the_summary_is_the_exception_line_even_when_the_driver_adds_lines_after_it() -> None:
    assert error_summary(PSYCOPG_TRACEBACK) == "InternalError: record step failing for election 401"


def test_a_traceback_without_an_exception_line_is_an_unknown_error() -> None:
    assert error_summary("") == "unknown error"
    assert error_summary("  File x, line 1\n") == "unknown error"
