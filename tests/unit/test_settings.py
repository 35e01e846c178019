"""Tests for config.settings.load_settings: the environment in, checked Settings out."""

from __future__ import annotations

import dataclasses

import pytest

from actors.worker import dramatiq_environment
from config import ConfigError, Settings, load_settings
from config.settings import (
    DEFAULT_BROKER_URL,
    DEFAULT_DATABASE_URL,
    DEFAULT_LOCAL_PROJECT,
    DEFAULT_REDIS_URL,
    DEFAULT_TOPIC,
)
from election.domain.ballot_rules import Undeclared
from election.domain.routes import LOGGER, RECORDER

EMULATOR = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}
VARIABLES = (
    "REDIS_URL",
    "DATABASE_URL",
    "DATABASE_SCHEMA",
    "DRAMATIQ_BROKER_URL",
    "CLOUDAMQP_URL",
    "PUBSUB_EMULATOR_HOST",
    "GOOGLE_CLOUD_PROJECT",
    "PUBSUB_PROJECT_ID",
    "ELECTION_TOPIC",
    "ELECTION_NAMESPACE",
    "ELECTION_CHOICES",
    "ELECTION_UNDECLARED",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "WORKER_PROCESSES",
    "WORKER_THREADS",
)
MAX_SUBSCRIPTION_NAME = 255


def settings(**environ: str) -> Settings:
    return load_settings({**EMULATOR, **environ})


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ)
    return excinfo.value


# --------------------------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------------------------


def test_against_the_emulator_every_setting_has_a_default() -> None:
    assert load_settings(EMULATOR) == Settings(
        redis_url=DEFAULT_REDIS_URL,
        database_url=DEFAULT_DATABASE_URL,
        database_schema="public",
        broker_url=DEFAULT_BROKER_URL,
        project=DEFAULT_LOCAL_PROJECT,
        emulator_host="127.0.0.1:8085",
        topic=DEFAULT_TOPIC,
        namespace=DEFAULT_TOPIC,
        choices=5,
        undeclared=Undeclared.ACCEPT,
        live_results="choices",
        log_level="INFO",
        log_format="auto",
        worker_processes=1,
        worker_threads=8,
        worker_poll_ms=20,
        voter_key=None,
        signing_keys={},
        signing_key_id=None,
        log_key=None,
        log_public_key=None,
        operator_token=None,
        claim_stale_s=60,
        signature_ttl_s=86400,
        dedup_wait_replicas=0,
        max_retries=20,
        min_backoff_ms=100,
        max_backoff_ms=10_000,
    )


def test_secrets_are_read_from_the_environment_and_required_only_where_used() -> None:
    loaded = load_settings(
        {
            **EMULATOR,
            "VOTER_KEY": "v" * 16,
            "RECORD_SIGNING_KEYS": "old=" + "o" * 16 + ",new=" + "n" * 16,
            "RECORD_SIGNING_KEY_ID": "new",
        }
    )
    assert loaded.require_voter_key() == b"v" * 16
    assert loaded.require_signing_key() == ("new", b"n" * 16)
    assert set(loaded.require_verifying_keys()) == {"old", "new"}
    bare = load_settings(EMULATOR)
    for require in (bare.require_voter_key, bare.require_signing_key, bare.require_verifying_keys):
        with pytest.raises(ConfigError, match="election keys"):
            require()


@pytest.mark.parametrize(
    ("name", "value", "names"),
    [
        ("VOTER_KEY", "short", "VOTER_KEY"),
        ("RECORD_SIGNING_KEYS", "no-equals-sign", "RECORD_SIGNING_KEYS"),
        ("RECORD_SIGNING_KEYS", "k1=short", "RECORD_SIGNING_KEYS"),
        ("RECORD_SIGNING_KEY_ID", "missing", "RECORD_SIGNING_KEY_ID"),
        ("ACTOR_MAX_RETRIES", "-1", "ACTOR_MAX_RETRIES"),
        ("CLAIM_STALE_S", "0", "CLAIM_STALE_S"),
        ("SIGNATURE_TTL_S", "5", "SIGNATURE_TTL_S"),
        ("DEDUP_WAIT_REPLICAS", "-1", "DEDUP_WAIT_REPLICAS"),
    ],
)
def test_a_malformed_secret_or_retry_setting_names_its_variable(
    name: str, value: str, names: str
) -> None:
    env = {**EMULATOR, "RECORD_SIGNING_KEYS": "k1=" + "s" * 16, name: value}
    if name == "RECORD_SIGNING_KEYS":
        env[name] = value
    with pytest.raises(ConfigError, match=names):
        load_settings(env)


