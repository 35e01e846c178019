"""The web process's ASGI app: routes, one database pool, one log line per request.

The pool is opened when the app starts and closed when it stops (Starlette's lifespan,
which hands it to every request as ``request.state.database``); nothing is kept in a
module. Every read runs on a thread (peewee is blocking), in its own connection context.
A PostgreSQL outage is a 503: JSON ``{"error": ...}`` under ``/api``, a short page
elsewhere, never a traceback.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import Settings
from election.ops.health import health
from election.ops.preflight import one_line
from election.storage.models import open_database
from web import pages, reads
from web.operator import ROUTES as OPERATOR_ROUTES

T = TypeVar("T")

log = structlog.get_logger("web")

#: Connections the web process may hold at once; more requests wait for one.
POOL_CONNECTIONS = 8
#: Seconds ``/readyz`` gives each dependency to answer.
READY_TIMEOUT_S = 3.0


class DatabaseDown(Exception):
    """PostgreSQL did not answer a read; its one-line reason."""


async def read(request: Request, work: Callable[..., T], *args: Any) -> T:
    """``work(database, *args)`` on a thread; :class:`DatabaseDown` when PostgreSQL fails."""
    try:
        return await run_in_threadpool(work, request.state.database, *args)
    except reads.DATABASE_ERRORS as exc:
        log.warning("database unavailable", path=request.url.path, error=one_line(exc))
        raise DatabaseDown(f"cannot read from PostgreSQL: {one_line(exc)}") from None


def no_such(election_id: str) -> str:
    return f"no such election {election_id}"


async def healthz(request: Request) -> Response:
    """The process is alive (nothing else is checked)."""
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    """Every dependency answers (``election status``'s checks): 200, else 503."""
    settings: Settings = request.state.settings
    checks = await run_in_threadpool(health, settings, READY_TIMEOUT_S)
    ok = all(check.ok for check in checks)
    body = {"ok": ok, "checks": [check.as_dict() for check in checks]}
    return JSONResponse(body, status_code=200 if ok else 503)


async def api_elections(request: Request) -> Response:
    """``election list --json``."""
    try:
        return JSONResponse(await read(request, reads.elections))
    except DatabaseDown as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)


async def api_results(request: Request) -> Response:
    """``election results E --json``; 404 for an election that does not exist."""
    election_id = request.path_params["election_id"]
    try:
        result = await read(request, reads.results, election_id)
    except DatabaseDown as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    if result is None:
        return JSONResponse({"error": no_such(election_id)}, status_code=404)
    return JSONResponse(result)


async def index(request: Request) -> Response:
    """``/``: the list of elections."""
    try:
        return HTMLResponse(pages.index_page(await read(request, reads.elections)))
    except DatabaseDown:
        return unavailable_page()


async def election(request: Request) -> Response:
    """``/elections/{id}``: one election's result as it stands."""
    election_id = request.path_params["election_id"]
    try:
        result = await read(request, reads.results, election_id)
    except DatabaseDown:
        return unavailable_page()
    if result is None:
        page = pages.error_page("Not found", no_such(election_id))
        return HTMLResponse(page, status_code=404)
    return HTMLResponse(pages.election_page(result))


def unavailable_page() -> Response:
    page = pages.error_page("Unavailable", "The results cannot be read just now; try again.")
    return HTMLResponse(page, status_code=503)


class RequestLog:
    """ASGI middleware: one log line per request (method, path, status, milliseconds)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            ms = round((time.perf_counter() - started) * 1000, 1)
            log.info("request", method=scope["method"], path=scope["path"], status=status, ms=ms)


def build_app(settings: Settings) -> Starlette:
    """The web app of ``settings``' deployment (its database pool opened at start-up)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        database = open_database(settings, max_connections=POOL_CONNECTIONS)
        try:
            yield {"database": database, "settings": settings}
        finally:
            database.close_all()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/api/elections", api_elections),
            Route("/api/elections/{election_id}/results", api_results),
            Route("/", index),
            Route("/elections/{election_id}", election),
            *OPERATOR_ROUTES,
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestLog)
    return app
