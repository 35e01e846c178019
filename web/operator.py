"""The operator console at ``/operator``: its routes, the login in front of each, and the
JSON twin of every page under ``/operator/api`` (for scripts and tests).

With no ``OPERATOR_TOKEN`` set, every route answers 503 and does nothing: there is no
default password. Otherwise a request is let in by a session cookie (the login form sets
it) or an ``Authorization: Bearer`` token (``web.operator_auth``); every refused request
is logged as ``operator.refused`` with its path, the reason and the client's address
(never the token given). A page without a login redirects to the login form; an API call
is 401. Everything that changes state is a POST (another method is 405) carrying the
session's CSRF token in its form (``csrf``, given in ``/operator/api/console`` to a
bearer client); election actions also carry ``confirm``, the election's ID typed again.
Blocking work runs on threads; every action writes an ``operator.action`` audit line.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from config import Settings
from election.ops.health import health
from web import operator_actions, operator_state, reads
from web.operator_actions import Outcome
from web.operator_auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    Caller,
    Refused,
    authenticate,
    csrf_token,
    csrf_valid,
    new_session,
    token_matches,
)
from web.operator_pages import (
    ELECTION_ACTIONS,
    confirm_page,
    console_page,
    login_page,
    outcome_page,
)
from web.pages import error_page

log = structlog.get_logger("web.operator")

DISABLED = "operator console disabled: OPERATOR_TOKEN is not set"
#: Seconds each dependency gets to answer the console's reads.
READ_TIMEOUT_S = 3.0
#: The largest form body read; more is refused.
MAX_FORM_BYTES = 8192
LOGIN = "/operator/login"
DEAD_LETTER_ACTIONS = ("replay", "purge")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/operator/api/")


def refused(request: Request, reason: str, status: int, message: str) -> Response:
    """Log a refusal and answer it (JSON under ``/operator/api``, a short page elsewhere)."""
    log.warning(
        "operator.refused",
        path=request.url.path,
        method=request.method,
        reason=reason,
        client=client_of(request),
    )
    if is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    if status == 401 and request.method == "GET":
        return RedirectResponse(LOGIN, status_code=303)
    return HTMLResponse(error_page("Refused", message), status_code=status)


def token_of(request: Request) -> bytes | None:
    settings: Settings = request.state.settings
    return settings.operator_token


async def caller(request: Request) -> Caller | Response:
    """Who is asking, or the refusal to answer."""
    token = token_of(request)
    if token is None:
        return refused(request, "disabled", 503, DISABLED)
    who = authenticate(
        token, request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE)
    )
    if isinstance(who, Refused):
        return refused(request, who.reason, 401, "login required")
    return who


async def form_of(request: Request) -> dict[str, str] | None:
    """The posted form's fields (first value of each); ``None`` when it is too large."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


async def posted(request: Request) -> tuple[Caller, dict[str, str]] | Response:
    """An authenticated POST's caller and form, its CSRF token checked."""
    who = await caller(request)
    if isinstance(who, Response):
        return who
    form = await form_of(request)
    if form is None:
        return refused(request, "form too large", 413, "form too large")
    token = token_of(request)
    assert token is not None  # caller() refused otherwise
    if not csrf_valid(token, who.session, form.get(CSRF_FIELD, "")):
        return refused(request, "missing or wrong CSRF token", 403, "missing or wrong CSRF token")
    return who, form


def _elections(database: Any) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return reads.elections(database), None
    except reads.DATABASE_ERRORS as exc:
        return [], f"cannot read the elections: {type(exc).__name__}"


async def gather(request: Request) -> dict[str, Any]:
    """Every section of the console, read at once (each on a thread)."""
    settings: Settings = request.state.settings
    checks, queues, stored, (elections, elections_error) = await asyncio.gather(
        run_in_threadpool(health, settings, READ_TIMEOUT_S),
        run_in_threadpool(operator_state.queues, settings, READ_TIMEOUT_S),
        run_in_threadpool(operator_state.redis_sections, settings, READ_TIMEOUT_S),
        run_in_threadpool(_elections, request.state.database),
    )
    return {
        "health": [check.as_dict() for check in checks],
        "elections": elections,
        "elections_error": elections_error,
        "subscriptions": operator_state.subscriptions(settings),
        "queues": queues,
        "instances": stored["instances"],
        "dead_letters": stored["dead_letters"],
        "audit": stored["audit"],
        "redis_error": stored["error"],
    }


async def console(request: Request) -> Response:
    """``/operator`` and ``/operator/api/console``: every section."""
    who = await caller(request)
    if isinstance(who, Response):
        return who
    state = await gather(request)
    csrf = csrf_of(request, who)
    if is_api(request):
        return JSONResponse({**state, "csrf": csrf})
    return HTMLResponse(console_page(state, csrf))


