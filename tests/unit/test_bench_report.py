"""The bench's table and JSON over several starts, from made-up phases: no servers."""

from __future__ import annotations

from bench.driver import LoadResult
from bench.report import as_json, phases_table
from bench.run import Phase
from bench.summary import FLOOR_KIND

SYSTEM = "system (logger=1 recorder=1)"


def phase(kind: str, start: int, starts: int, latency_s: float) -> Phase:
    load = LoadResult(
        machines=2,
        sent=4,
        answered=4,
        timed_out=0,
        seconds=1.0,
        latencies=[latency_s] * 4,
        answer_lags=[0.02] * 4,
    )
    return Phase(kind, load, {"emulator": 1.0, "bridge": 0.1}, start, starts)


def two_starts() -> list[Phase]:
    return [
        phase(FLOOR_KIND, 1, 2, 0.055),
        phase(SYSTEM, 1, 2, 0.105),
        phase(SYSTEM, 2, 2, 0.055),
        phase(FLOOR_KIND, 2, 2, 0.055),
    ]


def test_the_table_numbers_each_start_and_compares_best_and_median() -> None:
    table = "\n".join(phases_table(two_starts()))
    assert f"{SYSTEM} #2" in table and f"{FLOOR_KIND} #1" in table
    assert "Over 2 fresh starts of each" in table
    assert f"{SYSTEM} / floor, best of 2: throughput 1.00, p50 1.00" in table
    assert f"{SYSTEM} / floor, median of 2: throughput 1.00, p50 1.91" in table
    assert "35 ms + 20 ms" in table  # the 55 ms answers: 35 until published, 20 after


def test_one_start_has_no_summary_and_unlabelled_ratios() -> None:
    table = "\n".join(phases_table([phase(FLOOR_KIND, 1, 1, 0.05), phase(SYSTEM, 1, 1, 0.1)]))
    assert "fresh starts" not in table
    assert f"{SYSTEM} / floor: throughput 1.00, p50 2.00" in table
    assert not table.endswith("\n")


def test_the_json_holds_every_start_the_summary_and_the_comparisons() -> None:
    report = as_json(two_starts(), None)
    assert [(p["kind"], p["start"]) for p in report["phases"]] == [
        (FLOOR_KIND, 1),
        (SYSTEM, 1),
        (SYSTEM, 2),
        (FLOOR_KIND, 2),
    ]
    assert [(s["kind"], s["starts"]) for s in report["summary"]] == [
        (FLOOR_KIND, 2),
        (SYSTEM, 2),
    ]
    best, median = report["comparisons"]
    assert (best["ours"], best["base"], best["view"]) == (SYSTEM, FLOOR_KIND, "best")
    assert median["view"] == "median" and round(median["ratio"]["p50"], 2) == 1.91
    parts = report["phases"][0]["latency_parts_ms"]["p50"]
    assert round(parts["until_answer_published"]) == 35
    assert round(parts["answer_to_machine"]) == 20


def test_the_json_of_the_storage_mode_has_empty_load_sections() -> None:
    report = as_json([], None)
    assert report == {"phases": [], "summary": [], "comparisons": []}
