"""How the bridge cuts a pull into Dramatiq messages, and when it acks or nacks them."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest
import structlog
from dramatiq.brokers.stub import StubBroker
from structlog.testing import LogCapture

from bridge import router as router_module
from bridge.router import (
    FIRST_BATCH,
    MAX_ATTRIBUTES_BYTES,
    MAX_BATCH,
    MAX_BATCH_BYTES,
    Route,
    batch_bounds,
    wire_bytes,
)
from election.domain.protocol import OutgoingMessage
from election.domain.routes import ROUTES
from election.domain.votes import MAX_BODY_BYTES
from election.pubsub.subscriber import PulledMessage


def sizes(count: int) -> list[int]:
    """The batch sizes a pull of ``count`` matching messages goes out in."""
    return [b.stop - b.start for b in batch_bounds(count)]


def test_a_pull_goes_out_as_a_small_first_batch_then_large_ones() -> None:
    assert sizes(250) == [FIRST_BATCH, MAX_BATCH, MAX_BATCH, 250 - FIRST_BATCH - 2 * MAX_BATCH]


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, []), (1, [1]), (FIRST_BATCH, [FIRST_BATCH]), (FIRST_BATCH + 1, [FIRST_BATCH, 1])],
)
def test_a_small_pull_takes_as_few_batches_as_it_needs(count: int, expected: list[int]) -> None:
    assert sizes(count) == expected


def test_every_message_of_a_pull_is_in_exactly_one_batch_in_order() -> None:
    for count in range(0, 3 * MAX_BATCH):
        covered = [i for b in batch_bounds(count) for i in range(count)[b]]
        assert covered == list(range(count))
        assert all(0 < b.stop - b.start <= MAX_BATCH for b in batch_bounds(count))


@pytest.mark.parametrize(("first", "most"), [(0, MAX_BATCH), (FIRST_BATCH, 0), (-1, -1)])
def test_batch_sizes_below_one_are_refused(first: int, most: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        batch_bounds(10, first, most)


def byte_sizes(weights: list[int], max_bytes: int, first: int = 3, most: int = 4) -> list[int]:
    """The batch sizes of messages of these weights, under a byte cap."""
    bounds = batch_bounds(len(weights), first, most, sizes=weights, max_bytes=max_bytes)
    return [b.stop - b.start for b in bounds]


def test_a_batch_closes_before_the_message_that_would_take_it_over_its_bytes() -> None:
    assert byte_sizes([40, 40, 40, 40, 40], max_bytes=100, first=10, most=10) == [2, 2, 1]


def test_a_batch_may_fill_its_bytes_exactly() -> None:
    assert byte_sizes([50, 50, 50, 50], max_bytes=100, first=10, most=10) == [2, 2]


def test_a_message_larger_than_the_byte_cap_goes_alone() -> None:
    assert byte_sizes([10, 500, 10], max_bytes=100, first=10, most=10) == [1, 1, 1]


def test_counts_still_bound_batches_of_light_messages() -> None:
    assert byte_sizes([1] * 12, max_bytes=100) == [3, 4, 4, 1]


def test_every_message_is_in_one_batch_in_order_and_none_is_over_either_bound() -> None:
    weights = [(n * 37) % 120 + 1 for n in range(300)]
    bounds = batch_bounds(len(weights), 25, 100, sizes=weights, max_bytes=500)
    covered = [i for b in bounds for i in range(len(weights))[b]]
    assert covered == list(range(len(weights)))
    assert bounds[0].stop - bounds[0].start <= 25
    assert all(0 < b.stop - b.start <= 100 for b in bounds)
    assert all(sum(weights[b]) <= 500 for b in bounds)


def test_sizes_must_be_given_for_every_message() -> None:
    with pytest.raises(ValueError, match="2 sizes for 3 messages"):
        batch_bounds(3, sizes=[1, 2])


def test_a_byte_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        batch_bounds(3, sizes=[1, 1, 1], max_bytes=0)


def test_a_message_weighs_its_body_as_base64_and_its_attributes() -> None:
    assert wire_bytes(0, 7) == 7
    assert wire_bytes(3, 0) == 4
    assert wire_bytes(4, 10) == 18


class Answers:
    """Stands in for the bridge's answer publisher; fails when told to."""

    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.sent: list[OutgoingMessage] = []

    def __call__(self, message: OutgoingMessage) -> None:
        if self.failing:
            raise ConnectionError("Pub/Sub gone")
        self.sent.append(message)


