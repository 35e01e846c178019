"""The voting logger's election book and its feed of ``election changed`` events, on a
fake source: forged and stale events change nothing, a new one is read from the source,
and a vote for an unknown or draft election reads again at most every ``refresh_s``."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from actors import election_feed as feed_module
from actors.election_book import ElectionBook
from actors.election_feed import ElectionFeed
from config import load_settings
from election.domain.lifecycle import State
from election.domain.signing import Signer
from election.ops.announce import changed_event
from election.pubsub.pulled import PulledMessage
from election.storage.elections import ElectionRecord

SETTINGS = load_settings(
    {
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:1",
        "ELECTION_NAMESPACE": "books",
        "RECORD_SIGNING_KEYS": "k1=" + "s" * 16,
    }
)


def record(election_id: str = "42", state: State = State.DRAFT, seq: int = 1, **kw: Any) -> Any:
    fields: dict[str, Any] = {
        "election_id": election_id,
        "title": "T",
        "choices": ("a", "b", "c"),
        "manifest_sha256": "m",
        "definition": "d",
        "roll_size": None,
        "opens_at": None,
        "closes_at": None,
        "stored_state": state,
        "seq": seq,
        "changed_at_ms": 0,
    }
    return ElectionRecord(**{**fields, **kw})


class Source:
    """Elections as PostgreSQL would have them; counts the reads."""

    def __init__(self, *records: ElectionRecord) -> None:
        self.records = {r.election_id: r for r in records}
        self.rolls: dict[str, frozenset[bytes]] = {}
        self.reads = 0

    def all(self) -> list[ElectionRecord]:
        self.reads += 1
        return list(self.records.values())

    def get(self, election_id: str) -> ElectionRecord | None:
        self.reads += 1
        return self.records.get(election_id)

    def roll(self, election_id: str) -> frozenset[bytes] | None:
        return self.rolls.get(election_id)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def book_on(source: Source, clock: Clock | None = None) -> ElectionBook:
    book = ElectionBook(source, clock=clock or Clock(), refresh_s=2.0)
    book.load()
    return book


def feed_on(book: ElectionBook) -> ElectionFeed:
    return ElectionFeed(SETTINGS, book, client=object())  # type: ignore[arg-type]


def event(rec: ElectionRecord, *, settings: Any = SETTINGS) -> PulledMessage:
    message = changed_event(settings, rec)
    return PulledMessage(message.data(), message.attributes, "m1", "a1")


def test_a_loaded_book_answers_from_memory_and_knows_undeclared_elections() -> None:
    source = Source(record(state=State.OPEN))
    book = book_on(source)
    reads = source.reads
    view = book.view("42")
    assert view is not None and view.state is State.OPEN and view.choices == 3
    assert book.view("43") is None  # undeclared; the refresh is not due yet
    assert source.reads == reads


def test_a_new_event_makes_the_book_read_the_election_again() -> None:
    source = Source(record())
    book = book_on(source)
    source.records["42"] = record(state=State.OPEN, seq=2)
    message = event(source.records["42"])
    feed_on(book).handle([message])
    assert message.acked is True
    view = book.view("42")
    assert view is not None and view.state is State.OPEN


def test_a_stale_event_is_ignored_without_a_read() -> None:
    source = Source(record(state=State.OPEN, seq=3))
    book = book_on(source)
    reads = source.reads
    message = event(record(state=State.DRAFT, seq=2))
    feed_on(book).handle([message])
    assert message.acked is True and source.reads == reads
    assert book.seq("42") == 3


def test_forged_unsigned_and_other_namespace_events_are_dropped_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture = LogCapture()
    monkeypatch.setattr(feed_module, "log", structlog.wrap_logger(None, processors=[capture]))
    source = Source(record())
    book = book_on(source)
    source.records["42"] = record(state=State.OPEN, seq=2)  # what a forger hopes to apply
    genuine = event(source.records["42"])
    unsigned = PulledMessage(genuine.data, {"function": "election changed"}, "m2", "a2")
    wrong_key = dataclasses.replace(SETTINGS, signing_keys={"k1": b"x" * 16})
    forged = event(source.records["42"], settings=wrong_key)
    elsewhere = event(source.records["42"], settings=dataclasses.replace(SETTINGS, namespace="n2"))
    altered = PulledMessage(
        json.dumps({**json.loads(genuine.data), "seq": 9}).encode(), genuine.attributes, "m", "a"
    )
    reads = source.reads
    feed_on(book).handle([unsigned, forged, elsewhere, altered])
    assert all(m.acked is True for m in (unsigned, forged, elsewhere, altered))
    assert source.reads == reads
    view = book.view("42")
    assert view is not None and view.state is State.DRAFT
    events = [entry["event"] for entry in capture.entries]
    assert events == ["election_event.forged"] * 4


def test_an_unknown_or_draft_election_reads_again_at_most_every_refresh_period() -> None:
    clock = Clock()
    source = Source(record("42"))
    book = book_on(source, clock)
    source.records["43"] = record("43", state=State.OPEN, seq=1)
    source.records["42"] = record("42", state=State.OPEN, seq=2)
    assert book.view("43") is None  # missed its event; not due yet
    clock.now += 2.0
    view = book.view("43")
    assert view is not None and view.state is State.OPEN
    opened = book.view("42")
    assert opened is not None and opened.state is State.OPEN


def test_the_clock_closes_an_election_at_its_closes_at_and_the_barrier_is_written() -> None:
    clock = Clock(datetime(2027, 3, 1, 19, 59, tzinfo=UTC).timestamp())
    closes = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    barriers: list[tuple[str, int]] = []
    source = Source(record(state=State.OPEN, closes_at=closes))
    book = ElectionBook(source, clock=clock, barrier=lambda e, ms: barriers.append((e, ms)))
    book.load()
    assert barriers == [("42", int(closes.timestamp() * 1000))]
    view = book.view("42")
    assert view is not None and view.state is State.OPEN
    clock.now = closes.timestamp()
    view = book.view("42")
    assert view is not None and view.state is State.CLOSED


def test_a_signed_event_of_an_election_postgresql_does_not_have_changes_nothing() -> None:
    source = Source()
    book = book_on(source)
    signer = Signer("k1", b"s" * 16, "books", 60)
    body = json.dumps({"election_ID": "9", "state": "open", "definition": "d", "seq": 1}).encode()
    attributes = signer.attributes(body, {"function": "election changed"})
    message = PulledMessage(body, attributes, "m", "a")
    feed_on(book).handle([message])
    assert message.acked is True and book.view("9") is None
