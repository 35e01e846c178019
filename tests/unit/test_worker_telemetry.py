"""The worker middleware's counts, on Dramatiq's own message objects: each message an
actor took by result, and each answer's latency from the bridge's ``published_ms`` (or
the message's own timestamp when it has none); and the bridge's choice of that option."""

from __future__ import annotations

import time

import dramatiq
from dramatiq.broker import MessageProxy

from actors.telemetry import WorkerTelemetry
from bridge.router import published_ms
from config import load_settings
from election.domain import metrics, protocol
from election.pubsub.pulled import PulledMessage


def middleware() -> WorkerTelemetry:
    return WorkerTelemetry(load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}), "logger")


def proxy(**options: object) -> MessageProxy:
    message = dramatiq.Message(
        queue_name="q", actor_name="dedup_votes", args=(), kwargs={}, options=dict(options)
    )
    return MessageProxy(message)


def counted(telemetry: WorkerTelemetry) -> dict[metrics.Series, int]:
    counts, _ = telemetry.telemetry.take()
    return {series: n for key, n in counts.items() if (series := metrics.parse_field(key))}


def test_each_message_counts_as_processed_retried_or_gave_up() -> None:
    telemetry = middleware()
    done, again, last = proxy(), proxy(), proxy()
    telemetry.after_process_message(None, done)  # type: ignore[arg-type]
    telemetry.after_process_message(None, again, exception=ValueError("x"))  # type: ignore[arg-type]
    last.fail()  # what Retries does when none are left
    telemetry.after_process_message(None, last, exception=ValueError("x"))  # type: ignore[arg-type]
    name = metrics.ACTOR_MESSAGES
    assert counted(telemetry) == {
        (name, metrics.labels(actor="dedup_votes", result=result)): 1
        for result in (metrics.PROCESSED, metrics.RETRIED, metrics.GAVE_UP)
    }


def test_an_answers_latency_starts_at_the_batchs_pubsub_publish_else_at_the_message() -> None:
    answer = [protocol.result_message("1", "u", protocol.RESULT_ALREADY_VOTED)]
    for message, waited_s in (
        (proxy(**{metrics.PUBLISHED_OPTION: int((time.time() - 3) * 1000)}), 3.0),
        (proxy(), 0.0),
    ):
        telemetry = middleware()
        telemetry.before_process_message(None, message)  # type: ignore[arg-type]
        telemetry.answered("logger", [*answer, protocol.OutgoingMessage({}, {})])
        counts, sums = telemetry.telemetry.take()
        (latency,) = sums.values()
        assert waited_s <= latency < waited_s + 1
        answers = (metrics.ANSWERS, metrics.labels(outcome="already_voted", service="logger"))
        assert {metrics.parse_field(k): n for k, n in counts.items()}[answers] == 1


def test_the_bridge_gives_a_batch_its_earliest_publish_time() -> None:
    pulled = [
        PulledMessage(b"", {}, str(i), "ack", publish_time=stamp)
        for i, stamp in enumerate((20.5, 10.25, None))
    ]
    assert published_ms(pulled) == 10_250
    assert published_ms(pulled[2:]) is None
