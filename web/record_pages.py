"""The public record's pages: the latest checkpoint with the key and files, and the
receipt lookup, whose proof ``static/verify.js`` checks again in the browser."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from web.pages import document, election_href, text
from web.record import Lookup


def _utc(timestamp_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def record_page(summary: dict[str, Any]) -> str:
    """``/elections/{id}/record``: what anyone needs to check the log themselves."""
    election_id = str(summary["election"])
    href = election_href(election_id)
    latest = summary["latest"]
    if latest is None:
        checkpoint = "<p>No checkpoint yet: the log is signed once ballots arrive.</p>"
    else:
        checkpoint = (
            '<table id="checkpoint">\n'
            f'<tr><th>Size</th><td id="size">{text(latest["size"])}</td></tr>\n'
            f'<tr><th>Root</th><td><code id="root">{text(latest["root"])}</code></td></tr>\n'
            f"<tr><th>Signed at</th><td>{text(_utc(int(latest['timestamp_ms'])))}</td></tr>\n"
            f"<tr><th>Signature</th><td><code>{text(latest['signature'])}</code></td></tr>\n"
            f"<tr><th>Checkpoints</th><td>{text(summary['checkpoints'])}</td></tr>\n</table>"
        )
    sealed = summary["sealed"]
    seal = (
        "<p>Not sealed yet: the list of leaves, with every receipt, is published at the "
        "seal (beside live counts it would tell each new receipt's choice).</p>"
        if sealed is None
        else f"<p>Sealed at size {text(sealed['size'])}, root <code>{text(sealed['root'])}</code>"
        ".</p>"
    )
    key = summary["public_key"]
    key_html = (
        "<p>This deployment gives no public key (LOG_PUBLIC_KEY).</p>"
        if key is None
        else f'<p>Public key: <code id="public-key">{text(key)}</code><br><small>Check it '
        "against one you got elsewhere: a key read from this page proves only that the "
        "page agrees with itself.</small></p>"
    )
    files = "".join(
        f'<li><a href="{text(href)}/bulletin/{text(quote(name))}" download>{text(name)}</a></li>'
        for name in summary["files"]
    )
    body = (
        f"<h1>Public record of election {text(election_id)}</h1>\n"
        f"<h2>Latest checkpoint</h2>\n{checkpoint}\n{seal}\n{key_html}\n"
        f"<h2>Bulletin files</h2>\n<ul>{files or '<li>none yet</li>'}</ul>\n"
        f"<p><small>{'With them' if sealed else 'Once sealed, with them'}, anyone proves "
        "a receipt offline: <code>election proof "
        f"--election-id {text(election_id)} --receipt R --bulletin DIR</code>, then "
        "<code>election verify</code>. Before the seal, check a receipt here.</small></p>\n"
        f'<p><a href="{text(href)}/receipt">Check a receipt</a> · '
        f'<a href="{text(href)}">Results</a></p>'
    )
    return document(f"Public record of {election_id}", body)


def receipt_page(election_id: str, receipt: str, found: Lookup | None) -> str:
    """``/elections/{id}/receipt``: a form, and for a receipt the server's answer; the
    proof rides in a data attribute, for ``static/verify.js`` to check with WebCrypto."""
    href = election_href(election_id)
    form = (
        f'<form method="get" action="{text(href)}/receipt">\n'
        '<label>Receipt <input name="receipt" id="receipt" size="40" autocomplete="off" '
        f'value="{text(receipt)}" placeholder="XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX"></label>\n'
        "<button>Check</button>\n</form>"
    )
    if found is None:
        outcome = ""
    elif found.status != 200:
        outcome = f'<p class="bad" id="server-check">{text(found.body["error"])}</p>'
    else:
        outcome = _proof_section(found.body)
    body = (
        f"<h1>Check a receipt of election {text(election_id)}</h1>\n{form}\n{outcome}\n"
        f'<p><a href="{text(href)}/record">Public record</a> · '
        f'<a href="{text(href)}">Results</a></p>'
    )
    return document(f"Check a receipt of {election_id}", body, script="verify.js")


def _proof_section(body: dict[str, Any]) -> str:
    proof = body["proof"]
    checkpoint = proof["checkpoint"]
    if body["proved"]:
        server = '<p class="ok" id="server-check">Proved by the server: '
    else:
        server = '<p class="bad" id="server-check">Not proved by the server: '
    check = body["server_check"]
    server += text("; ".join(check) if isinstance(check, list) and check else "every check passed")
    server += "</p>"
    data = text(json.dumps({"proof": proof, "public_key": body["public_key"]}))
    return (
        f"{server}\n"
        f"<p>Receipt {text(body['receipt'])} is leaf {text(proof['leaf_index'])} of "
        f"{text(proof['tree_size'])} under the checkpoint signed at "
        f"{text(_utc(int(checkpoint['timestamp_ms'])))}, root "
        f"<code>{text(checkpoint['root'])}</code>.</p>\n"
        f'<p id="browser-check" data-proof="{data}">Checking in this browser…</p>\n'
        "<details><summary>The proof</summary><pre>"
        f"{text(json.dumps(proof, indent=2))}</pre></details>"
    )
