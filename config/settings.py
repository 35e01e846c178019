"""The one configuration loader: environment variables in, a frozen ``Settings`` out.

Every process (bridge, workers, machine, tools) calls :func:`load_settings` once. A missing
or malformed variable raises :class:`ConfigError` naming it, which the CLI turns into one
clear line instead of a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from election.domain.ballot_rules import Undeclared, parse_undeclared
from election.domain.errors import ConfigError

__all__ = ["ConfigError", "Settings", "load_settings"]

#: The project's own durable Redis (``scripts/services.sh`` starts it: append-only with an
#: fsync per write, no eviction). The machine's Redis on 6379 keeps nothing on disk, and
#: the voting logger refuses a dedup store that could forget who voted.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6380/0"
DEFAULT_DATABASE_URL = "postgresql://127.0.0.1:5432/postgres"
#: RabbitMQ pushes each message to a waiting worker at once; Dramatiq's Redis broker polls
#: an idle queue, which added about 10 ms per hop (measured: p50 at one machine 104 ms with
#: Redis, 56 ms with RabbitMQ, on a floor of 54-56 ms).
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
#: Where the broker's URL is read, first found wins: ours, then CloudAMQP's add-on's.
BROKER_VARIABLES = ("DRAMATIQ_BROKER_URL", "CLOUDAMQP_URL")
DEFAULT_LOCAL_PROJECT = "election-local"
DEFAULT_TOPIC = "election"

# Pub/Sub resource names: start with a letter, 3-255 characters of this alphabet.
_RESOURCE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._~+%-]{2,254}")
_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_SQL_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-\[\]:]+:(\d{1,5})")
#: Subscription names are built as ``<namespace>-machine-<machine id>-<8 hex>``; keep them
#: within Pub/Sub's 255 characters.
MAX_NAMESPACE = 255 - len("-machine-") - 64 - 9
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: ``LIVE_RESULTS``: per-choice counts live (the default), or only the total until the seal.
LIVE_RESULTS = ("choices", "total")


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about its surroundings."""

    redis_url: str
    database_url: str
    database_schema: str
    broker_url: str
    project: str
    emulator_host: str | None
    topic: str
    namespace: str
    choices: int
    #: What the voting logger does with a vote for an election nobody declared.
    undeclared: Undeclared
    log_level: str
    log_format: str
    worker_processes: int
    worker_threads: int
    worker_poll_ms: int
    voter_key: bytes | None
    signing_keys: Mapping[str, bytes]
    signing_key_id: str | None
    #: The log key (``LOG_SIGNING_KEY``, Ed25519, text form), which signs checkpoints and
    #: answers; and the public key a machine or auditor checks them with (``LOG_PUBLIC_KEY``,
    #: else derived from the log key).
    log_key: str | None
    log_public_key: str | None
    #: What the web process shows of an election before its seal (``LIVE_RESULTS``):
    #: ``choices``, every count as it stands; ``total``, the total and turnout only.
    live_results: str
    #: The operator console's login (``OPERATOR_TOKEN``); unset, the console is disabled.
    #: There is no default: a default would be everyone's password.
    operator_token: bytes | None
    claim_stale_s: int
    signature_ttl_s: int
    dedup_wait_replicas: int
    max_retries: int
    min_backoff_ms: int
    max_backoff_ms: int

    def require_voter_key(self) -> bytes:
        """The voter-hashing secret; only the voting logger needs it."""
        if self.voter_key is None:
            raise ConfigError("VOTER_KEY is not set (generate one with `election keys`)")
        return self.voter_key

    def require_signing_key(self) -> tuple[str, bytes]:
        """The (key ID, key) that signs record messages; the logger needs it."""
        if self.signing_key_id is None:
            raise ConfigError("RECORD_SIGNING_KEYS is not set (generate one with `election keys`)")
        return self.signing_key_id, self.signing_keys[self.signing_key_id]

    def require_log_key(self) -> str:
        """The log key's text form; every service that answers or checkpoints needs it."""
        if self.log_key is None:
            raise ConfigError("LOG_SIGNING_KEY is not set (generate one with `election keys`)")
        return self.log_key

    def require_verifying_keys(self) -> Mapping[str, bytes]:
        """Every key a record message may be signed with (old and new during rotation)."""
        if not self.signing_keys:
            raise ConfigError("RECORD_SIGNING_KEYS is not set (generate one with `election keys`)")
        return self.signing_keys

    @property
    def broker_kind(self) -> str:
        """``"redis"`` or ``"rabbitmq"``, from the scheme of the broker URL."""
        scheme = urlsplit(self.broker_url).scheme
        return "rabbitmq" if scheme in ("amqp", "amqps") else "redis"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise :class:`ConfigError` on the first bad one."""
    env = os.environ if environ is None else environ

    def get(name: str, default: str) -> str:
        value = env.get(name, "").strip()
        return value or default

    return Settings(
        **_connections(get),
        **_pubsub(get, env),
        **_processes(get),
        **_secrets(env),
        **_tuning(get),
    )


#: Reads one variable, or its default when it is unset or blank.
_Get = Callable[[str, str], str]


def _connections(get: _Get) -> dict[str, Any]:
    """The servers' URLs and the database schema."""
    schema = get("DATABASE_SCHEMA", "public")
    if not _SQL_IDENTIFIER.fullmatch(schema):
        raise ConfigError(f"DATABASE_SCHEMA must be a lower-case SQL identifier, got {schema!r}")
    # CloudAMQP's add-on sets CLOUDAMQP_URL (a Heroku-like platform cannot rename it).
    broker_var = next((n for n in BROKER_VARIABLES if get(n, "")), BROKER_VARIABLES[0])
    return {
        "redis_url": _url(
            "REDIS_URL", get("REDIS_URL", DEFAULT_REDIS_URL), ("redis", "rediss", "unix")
        ),
        "database_url": _url(
            "DATABASE_URL", get("DATABASE_URL", DEFAULT_DATABASE_URL), ("postgres", "postgresql")
        ),
        "database_schema": schema,
        "broker_url": _url(
            broker_var,
            get(broker_var, DEFAULT_BROKER_URL),
            ("redis", "rediss", "unix", "amqp", "amqps"),
        ),
    }


