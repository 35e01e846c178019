"""``app.json``, the Heroku-style manifest, matches the code: its formation is the
Procfile's process types, every variable it declares or an add-on sets is one the
processes read, a secret it lets the platform generate is one the settings accept, and
the ones it asks for are the ones a random string would not be."""

from __future__ import annotations

import json
import re
import secrets
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_settings
from election.local.stack import procfile_processes
from election.ops.log_signing import log_private_key

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}
#: What each add-on sets, by the platform's naming.
ADDON_VARIABLES = {
    "heroku-postgresql": "DATABASE_URL",
    "cloudamqp": "CLOUDAMQP_URL",
}
#: Variables read outside ``config.load_settings``, and by whom.
READ_ELSEWHERE = {
    "PORT": "election web (election/cli/web.py)",
    "FORWARDED_ALLOW_IPS": "uvicorn, in election web",
}


class Recording(Mapping[str, str]):
    """An environment that notes every name looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


@pytest.fixture(scope="module")
def app() -> Any:
    return json.loads((ROOT / "app.json").read_text())


def names_the_settings_read() -> set[str]:
    env = Recording(EMULATOR)
    load_settings(env)
    return env.asked


def test_the_formation_has_every_procfile_process_type_but_release(app: Any) -> None:
    assert set(app["formation"]) == set(procfile_processes())
    assert all(f["quantity"] >= 1 for f in app["formation"].values())


def test_the_release_phase_provisions(app: Any) -> None:
    procfile = (ROOT / "Procfile").read_text()
    assert re.search(r"^release: election provision$", procfile, re.MULTILINE)


def test_every_declared_variable_is_one_a_process_reads(app: Any) -> None:
    read = names_the_settings_read() | set(READ_ELSEWHERE)
    assert set(app["env"]) - read == set()


def test_every_add_on_sets_a_variable_the_settings_read(app: Any) -> None:
    plans = {addon if isinstance(addon, str) else addon["plan"] for addon in app["addons"]}
    assert {plan.partition(":")[0] for plan in plans} == set(ADDON_VARIABLES)
    assert set(ADDON_VARIABLES.values()) <= names_the_settings_read()


def test_the_add_ons_urls_are_the_ones_the_processes_connect_to() -> None:
    settings = load_settings(
        {
            **EMULATOR,
            "DATABASE_URL": "postgres://u:p@db.example.com:5432/d1",
            "REDIS_URL": "rediss://:p@kv.example.com:6380",
            "CLOUDAMQP_URL": "amqps://u:p@hare.rmq.cloudamqp.com/vhost",
        }
    )
    assert settings.database_url == "postgres://u:p@db.example.com:5432/d1"
    assert settings.redis_url == "rediss://:p@kv.example.com:6380"
    assert settings.broker_kind == "rabbitmq"


def test_a_generated_secret_is_accepted_where_app_json_lets_the_platform_generate_it(
    app: Any,
) -> None:
    generated = {name for name, spec in app["env"].items() if spec.get("generator") == "secret"}
    assert "VOTER_KEY" in generated
    # Heroku's generator makes a random string of 64 hex digits.
    values = {name: secrets.token_hex(32) for name in generated}
    settings = load_settings({**EMULATOR, **values})
    assert settings.require_voter_key() == values["VOTER_KEY"].encode()


@pytest.mark.parametrize("name", ["RECORD_SIGNING_KEYS", "LOG_SIGNING_KEY"])
def test_a_key_a_random_string_is_not_is_required_and_not_generated(app: Any, name: str) -> None:
    spec = app["env"][name]
    assert spec.get("required") is True and "generator" not in spec
    with pytest.raises(ConfigError):
        log_private_key(load_settings({**EMULATOR, name: secrets.token_hex(32)}))


def test_the_pinned_python_is_one_the_project_supports() -> None:
    pinned = (ROOT / ".python-version").read_text().strip()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={pinned}"


def test_the_buildpack_finds_a_requirements_file_that_installs_the_project() -> None:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if line and not line.startswith("#")] == ["."]


def test_the_durable_redis_is_required_not_an_add_on(app: Any) -> None:
    assert app["env"]["REDIS_URL"]["required"] is True
    assert "appendfsync always" in app["env"]["REDIS_URL"]["description"]
