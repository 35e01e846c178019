"""When a failed actor message is tried again: always while a server is unreachable.

A vote must outlast an outage of any length: giving up because PostgreSQL, Redis or
Pub/Sub stayed away longer than a retry budget would lose accepted ballots. So an error
that says "the server is not there (yet)" is retried for as long as it takes, with
Dramatiq's backoff (``ACTOR_MAX_BACKOFF_MS`` apart at most); any other error is retried
``ACTOR_MAX_RETRIES`` times, then the actor's give-up path takes the message.
"""

from __future__ import annotations

import peewee
import psycopg2.errors
import redis
from dramatiq.errors import BrokerConnectionError
from google.api_core import exceptions as api_exceptions
from playhouse.pool import MaxConnectionsExceeded

#: Errors that mean a server is unreachable, overloaded or restarting: never final.
TRANSIENT: tuple[type[BaseException], ...] = (
    peewee.OperationalError,
    peewee.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.BusyLoadingError,
    BrokerConnectionError,
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
    api_exceptions.Aborted,
    api_exceptions.TooManyRequests,
    api_exceptions.RetryError,
    # The topic is gone (an emulator restart): the bridge re-creates it.
    api_exceptions.NotFound,
)


#: Errors of the servers themselves, raised under classes that also mean "wrong work":
#: PostgreSQL read-only (a standby during failover, a full disk), out of memory or disk.
_SERVER_STATES = (
    psycopg2.errors.ReadOnlySqlTransaction,
    psycopg2.errors.DiskFull,
    psycopg2.errors.OutOfMemory,
    psycopg2.errors.TooManyConnections,
    psycopg2.errors.AdminShutdown,
    psycopg2.errors.CannotConnectNow,
)
#: Redis answers that say the server cannot write now (``noeviction`` memory full, an AOF
#: it cannot write, too few replicas), not that the command was wrong.
_REDIS_STATES = ("OOM ", "MISCONF ", "NOREPLICAS ", "LOADING ", "READONLY ", "MASTERDOWN ")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says a server is away or cannot write for now, rather than that
    the work is wrong."""
    if isinstance(exc, TRANSIENT):
        return True
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, peewee.DatabaseError) and isinstance(cause, _SERVER_STATES):
        return True
    if isinstance(exc, redis.ResponseError):
        return str(exc).startswith(_REDIS_STATES)
    # The connection pool of a worker whose threads outnumber its connections.
    return isinstance(exc, MaxConnectionsExceeded)


def always(retries: int, exc: BaseException) -> bool:
    """``retry_when`` of the give-up actors: a give-up is the last step of a ballot and
    must not end in Dramatiq's own dead-letter queue, whatever fails; each give-up is
    idempotent, so trying it again is safe."""
    return True


class RetryPolicy:
    """Dramatiq's ``retry_when``: transient errors forever, others ``max_retries`` times."""

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    def __call__(self, retries: int, exc: BaseException) -> bool:
        return is_transient(exc) or retries < self.max_retries