async def login_form(request: Request) -> Response:
    if token_of(request) is None:
        return refused(request, "disabled", 503, DISABLED)
    return HTMLResponse(login_page())


async def login(request: Request) -> Response:
    """The login form's POST: the token right, a session cookie and the console."""
    token = token_of(request)
    if token is None:
        return refused(request, "disabled", 503, DISABLED)
    form = await form_of(request) or {}
    if not token_matches(form.get("token", "").encode(), token):
        refused(request, "wrong token", 401, "wrong token")
        return HTMLResponse(login_page("Wrong token."), status_code=401)
    log.info("operator.login", client=client_of(request))
    response = RedirectResponse("/operator", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new_session(token),
        max_age=SESSION_MAX_AGE_S,
        path="/operator",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    done = await posted(request)
    if isinstance(done, Response):
        return done
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/operator", httponly=True, samesite="strict")
    return response


def answered(request: Request, heading: str, outcome: Outcome) -> Response:
    """An action's outcome: 200 when done, 409 when not."""
    status = 200 if outcome.ok else 409
    if is_api(request):
        return JSONResponse(outcome.as_dict(), status_code=status)
    return HTMLResponse(outcome_page(heading, outcome.ok, outcome.detail), status_code=status)


def no_action(action: str) -> Response:
    """The 404 of an action the console does not have."""
    return HTMLResponse(error_page("Not found", f"no action {action}"), status_code=404)


def csrf_of(request: Request, who: Caller) -> str:
    """The CSRF token of a logged-in caller's session, for the forms of its next page."""
    token = token_of(request)
    assert token is not None  # a caller is logged in only where a token is set
    return csrf_token(token, who.session)


async def dead_letter_action(request: Request) -> Response:
    """Replay or purge one dead letter (POST)."""
    action, letter_id = request.path_params["action"], request.path_params["letter_id"]
    if action not in DEAD_LETTER_ACTIONS:
        return no_action(action)
    done = await posted(request)
    if isinstance(done, Response):
        return done
    settings: Settings = request.state.settings
    if action == "replay":
        work = operator_actions.replay
        outcome = await run_in_threadpool(work, settings, request.state.database, letter_id)
    else:
        outcome = await run_in_threadpool(operator_actions.purge, settings, letter_id)
    subject = {"letter": letter_id}
    client = client_of(request)
    await run_in_threadpool(operator_actions.audited, settings, action, subject, outcome, client)
    return answered(request, f"{action.title()} dead letter {letter_id}", outcome)


async def election_confirm(request: Request) -> Response:
    """The confirmation page of opening or closing an election (GET)."""
    action, election_id = request.path_params["action"], request.path_params["election_id"]
    if action not in ELECTION_ACTIONS:
        return no_action(action)
    who = await caller(request)
    if isinstance(who, Response):
        return who
    return HTMLResponse(confirm_page(action, election_id, csrf_of(request, who)))


async def election_action(request: Request) -> Response:
    """Open or close an election (POST), once its ID is typed again as ``confirm``."""
    action, election_id = request.path_params["action"], request.path_params["election_id"]
    if action not in ELECTION_ACTIONS:
        return no_action(action)
    done = await posted(request)
    if isinstance(done, Response):
        return done
    who, form = done
    if form.get("confirm", "").strip() != election_id:
        problem = f"not confirmed: type the election ID {election_id} to {action} it"
        if is_api(request):
            return JSONResponse({"error": problem}, status_code=400)
        page = confirm_page(action, election_id, csrf_of(request, who), problem)
        return HTMLResponse(page, status_code=400)
    settings: Settings = request.state.settings
    work = operator_actions.open_ if action == "open" else operator_actions.close
    outcome = await run_in_threadpool(work, settings, request.state.database, election_id)
    subject = {"election": election_id}
    client = client_of(request)
    await run_in_threadpool(operator_actions.audited, settings, action, subject, outcome, client)
    return answered(request, f"{action.title()} election {election_id}", outcome)


#: The console's routes, for ``web.app``'s route list.
ROUTES = [
    Route("/operator", console, methods=["GET"]),
    Route("/operator/api/console", console, methods=["GET"]),
    Route(LOGIN, login_form, methods=["GET"]),
    Route(LOGIN, login, methods=["POST"]),
    Route("/operator/logout", logout, methods=["POST"]),
    Route("/operator/dead-letters/{letter_id}/{action}", dead_letter_action, methods=["POST"]),
    Route("/operator/api/dead-letters/{letter_id}/{action}", dead_letter_action, methods=["POST"]),
    Route("/operator/elections/{election_id}/{action}", election_confirm, methods=["GET"]),
    Route("/operator/elections/{election_id}/{action}", election_action, methods=["POST"]),
    Route("/operator/api/elections/{election_id}/{action}", election_action, methods=["POST"]),
]
