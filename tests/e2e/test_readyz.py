"""``/readyz`` over a real ``election web`` of a provisioned system whose Redis is the
test's own: healthy, then 503 naming Redis while that Redis is stopped, then healthy again
once it is back (same port, same data), with no restart of the web process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from election.local.emulator import free_port
from tests.conftest import REDIS_BROKER
from tests.support.processes import Service, election_command, wait_for
from tests.support.redis_server import AofRedis
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e


def readiness(base: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AofRedis]:
    """The test's own durable Redis (set up before the system, so stopped after it)."""
    redis_server = AofRedis(tmp_path / "redis")
    redis_server.directory.mkdir()
    redis_server.start()
    yield redis_server
    redis_server.stop()


def test_readyz_is_unhealthy_while_redis_is_stopped_and_healthy_once_it_is_back(
    server: AofRedis, make_system: object, tmp_path: Path
) -> None:
    env = {"REDIS_URL": server.url}
    system: ElectionSystem = make_system(REDIS_BROKER, env=env)  # type: ignore[operator]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = Service("web", election_command("web"), {**system.env, "PORT": str(port)}, tmp_path)
    web.start()
    try:
        wait_for(lambda: readiness(base)[0] == 200, 60, "/readyz to be healthy")
        _, body = readiness(base)
        assert body["ok"] is True and all(check["ok"] for check in body["checks"])

        server.stop()
        wait_for(lambda: readiness(base)[0] == 503, 30, "/readyz to turn unhealthy")
        _, body = readiness(base)
        failing = [check["name"] for check in body["checks"] if not check["ok"]]
        assert failing == ["redis"], body
        assert web.alive  # unready, not dead: the platform waits, it need not restart it

        server.start()
        wait_for(lambda: readiness(base)[0] == 200, 60, "/readyz to be healthy again")
    finally:
        web.stop()
