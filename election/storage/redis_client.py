"""The one Redis client factory: every process and tool connects to Redis through it.

Every command gets a timeout (an unanswered Redis must not hang a worker thread or a
tool), and a client idle for a while checks its connection before using it again.
"""

from __future__ import annotations

import redis

#: Seconds a Redis command, or a connection attempt, may take unless told otherwise.
TIMEOUT_S = 5.0
#: A connection idle this many seconds is pinged before its next command.
HEALTH_CHECK_S = 30


def connect_redis(url: str, *, timeout_s: float = TIMEOUT_S) -> redis.Redis:
    """A client for the Redis at ``url`` (connects on first use)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=HEALTH_CHECK_S,
    )
