"""The web process's ASGI app: routes, one database pool, one log line per request.

The pool is opened when the app starts and closed when it stops (Starlette's lifespan,
which hands it to every request as ``request.state.database``); nothing is kept in a
module. Every read runs on a thread (peewee is blocking), in its own connection context.
A PostgreSQL outage is a 503: JSON ``{"error": ...}`` under ``/api``, a short page
elsewhere, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import Settings
from election.ops.health import health
from election.storage.models import open_database
from election.storage.telemetry import running
from web import live, pages, reads, views
from web.access import (
    DatabaseDown,
    no_such,
    not_found_page,
    read,
    unavailable_json,
    unavailable_page,
)
from web.metrics import metrics_endpoint
from web.operator import ROUTES as OPERATOR_ROUTES
from web.record import public_key_of

log = structlog.get_logger("web")

#: Connections the web process may hold at once; more requests wait for one.
POOL_CONNECTIONS = 8
#: Seconds ``/readyz`` gives each dependency to answer.
READY_TIMEOUT_S = 3.0
#: Seconds a ``/readyz`` answer is given again before the dependencies are asked anew.
READY_CACHE_S = 1.0


async def healthz(request: Request) -> Response:
    """The process is alive (nothing else is checked)."""
    return JSONResponse({"ok": True})


class ReadyCache:
    """The last ``/readyz`` answer and when it was made; one check runs at a time.

    Anyone may ask ``/readyz``, and each check opens a connection to every dependency
    and holds a worker thread up to :data:`READY_TIMEOUT_S`: unshared, a flood of them
    took every thread the page reads run on, and sent its connections on to the
    services that store ballots."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.at = -math.inf
        self.answer: tuple[dict[str, Any], int] = ({}, 503)


async def readyz(request: Request) -> Response:
    """Every dependency answers (``election status``'s checks): 200, else 503; an answer
    at most :data:`READY_CACHE_S` old is given again."""
    settings: Settings = request.state.settings
    cache: ReadyCache = request.state.ready
    async with cache.lock:
        if time.monotonic() - cache.at > READY_CACHE_S:
            checks = await run_in_threadpool(health, settings, READY_TIMEOUT_S)
            ok = all(check.ok for check in checks)
            body = {"ok": ok, "checks": [check.as_dict() for check in checks]}
            cache.answer, cache.at = (body, 200 if ok else 503), time.monotonic()
        body, status = cache.answer
    return JSONResponse(body, status_code=status)


async def api_elections(request: Request) -> Response:
    """``election list --json``."""
    try:
        return JSONResponse(await read(request, reads.elections))
    except DatabaseDown as exc:
        return unavailable_json(exc)


async def api_results(request: Request) -> Response:
    """``election results E --json`` (its per-choice counts withheld before the seal under
    ``LIVE_RESULTS=total``); 404 for an election that does not exist."""
    election_id = request.path_params["election_id"]
    try:
        result = await read(request, reads.results, election_id, withholds(request))
    except DatabaseDown as exc:
        return unavailable_json(exc)
    if result is None:
        return JSONResponse({"error": no_such(election_id)}, status_code=404)
    return JSONResponse(result)


def withholds(request: Request) -> bool:
    """Whether this deployment shows only totals before the seal (``LIVE_RESULTS``)."""
    settings: Settings = request.state.settings
    return settings.live_results == "total"


async def index(request: Request) -> Response:
    """``/``: the list of elections."""
    try:
        return HTMLResponse(pages.index_page(await read(request, reads.elections)))
    except DatabaseDown:
        return unavailable_page()


async def election(request: Request) -> Response:
    """``/elections/{id}``: one election's result as it stands, kept current live."""
    election_id = request.path_params["election_id"]
    try:
        snapshot = await read(request, reads.live, election_id, withholds(request))
    except DatabaseDown:
        return unavailable_page()
    if snapshot is None:
        return not_found_page(election_id)
    return HTMLResponse(pages.election_page(snapshot["result"], snapshot["per_minute"]))


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
    """The web app of ``settings``' deployment (its database pool opened at start-up);
    :class:`ConfigError` for a malformed log public key (no page may show a wrong one)."""
    public_key = public_key_of(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        database = open_database(settings, max_connections=POOL_CONNECTIONS)
        hub = live.ResultsHub(views.live_fetch(database, settings.live_results == "total"))
        state = {
            "database": database,
            "settings": settings,
            "hub": hub,
            "public_key": public_key,
            "ready": ReadyCache(),
        }
        try:
            with running(settings.redis_url, settings.namespace, "web"):  # its heartbeat
                yield state
        finally:
            await hub.close()
            database.close_all()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/api/elections", api_elections),
            Route("/api/elections/{election_id}/results", api_results),
            Route("/", index),
            Route("/elections/{election_id}", election),
            *views.routes(),
            Route("/metrics", metrics_endpoint),
            *OPERATOR_ROUTES,
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestLog)
    app.add_middleware(views.SecurityHeaders)
    return app
