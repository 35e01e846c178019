"""The public pages as server-rendered HTML; scripts only add to them (live updates, the
in-browser proof check), so each page reads the same without them.

Every value shown is escaped with :func:`html.escape`: titles and choice names come
from manifests, which anyone declaring an election writes. Scripts are files under
``/static`` (the pages' Content-Security-Policy allows no inline script).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from election.domain.results import turnout_text
from web.series import bar_chart

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse}td,th{padding:.25rem .75rem;text-align:left}"
    "td.n,th.n{text-align:right}tr+tr{border-top:1px solid #ddd}"
    "#per-minute{width:100%;height:8rem;background:#f6f6f6}#per-minute rect{fill:#3b6ea5}"
    ".ok{color:#176a2c}.bad{color:#a11}code{word-break:break-all}"
)


def text(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, so it may stand in an attribute)."""
    return escape(str(value), quote=True)


def document(title: str, body: str, script: str | None = None) -> str:
    """A whole page: ``title`` (already plain text, escaped here), ``body`` (HTML) and
    the name of its script under ``/static``, if it has one."""
    tag = f'<script src="/static/{text(script)}" defer></script>\n' if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n{tag}</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def election_href(election_id: str) -> str:
    """The page of one election."""
    return f"/elections/{quote(election_id, safe='')}"


def index_page(rows: Sequence[dict[str, Any]]) -> str:
    """``/``: every declared election with its state and votes so far."""
    if not rows:
        listing = "<p>No elections declared.</p>"
    else:
        lines = [
            "<tr>"
            f'<td><a href="{text(election_href(row["election"]))}">{text(row["election"])}</a></td>'
            f"<td>{text(row['title'])}</td>"
            f"<td>{text(row['state'])}{' (sealed)' if row['sealed'] else ''}</td>"
            f'<td class="n">{text(row["total"])}</td>'
            "</tr>"
            for row in rows
        ]
        listing = (
            '<table>\n<tr><th>ID</th><th>Title</th><th>State</th><th class="n">Votes</th></tr>\n'
            + "\n".join(lines)
            + "\n</table>"
        )
    return document("Elections", f"<h1>Elections</h1>\n{listing}")


def election_page(result: dict[str, Any], series: Sequence[tuple[int, int]]) -> str:
    """``/elections/{id}``: the counts per named choice, total, turnout, sealed or not, and
    ballots logged per minute; ``static/live.js`` keeps them current without a reload."""
    election_id = str(result["election"])
    title = result["title"] or f"Election {election_id}"
    seal = "sealed" if result["sealed"] else "not sealed"
    choices = "\n".join(
        f"<tr><td>{text(choice['name'])}</td>"
        f'<td class="n" data-choice="{n}">{_votes(choice["votes"])}</td></tr>'
        for n, choice in enumerate(result["choices"])
    )
    withheld = (
        f'<p id="withheld"><small>{text(result["withheld"].capitalize())}.</small></p>\n'
        if "withheld" in result
        else ""
    )
    href = election_href(election_id)
    body = (
        f'<main data-live="/api{text(href)}/live">\n'
        f"<h1>{text(title)}</h1>\n"
        f'<p>Election {text(election_id)}: <span id="state">{text(result["state"])}</span>, '
        f'<span class="seal" id="seal">{seal}</span>'
        ' <small id="live-status"></small></p>\n'
        '<table>\n<tr><th>Choice</th><th class="n">Votes</th></tr>\n'
        f"{choices}\n"
        f'<tr><th>Total</th><th class="n" id="total">{text(result["total"])}</th></tr>\n'
        "</table>\n"
        f'<p id="turnout">{text(turnout_text(int(result["total"]), result["roll"]))}</p>\n'
        f"{withheld}"
        "<h2>Ballots logged per minute</h2>\n"
        f"{bar_chart(series)}\n"
        "<p><small>From the signed checkpoints of the ballot log, a second or two behind "
        "the answers.</small></p>\n"
        f'<p><a href="{text(href)}/record">Public record</a> · '
        f'<a href="{text(href)}/receipt">Check a receipt</a> · '
        '<a href="/">All elections</a></p>\n</main>'
    )
    return document(f"{title} ({election_id})", body, script="live.js")


def _votes(votes: object) -> str:
    """A choice's count, or a dash where it is withheld until the seal."""
    return "—" if votes is None else text(votes)


def error_page(heading: str, detail: str) -> str:
    """A short page for a missing election or an unavailable database (no traceback)."""
    back = '<p><a href="/">All elections</a></p>'
    body = f"<h1>{text(heading)}</h1>\n<p>{text(detail)}</p>\n{back}"
    return document(heading, body)
