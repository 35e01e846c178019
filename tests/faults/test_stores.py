"""Faults of the stores and of the operator, under load: the dedup Redis restarted empty
or evicting keys, the voting logger given another voter key, PostgreSQL down far longer
than the retry budget, a signing key rotated out too early. Each run ends like every
fault run: every voter votes once more and every answer is judged against the rows
(tests/support/load.py); each adds a row to the fault table."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator

import pytest

from election.storage.redis_client import connect_redis
from tests.conftest import REDIS_BROKER
from tests.faults.test_faults import ALL, ENV, OUTAGE_S, run_fault
from tests.support.processes import run_election, wait_for
from tests.support.proxy import CuttableProxy
from tests.support.redis_server import AofRedis
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e

SUSPENDED = r"dedup\.suspended"


def restart(system: ElectionSystem, role: str, **env: str) -> None:
    """Stop one process kind and start it again with ``env`` changed."""
    service = system.services[role]
    ready = "bridge.started" if role == "bridge" else "Worker process is ready"
    before = service.count(ready)
    assert service.stop() == 0
    service.env.update(env)
    service.restart()
    service.wait_for_log(ready, times=before + 1, timeout=90)


def with_own_redis(own_redis: AofRedis) -> dict[str, str]:
    # Tests ask for ``own_redis`` before ``make_system``, so the system is cleaned up
    # (its keys removed) before its Redis stops.
    return {**ENV, "REDIS_URL": own_redis.url}


def test_voting_stops_and_nobody_votes_twice_when_redis_restarts_empty(
    own_redis: AofRedis, make_system: object
) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, *ALL, env=with_own_redis(own_redis)
    )
    logger = system.services["logger"]
    saved = own_redis.directory / "saved-appendonlydir"

    def restart_empty() -> None:
        own_redis.kill()
        shutil.move(own_redis.directory / "appendonlydir", saved)
        own_redis.start()  # same port, nothing on disk: every claim is gone
        logger.wait_for_log(SUSPENDED, timeout=60)
        assert "restarted empty" in logger.log()

    def restore() -> None:
        # The operator's recovery (docs/RELIABILITY.md): put the AOF back, restart Redis.
        own_redis.kill()
        shutil.rmtree(own_redis.directory / "appendonlydir")
        shutil.move(saved, own_redis.directory / "appendonlydir")
        own_redis.start()

    load = run_fault(
        system,
        "Redis restarted empty, AOF restored",
        "951",
        restart_empty,
        recover=restore,
        suspended_ok=True,
    )
    assert any("voting is suspended" in str(c.outcome) for c in load.casts)


def test_voting_stops_and_nobody_votes_twice_when_redis_evicts_claims(
    own_redis: AofRedis, make_system: object
) -> None:
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, *ALL, env=with_own_redis(own_redis)
    )
    client = connect_redis(f"redis://127.0.0.1:{own_redis.port}/0")

    def evict() -> None:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "allkeys-random")
        client.config_set("maxmemory", str(used + 200_000))
        n = 0
        while int(client.info("stats")["evicted_keys"]) == 0:
            client.set(f"filler:{n}", b"x" * 10_000)
            n += 1
        system.services["logger"].wait_for_log(SUSPENDED, timeout=60)

    # Evicted claims are gone for good (evictions reach the AOF too): voting stays
    # suspended until an operator decides (docs/RELIABILITY.md).
    load = run_fault(
        system, "Redis evicting claims", "952", evict, suspended_ok=True, still_suspended=True
    )
    client.close()
    assert any("voting is suspended" in str(c.outcome) for c in load.casts)


def test_a_logger_refuses_to_start_against_a_redis_that_may_evict(
    make_system: object, tmp_path: object
) -> None:
    directory = tmp_path / "evicting"  # type: ignore[operator]
    directory.mkdir()
    evicting = AofRedis(directory, "--maxmemory-policy", "allkeys-lru")
    evicting.start()
    try:
        system: ElectionSystem = make_system(REDIS_BROKER)  # type: ignore[operator]
        done = run_election(
            ["worker", "logger"], {**system.env, "REDIS_URL": evicting.url}, timeout=60
        )
    finally:
        evicting.stop()
    assert done.returncode == 3
    assert "maxmemory-policy allkeys-lru, needs noeviction" in done.stderr


def test_voting_stops_while_the_logger_has_another_voter_key(make_system: object) -> None:
    system: ElectionSystem = make_system(REDIS_BROKER, *ALL, env=ENV)  # type: ignore[operator]
    original = system.env["VOTER_KEY"]
    logger = system.services["logger"]

    def new_key() -> None:
        # `election keys --voter-key >> .env` on a running deployment, then a restart.
        restart(system, "logger", VOTER_KEY=secrets.token_hex(16))
        logger.wait_for_log(SUSPENDED, timeout=60)
        assert "VOTER_KEY is not the key" in logger.log()

    run_fault(
        system,
        "logger restarted with a new VOTER_KEY",
        "953",
        new_key,
        recover=lambda: restart(system, "logger", VOTER_KEY=original),
        suspended_ok=True,
    )


@pytest.fixture
def postgres_proxy() -> Iterator[CuttableProxy]:
    """A way to PostgreSQL that a test can cut (asked for before ``make_system``, so the
    system is cleaned up through it before it closes)."""
    proxy = CuttableProxy(("127.0.0.1", 5432)).start()
    yield proxy
    proxy.cut()


def test_nothing_is_lost_when_postgresql_is_down_far_longer_than_the_retry_budget(
    postgres_proxy: CuttableProxy, make_system: object
) -> None:
    # Three retries within half a second: the budget runs out dozens of times over.
    budget = {"ACTOR_MAX_RETRIES": "3", "ACTOR_MIN_BACKOFF_MS": "50", "ACTOR_MAX_BACKOFF_MS": "400"}
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER,
        *ALL,
        env={**budget, "DATABASE_URL": f"postgresql://127.0.0.1:{postgres_proxy.port}/postgres"},
    )
    recorder = system.services["recorder"]
    outage_s = 15.0

    def database_down() -> None:
        postgres_proxy.cut()
        retries = recorder.count("Retrying message")
        time.sleep(outage_s)  # the outage itself, not a wait for a condition
        assert recorder.count("Retrying message") > retries + 3, "no retries during the outage"
        postgres_proxy.restore()

    run_fault(system, f"PostgreSQL down {outage_s:.0f} s (budget < 1 s)", "954", database_down)
    assert recorder.count(r"vote\.given_up") == 0


def test_records_signed_with_a_key_rotated_out_too_early_are_kept_and_counted_once_back(
    make_system: object,
) -> None:
    old, new = secrets.token_hex(16), secrets.token_hex(16)
    keys = {"RECORD_SIGNING_KEYS": f"k1={old},k2={new}", "RECORD_SIGNING_KEY_ID": "k1"}
    system: ElectionSystem = make_system(  # type: ignore[operator]
        REDIS_BROKER, *ALL, env={**ENV, **keys}
    )
    recorder = system.services["recorder"]

    def rotate_out_too_early() -> None:
        restart(system, "recorder", RECORD_SIGNING_KEYS=f"k2={new}", RECORD_SIGNING_KEY_ID="k2")
        recorder.wait_for_log(r"record\.unverified", times=3, timeout=60)
        time.sleep(OUTAGE_S)  # the outage itself, not a wait for a condition
        restart(system, "recorder", **keys)

    def replay() -> None:
        # The operator's recovery: the key is back, the kept records are replayed.
        done = run_election(["dead-letters", "replay", "--all"], system.env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count(": stored") >= 3, done.stdout

    run_fault(
        system, "signing key rotated out too early", "955", rotate_out_too_early, recover=replay
    )
    wait_for(
        lambda: "no dead letters" in run_election(["dead-letters"], system.env).stdout,
        30,
        "the dead letters to be empty",
    )