def _pubsub(get: _Get, env: Mapping[str, str]) -> dict[str, Any]:
    """The emulator or the Google project, the topic and the namespace of every name."""
    emulator_host = env.get("PUBSUB_EMULATOR_HOST", "").strip() or None
    if emulator_host is not None and not _valid_host_port(emulator_host):
        raise ConfigError(f"PUBSUB_EMULATOR_HOST must be host:port, got {emulator_host!r}")
    project_var = next(
        (n for n in ("GOOGLE_CLOUD_PROJECT", "PUBSUB_PROJECT_ID") if env.get(n, "").strip()),
        None,
    )
    if project_var is not None:
        project = env[project_var].strip()
    elif emulator_host:
        project = DEFAULT_LOCAL_PROJECT
    else:
        raise ConfigError(
            "GOOGLE_CLOUD_PROJECT is not set (it is required unless PUBSUB_EMULATOR_HOST is)"
        )
    if not _PROJECT_ID.fullmatch(project):
        raise ConfigError(f"{project_var} is not a valid project ID: {project!r}")
    topic = _resource("ELECTION_TOPIC", get("ELECTION_TOPIC", DEFAULT_TOPIC))
    # By default the topic name, cut to a length that keeps derived names valid.
    namespace = _resource("ELECTION_NAMESPACE", get("ELECTION_NAMESPACE", topic[:MAX_NAMESPACE]))
    if len(namespace) > MAX_NAMESPACE:
        raise ConfigError(
            f"ELECTION_NAMESPACE is too long to prefix subscription names ({len(namespace)} "
            f"characters, at most {MAX_NAMESPACE})"
        )
    return {
        "project": project,
        "emulator_host": emulator_host,
        "topic": topic,
        "namespace": namespace,
    }


def _processes(get: _Get) -> dict[str, Any]:
    """Choices, logging and the workers' processes and threads."""
    log_level = get("LOG_LEVEL", "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")
    log_format = get("LOG_FORMAT", "auto").lower()
    if log_format not in ("auto", "console", "json"):
        raise ConfigError(f"LOG_FORMAT must be auto, console or json, got {log_format!r}")
    live_results = get("LIVE_RESULTS", "choices").lower()
    if live_results not in LIVE_RESULTS:
        raise ConfigError(f"LIVE_RESULTS must be choices or total, got {live_results!r}")
    return {
        "live_results": live_results,
        "choices": _integer("ELECTION_CHOICES", get("ELECTION_CHOICES", "5"), low=1, high=1000),
        "undeclared": parse_undeclared(get("ELECTION_UNDECLARED", "accept")),
        "log_level": log_level,
        "log_format": log_format,
        "worker_processes": _integer(
            "WORKER_PROCESSES", get("WORKER_PROCESSES", "1"), low=1, high=64
        ),
        "worker_threads": _integer("WORKER_THREADS", get("WORKER_THREADS", "8"), low=1, high=256),
        "worker_poll_ms": _integer(
            "WORKER_POLL_MS", get("WORKER_POLL_MS", "20"), low=1, high=10_000
        ),
    }


