"""A paced FilteredSubscriber (for subscriptions of rare messages) starts its pulls at
least ``pace_s`` apart, from one thread, each asking for many messages. No server is
contacted: its calls are replaced by a script."""

from __future__ import annotations

import itertools
import time

from google.cloud import pubsub_v1

from election.domain.filters import parse_filter
from election.domain.routes import BALLOTS, ELECTIONS, LOGGER, QUIET_PACE_S, RECORDER
from election.pubsub.subscriber import BATCH, PACED_BATCH, THREADS, FilteredSubscriber
from tests.unit.test_subscriber_heal import Collected, ScriptedCalls, client, run_until

__all__ = ["client"]  # the fixture, imported for the tests below


def paced(
    client: pubsub_v1.SubscriberClient, calls: ScriptedCalls, pace_s: float
) -> FilteredSubscriber:
    subscriber = FilteredSubscriber(
        client,
        "projects/p/subscriptions/s",
        Collected(),
        message_filter=parse_filter(""),
        start_delay_s=0,
        pace_s=pace_s,
    )
    subscriber.calls = calls  # type: ignore[assignment]
    return subscriber


def test_a_paced_subscriber_starts_its_pulls_at_least_the_pace_apart(
    client: pubsub_v1.SubscriberClient,
) -> None:
    began: list[float] = []

    def answer(max_messages: int) -> list[str]:
        began.append(time.monotonic())
        return [str(len(began))]  # every pull finds a message at once, as under load

    calls = ScriptedCalls(answer)
    subscriber = paced(client, calls, 0.1)
    run_until(subscriber, lambda: len(began) >= 5, "five pulls")
    gaps = [b - a for a, b in itertools.pairwise(began)]
    assert min(gaps) >= 0.1 - 0.005, gaps  # Event.wait may wake a hair early
    assert set(calls.sizes) == {PACED_BATCH}


def test_a_paced_subscriber_pulls_from_one_thread_and_an_unpaced_one_from_several(
    client: pubsub_v1.SubscriberClient,
) -> None:
    calls = ScriptedCalls(lambda n: [])
    assert (paced(client, calls, 0.1).threads, paced(client, calls, 0.1).batch) == (1, PACED_BATCH)
    assert (paced(client, calls, 0.0).threads, paced(client, calls, 0.0).batch) == (THREADS, BATCH)


def test_only_the_subscriptions_of_rare_messages_are_paced() -> None:
    assert BALLOTS.pace_s == ELECTIONS.pace_s == QUIET_PACE_S > 0
    assert LOGGER.pace_s == RECORDER.pace_s == 0  # the votes' own hops are never delayed
