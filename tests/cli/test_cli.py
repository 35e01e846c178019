"""The ``election`` command run as a subprocess: help, usage and configuration errors, and
services that cannot be reached. Exit codes: 0 ok, 2 usage, 3 configuration, 4 unavailable.

Nothing here needs a running Pub/Sub emulator: "dead" services are ports that are bound
(so nothing else can take them) but not listening, so connections are refused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from election.domain.ed25519 import load_private_key, new_private_key, public_key_text

REPO = Path(__file__).resolve().parents[2]
SUBCOMMANDS = ("provision", "bridge", "worker", "machine", "tally", "web")
FAST_TIMEOUT_S = 30
UNAVAILABLE_TIMEOUT_S = 60
UNAVAILABLE_WITHIN_S = 35  # "about 30 s"; the CLI's own start-up timeout is 10 s

RET_USAGE = 2
RET_CONFIG = 3
RET_UNAVAILABLE = 4


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


def environment(home: Path, **variables: str) -> dict[str, str]:
    """A controlled environment: nothing of the caller's election or cloud settings."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **variables,
    }


def start(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "election", *args],
        cwd=REPO,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a hung run can be stopped whole
    )


def finish(process: subprocess.Popen[str], started: float, timeout: float) -> Run:
    """Wait for ``process`` until ``timeout`` seconds after ``started``; kill it if late."""
    try:
        stdout, stderr = process.communicate(timeout=max(0.0, started + timeout - time.monotonic()))
    except subprocess.TimeoutExpired:
        stop(process)
        pytest.fail(f"still running after {timeout} s: {process.args}")
    return Run(process.returncode, stdout, stderr, time.monotonic() - started)


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def run(args: Sequence[str], env: Mapping[str, str], timeout: float = FAST_TIMEOUT_S) -> Run:
    started = time.monotonic()
    return finish(start(args, env), started, timeout)


