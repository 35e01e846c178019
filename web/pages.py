"""The public pages as plain server-rendered HTML (no script yet).

Every value shown is escaped with :func:`html.escape`: titles and choice names come
from manifests, which anyone declaring an election writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from election.domain.results import turnout_text

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse}td,th{padding:.25rem .75rem;text-align:left}"
    "td.n,th.n{text-align:right}tr+tr{border-top:1px solid #ddd}"
)


def text(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, so it may stand in an attribute)."""
    return escape(str(value), quote=True)


def document(title: str, body: str) -> str:
    """A whole page: ``title`` (already plain text, escaped here) and ``body`` (HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
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


def election_page(result: dict[str, Any]) -> str:
    """``/elections/{id}``: the counts per named choice, total, turnout, sealed or not."""
    election_id = str(result["election"])
    title = result["title"] or f"Election {election_id}"
    seal = "sealed" if result["sealed"] else "not sealed"
    choices = "\n".join(
        f'<tr><td>{text(choice["name"])}</td><td class="n">{text(choice["votes"])}</td></tr>'
        for choice in result["choices"]
    )
    body = (
        f"<h1>{text(title)}</h1>\n"
        f"<p>Election {text(election_id)}: {text(result['state'])}, "
        f'<span class="seal">{seal}</span></p>\n'
        '<table>\n<tr><th>Choice</th><th class="n">Votes</th></tr>\n'
        f"{choices}\n"
        f'<tr><th>Total</th><th class="n">{text(result["total"])}</th></tr>\n</table>\n'
        f"<p>{text(turnout_text(int(result['total']), result['roll']))}</p>\n"
        '<p><a href="/">All elections</a></p>'
    )
    return document(f"{title} ({election_id})", body)


def error_page(heading: str, detail: str) -> str:
    """A short page for a missing election or an unavailable database (no traceback)."""
    back = '<p><a href="/">All elections</a></p>'
    body = f"<h1>{text(heading)}</h1>\n<p>{text(detail)}</p>\n{back}"
    return document(heading, body)
