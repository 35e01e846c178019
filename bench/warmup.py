"""Warming the emulator up before anything is measured.

The emulator is a Java program: freshly started, it spends several times more CPU per
message than once its JIT has compiled the hot paths (measured here: 2.0 s of emulator CPU
for the first 5,000 messages through three subscriptions, 0.55 s for each 5,000 after the
first 20,000). Without this, whichever phase runs first (the floor) meets a slower emulator
than the later ones, and comparisons within one run lean towards the later phases.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import threading
import time
from collections.abc import Callable

from google.api_core import exceptions as api_exceptions

from config import Settings
from election.pubsub.calls import PubSubCalls
from election.pubsub.client import (
    CALL_TIMEOUT,
    admin_retry,
    publisher_client,
    subscriber_client,
    subscription_path,
    topic_path,
)

#: Subscriptions the warm-up fans out to, as a vote's topic does (bench, services).
FAN_OUT = 3
#: Messages per publish and per pull.
PUBLISH_BATCH, PULL_BATCH = 100, 1000
#: Seconds a pull waits for messages.
PULL_WAIT_S = 1.0


def warm_emulator(
    settings: Settings,
    messages: int,
    progress: Callable[[int, int], None],
    limit_s: float = 300.0,
) -> None:
    """Publish ``messages`` small messages to a scratch topic with three subscriptions and
    drain them all (bounded by ``limit_s``); then delete the topic and subscriptions."""
    name = f"{settings.namespace}-warm-{secrets.token_hex(3)}"
    scratch = _Scratch(settings, name)
    try:
        scratch.create()
        scratch.pump(messages, progress, time.monotonic() + limit_s)
    finally:
        scratch.delete()


class _Scratch:
    """A throwaway topic and its subscriptions, drained by one thread each."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.publisher = publisher_client(settings)
        self.subscriber = subscriber_client(settings)
        self.calls = PubSubCalls.of(self.subscriber)
        self.topic = topic_path(dataclasses.replace(settings, topic=name))
        self.subscriptions = [subscription_path(settings, f"{name}-{n}") for n in range(FAN_OUT)]
        self.drained = [0] * FAN_OUT
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def create(self) -> None:
        self.publisher.create_topic(name=self.topic, timeout=CALL_TIMEOUT, retry=admin_retry())
        for path in self.subscriptions:
            self.subscriber.create_subscription(
                name=path, topic=self.topic, timeout=CALL_TIMEOUT, retry=admin_retry()
            )

    def pump(self, messages: int, progress: Callable[[int, int], None], deadline: float) -> None:
        drainers = [
            threading.Thread(target=self._drain, args=(n,), daemon=True) for n in range(FAN_OUT)
        ]
        for drainer in drainers:
            drainer.start()
        try:
            sent = 0
            body = [(b"w" * 150, {"function": "warm-up"})] * PUBLISH_BATCH
            while sent < messages and time.monotonic() < deadline:
                self.calls.publish(self.topic, body, CALL_TIMEOUT)
                sent += PUBLISH_BATCH
                # Keep the backlog small, as under real load.
                while self._slowest() < sent - 10 * PUBLISH_BATCH:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
                progress(min(sent, messages), messages)
            while self._slowest() < sent and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            self.stop.set()
            for drainer in drainers:
                drainer.join(PULL_WAIT_S + CALL_TIMEOUT)

    def _slowest(self) -> int:
        with self.lock:
            return min(self.drained)

    def _drain(self, n: int) -> None:
        path = self.subscriptions[n]
        while not self.stop.is_set():
            try:
                received = self.calls.pull(path, PULL_BATCH, PULL_WAIT_S).received_messages
                ack_ids = [message.ack_id for message in received]
                if ack_ids:
                    self.calls.acknowledge(path, ack_ids, CALL_TIMEOUT)
            except api_exceptions.DeadlineExceeded:
                continue  # nothing to pull yet
            except api_exceptions.GoogleAPICallError:
                # Unacked messages come back and are drained again; pump() is bounded.
                self.stop.wait(0.1)
                continue
            with self.lock:
                self.drained[n] += len(ack_ids)

    def delete(self) -> None:
        """Delete what exists of the scratch resources (after a partial create too)."""
        try:
            for path in self.subscriptions:
                with contextlib.suppress(api_exceptions.NotFound):
                    self.subscriber.delete_subscription(
                        subscription=path, timeout=CALL_TIMEOUT, retry=admin_retry()
                    )
            with contextlib.suppress(api_exceptions.NotFound):
                self.publisher.delete_topic(
                    topic=self.topic, timeout=CALL_TIMEOUT, retry=admin_retry()
                )
        finally:
            self.subscriber.close()
            self.publisher.transport.close()
