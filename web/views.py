"""The public views beyond the lists: live results as server-sent events, the public
record, the bulletin's files and the receipt lookup; their static scripts; and the
security headers every response carries."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import peewee
import structlog
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from election.domain.results import turnout_text
from election.ops.preflight import one_line
from web import reads, record
from web.access import DatabaseDown, no_such, not_found_page, read, unavailable_json
from web.access import unavailable_page as unavailable
from web.live import Fetch, ResultsHub, event_data
from web.record_pages import receipt_page, record_page
from web.series import bar_chart

log = structlog.get_logger("web")

STATIC = Path(__file__).with_name("static")
#: Seconds between keep-alive comments on an idle event stream (proxies drop silent ones).
PING_S = 15
#: No script but our own files, nothing framed, no referrer leaving the site.
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def live_fetch(database: peewee.Database, withhold: bool) -> Fetch:
    """The hub's read of one election: its snapshot with the page's parts, or an error;
    per-choice counts withheld before the seal if ``withhold``."""

    async def fetch(election_id: str) -> dict[str, Any]:
        try:
            snapshot = await run_in_threadpool(reads.live, database, election_id, withhold)
        except reads.DATABASE_ERRORS as exc:
            log.warning("live.read_failed", election_id=election_id, error=one_line(exc))
            return {"error": "the results cannot be read just now; retrying"}
        if snapshot is None:
            return {"error": no_such(election_id)}
        result = snapshot["result"]
        snapshot["turnout"] = turnout_text(int(result["total"]), result["roll"])
        snapshot["chart"] = bar_chart(snapshot["per_minute"])
        return snapshot

    return fetch


async def live_results(request: Request) -> Response:
    """``/api/elections/{id}/live``: an event ``results`` with the snapshot now and at
    each change (the result, turnout text, ballots per minute and its chart); 404 for an
    election that does not exist."""
    election_id = record.election_of(request.path_params["election_id"])
    if election_id is None:
        return JSONResponse({"error": no_such(request.path_params["election_id"])}, 404)
    # Each election watched starts a poller: an ID that names no election would let anyone
    # start thousands (one stream each) and keep PostgreSQL busy. During an outage the
    # stream starts all the same and says so.
    with contextlib.suppress(DatabaseDown):
        if await read(request, reads.results, election_id) is None:
            return JSONResponse({"error": no_such(election_id)}, 404)
    hub: ResultsHub = request.state.hub

    async def events() -> AsyncIterator[dict[str, str]]:
        async for snapshot in hub.watch(election_id):
            yield {"event": "results", "data": event_data(snapshot)}

    return EventSourceResponse(events(), ping=PING_S)


async def api_record(request: Request) -> Response:
    """``/api/elections/{id}/record``: latest checkpoint, seal, public key, files."""
    election_id = record.election_of(request.path_params["election_id"])
    if election_id is None:
        return JSONResponse({"error": no_such(request.path_params["election_id"])}, 404)
    try:
        summary = await read(request, record.summary, election_id, request.state.public_key)
    except DatabaseDown as exc:
        return unavailable_json(exc)
    return JSONResponse(summary)


async def record_html(request: Request) -> Response:
    """``/elections/{id}/record``: the public record's page."""
    election_id = record.election_of(request.path_params["election_id"])
    if election_id is None:
        return not_found_page(request.path_params["election_id"])
    try:
        summary = await read(request, record.summary, election_id, request.state.public_key)
    except DatabaseDown:
        return unavailable()
    return HTMLResponse(record_page(summary))


async def bulletin_file(request: Request) -> Response:
    """``/elections/{id}/bulletin/{name}``: one of the bulletin's files, as a download."""
    election_id = record.election_of(request.path_params["election_id"])
    name = request.path_params["name"]
    if election_id is None or request.state.public_key is None:
        return PlainTextResponse("not published here", status_code=404)
    try:
        text = await read(
            request, record.bulletin_file, election_id, name, request.state.public_key
        )
    except DatabaseDown as exc:
        return unavailable_json(exc)
    if text is None:
        return PlainTextResponse(
            f"{name} of election {election_id} is not published (yet)", status_code=404
        )
    kind = "application/json" if name.endswith(".json") else "text/plain; charset=utf-8"
    disposition = f'attachment; filename="{election_id}-{name}"'
    return Response(text, media_type=kind, headers={"content-disposition": disposition})


async def api_proof(request: Request) -> Response:
    """``/api/elections/{id}/proof?receipt=R``: the receipt's inclusion proof, checked."""
    election_id = record.election_of(request.path_params["election_id"])
    if election_id is None:
        return JSONResponse({"error": no_such(request.path_params["election_id"])}, 404)
    receipt = request.query_params.get("receipt", "")
    try:
        found = await read(request, record.lookup, election_id, receipt, request.state.public_key)
    except DatabaseDown as exc:
        return unavailable_json(exc)
    return JSONResponse(found.body, status_code=found.status)


async def receipt_html(request: Request) -> Response:
    """``/elections/{id}/receipt[?receipt=R]``: the lookup form, and a receipt's proof."""
    election_id = record.election_of(request.path_params["election_id"])
    if election_id is None:
        return not_found_page(request.path_params["election_id"])
    receipt = request.query_params.get("receipt", "").strip()
    found = None
    if receipt:
        try:
            found = await read(
                request, record.lookup, election_id, receipt, request.state.public_key
            )
        except DatabaseDown:
            return unavailable()
    status = 200 if found is None else found.status
    return HTMLResponse(receipt_page(election_id, receipt, found), status_code=status)


def routes() -> list[BaseRoute]:
    """The routes of this module's views and the static scripts."""
    prefix = "/elections/{election_id}"
    return [
        Route(f"/api{prefix}/live", live_results),
        Route(f"/api{prefix}/record", api_record),
        Route(f"/api{prefix}/proof", api_proof),
        Route(f"{prefix}/record", record_html),
        Route(f"{prefix}/receipt", receipt_html),
        Route(f"{prefix}/bulletin/{{name}}", bulletin_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


class SecurityHeaders:
    """ASGI middleware: every response gets :data:`SECURITY_HEADERS`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)
