"""A copy of every signed ``record vote`` on a test's topic, as an attacker would keep."""

from __future__ import annotations

import threading

from election.domain import protocol
from election.domain.filters import parse_filter
from election.pubsub.client import subscriber_client, subscription_path, topic_path
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage, one_by_one
from tests.support.system import ElectionSystem


class RecordTap:
    """Keeps a copy of every genuine ``record vote`` on the topic, to republish them."""

    def __init__(self, system: ElectionSystem) -> None:
        self.client = subscriber_client(system.settings)
        self.path = subscription_path(system.settings, f"{system.name}-tap")
        self.client.create_subscription(
            request={
                "name": self.path,
                "topic": topic_path(system.settings),
                "filter": protocol.RECORDER_FILTER,
            },
            timeout=30,
        )
        self.records: list[tuple[bytes, dict[str, str]]] = []
        self._lock = threading.Lock()
        self.subscriber = FilteredSubscriber(
            self.client,
            self.path,
            one_by_one(self._keep),
            message_filter=parse_filter(protocol.RECORDER_FILTER),
        )
        self.subscriber.start()

    def _keep(self, message: PulledMessage) -> None:
        message.ack()
        with self._lock:
            self.records.append((message.data, dict(message.attributes)))

    def close(self) -> None:
        self.subscriber.stop(10)
        self.client.delete_subscription(subscription=self.path, timeout=30)
        self.client.close()
