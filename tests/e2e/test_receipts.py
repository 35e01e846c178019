"""End to end, all real: a machine's printed receipt is in a signed checkpoint within
seconds, and is proved and verified from the bulletin's files alone; what a receipt's
answer carries leaves a reference machine's view unchanged."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from election.domain import protocol
from election.domain.receipts import parse_receipt
from tests.conftest import REDIS_BROKER
from tests.support.processes import run_election, wait_for
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e

ELECTION = "1301"
#: The checkpointer passes every second; the issue's bound on the lag is 5 s.
LAG_BOUND_S = 5.0


def test_a_printed_receipt_is_proved_and_verified_from_the_bulletin_files_alone(
    make_system: object, tmp_path: Path
) -> None:
    roles = ("bridge", "logger", "recorder", "checkpointer")
    system: ElectionSystem = make_system(REDIS_BROKER, *roles)  # type: ignore[operator]
    run = system.machine(
        "--election-id", ELECTION, "--machine-id", "4", "--votes", "3", "--interval", "0"
    )
    answered = time.monotonic()
    recorded = run.with_outcome("A vote was recorded successfully")
    assert len(recorded) == 3 and set(run.receipts) == set(recorded)
    receipts = [run.receipts[uuid] for uuid in recorded]
    assert len(set(receipts)) == 3 and all(parse_receipt(r) == r for r in receipts)

    def proved() -> bool:
        args = ["proof", "--election-id", ELECTION, "--receipt", receipts[-1]]
        return run_election(args, system.env).returncode == 0

    wait_for(proved, LAG_BOUND_S + 10, "the last receipt to be in a checkpoint")
    print(f"\nreceipt in a checkpoint {time.monotonic() - answered:.1f} s after the run ended")

    bulletin = tmp_path / "bulletin"
    made = run_election(["bulletin", ELECTION, "--out", str(bulletin)], system.env)
    assert made.returncode == 0, made.stderr
    key = run_election(["log-key"], system.env).stdout.splitlines()[-1]
    assert (bulletin / "public-key.txt").read_text().strip() == key
    offline = {"PATH": system.env["PATH"], "HOME": str(tmp_path)}  # no database, no Pub/Sub
    for receipt in receipts:
        proof = run_election(
            ["proof", "--election-id", ELECTION, "--receipt", receipt, "--bulletin", str(bulletin)],
            offline,
        )
        assert proof.returncode == 0, proof.stderr
        path = tmp_path / f"{receipt}.json"
        path.write_text(proof.stdout)
        checked = run_election(["verify", str(path), "--public-key", key], offline)
        assert checked.returncode == 0 and checked.stdout.startswith("valid:"), checked.stdout
    # The latest checkpoint extends the first one unchanged, provably from the files too.
    first = json.loads((bulletin / "checkpoints.json").read_text())["checkpoints"][0]["size"]
    args = ["proof", "--election-id", ELECTION, "--consistency", str(first)]
    consistency = run_election([*args, "--bulletin", str(bulletin)], offline)
    assert consistency.returncode == 0, consistency.stderr
    (tmp_path / "consistency.json").write_text(consistency.stdout)
    extended = run_election(
        ["verify", str(tmp_path / "consistency.json"), "--public-key", key], offline
    )
    assert extended.returncode == 0 and "extends" in extended.stdout, extended.stdout
    doc = json.loads(path.read_text())
    doc["commitment"] = ("0" if doc["commitment"][0] != "0" else "1") + doc["commitment"][1:]
    path.write_text(json.dumps(doc))
    refused = run_election(["verify", str(path), "--public-key", key], offline)
    assert refused.returncode == 1 and "invalid:" in refused.stdout
    assert set(json.loads((bulletin / "leaves.json").read_text())) == {"election", "leaves"}


def test_a_successful_answer_carries_a_receipt_beside_what_a_reference_machine_reads(
    system: ElectionSystem,
) -> None:
    collector = system.collector("ref")
    try:
        uuid = system.submit("ref-1", 5, ELECTION, choice=1)
        (answer,) = collector.wait_for([uuid])[uuid]
    finally:
        collector.close()
    # What a reference machine reads: its machine ID and the result, as before.
    assert answer == ("ref-1", protocol.RESULT_SUCCESSFUL)