def test_the_defaults_point_at_the_local_services() -> None:
    # The project's own durable dedup Redis (scripts/services.sh), not the machine's.
    assert DEFAULT_REDIS_URL == "redis://127.0.0.1:6380/0"
    assert DEFAULT_DATABASE_URL == "postgresql://127.0.0.1:5432/postgres"
    assert DEFAULT_TOPIC == "election"


def test_the_emulator_gets_a_default_project() -> None:
    assert settings().project == "election-local"


def test_without_the_emulator_a_project_is_required() -> None:
    exc = config_error({})

    assert str(exc).startswith("GOOGLE_CLOUD_PROJECT is not set")


def test_without_the_emulator_the_given_project_is_used() -> None:
    loaded = load_settings({"GOOGLE_CLOUD_PROJECT": "my-election-42"})

    assert (loaded.project, loaded.emulator_host) == ("my-election-42", None)


def test_pubsub_project_id_is_used_when_google_cloud_project_is_not_set() -> None:
    assert settings(PUBSUB_PROJECT_ID="emulated-project").project == "emulated-project"


def test_google_cloud_project_wins_over_pubsub_project_id() -> None:
    loaded = settings(GOOGLE_CLOUD_PROJECT="first-project", PUBSUB_PROJECT_ID="second-project")

    assert loaded.project == "first-project"


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_blank_variables_count_as_unset(blank: str) -> None:
    environ = {name: blank for name in VARIABLES if name != "PUBSUB_EMULATOR_HOST"}

    assert settings(**environ) == load_settings(EMULATOR)


def test_surrounding_blanks_are_stripped() -> None:
    loaded = settings(REDIS_URL="  redis://cache:6380/1 \n", ELECTION_CHOICES=" 7 ")

    assert (loaded.redis_url, loaded.choices) == ("redis://cache:6380/1", 7)


def test_load_settings_reads_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9999")
    monkeypatch.setenv("ELECTION_CHOICES", "12")

    loaded = load_settings()

    assert (loaded.emulator_host, loaded.choices) == ("127.0.0.1:9999", 12)


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings().choices = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("ELECTION_CHOICES", "1", "choices", 1),
        ("ELECTION_CHOICES", "1000", "choices", 1000),
        ("ELECTION_UNDECLARED", "reject", "undeclared", Undeclared.REJECT),
        ("ELECTION_UNDECLARED", " Accept ", "undeclared", Undeclared.ACCEPT),
        ("WORKER_PROCESSES", "64", "worker_processes", 64),
        ("WORKER_THREADS", "1", "worker_threads", 1),
        ("WORKER_THREADS", "256", "worker_threads", 256),
        ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("LOG_LEVEL", "Warning", "log_level", "WARNING"),
        ("LOG_FORMAT", "JSON", "log_format", "json"),
        ("DATABASE_SCHEMA", "election_test_1", "database_schema", "election_test_1"),
        ("ELECTION_TOPIC", "abc", "topic", "abc"),
        ("ELECTION_TOPIC", "a" * 255, "topic", "a" * 255),
        ("PUBSUB_EMULATOR_HOST", "localhost:8085", "emulator_host", "localhost:8085"),
        ("PUBSUB_EMULATOR_HOST", "[::1]:8085", "emulator_host", "[::1]:8085"),
        ("REDIS_URL", "unix:///run/redis.sock", "redis_url", "unix:///run/redis.sock"),
    ],
)
def test_values_at_the_limits_are_accepted(
    name: str, value: str, attribute: str, expected: object
) -> None:
    assert getattr(settings(**{name: value}), attribute) == expected


# --------------------------------------------------------------------------------------------
# Malformed values: one error, naming the variable
# --------------------------------------------------------------------------------------------

