"""The metrics' pure parts: bucket choice, outcome labels, and the stored totals grouped
into Prometheus families (cumulative buckets, skipped garbage)."""

from __future__ import annotations

import pytest

from election.domain import metrics, protocol
from election.domain.outcomes import Kind, outcome_of
from election.domain.protocol import OutgoingMessage


@pytest.mark.parametrize(
    ("seconds", "bound"),
    [(-1.0, "0.005"), (0.0, "0.005"), (0.005, "0.005"), (0.0051, "0.01"), (0.3, "0.5"),
     (60.0, "60.0"), (60.5, "+Inf")],
)  # fmt: skip
def test_a_latency_falls_in_the_smallest_bucket_whose_bound_is_not_below_it(
    seconds: float, bound: str
) -> None:
    assert metrics.bucket_bound(seconds) == bound


def test_answers_are_labelled_by_their_outcome_and_other_messages_are_not_answers() -> None:
    assert metrics.outcome_label(protocol.successful_message("1", "u", None)) == "recorded"
    already = protocol.result_message("1", "u", protocol.RESULT_ALREADY_VOTED)
    assert metrics.outcome_label(already) == "already_voted"
    assert metrics.outcome_label(protocol.rejection_message("1", "u", "bad")) == "rejected"
    record = OutgoingMessage({"UUID": "u"}, {protocol.FUNCTION: protocol.RECORD_VOTE})
    assert metrics.outcome_label(record) is None


def test_a_series_field_round_trips_whatever_its_label_values_hold() -> None:
    labels = metrics.labels(service='lo"g,ger', outcome="a=b}")
    assert metrics.parse_field(metrics.field("x_total", labels)) == ("x_total", labels)
    assert metrics.parse_field("not json") is None
    assert metrics.parse_field('{"a": 1}') is None


def test_stored_totals_become_counters_and_cumulative_histograms_and_garbage_is_skipped() -> None:
    bucket = metrics.LATENCY + metrics.BUCKET_SUFFIX
    service = metrics.labels(service="logger")
    stored = {
        metrics.field(metrics.ANSWERS, metrics.labels(outcome="recorded", service="logger")): "3",
        metrics.field(bucket, metrics.labels(le="0.01", service="logger")): "2",
        metrics.field(bucket, metrics.labels(le="+Inf", service="logger")): "1",
        metrics.field(metrics.LATENCY + metrics.SUM_SUFFIX, service): "70.5",
        "garbage": "1",
        metrics.field(metrics.ANSWERS, metrics.labels(outcome="x", service="y")): "nan",
    }
    found = metrics.families(stored)
    assert found.counters == {
        metrics.ANSWERS: [(metrics.labels(outcome="recorded", service="logger"), 3.0)]
    }
    (histogram,) = found.histograms[metrics.LATENCY]
    assert histogram.labels == service
    buckets = dict(histogram.buckets)
    assert buckets["0.005"] == 0 and buckets["0.01"] == 2 and buckets["60.0"] == 2
    assert buckets["+Inf"] == 3 == histogram.count
    assert histogram.total == 70.5


def test_live_instances_are_counted_by_kind() -> None:
    assert metrics.instance_counts(["web", "logger", "logger"]) == {"logger": 2, "web": 1}


@pytest.mark.parametrize(
    "result", [protocol.RESULT_SUCCESSFUL, protocol.RESULT_ALREADY_VOTED, "rejected: x", "odd", 7]
)
def test_an_answers_outcome_label_is_the_outcome_a_machine_shows(result: object) -> None:
    message = OutgoingMessage({"result": result, "UUID": "u"}, {protocol.FUNCTION: protocol.RESULT})
    expected = {"recorded": Kind.RECORDED, "already_voted": Kind.ALREADY_VOTED}
    label = metrics.outcome_label(message)
    assert label is not None
    assert expected.get(label, Kind.REJECTED) is outcome_of(message.body).kind
