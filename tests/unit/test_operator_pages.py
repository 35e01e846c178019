"""The operator console's HTML (``web.operator_pages``): everything escaped, every change a
POST carrying the CSRF token, election actions confirmed by typing the ID."""

from __future__ import annotations

import re
from typing import Any

from web.operator_pages import confirm_page, console_page, login_page

HOSTILE = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
CSRF = "c" * 64


def state(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "health": [{"name": "redis", "ok": False, "detail": HOSTILE, "took_ms": 1}],
        "elections": [
            {"election": "7", "title": HOSTILE, "state": "draft", "sealed": False, "total": 0},
            {"election": "8", "title": "b", "state": "open", "sealed": False, "total": 2},
            {"election": "9", "title": "c", "state": "closed", "sealed": True, "total": 3},
        ],
        "elections_error": None,
        "subscriptions": [
            {"subscription": "ns-logger", "filter": HOSTILE, "backlog_note": "unknown (emulator)"}
        ],
        "queues": {
            "broker": "redis",
            "queues": [{"queue": HOSTILE, "ready": 3, "delayed": 0, "dead": None}],
            "error": None,
        },
        "instances": {"web": [{"instance": HOSTILE, "host": "h", "pid": 1, "age_s": 0.5}]},
        "dead_letters": [
            {
                "id": "m-1",
                "actor": "record_votes",
                "ballot": "u-1",
                "retries": 2,
                "error": HOSTILE,
                "failed_at": 0.0,
                "age_s": 61.2,
            }
        ],
        "audit": [{"at": 0, "action": "open", "election": HOSTILE, "outcome": "x", "client": "c"}],
        "redis_error": None,
    }
    return {**base, **changes}


def test_every_value_on_the_console_is_escaped() -> None:
    page = console_page(state(), CSRF)
    assert HOSTILE not in page and page.count("<script") == 1  # confirm.js only
    assert page.count(ESCAPED) == 7  # health, title, filter, queue, instance, error, audit


def test_every_button_is_a_post_form_with_the_csrf_token() -> None:
    page = console_page(state(), CSRF)
    forms = re.findall(r"<form[^>]*>.*?</form>", page)
    assert len(forms) == 3  # log out, replay, purge
    for form in forms:
        assert 'method="post"' in form
        assert f'<input type="hidden" name="csrf" value="{CSRF}">' in form
    assert any("/operator/dead-letters/m-1/purge" in f and "data-confirm=" in f for f in forms)
    # The console's CSP allows no inline script: the question is asked by a static file.
    assert "onsubmit" not in page and '<script src="/static/confirm.js" defer>' in page


def test_open_and_close_are_offered_only_where_they_apply_and_lead_to_a_confirmation() -> None:
    page = console_page(state(), CSRF)
    assert '"/operator/elections/7/open"' in page and '"/operator/elections/7/close"' in page
    assert '"/operator/elections/8/open"' not in page and '"/operator/elections/8/close"' in page
    assert "/operator/elections/9/" not in page


def test_a_missing_broker_queue_is_said_not_declared() -> None:
    assert "<td>not declared</td>" in console_page(state(), CSRF)


def test_the_confirmation_asks_for_the_election_id_typed_again() -> None:
    page = confirm_page("close", "4201", CSRF, error=HOSTILE)
    assert '<form method="post" action="/operator/elections/4201/close">' in page
    assert '<input name="confirm" required' in page
    assert f'name="csrf" value="{CSRF}"' in page
    assert ESCAPED in page and "<script" not in page


def test_the_login_form_posts_the_token_and_shows_an_error_escaped() -> None:
    page = login_page(HOSTILE)
    assert '<form method="post" action="/operator/login">' in page
    assert 'type="password" name="token"' in page
    assert ESCAPED in page and "<script" not in page