class RecordingBroker:
    """Stands in for a Dramatiq broker: records each message enqueued, fails the ones
    asked to (by index)."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.failing = failing
        self.enqueued: list[dramatiq.Message[Any]] = []

    def enqueue(self, message: dramatiq.Message[Any]) -> dramatiq.Message[Any]:
        index = len(self.enqueued)
        self.enqueued.append(message)
        if index in self.failing:
            raise ConnectionError("broker gone")
        return message

    @property
    def sent(self) -> list[list[Any]]:
        """The batch each enqueued message carries."""
        return [message.args[0] for message in self.enqueued]


def route(broker: RecordingBroker, answer: Answers | None = None) -> Route:
    return Route("logger", "ns.logger", "dedup_votes", broker, answer)  # type: ignore[arg-type]


def pulled(count: int, body: bytes = b"vote") -> list[PulledMessage]:
    """``count`` pulled ``submit vote`` messages, none settled yet."""
    return [
        PulledMessage(body + f" {i}".encode(), {"function": "submit vote"}, f"m{i}", f"a{i}")
        for i in range(count)
    ]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> LogCapture:
    capture = LogCapture()
    monkeypatch.setattr(router_module, "log", structlog.wrap_logger(None, processors=[capture]))
    return capture


def test_messages_are_acked_once_their_batches_are_enqueued() -> None:
    broker = RecordingBroker()
    messages = pulled(FIRST_BATCH + MAX_BATCH + 1)

    route(broker).forward_batch(messages)

    assert [len(batch) for batch in broker.sent] == [FIRST_BATCH, MAX_BATCH, 1]
    assert [args[2] for batch in broker.sent for args in batch] == [m.message_id for m in messages]
    assert all(m.acked is True for m in messages)


def test_a_failed_enqueue_nacks_only_its_own_batch_and_the_rest_go_on() -> None:
    broker = RecordingBroker(failing=frozenset({1}))
    messages = pulled(FIRST_BATCH + MAX_BATCH + 1)

    route(broker).forward_batch(messages)

    assert len(broker.sent) == 3
    assert all(m.acked is True for m in messages[:FIRST_BATCH])
    assert all(m.acked is False for m in messages[FIRST_BATCH : FIRST_BATCH + MAX_BATCH])
    assert messages[-1].acked is True


def test_a_batch_a_real_broker_refuses_is_nacked_whole_with_one_line(captured: LogCapture) -> None:
    messages = pulled(FIRST_BATCH)  # one batch
    broker = StubBroker()  # its queue never declared: the enqueue fails

    Route.of(ROUTES[0], "ns", broker).forward_batch(messages)

    assert all(m.acked is False for m in messages)
    (line,) = [e for e in captured.entries if e["event"] == "bridge.enqueue_failed"]
    assert (line["subscription"], line["messages"]) == (ROUTES[0].subscription("ns"), FIRST_BATCH)
    assert "QueueNotFound" in line["error"]


def oversized_messages() -> list[PulledMessage]:
    """A body one byte over the limit, and attributes over theirs."""
    return [
        PulledMessage(b"{" + b"x" * MAX_BODY_BYTES, {"function": "submit vote"}, "big", "a-big"),
        PulledMessage(
            b"{}",
            {"function": "submit vote", "pad": "p" * MAX_ATTRIBUTES_BYTES},
            "wide",
            "a-wide",
        ),
    ]


def test_oversized_messages_are_acked_and_dropped_with_one_line_each_before_any_enqueue(
    captured: LogCapture,
) -> None:
    fine = pulled(3)
    messages = [fine[0], *oversized_messages(), *fine[1:]]
    broker = RecordingBroker()
    route(broker).forward_batch(messages)
    sent = [args[2] for batch in broker.sent for args in batch]

    assert sent == ["m0", "m1", "m2"]
    assert all(m.acked is True for m in messages)
    lines = [e for e in captured.entries if e["event"] == "message.oversized"]
    assert [e["message_id"] for e in lines] == ["big", "wide"]
    assert lines[0]["body_bytes"] == MAX_BODY_BYTES + 1
    assert lines[1]["attributes_bytes"] > MAX_ATTRIBUTES_BYTES
    # Sizes only: never the body, nor the attributes' values.
    assert all("x" * 100 not in repr(e) and "p" * 100 not in repr(e) for e in captured.entries)


def test_a_message_at_the_limits_is_forwarded() -> None:
    broker = RecordingBroker()
    exact = PulledMessage(b"x" * MAX_BODY_BYTES, {"f": "v" * (MAX_ATTRIBUTES_BYTES - 1)}, "m", "a")

    route(broker).forward_batch([exact])

    assert [[args[2] for args in batch] for batch in broker.sent] == [["m"]]


def test_a_pull_of_heavy_messages_is_split_to_stay_under_the_byte_cap() -> None:
    broker = RecordingBroker()
    # 100 bodies at the limit weigh more than MAX_BATCH_BYTES once base64-encoded.
    messages = pulled(FIRST_BATCH + MAX_BATCH, body=b"v" * (MAX_BODY_BYTES - 10))

    route(broker).forward_batch(messages)

    assert [args[2] for batch in broker.sent for args in batch] == [m.message_id for m in messages]
    assert len(broker.sent) > len(batch_bounds(len(messages)))
    for batch in broker.sent:
        weight = sum(
            len(data) + sum(map(len, [*attrs, *attrs.values()])) for data, attrs, _ in batch
        )
        assert weight <= MAX_BATCH_BYTES
    assert all(m.acked is True for m in messages)


def huge_vote(attributes: dict[str, str]) -> PulledMessage:
    return PulledMessage(b"x" * (MAX_BODY_BYTES + 1), attributes, "huge", "a-huge")


def test_an_oversized_vote_from_an_identified_machine_is_answered_rejected() -> None:
    answers = Answers()
    message = huge_vote({"function": "submit vote", "machineID": "m-7"})

    route(RecordingBroker(), answers).forward_batch([message])

    (answer,) = answers.sent
    assert answer.attributes == {"function": "result", "machineID": "m-7"}
    assert answer.body == {
        "result": f"rejected: body too large ({MAX_BODY_BYTES + 1} bytes, limit {MAX_BODY_BYTES})",
        "UUID": "",
    }
    assert message.acked is True


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param({"function": "submit vote"}, id="no machine ID"),
        pytest.param({"function": "submit vote", "machineID": "not an id!"}, id="invalid ID"),
        pytest.param({"function": "record vote", "machineID": "m-7"}, id="not a vote"),
    ],
)
def test_an_oversized_message_whose_sender_cannot_be_told_is_only_dropped(
    attributes: dict[str, str],
) -> None:
    answers = Answers()
    message = huge_vote(attributes)

    route(RecordingBroker(), answers).forward_batch([message])

    assert answers.sent == []
    assert message.acked is True


def test_an_oversized_vote_whose_answer_fails_comes_back_to_be_answered_later() -> None:
    message = huge_vote({"function": "submit vote", "machineID": "m-7"})

    route(RecordingBroker(), Answers(failing=True)).forward_batch([message])

    assert message.acked is False
