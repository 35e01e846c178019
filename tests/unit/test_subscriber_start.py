"""When a FilteredSubscriber starts pulling: no server is contacted here."""

from __future__ import annotations

from config import load_settings
from election.domain.filters import parse_filter
from election.pubsub.client import subscriber_client
from election.pubsub.subscriber import START_SPREAD_S, FilteredSubscriber, PulledMessage


def ignore(messages: list[PulledMessage]) -> None:
    raise AssertionError("nothing is pulled here")


def test_default_start_delays_fall_at_random_within_the_emulators_poll_period() -> None:
    # The channel connects lazily: building subscribers contacts no server.
    client = subscriber_client(load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:9"}))
    try:
        delays = {
            FilteredSubscriber(
                client,
                "projects/p/subscriptions/s",
                ignore,
                message_filter=parse_filter(""),
            ).start_delay_s
            for _ in range(20)
        }
    finally:
        client.close()
    assert all(0 <= delay <= START_SPREAD_S for delay in delays)
    assert len(delays) > 1