@pytest.fixture(scope="module")
def dead_port() -> Iterator[int]:
    """A local TCP port that refuses connections for as long as the module runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening
        yield sock.getsockname()[1]


@pytest.fixture
def env(tmp_path: Path, dead_port: int) -> dict[str, str]:
    """Valid settings whose Pub/Sub emulator is dead (only commands that connect notice)."""
    return environment(tmp_path, PUBSUB_EMULATOR_HOST=f"127.0.0.1:{dead_port}")


def assert_one_clear_line(result: Run, *words: str) -> None:
    assert len(result.stderr_lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


# --------------------------------------------------------------------------------------------
# Help
# --------------------------------------------------------------------------------------------


def test_help_lists_every_command_and_exits_0(env: dict[str, str]) -> None:
    result = run(["--help"], env)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: election")
    for command in SUBCOMMANDS:
        assert command in result.stdout
    assert "Pub/Sub" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_each_command_exits_0_with_its_usage(env: dict[str, str], command: str) -> None:
    result = run([command, "--help"], env)

    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: election {command}")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("command", "explains"),
    [
        pytest.param("provision", "subscriptions (with their filters) and the PostgreSQL tables"),
        pytest.param("bridge", "check each message against its subscription's filter"),
        pytest.param("worker", "Run Dramatiq worker processes for one actor's queue"),
        pytest.param("machine", "Send random votes and print each vote's UUID and outcome"),
        pytest.param("tally", "number of recorded votes per choice"),
        pytest.param("web", "the object of `election results E --json`"),
    ],
)
def test_help_of_each_command_explains_what_it_does(
    env: dict[str, str], command: str, explains: str
) -> None:
    result = run([command, "--help"], env)

    assert result.returncode == 0
    assert explains in " ".join(result.stdout.split())


def test_web_help_names_its_port_and_host_and_a_malformed_port_is_exit_3(
    env: dict[str, str],
) -> None:
    result = run(["web", "--help"], env)
    assert result.returncode == 0
    assert "--port" in result.stdout and "$PORT" in result.stdout and "--host" in result.stdout

    refused = run(["web"], {**env, "PORT": "eighty"})
    assert refused.returncode == RET_CONFIG
    assert_one_clear_line(refused, "PORT")


def test_top_level_help_says_what_provision_does(env: dict[str, str]) -> None:
    result = run(["--help"], env)

    assert "create the topic, subscriptions and tables" in result.stdout


def test_machine_help_names_all_three_outcomes_and_its_options(env: dict[str, str]) -> None:
    text = " ".join(run(["machine", "--help"], env).stdout.split())

    for words in ("A vote was recorded successfully", "Already voted", "Time out"):
        assert words in text
    for option in ("--election-id", "--machine-id", "--votes", "--timeout", "--seed"):
        assert option in text


# --------------------------------------------------------------------------------------------
# Usage errors (exit 2)
# --------------------------------------------------------------------------------------------


def test_no_command_prints_the_usage_and_exits_2(env: dict[str, str]) -> None:
    result = run([], env)

    assert result.returncode == RET_USAGE
    assert "usage: election" in result.stdout


def test_an_unknown_command_exits_2(env: dict[str, str]) -> None:
    result = run(["vote-twice"], env)

    assert result.returncode == RET_USAGE
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["machine", "--votes", "0"],
        ["machine", "--votes", "many"],
        ["machine", "--timeout", "0"],
        ["machine", "--interval", "-1"],
        ["worker", "counter"],
        ["tally"],
    ],
    ids=" ".join,
)
def test_a_bad_option_exits_2_without_a_traceback(env: dict[str, str], args: list[str]) -> None:
    result = run(args, env)

    assert result.returncode == RET_USAGE
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr


def test_machine_without_ids_and_no_terminal_exits_2_asking_for_the_election_id(
    env: dict[str, str],
) -> None:
    result = run(["machine"], env)

    assert result.returncode == RET_USAGE
    assert_one_clear_line(result, "election ID is required", "--election-id")


def test_machine_without_a_machine_id_and_no_terminal_exits_2_asking_for_it(
    env: dict[str, str],
) -> None:
    result = run(["machine", "--election-id", "1"], env)

    assert result.returncode == RET_USAGE
    assert_one_clear_line(result, "machine ID is required", "--machine-id")


@pytest.mark.parametrize("machine_id", ["booth 7", "a/b", "x" * 65, "caf\u00e9"])
def test_an_invalid_machine_id_exits_2_naming_it(env: dict[str, str], machine_id: str) -> None:
    result = run(["machine", "--election-id", "1", "--machine-id", machine_id], env)

    assert result.returncode == RET_USAGE
    assert_one_clear_line(result, "invalid machine ID", repr(machine_id))


def test_an_invalid_election_id_exits_2_naming_it(env: dict[str, str]) -> None:
    result = run(["machine", "--election-id", "e 1", "--machine-id", "7"], env)

    assert result.returncode == RET_USAGE
    assert_one_clear_line(result, "invalid election ID", "'e 1'")


# --------------------------------------------------------------------------------------------
# Configuration errors (exit 3)
# --------------------------------------------------------------------------------------------

COMMANDS_THAT_READ_SETTINGS = [
    ["tally", "--election-id", "1"],
    ["machine", "--election-id", "1", "--machine-id", "7", "--votes", "1"],
    ["provision"],
]


@pytest.mark.parametrize("args", COMMANDS_THAT_READ_SETTINGS, ids=lambda args: args[0])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ELECTION_CHOICES", "abc"),
        ("REDIS_URL", "http://x"),
        ("DATABASE_URL", "mysql://127.0.0.1/votes"),
        ("PUBSUB_EMULATOR_HOST", "nowhere"),
        ("LOG_LEVEL", "loud"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_the_variable_and_exit_3(
    env: dict[str, str], args: list[str], name: str, value: str
) -> None:
    result = run(args, {**env, name: value})

    assert result.returncode == RET_CONFIG
    assert_one_clear_line(result, name)
    assert result.stderr.startswith("election: configuration error: ")
    assert result.stdout == ""


def test_a_missing_project_outside_the_emulator_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    result = run(["tally", "--election-id", "1"], environment(tmp_path))

    assert result.returncode == RET_CONFIG
    assert_one_clear_line(result, "GOOGLE_CLOUD_PROJECT")


# --------------------------------------------------------------------------------------------
# Services that cannot be reached (exit 4)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dead_emulator_runs(
    tmp_path_factory: pytest.TempPathFactory, dead_port: int
) -> Iterator[dict[str, tuple[subprocess.Popen[str], float]]]:
    """``provision`` and ``machine`` against a dead emulator, started together so that their
    waits overlap; each test collects its own."""
    home = tmp_path_factory.mktemp("home")
    env = environment(
        home,
        PUBSUB_EMULATOR_HOST=f"127.0.0.1:{dead_port}",
        DATABASE_URL=f"postgresql://127.0.0.1:{dead_port}/postgres",
        REDIS_URL=f"redis://127.0.0.1:{dead_port}/0",
        LOG_SIGNING_KEY=KEYS["LOG_SIGNING_KEY"],
    )
    commands = {
        "provision": ["provision"],
        "machine": ["machine", "--election-id", "1", "--machine-id", "7", "--votes", "1"],
    }
    runs = {name: (start(args, env), time.monotonic()) for name, args in commands.items()}
    yield runs
    for process, _ in runs.values():
        stop(process)


@pytest.mark.parametrize("command", ["provision", "machine"])
def test_a_command_against_a_dead_emulator_exits_4_with_one_line_in_about_30_s(
    dead_emulator_runs: dict[str, tuple[subprocess.Popen[str], float]], command: str
) -> None:
    process, started = dead_emulator_runs[command]

    result = finish(process, started, UNAVAILABLE_TIMEOUT_S)

    assert result.returncode == RET_UNAVAILABLE
    assert_one_clear_line(result, "Pub/Sub")
    assert result.elapsed < UNAVAILABLE_WITHIN_S


def test_tally_against_a_dead_database_exits_4_naming_postgresql(
    env: dict[str, str], dead_port: int
) -> None:
    result = run(
        ["tally", "--election-id", "1"],
        {**env, "DATABASE_URL": f"postgresql://127.0.0.1:{dead_port}/postgres"},
    )

    assert result.returncode == RET_UNAVAILABLE
    assert result.stderr.startswith("election: cannot read the tally from PostgreSQL")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_tally_against_a_dead_database_says_so_in_one_line(
    env: dict[str, str], dead_port: int
) -> None:
    result = run(
        ["tally", "--election-id", "1"],
        {**env, "DATABASE_URL": f"postgresql://127.0.0.1:{dead_port}/postgres"},
    )

    assert result.returncode == RET_UNAVAILABLE
    assert_one_clear_line(result, "PostgreSQL")


KEYS = {
    "VOTER_KEY": "v" * 32,
    "RECORD_SIGNING_KEYS": "k1=" + "s" * 32,
    "LOG_SIGNING_KEY": new_private_key(),
}


def test_a_worker_without_its_secrets_exits_3_naming_the_variable(env: dict[str, str]) -> None:
    result = run(["worker", "logger"], {**env, **KEYS, "VOTER_KEY": ""})

    assert result.returncode == RET_CONFIG
    assert_one_clear_line(result, "VOTER_KEY")


@pytest.mark.parametrize("command", [["worker", "recorder"], ["bridge"], ["checkpointer"]])
def test_a_service_without_the_log_key_exits_3_naming_it(
    env: dict[str, str], command: list[str]
) -> None:
    result = run(command, {**env, **KEYS, "LOG_SIGNING_KEY": ""})

    assert result.returncode == RET_CONFIG
    assert_one_clear_line(result, "LOG_SIGNING_KEY", "election keys")


def test_a_malformed_log_key_is_refused_naming_what_is_wrong(env: dict[str, str]) -> None:
    public = run(["log-key"], {**env, **KEYS}).stdout.splitlines()[-1]
    result = run(["checkpointer"], {**env, **KEYS, "LOG_SIGNING_KEY": public})

    assert result.returncode == RET_CONFIG
    assert_one_clear_line(result, "LOG_SIGNING_KEY", "this is a public key, not a private key")


def test_a_recorder_worker_that_cannot_reach_postgresql_exits_4_in_one_line(
    env: dict[str, str], dead_port: int
) -> None:
    result = run(
        ["worker", "recorder"],
        {**env, **KEYS, "DATABASE_URL": f"postgresql://127.0.0.1:{dead_port}/postgres"},
    )

    assert result.returncode == RET_UNAVAILABLE
    assert_one_clear_line(result, "PostgreSQL")


def test_a_worker_that_cannot_reach_its_broker_exits_4_in_one_line(
    env: dict[str, str], dead_port: int
) -> None:
    result = run(
        ["worker", "logger"],
        {**env, **KEYS, "DRAMATIQ_BROKER_URL": f"redis://127.0.0.1:{dead_port}/0"},
    )

    assert result.returncode == RET_UNAVAILABLE
    assert_one_clear_line(result, "Dramatiq broker")


def test_the_bridge_against_a_dead_emulator_exits_4_in_one_line(env: dict[str, str]) -> None:
    result = run(["bridge"], {**env, **KEYS}, timeout=60)

    assert result.returncode == RET_UNAVAILABLE
    assert_one_clear_line(result, "Pub/Sub")


def test_a_logger_against_a_redis_that_could_lose_claims_exits_3_naming_the_setting(
    env: dict[str, str],
) -> None:
    # The machine's own Redis keeps nothing on disk (appendonly no).
    result = run(["worker", "logger"], {**env, **KEYS, "REDIS_URL": "redis://127.0.0.1:6379/0"})

    assert result.returncode == RET_CONFIG
    assert_one_clear_line(result, "appendonly no, needs yes")


def test_keys_print_a_voter_key_only_when_asked(env: dict[str, str]) -> None:
    plain = run(["keys"], env)
    asked = run(["keys", "--voter-key"], env)

    assert plain.returncode == asked.returncode == 0
    assert "VOTER_KEY" not in plain.stdout and "RECORD_SIGNING_KEYS=" in plain.stdout
    assert "VOTER_KEY=" in asked.stdout and "never change it" in asked.stdout


def test_log_key_prints_the_public_half_of_the_keys_log_key_on_its_last_line(
    env: dict[str, str],
) -> None:
    made = run(["keys"], env).stdout
    line = next(line for line in made.splitlines() if line.startswith("LOG_SIGNING_KEY="))
    private = line.split("=", 1)[1]
    printed = run(["log-key"], {**env, "LOG_SIGNING_KEY": private})

    assert printed.returncode == 0
    assert printed.stdout.splitlines()[-1] == public_key_text(load_private_key(private))
    missing = run(["log-key"], env)
    assert missing.returncode == RET_CONFIG
    assert_one_clear_line(missing, "LOG_PUBLIC_KEY")


@pytest.mark.parametrize("election_id", ["7.0", "-1", "1e3"])
def test_an_election_id_that_is_a_number_in_another_form_is_refused(
    env: dict[str, str], election_id: str
) -> None:
    result = run(["tally", "--election-id", election_id], env)

    assert result.returncode == RET_USAGE
    assert "not a whole number in canonical form" in result.stderr


# --------------------------------------------------------------------------------------------
# The bench extra (psutil, honcho) is optional
# --------------------------------------------------------------------------------------------

#: Runs ``election`` with the given modules made unimportable, as without the bench extra.
WITHOUT = (
    "import sys; sys.modules.update(dict.fromkeys(sys.argv[1].split(','))); "
    "from election.cli import main; sys.exit(main(sys.argv[2:]))"
)
BENCH_EXTRA = ("psutil", "honcho")


def run_without(modules: Sequence[str], args: Sequence[str], env: Mapping[str, str]) -> Run:
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", WITHOUT, ",".join(modules), *args],
        cwd=REPO,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=FAST_TIMEOUT_S,
    )
    return Run(process.returncode, process.stdout, process.stderr, time.monotonic() - started)


@pytest.mark.parametrize(
    ("missing", "args"),
    [
        (BENCH_EXTRA, ["bench"]),
        (("psutil",), ["bench", "--storage"]),
        (("bench",), ["bench-relay", "--hop", "1"]),
    ],
    ids=lambda value: ",".join(value) if isinstance(value, tuple) else " ".join(value),
)
def test_bench_without_its_extra_says_so_in_one_line_and_exits_1(
    env: dict[str, str], missing: tuple[str, ...], args: list[str]
) -> None:
    result = run_without(missing, args, env)

    assert result.returncode == 1
    assert_one_clear_line(result, "needs the bench extra", "pip install 'election[bench]'")
    assert result.stderr.startswith("election bench: ")
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["--help"], ["keys"], ["machine", "--help"]], ids=" ".join)
def test_other_commands_work_without_the_bench_extra(env: dict[str, str], args: list[str]) -> None:
    result = run_without(BENCH_EXTRA, args, env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
