"""The health of every dependency of a running election, checked at once.

``election status`` prints it; the web process's ``/readyz`` answers with it. Each
dependency is checked by the start-up checks the services run themselves
(``election.ops.preflight``), so both say the same thing the same way:

- ``redis``: ``REDIS_URL`` answers PING and is durable, as the dedup store must be
  (append-only, fsync on every write, no eviction);
- ``postgres``: ``DATABASE_URL`` answers a query and ``DATABASE_SCHEMA`` holds every table
  (provisioned);
- ``broker``: ``DRAMATIQ_BROKER_URL`` answers (Redis: PING; RabbitMQ: a connection);
- ``pubsub``: Pub/Sub answers and the topic exists;
- ``pubsub:<route>``: each subscription of the route table (``election.domain.routes``)
  exists with its filter (the emulator stores filters without applying them, so their
  text is compared).

A check never raises: an unhealthy dependency is a :class:`Check` that is not ``ok``,
whose ``detail`` says in one line what is wrong and what to do. The checks run at once,
each on a thread of its own, so the whole takes about as long as the slowest; each call
is bounded by ``timeout_s``, and a check still unanswered a little after that is reported
as such. The threads are daemons: one stuck past its own time-out never holds up the
caller or the process's exit. No detail holds a password: URLs are shown masked, and
every password of the settings is blanked out of a failed check's detail (a library's
message might quote a URL).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from config import Settings
from election.domain.errors import ElectionError
from election.domain.routes import ROUTES, Route
from election.ops import preflight
from election.pubsub.client import subscriber_client, topic_path

#: Seconds each dependency's calls may take, by default.
DEFAULT_TIMEOUT_S = 5.0
#: Seconds, past ``timeout_s``, before a check that has not finished is reported as unanswered.
GRACE_S = 1.0
#: What stands in for a password.
MASK = "***"

#: A check's work: the detail of a healthy dependency; raises when it is not healthy.
Probe = Callable[[], str]


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was checked, whether it is healthy, one line
    saying what was found (or what is wrong and what to do), and how long it took."""

    name: str
    ok: bool
    detail: str
    took_ms: int

    def as_dict(self) -> dict[str, Any]:
        """The check as a JSON object (``name``, ``ok``, ``detail``, ``took_ms``)."""
        return asdict(self)


def health(settings: Settings, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Check]:
    """Check every dependency of ``settings`` at once; one :class:`Check` each, in order."""
    secrets = passwords(settings.redis_url, settings.database_url, settings.broker_url)
    checks = run_checks(probes(settings, timeout_s), timeout_s + GRACE_S)
    return [redacted(check, secrets) for check in checks]


def probes(settings: Settings, timeout_s: float) -> list[tuple[str, Probe]]:
    """Each check's name and work, in the order they are reported."""
    named: list[tuple[str, Probe]] = [
        ("redis", functools.partial(_redis, settings, timeout_s)),
        ("postgres", functools.partial(_postgres, settings, timeout_s)),
        ("broker", functools.partial(_broker, settings, timeout_s)),
        ("pubsub", functools.partial(_topic, settings, timeout_s)),
    ]
    for route in ROUTES:
        name = f"pubsub:{route.name or route.service}"
        named.append((name, functools.partial(_subscription, settings, route, timeout_s)))
    return named


def run_checks(named: Sequence[tuple[str, Probe]], wait_s: float) -> list[Check]:
    """Run every probe at once, each on a daemon thread; wait at most ``wait_s`` seconds
    in all. A probe that raises, or is still running then, is a failed check."""
    results: list[Check | None] = [None] * len(named)
    threads = [
        threading.Thread(
            target=_run_one, args=(results, index, name, probe), name=f"health-{name}", daemon=True
        )
        for index, (name, probe) in enumerate(named)
    ]
    deadline = time.monotonic() + wait_s
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [
        result
        if result is not None
        else Check(
            name,
            False,
            f"no answer within {wait_s:g} s; is it overloaded, or behind a firewall?",
            round(wait_s * 1000),
        )
        for result, (name, _) in zip(results, named, strict=True)
    ]


def _run_one(results: list[Check | None], index: int, name: str, probe: Probe) -> None:
    started = time.monotonic()
    try:
        ok, detail = True, probe()
    except Exception as exc:  # an unhealthy dependency is a result, not an error
        # The project's own errors say what to do; a library's is named by its class.
        ok, detail = False, preflight.one_line(exc)
        if not isinstance(exc, ElectionError):
            detail = f"{type(exc).__name__}: {detail}"
    results[index] = Check(name, ok, detail, round((time.monotonic() - started) * 1000))


def _redis(settings: Settings, timeout_s: float) -> str:
    preflight.check_redis(settings.redis_url, timeout_s=timeout_s)
    preflight.check_dedup_store(settings.redis_url, timeout_s=timeout_s)
    return f"{masked(settings.redis_url)} durable"


def _postgres(settings: Settings, timeout_s: float) -> str:
    tables = preflight.check_postgres(settings, provisioned=True, timeout_s=timeout_s)
    return f"{masked(settings.database_url)} schema {settings.database_schema}, {tables} tables"


def _broker(settings: Settings, timeout_s: float) -> str:
    preflight.check_broker(settings, timeout_s=timeout_s)
    return masked(settings.broker_url)


def _topic(settings: Settings, timeout_s: float) -> str:
    preflight.check_topic(settings, timeout_s=timeout_s)
    return f"topic {topic_path(settings)} on {settings.emulator_host or 'Cloud Pub/Sub'}"


def _subscription(settings: Settings, route: Route, timeout_s: float) -> str:
    client = subscriber_client(settings)
    try:
        preflight.check_subscription(client, settings, route, timeout_s=timeout_s)
    finally:
        client.close()
    return f"{route.subscription(settings.namespace)} filter {route.filter}"


def masked(url: str) -> str:
    """``url`` with its password (in the user part, or a ``password`` query parameter)
    replaced by :data:`MASK`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = netloc.rpartition("@")[0].partition(":")[0]
        netloc = f"{user}:{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key.lower() == "password" for key, _ in pairs):
        query = urlencode(
            [(key, MASK if key.lower() == "password" else value) for key, value in pairs],
            safe="*",
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def passwords(*urls: str) -> set[str]:
    """Every password in ``urls``, as written and decoded."""
    found: set[str] = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.password:
            found.add(parts.password)
        found.update(v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v)
    return found | {unquote(secret) for secret in found}


def redacted(check: Check, secrets: set[str]) -> Check:
    """A failed ``check`` with every one of ``secrets`` in its detail (a library's message
    may quote a URL) replaced by :data:`MASK`. A healthy check's detail is made here,
    with :func:`masked` URLs, and is left alone (a password may equal the user name)."""
    if check.ok:
        return check
    detail = check.detail
    for secret in sorted(secrets, key=len, reverse=True):
        detail = detail.replace(secret, MASK)
    return check if detail == check.detail else Check(check.name, check.ok, detail, check.took_ms)