def _secrets(env: Mapping[str, str]) -> dict[str, Any]:
    """The voter key, the keyring that signs records, and the log key."""
    signing_keys = _keyring("RECORD_SIGNING_KEYS", env.get("RECORD_SIGNING_KEYS", "").strip())
    signing_key_id = env.get("RECORD_SIGNING_KEY_ID", "").strip() or next(iter(signing_keys), None)
    if signing_key_id is not None and signing_key_id not in signing_keys:
        raise ConfigError(
            f"RECORD_SIGNING_KEY_ID {signing_key_id!r} is not one of RECORD_SIGNING_KEYS' IDs"
        )
    return {
        "voter_key": _secret("VOTER_KEY", env.get("VOTER_KEY", "").strip()),
        "signing_keys": signing_keys,
        "signing_key_id": signing_key_id,
        "log_key": env.get("LOG_SIGNING_KEY", "").strip() or None,
        "log_public_key": env.get("LOG_PUBLIC_KEY", "").strip() or None,
        "operator_token": _secret("OPERATOR_TOKEN", env.get("OPERATOR_TOKEN", "").strip()),
    }


def _tuning(get: _Get) -> dict[str, Any]:
    """Time limits, retries and backoff."""
    return {
        "claim_stale_s": _integer("CLAIM_STALE_S", get("CLAIM_STALE_S", "60"), low=1, high=86_400),
        "signature_ttl_s": _integer(
            "SIGNATURE_TTL_S", get("SIGNATURE_TTL_S", "86400"), low=60, high=30 * 86_400
        ),
        "dedup_wait_replicas": _integer(
            "DEDUP_WAIT_REPLICAS", get("DEDUP_WAIT_REPLICAS", "0"), low=0, high=16
        ),
        "max_retries": _integer(
            "ACTOR_MAX_RETRIES", get("ACTOR_MAX_RETRIES", "20"), low=0, high=1000
        ),
        "min_backoff_ms": _integer(
            "ACTOR_MIN_BACKOFF_MS", get("ACTOR_MIN_BACKOFF_MS", "100"), low=1, high=3_600_000
        ),
        "max_backoff_ms": _integer(
            "ACTOR_MAX_BACKOFF_MS", get("ACTOR_MAX_BACKOFF_MS", "10000"), low=1, high=3_600_000
        ),
    }


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(f"{name} is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        raise ConfigError(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; got {value!r}"
        )
    # PostgreSQL may use its local socket (postgresql:///db); others need a host.
    if parts.scheme not in ("unix", "postgres", "postgresql") and not parts.hostname:
        raise ConfigError(f"{name} has no host: {value!r}")
    return value


#: Secrets shorter than this are refused: they would be guessable.
MIN_SECRET_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def _secret(name: str, value: str) -> bytes | None:
    if not value:
        return None
    secret = value.encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


def _keyring(name: str, value: str) -> dict[str, bytes]:
    """``id=secret,id2=secret2`` (order kept: the first signs unless told otherwise)."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key_id, sep, secret = item.partition("=")
        if not sep or not _KEY_ID.fullmatch(key_id.strip()):
            raise ConfigError(f"{name} must look like id=secret,id2=secret2")
        key = _secret(name, secret.strip())
        if key is None:
            raise ConfigError(f"{name} has an empty secret for key {key_id.strip()!r}")
        keys[key_id.strip()] = key
    return keys


def _valid_host_port(value: str) -> bool:
    match = _HOST_PORT.fullmatch(value)
    return match is not None and 1 <= int(match.group(1)) <= 65535


def _resource(name: str, value: str) -> str:
    if not _RESOURCE_NAME.fullmatch(value) or value.lower().startswith("goog"):
        raise ConfigError(
            f"{name} must be 3-255 characters, start with a letter and use only "
            f"letters, digits and - _ . ~ + %; got {value!r}"
        )
    return value


def _integer(name: str, value: str, *, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {number}")
    return number
