"""Process heartbeats: each running process says, every few seconds, that it is alive.

Each instance keeps one Redis key ``<ns>:heartbeat:<kind>:<instance>`` holding a small
JSON object (host, pid, when it started, when it last beat), set with an expiry of
:data:`TTL_S`: a process that stops or is killed disappears from :func:`live_instances`
within that, with nothing to clean up. The operator console and ``/metrics`` read them;
the processes may run on different hosts (a platform's dynos), so the shared Redis, not a
local file, is where they meet.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import structlog

from election.storage.periodic import Periodic

log = structlog.get_logger(__name__)

#: Seconds between two beats of one instance.
INTERVAL_S = 2.0
#: Seconds a beat is kept: a few missed beats, then the instance counts as gone.
TTL_S = 7
#: What :func:`live_instances` reads per SCAN step.
SCAN_COUNT = 500


def key_prefix(namespace: str) -> str:
    """What every heartbeat key of ``namespace`` starts with."""
    return f"{namespace}:heartbeat:"


def instance_name() -> str:
    """This process's instance name: the platform's dyno name when it gives one, else
    ``host-pid`` (unique on one host; a restarted process is a new instance)."""
    dyno = os.environ.get("DYNO", "").strip()
    return dyno or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Instance:
    """One live process instance, as its last beat described it."""

    kind: str
    instance: str
    host: str
    pid: int
    started_at: float
    beat_at: float

    def age_s(self, now: float | None = None) -> float:
        """Seconds since its last beat."""
        return max(0.0, (time.time() if now is None else now) - self.beat_at)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "instance": self.instance,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at,
            "beat_at": self.beat_at,
        }


def beat(client: redis.Redis, namespace: str, kind: str, instance: str, started_at: float) -> None:
    """Record one beat of ``instance`` of ``kind`` (expiring after :data:`TTL_S`)."""
    body = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": started_at,
        "beat_at": time.time(),
    }
    client.set(f"{key_prefix(namespace)}{kind}:{instance}", json.dumps(body), ex=TTL_S)


def live_instances(client: redis.Redis, namespace: str) -> list[Instance]:
    """Every instance of ``namespace`` whose last beat has not expired, by kind and name.
    A key whose value cannot be read is skipped (another writer's, or a half-written one)."""
    prefix = key_prefix(namespace)
    found: list[Instance] = []
    keys = list(client.scan_iter(match=f"{prefix}*", count=SCAN_COUNT))
    values = client.mget(keys) if keys else []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            continue  # expired between the scan and the read
        name = key.decode() if isinstance(key, bytes) else str(key)
        kind, _, instance = name[len(prefix) :].partition(":")
        try:
            body = json.loads(value)
            found.append(
                Instance(
                    kind=kind,
                    instance=instance,
                    host=str(body["host"]),
                    pid=int(body["pid"]),
                    started_at=float(body["started_at"]),
                    beat_at=float(body["beat_at"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda i: (i.kind, i.instance))


class Heartbeat:
    """This process's beat every :data:`INTERVAL_S` (the first at once), until stopped."""

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        namespace: str,
        kind: str,
        *,
        instance: str | None = None,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.connect = connect
        self.namespace = namespace
        self.kind = kind
        self.instance = instance or instance_name()
        self.started_at = time.time()
        self._beats = Periodic(f"heartbeat-{kind}", connect, self._beat, interval_s)

    def start(self) -> Heartbeat:
        self._beats.start()
        return self

    def stop(self) -> None:
        """Stop beating and remove this instance's key (it is gone, not merely late)."""
        self._beats.stop(timeout_s=5)
        client = self.connect()
        try:
            client.delete(f"{key_prefix(self.namespace)}{self.kind}:{self.instance}")
        except redis.RedisError as exc:
            log.warning("heartbeat.remove_failed", kind=self.kind, error=str(exc))
        finally:
            client.close()

    def _beat(self, client: redis.Redis) -> None:
        beat(client, self.namespace, self.kind, self.instance, self.started_at)
