"""``election status`` without servers: its lines and JSON, its exit codes, masked
passwords, and checks that run at once (fake probes stand in for the dependencies)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from config import load_settings
from election.cli import main
from election.cli import status as status_cli
from election.cli.exits import RET_OK, RET_UNAVAILABLE, RET_UNHEALTHY, exit_for_health
from election.domain.errors import Unavailable
from election.domain.routes import ROUTES
from election.ops import health as health_module
from election.ops.health import Check, masked, probes, redacted, run_checks

OK_REDIS = Check("redis", True, "redis://127.0.0.1:6380/0 durable", 2)
FAILED_POSTGRES = Check("postgres", False, "cannot reach PostgreSQL at postgresql://h:1", 7)


# --------------------------------------------------------------------------------------------
# What it prints
# --------------------------------------------------------------------------------------------


def test_each_check_is_one_line_with_its_state_name_detail_and_time() -> None:
    lines = status_cli.lines([OK_REDIS, FAILED_POSTGRES], took_ms=9)

    assert lines[0] == "ok   redis        redis://127.0.0.1:6380/0 durable (2 ms)"
    assert lines[1] == "FAIL postgres     cannot reach PostgreSQL at postgresql://h:1 (7 ms)"


def test_the_summary_names_every_failed_check() -> None:
    lines = status_cli.lines([OK_REDIS, FAILED_POSTGRES], took_ms=9)

    assert lines[-1] == "unhealthy: 1 of 2 checks failed (postgres) in 9 ms"


def test_the_summary_says_healthy_when_every_check_is_ok() -> None:
    assert status_cli.lines([OK_REDIS], took_ms=3)[-1] == "healthy: all 1 checks ok in 3 ms"


def test_long_check_names_widen_the_name_column_for_every_line() -> None:
    long = Check("pubsub:recorder", True, "t-recorder filter f", 1)

    lines = status_cli.lines([OK_REDIS, long], took_ms=1)

    assert lines[0].index("redis://") == lines[1].index("t-recorder")


def test_the_json_report_is_healthy_with_each_checks_four_fields() -> None:
    report = status_cli.report([OK_REDIS])

    assert report == {
        "healthy": True,
        "checks": [
            {
                "name": "redis",
                "ok": True,
                "detail": "redis://127.0.0.1:6380/0 durable",
                "took_ms": 2,
            }
        ],
    }


def test_the_json_report_is_unhealthy_when_one_check_fails() -> None:
    assert status_cli.report([OK_REDIS, FAILED_POSTGRES])["healthy"] is False


def test_no_checks_at_all_is_not_healthy() -> None:
    assert status_cli.report([])["healthy"] is False


# --------------------------------------------------------------------------------------------
# Exit codes
# --------------------------------------------------------------------------------------------


def test_status_exits_0_only_when_healthy_and_4_otherwise() -> None:
    assert exit_for_health(True) == RET_OK == 0
    assert exit_for_health(False) == RET_UNHEALTHY == RET_UNAVAILABLE == 4


@pytest.fixture
def fake_health(monkeypatch: pytest.MonkeyPatch) -> list[Check]:
    """``election status`` run by ``main`` on these checks instead of real ones."""
    checks: list[Check] = []
    monkeypatch.setattr(status_cli, "health", lambda settings, timeout_s: list(checks))
    for name in ("PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")
    return checks


@pytest.mark.usefixtures("restore_logging")  # main() sets up logging on pytest's stdout
def test_the_status_command_exits_0_when_every_check_is_ok(
    fake_health: list[Check], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_health.append(OK_REDIS)

    assert main(["status"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("ok   redis")


@pytest.mark.usefixtures("restore_logging")
def test_the_status_command_exits_4_with_json_when_a_check_fails(
    fake_health: list[Check], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_health.extend([OK_REDIS, FAILED_POSTGRES])

    assert main(["status", "--json"]) == 4
    printed = json.loads(capsys.readouterr().out)
    assert printed["healthy"] is False
    assert [check["name"] for check in printed["checks"]] == ["redis", "postgres"]


# --------------------------------------------------------------------------------------------
# No password is printed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:s3cret@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"),
        ("redis://:s3cret@127.0.0.1:6380/0", "redis://:***@127.0.0.1:6380/0"),
        (
            "postgresql://u:p%40ss@db:5432/x?sslmode=require",
            "postgresql://u:***@db:5432/x?sslmode=require",
        ),
        ("postgresql://db/x?user=u&password=s3cret", "postgresql://db/x?user=u&password=***"),
        ("redis://127.0.0.1:6380/0", "redis://127.0.0.1:6380/0"),
    ],
)
def test_a_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    assert masked(url) == shown


def test_a_password_in_a_library_message_is_blanked_out() -> None:
    check = Check("broker", False, "auth failed for guest:p@ss and p%40ss", 1)

    cleaned = redacted(check, health_module.passwords("amqp://guest:p%40ss@h/"))

    assert cleaned.detail == "auth failed for guest:*** and ***"


def test_a_healthy_check_keeps_a_user_name_that_equals_the_password() -> None:
    url = "amqp://guest:guest@127.0.0.1:5672/"
    check = Check("broker", True, masked(url), 1)

    assert (
        redacted(check, health_module.passwords(url)).detail == "amqp://guest:***@127.0.0.1:5672/"
    )


def test_no_password_of_the_settings_reaches_any_check(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        {
            "PUBSUB_EMULATOR_HOST": "127.0.0.1:1",
            "REDIS_URL": "redis://:redispw@127.0.0.1:6380/0",
            "DATABASE_URL": "postgresql://u:dbpw@127.0.0.1:5432/postgres",
            "DRAMATIQ_BROKER_URL": "amqp://guest:brokerpw@127.0.0.1:5672/",
        }
    )

    def leaky() -> str:
        raise RuntimeError(f"cannot log in to {settings.broker_url} ({settings.database_url})")

    monkeypatch.setattr(
        health_module,
        "probes",
        lambda settings, timeout_s: [
            ("broker", leaky),
            ("redis", lambda: masked(settings.redis_url)),
        ],
    )

    checks = health_module.health(settings, timeout_s=1)
    printed = "\n".join(status_cli.lines(checks, 1)) + json.dumps(status_cli.report(checks))

    for secret in ("redispw", "dbpw", "brokerpw"):
        assert secret not in printed
    assert "guest:***@" in printed


# --------------------------------------------------------------------------------------------
# The checks run at once, each bounded
# --------------------------------------------------------------------------------------------


def sleeper(seconds: float) -> health_module.Probe:
    def probe() -> str:
        time.sleep(seconds)
        return f"slept {seconds}"

    return probe


def test_the_checks_run_at_once_so_the_whole_takes_about_the_slowest() -> None:
    named = [(f"c{n}", sleeper(0.4)) for n in range(6)]

    started = time.monotonic()
    checks = run_checks(named, wait_s=10)
    took = time.monotonic() - started

    assert all(check.ok for check in checks)
    assert took < 1.2  # one after the other: 2.4 s
    assert all(350 <= check.took_ms < 1200 for check in checks)


def test_a_check_that_never_answers_fails_when_the_wait_is_over_and_others_still_report() -> None:
    never = threading.Event()

    def hangs() -> str:
        never.wait()
        return "unreachable"

    started = time.monotonic()
    checks = run_checks([("stuck", hangs), ("quick", sleeper(0.0))], wait_s=0.5)
    took = time.monotonic() - started
    never.set()

    assert 0.45 < took < 1.5
    assert checks[0] == Check("stuck", False, checks[0].detail, 500)
    assert checks[0].detail.startswith("no answer within 0.5 s")
    assert checks[1].ok


def test_a_check_that_raises_is_a_failed_check_not_an_error() -> None:
    def unavailable() -> str:
        raise Unavailable("cannot reach Redis at redis://h:1: refused; is it running?")

    def crashes() -> str:
        raise KeyError("surprise")

    checks = run_checks([("redis", unavailable), ("odd", crashes)], wait_s=5)

    assert [check.ok for check in checks] == [False, False]
    assert checks[0].detail == "cannot reach Redis at redis://h:1: refused; is it running?"
    assert checks[1].detail == "KeyError: 'surprise'"


def test_every_route_of_the_table_has_a_check_after_the_servers() -> None:
    settings = load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"})

    names = [name for name, _ in probes(settings, 1.0)]

    routes = [f"pubsub:{route.name or route.service}" for route in ROUTES]
    assert names == ["redis", "postgres", "broker", "pubsub", *routes]
