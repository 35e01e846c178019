"""``make demo`` runs one election through its life: its manifest is valid, its roll leaves
some of the machines' voters off, and its steps are the ``election`` command lines of the
README, in order. No process is started: the demo's commands are recorded."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from election.domain.ed25519 import new_private_key
from election.domain.manifest import parse_manifest, parse_roll

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_election_has_three_named_choices_and_a_roll_some_voters_are_not_on(
    demo: Any, tmp_path: Path
) -> None:
    path = demo.write_manifest(tmp_path)
    manifest = parse_manifest(path.read_bytes())
    assert manifest.election_id == demo.ELECTION_ID and len(manifest.choices) == 3
    assert manifest.roll_path is not None
    roll = parse_roll((tmp_path / manifest.roll_path).read_text(), manifest.election_id)
    assert len(roll) == demo.ROLL == 10
    # More voters than the roll, and more votes than voters: refusals and repeats show.
    assert demo.VOTERS > demo.ROLL and demo.MACHINES * demo.VOTES > demo.VOTERS


def test_the_demo_creates_opens_votes_closes_and_prints_the_sealed_result(
    demo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> None:
        assert command[:3] == [sys.executable, "-m", "election"]
        steps.append(command[3:])

    def machine(
        machine_id: str, env: dict[str, str], election_id: str, receipts: Any = None
    ) -> int:
        steps.append(["machine", machine_id, election_id])
        if receipts is not None:
            receipts.append(f"RECEIPT-{machine_id}")
        return 1 if machine_id == "0" else 0

    monkeypatch.setattr(demo.subprocess, "run", run)
    monkeypatch.setattr(demo, "run_machine", machine)

    demo.run_election({"LOG_SIGNING_KEY": new_private_key()}, tmp_path)

    e = demo.ELECTION_ID
    voting = sorted(steps[3:6])
    assert steps[:3] == [
        ["create", str(tmp_path / "election.toml")],
        ["machine", "0", e],
        ["open", e],
    ]
    assert voting == [["machine", str(n), e] for n in (1, 2, 3)]
    assert steps[6:9] == [["close", e], ["machine", "0", e], ["results", e]]
    bulletin, proof = str(tmp_path / "bulletin"), str(tmp_path / "proof.json")
    receipt = steps[10][4]
    assert receipt.startswith("RECEIPT-") and steps[9:12] == [
        ["bulletin", e, "--out", bulletin],
        ["proof", "--election-id", e, "--receipt", receipt, "--bulletin", bulletin],
        ["verify", proof, "--public-key", steps[11][3]],
    ]
    assert steps[11][3].startswith("ed25519:")
    assert steps[12:] == [["audit", "--election-id", e]]
