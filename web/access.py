"""How a request reads PostgreSQL: on a thread, with an outage said as one line.

Every view reads through :func:`read`; a PostgreSQL outage is :class:`DatabaseDown`,
which a view turns into a 503 (JSON ``{"error": ...}`` under ``/api``, a short page
elsewhere), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from election.ops.preflight import one_line
from web import pages, reads

T = TypeVar("T")

log = structlog.get_logger("web")


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
    """What a page or endpoint says of an election that does not exist."""
    return f"no such election {election_id}"


def unavailable_page() -> Response:
    """The short page of a PostgreSQL outage."""
    page = pages.error_page("Unavailable", "The results cannot be read just now; try again.")
    return HTMLResponse(page, status_code=503)


def unavailable_json(exc: DatabaseDown) -> Response:
    """The JSON of a PostgreSQL outage."""
    return JSONResponse({"error": str(exc)}, status_code=503)


def not_found_page(election_id: str) -> Response:
    """The short page of an election that does not exist."""
    page = pages.error_page("Not found", no_such(election_id))
    return HTMLResponse(page, status_code=404)