MALFORMED = [
    ("REDIS_URL", "http://x"),
    ("REDIS_URL", "127.0.0.1:6379"),
    ("REDIS_URL", "redis://"),
    ("REDIS_URL", "redis://host:port/0"),
    ("REDIS_URL", "redis://host:70000/0"),
    ("REDIS_URL", "redis://[::1/0"),
    ("DATABASE_URL", "mysql://127.0.0.1/db"),
    ("DATABASE_URL", "postgresql://127.0.0.1:port/db"),
    ("DATABASE_URL", "postgresql://host:x/db"),
    ("DRAMATIQ_BROKER_URL", "kafka://127.0.0.1:9092"),
    ("DRAMATIQ_BROKER_URL", "amqp://"),
    ("PUBSUB_EMULATOR_HOST", "localhost"),
    ("PUBSUB_EMULATOR_HOST", "http://127.0.0.1:8085"),
    ("PUBSUB_EMULATOR_HOST", "127.0.0.1:"),
    ("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085/path"),
    ("GOOGLE_CLOUD_PROJECT", "Bad_Project"),
    ("GOOGLE_CLOUD_PROJECT", "short"),
    ("GOOGLE_CLOUD_PROJECT", "1starts-with-digit"),
    ("GOOGLE_CLOUD_PROJECT", "ends-with-hyphen-"),
    ("GOOGLE_CLOUD_PROJECT", "p" * 31),
    ("ELECTION_TOPIC", "ab"),
    ("ELECTION_TOPIC", "1topic"),
    ("ELECTION_TOPIC", "goog-topic"),
    ("ELECTION_TOPIC", "GOOGtopic"),
    ("ELECTION_TOPIC", "a topic"),
    ("ELECTION_TOPIC", "a/topic"),
    ("ELECTION_TOPIC", "t" * 256),
    ("ELECTION_NAMESPACE", "ns"),
    ("ELECTION_NAMESPACE", "-ns"),
    ("ELECTION_NAMESPACE", "google-ns"),
    ("DATABASE_SCHEMA", "Public"),
    ("DATABASE_SCHEMA", "1schema"),
    ("DATABASE_SCHEMA", "my-schema"),
    ("DATABASE_SCHEMA", "s" * 64),
    ("ELECTION_CHOICES", "abc"),
    ("ELECTION_CHOICES", "2.5"),
    ("ELECTION_CHOICES", "0"),
    ("ELECTION_CHOICES", "-3"),
    ("ELECTION_CHOICES", "1001"),
    ("ELECTION_UNDECLARED", "maybe"),
    ("LOG_LEVEL", "verbose"),
    ("LOG_LEVEL", "CRITICAL"),
    ("LOG_FORMAT", "xml"),
    ("WORKER_PROCESSES", "0"),
    ("WORKER_PROCESSES", "65"),
    ("WORKER_PROCESSES", "many"),
    ("WORKER_THREADS", "0"),
    ("WORKER_THREADS", "257"),
]


@pytest.mark.parametrize(("name", "value"), MALFORMED)
def test_a_malformed_variable_is_one_error_line_that_names_it(name: str, value: str) -> None:
    exc = config_error({**EMULATOR, name: value})

    assert str(exc).split()[0] == name
    assert "\n" not in str(exc)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_a_malformed_pubsub_project_id_is_reported_under_its_own_name() -> None:
    exc = config_error({**EMULATOR, "PUBSUB_PROJECT_ID": "Bad_Project"})

    assert str(exc).split()[0] == "PUBSUB_PROJECT_ID"


@pytest.mark.parametrize("value", ["127.0.0.1:99999", "127.0.0.1:65536"])
def test_an_emulator_port_out_of_range_is_rejected(value: str) -> None:
    exc = config_error({"PUBSUB_EMULATOR_HOST": value})

    assert str(exc).split()[0] == "PUBSUB_EMULATOR_HOST"


# --------------------------------------------------------------------------------------------
# URLs: the broker, and values passed through untouched
# --------------------------------------------------------------------------------------------


def test_the_dramatiq_broker_defaults_to_the_local_rabbitmq_whatever_redis_url_says() -> None:
    loaded = settings(REDIS_URL="redis://cache.internal:6380/2")

    assert loaded.broker_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert loaded.broker_kind == "rabbitmq"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "rabbitmq"),
        ("amqps://user:pw@broker.example.com:5671/vhost", "rabbitmq"),
        ("redis://127.0.0.1:6379/3", "redis"),
        ("rediss://broker.example.com:6380/0", "redis"),
        ("unix:///run/redis.sock", "redis"),
    ],
)
def test_the_broker_scheme_selects_the_broker_kind(url: str, kind: str) -> None:
    loaded = settings(DRAMATIQ_BROKER_URL=url)

    assert (loaded.broker_url, loaded.broker_kind) == (url, kind)


def test_an_explicit_broker_url_wins_over_redis_url() -> None:
    loaded = settings(
        REDIS_URL="redis://cache:6379/0", DRAMATIQ_BROKER_URL="amqp://guest:guest@mq:5672/"
    )

    assert (loaded.redis_url, loaded.broker_url) == (
        "redis://cache:6379/0",
        "amqp://guest:guest@mq:5672/",
    )


def test_cloudamqp_url_is_the_broker_when_dramatiq_broker_url_is_not_set() -> None:
    loaded = settings(CLOUDAMQP_URL="amqps://user:pw@hare.rmq.cloudamqp.com/vhost")

    assert loaded.broker_url == "amqps://user:pw@hare.rmq.cloudamqp.com/vhost"
    assert loaded.broker_kind == "rabbitmq"


