"""A Redis server of a test's own, durable as the dedup store must be, that the test may
kill, stop and start again on the same port and data (fault tests, readiness tests)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import redis

from election.local.emulator import free_port
from election.storage.redis_client import connect_redis
from tests.support.processes import wait_for


class AofRedis:
    """A Redis server with append-only persistence (fsync on every write, no eviction), as
    the voting logger requires; ``settings`` are more ``redis-server`` options."""

    def __init__(self, directory: Path, *settings: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.settings = list(settings)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--maxmemory-policy",
                "noeviction",
                "--save",
                "",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
                *self.settings,
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = connect_redis(f"redis://127.0.0.1:{self.port}/0", timeout_s=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(answers, 30, f"Redis on port {self.port}")
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
