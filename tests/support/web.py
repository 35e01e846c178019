"""A real ``election web`` process for tests, asked over plain HTTP (no redirect is
followed, so a test sees each 303 and each Set-Cookie itself)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from election.local.emulator import free_port
from tests.support.processes import Service, election_command, wait_for

#: Seconds ``election web`` may take to answer ``/healthz``.
START_TIMEOUT_S = 30
#: The ids of the operator console's sections, in the page's order.
CONSOLE_SECTIONS = (
    "health",
    "elections",
    "subscriptions",
    "queues",
    "instances",
    "dead-letters",
    "audit",
)
#: Seconds one request may take (a console's Close waits for the drain).
REQUEST_TIMEOUT_S = 120


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers (names in lower case, last value of each) and
    body, and every ``Set-Cookie`` header."""

    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str]

    def json(self) -> Any:
        assert self.headers["content-type"].startswith("application/json"), self
        return json.loads(self.body)


@dataclass
class WebProcess:
    """A running ``election web`` at ``base``."""

    base: str
    service: Service

    def request(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """``method path``, with ``form`` url-encoded as its body."""
        parts = urlsplit(self.base)
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=REQUEST_TIMEOUT_S
        )
        sent = dict(headers or {})
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode()
            found = {name.lower(): value for name, value in response.getheaders()}
            cookies = response.msg.get_all("Set-Cookie") or []
            return Answer(response.status, found, text, list(cookies))
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, str, str]:
        """Status, content type and body of ``GET path``."""
        answer = self.request("GET", path)
        return answer.status, answer.headers.get("content-type", ""), answer.body

    def json(self, path: str) -> tuple[int, Any]:
        answer = self.request("GET", path)
        return answer.status, answer.json()


def cookie_value(answer: Answer, name: str) -> tuple[str, dict[str, str]]:
    """The value of cookie ``name`` set by ``answer``, and its attributes (lower case)."""
    for header in answer.cookies:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            flags = {key: str(morsel[key]) for key in morsel if morsel[key]}
            return morsel.value, flags
    raise AssertionError(f"no cookie {name} in {answer.cookies}")


def answers(web: WebProcess) -> bool:
    """Whether ``web`` answers ``/healthz`` (failing at once if it exited)."""
    if not web.service.alive:
        raise AssertionError(f"election web exited:\n{web.service.log()[-3000:]}")
    try:
        return web.get("/healthz")[0] == 200
    except OSError:
        return False


def start_web(name: str, env: Mapping[str, str], log_dir: Path) -> WebProcess:
    """Start ``election web`` on a free port with ``env``; return once it answers."""
    port = free_port()
    service = Service(name, election_command("web"), {**env, "PORT": str(port)}, log_dir)
    web = WebProcess(f"http://127.0.0.1:{port}", service.start())
    try:
        wait_for(lambda: answers(web), START_TIMEOUT_S, f"{name} to answer /healthz")
    except BaseException:
        service.stop()
        raise
    return web