def test_dramatiq_broker_url_wins_over_cloudamqp_url() -> None:
    loaded = settings(
        DRAMATIQ_BROKER_URL="amqp://guest:guest@mq:5672/",
        CLOUDAMQP_URL="amqps://user:pw@hare.rmq.cloudamqp.com/vhost",
    )

    assert loaded.broker_url == "amqp://guest:guest@mq:5672/"


def test_a_malformed_cloudamqp_url_is_reported_under_its_own_name() -> None:
    with pytest.raises(ConfigError, match=r"^CLOUDAMQP_URL must start with"):
        settings(CLOUDAMQP_URL="kafka://hare:9092")


def test_an_upper_case_amqp_scheme_still_selects_rabbitmq() -> None:
    assert settings(DRAMATIQ_BROKER_URL="AMQP://guest:guest@mq:5672/").broker_kind == "rabbitmq"


@pytest.mark.parametrize(
    ("name", "url", "attribute"),
    [
        (
            "REDIS_URL",
            "rediss://:s3cr%40t@cache.example.com:6380/0?ssl_cert_reqs=none",
            "redis_url",
        ),
        ("DRAMATIQ_BROKER_URL", "rediss://default:pw@cache.example.com:6380/1", "broker_url"),
        (
            "DATABASE_URL",
            "postgresql://user:p%40ss@db.example.com:5432/votes?sslmode=require"
            "&application_name=election",
            "database_url",
        ),
        (
            "DATABASE_URL",
            "postgres://db.example.com/votes?sslmode=verify-full&sslrootcert=/ca",
            "database_url",
        ),
    ],
)
def test_tls_urls_and_their_query_strings_are_passed_through_untouched(
    name: str, url: str, attribute: str
) -> None:
    assert getattr(settings(**{name: url}), attribute) == url


# --------------------------------------------------------------------------------------------
# Names: queues and subscriptions
# --------------------------------------------------------------------------------------------


def test_names_derive_from_the_topic_by_default() -> None:
    loaded = settings(ELECTION_TOPIC="votes-2024")

    assert loaded.namespace == "votes-2024"
    assert LOGGER.subscription(loaded.namespace) == "votes-2024-logger"
    assert RECORDER.subscription(loaded.namespace) == "votes-2024-recorder"
    assert LOGGER.queue(loaded.namespace) == "votes-2024.logger"
    assert RECORDER.queue(loaded.namespace) == "votes-2024.recorder"


def test_the_default_names_are_election_based() -> None:
    loaded = settings()

    assert (LOGGER.subscription(loaded.namespace), RECORDER.subscription(loaded.namespace)) == (
        "election-logger",
        "election-recorder",
    )
    assert LOGGER.queue(loaded.namespace) == "election.logger"


def test_a_namespace_separates_names_from_the_topic() -> None:
    loaded = settings(ELECTION_TOPIC="election", ELECTION_NAMESPACE="test-run-7")

    assert loaded.topic == "election"
    assert LOGGER.subscription(loaded.namespace) == "test-run-7-logger"
    assert RECORDER.subscription(loaded.namespace) == "test-run-7-recorder"
    assert RECORDER.queue(loaded.namespace) == "test-run-7.recorder"


@pytest.mark.parametrize("name", ["ELECTION_NAMESPACE", "ELECTION_TOPIC"])
def test_an_accepted_namespace_yields_subscription_names_pubsub_accepts(name: str) -> None:
    try:
        loaded = settings(**{name: "n" * 250})
    except ConfigError:
        return  # refusing it is fine too
    assert len(LOGGER.subscription(loaded.namespace)) <= MAX_SUBSCRIPTION_NAME
    assert len(RECORDER.subscription(loaded.namespace)) <= MAX_SUBSCRIPTION_NAME


def test_a_postgresql_url_without_host_uses_the_local_socket() -> None:
    settings = load_settings(
        {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085", "DATABASE_URL": "postgresql:///votes"}
    )
    assert settings.database_url == "postgresql:///votes"


def test_only_a_redis_broker_makes_dramatiq_poll_fast() -> None:
    # RabbitMQ pushes messages: a short worker time-out would only wake idle threads.
    redis_broker = settings(DRAMATIQ_BROKER_URL="redis://127.0.0.1:6379/0", WORKER_POLL_MS="7")
    rabbitmq_broker = settings(DRAMATIQ_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/")

    assert dramatiq_environment(redis_broker) == {"dramatiq_worker_timeout": "7"}
    assert dramatiq_environment(rabbitmq_broker) == {}


def test_live_results_is_choices_or_total_and_nothing_else() -> None:
    assert load_settings({**EMULATOR, "LIVE_RESULTS": "Total"}).live_results == "total"
    with pytest.raises(ConfigError, match="LIVE_RESULTS must be choices or total"):
        load_settings({**EMULATOR, "LIVE_RESULTS": "some"})
