"""Which failures are retried for as long as they last, and which only a few times."""

from __future__ import annotations

import peewee
import pytest
import redis
from google.api_core import exceptions as api_exceptions

from actors.retrying import RetryPolicy, is_transient


@pytest.mark.parametrize(
    "exc",
    [
        peewee.OperationalError("server closed the connection unexpectedly"),
        peewee.InterfaceError("connection already closed"),
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        api_exceptions.ServiceUnavailable("emulator restarting"),
        api_exceptions.NotFound("topic gone"),
    ],
)
def test_a_server_that_is_away_is_waited_for_however_long(exc: BaseException) -> None:
    assert is_transient(exc)
    assert RetryPolicy(max_retries=3)(10_000, exc) is True


@pytest.mark.parametrize(
    "exc", [peewee.InternalError("record step failing"), ValueError("bad"), KeyError("x")]
)
def test_any_other_failure_is_retried_max_retries_times(exc: BaseException) -> None:
    policy = RetryPolicy(max_retries=3)
    assert [policy(n, exc) for n in range(5)] == [True, True, True, False, False]
