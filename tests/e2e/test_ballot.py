"""The machine shows the ballot, end to end: the emulator, the bridge, the logger's worker
(its ballot desk) and PostgreSQL are real; the machine is the ``election`` CLI.

A declared election is made directly in the registry (the manifest of
``examples/election-4201.toml``); the machine asks for its ballot over the topic, prints
its title and names, and names each vote's choice. A draft or closed election stops the
machine; an undeclared one is voted on as today."""

from __future__ import annotations

from pathlib import Path

import pytest

from election.domain.manifest import load_definition
from election.storage.elections import ElectionRegistry
from tests.support.processes import run_election
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHOICES = ("North", "South", "East")
RECORDED = "A vote was recorded successfully"
ALREADY = "Already voted"


def declare(system: ElectionSystem, manifest: bytes, folder: Path) -> ElectionRegistry:
    """Create the election of ``manifest`` (its roll read from ``folder``) in ``system``."""
    registry = ElectionRegistry(system.database)
    definition = load_definition(manifest, lambda name: (folder / name).read_text(), system.secrets)
    with system.database.connection_context():
        registry.create(definition)
    return registry


def vote_lines(stdout: str) -> list[list[str]]:
    """The per-vote lines, split in their three columns (UUID, choice, outcome); a
    recorded vote's receipt (a fourth column) is left out."""
    split = [line.split("  ") for line in stdout.splitlines()]
    return [parts[:3] for parts in split if len(parts) in (3, 4) and parts[1].startswith("choice ")]


def machine_args(election: str, machine: str, *extra: str) -> list[str]:
    return [
        "machine",
        "--election-id",
        election,
        "--machine-id",
        machine,
        "--interval",
        "0",
        *extra,
    ]


def test_a_machine_shows_the_ballot_of_an_open_election_and_names_each_choice(
    system: ElectionSystem,
) -> None:
    registry = declare(system, (EXAMPLES / "election-4201.toml").read_bytes(), EXAMPLES)
    with system.database.connection_context():
        registry.open("4201")

    run = system.machine(*machine_args("4201", "b1", "--votes", "6", "--voters", "3")[1:])

    lines = run.stdout.splitlines()
    assert lines[0] == "election 4201: Water board 2027 | choices: 0 North, 1 South, 2 East"
    assert lines[1] == "machine b1 voting in election 4201 (Ctrl-C to stop)"
    assert len(run.votes) == 6, run.stdout
    for (_, label, outcome), (_, choice, _) in zip(vote_lines(run.stdout), run.votes, strict=True):
        assert choice in (0, 1, 2)
        assert label == f"choice {choice} ({CHOICES[choice]})"
        # Exactly one outcome; with the roll enforced, voters 1-3 are refused.
        assert outcome in (RECORDED, ALREADY) or outcome.startswith("Rejected: "), outcome


@pytest.mark.parametrize(("closed", "said"), [(False, "not open yet"), (True, "closed")])
def test_a_machine_stops_on_a_draft_or_closed_election_with_one_line_and_exit_1(
    system: ElectionSystem, tmp_path: Path, closed: bool, said: str
) -> None:
    manifest = b'id = "4202"\ntitle = "Draft"\nchoices = ["Yes", "No"]\n'
    registry = declare(system, manifest, tmp_path)
    if closed:
        with system.database.connection_context():
            registry.close("4202")

    done = run_election(machine_args("4202", "b2", "--votes", "3"), system.env)

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"election machine: election 4202 is {said}"
    assert "choice" not in done.stdout


def test_a_machine_votes_in_an_undeclared_election_as_today(system: ElectionSystem) -> None:
    run = system.machine(*machine_args("11", "b3", "--votes", "4", "--voters", "2")[1:])

    assert run.stdout.splitlines()[0] == "machine b3 voting in election 11 (Ctrl-C to stop)"
    assert len(run.votes) == 4
    assert all(said in (RECORDED, ALREADY) for _, _, said in run.votes), run.stdout
    labels = [label for _, label, _ in vote_lines(run.stdout)]
    assert labels == [f"choice {choice}" for _, choice, _ in run.votes]  # no names
