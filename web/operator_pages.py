"""The operator console's pages, plain server-rendered HTML with every value escaped
(``web.pages.text``): the login form, the console, an action's confirmation and its
outcome. Every form that changes something is a POST carrying the CSRF token."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from web.operator_auth import CSRF_FIELD
from web.pages import document, text

BACK = '<p><a href="/operator">Back to the console</a></p>'
#: The election actions, with what their confirmation says they do.
ELECTION_ACTIONS = {
    "open": "Open it for voting and announce it to the voting loggers.",
    "close": "Close it: no vote is accepted from now on; wait for the ballots on their "
    "way, then seal the result. This cannot be undone.",
}


def _csrf(csrf: str) -> str:
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{text(csrf)}">'


def _button(action: str, label: str, csrf: str, *, ask: str | None = None) -> str:
    # static/confirm.js asks; the pages' CSP allows no inline handler.
    confirm = f' data-confirm="{text(ask)}"' if ask else ""
    return (
        f'<form method="post" action="{text(action)}" style="display:inline"{confirm}>'
        f'{_csrf(csrf)}<button type="submit">{text(label)}</button></form>'
    )


def _table(headings: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    """A table of cells given as HTML (each already escaped)."""
    if not rows:
        return f"<p>{text(empty)}</p>"
    head = "".join(f"<th>{text(h)}</th>" for h in headings)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"


def _count(value: object) -> str:
    return "not declared" if value is None else text(value)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + "Z"


def login_page(error: str | None = None) -> str:
    """The login form (the token, posted)."""
    problem = f'<p class="error">{text(error)}</p>\n' if error else ""
    form = (
        '<form method="post" action="/operator/login">\n'
        '<label>Operator token <input type="password" name="token" '
        'autocomplete="current-password" required autofocus></label>\n'
        '<button type="submit">Log in</button>\n</form>'
    )
    return document("Operator login", f"<h1>Operator login</h1>\n{problem}{form}")


def console_page(state: dict[str, Any], csrf: str) -> str:
    """The whole console: every section of ``state`` (``/operator/api/console``'s object)."""
    sections = [
        "<h1>Operator console</h1>",
        _button("/operator/logout", "Log out", csrf),
        _health(state["health"]),
        _elections(state["elections"], state.get("elections_error")),
        _subscriptions(state["subscriptions"]),
        _queues(state["queues"]),
        _instances(state["instances"], state.get("redis_error")),
        _dead_letters(state["dead_letters"], csrf),
        _audit(state["audit"]),
    ]
    return document("Operator console", "\n".join(sections), script="confirm.js")


def _health(checks: Sequence[dict[str, Any]]) -> str:
    rows = [
        [text(c["name"]), "ok" if c["ok"] else "<strong>FAILING</strong>", text(c["detail"])]
        for c in checks
    ]
    return '<h2 id="health">Health</h2>\n' + _table(["Check", "State", "Detail"], rows, "none")


def _elections(rows: Sequence[dict[str, Any]], error: str | None) -> str:
    cells = []
    for row in rows:
        election_id = str(row["election"])
        links = [
            f'<a href="{text(election_action_href(election_id, action))}">{action.title()}</a>'
            for action in ELECTION_ACTIONS
            if row["state"] != "closed" and (action == "close" or row["state"] != "open")
        ]
        cells.append(
            [text(election_id), text(row["title"]), text(row["state"]), " ".join(links) or "-"]
        )
    problem = f'<p class="error">{text(error)}</p>\n' if error else ""
    table = _table(["ID", "Title", "State", "Actions"], cells, "No elections declared.")
    return f'<h2 id="elections">Elections</h2>\n{problem}{table}'


def _subscriptions(rows: Sequence[dict[str, Any]]) -> str:
    cells = [
        [text(r["subscription"]), f"<code>{text(r['filter'])}</code>", text(r["backlog_note"])]
        for r in rows
    ]
    table = _table(["Subscription", "Filter", "Backlog"], cells, "none")
    return f'<h2 id="subscriptions">Subscriptions</h2>\n{table}'


def _queues(state: dict[str, Any]) -> str:
    cells = [
        [text(q["queue"]), _count(q["ready"]), _count(q["delayed"]), _count(q["dead"])]
        for q in state["queues"]
    ]
    problem = f'<p class="error">{text(state["error"])}</p>\n' if state["error"] else ""
    table = _table(["Queue", "Waiting", "Delayed (.DQ)", "Dead (.XQ)"], cells, "none")
    return f'<h2 id="queues">Queues ({text(state["broker"])})</h2>\n{problem}{table}'


def _instances(kinds: dict[str, list[dict[str, Any]]], error: str | None) -> str:
    cells = [
        [text(kind), text(i["instance"]), text(i["host"]), text(i["pid"]), text(i["age_s"])]
        for kind, instances in sorted(kinds.items())
        for i in instances
    ]
    problem = f'<p class="error">{text(error)}</p>\n' if error else ""
    table = _table(
        ["Process", "Instance", "Host", "PID", "Last beat (s ago)"], cells, "No live instances."
    )
    return f'<h2 id="instances">Live instances</h2>\n{problem}{table}'


def _dead_letters(letters: Sequence[dict[str, Any]], csrf: str) -> str:
    cells = []
    for letter in letters:
        base = dead_letter_href(str(letter["id"]))
        buttons = _button(f"{base}/replay", "Replay", csrf) + _button(
            f"{base}/purge", "Purge", csrf, ask=f"Purge dead letter {letter['id']}?"
        )
        cells.append(
            [
                text(letter["id"]),
                text(letter["actor"]),
                text(letter["ballot"]),
                text(letter["error"]),
                text(letter["retries"]),
                f"{text(round(letter['age_s']))} s",
                buttons,
            ]
        )
    headings = ["ID", "Actor", "Ballot", "Reason", "Retries", "Age", ""]
    return '<h2 id="dead-letters">Dead letters</h2>\n' + _table(headings, cells, "No dead letters.")


def _audit(lines: Sequence[dict[str, Any]]) -> str:
    cells = [
        [
            text(_when(float(line.get("at", 0)))),
            text(line.get("action", "?")),
            text(line.get("election") or line.get("letter") or ""),
            text(line.get("outcome", line.get("unreadable", ""))),
            text(line.get("client", "")),
        ]
        for line in lines
    ]
    table = _table(["When", "Action", "On", "Outcome", "Client"], cells, "No actions yet.")
    return f'<h2 id="audit">Audit</h2>\n{table}'


def election_action_href(election_id: str, action: str) -> str:
    """The confirmation page (GET) and the action itself (POST)."""
    return f"/operator/elections/{quote(election_id, safe='')}/{action}"


def dead_letter_href(letter_id: str) -> str:
    return f"/operator/dead-letters/{quote(letter_id, safe='')}"


def confirm_page(action: str, election_id: str, csrf: str, error: str | None = None) -> str:
    """The confirmation of an election action: the operator types the election's ID."""
    problem = f'<p class="error">{text(error)}</p>\n' if error else ""
    form = (
        f'<form method="post" action="{text(election_action_href(election_id, action))}">\n'
        f"{_csrf(csrf)}\n"
        f"<label>Type the election ID ({text(election_id)}) to confirm "
        '<input name="confirm" required autocomplete="off"></label>\n'
        f'<button type="submit">{text(action.title())} election {text(election_id)}</button>\n'
        "</form>"
    )
    heading = f"{action.title()} election {election_id}?"
    body = f"<h1>{text(heading)}</h1>\n<p>{text(ELECTION_ACTIONS[action])}</p>\n{problem}{form}"
    return document(heading, body + "\n" + BACK)


def outcome_page(heading: str, ok: bool, detail: str) -> str:
    """What an action did."""
    state = "Done" if ok else "Not done"
    body = f"<h1>{text(heading)}</h1>\n<p><strong>{state}</strong>: {text(detail)}</p>\n{BACK}"
    return document(heading, body)
