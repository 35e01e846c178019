"""Provisioning: the topic, the service subscriptions and the tables, idempotently.

Running it again changes nothing. A subscription that exists with another filter is an
error: Pub/Sub filters cannot be changed, so the operator must delete it deliberately.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee
import structlog
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from config import Settings
from election.domain.errors import OperatorDecision
from election.domain.filters import parse_filter
from election.domain.routes import creation_order
from election.pubsub.client import CALL_TIMEOUT, admin_retry, subscription_path, topic_path
from election.storage.models import create_schema

log = structlog.get_logger(__name__)

#: Ack deadline of the service subscriptions. The bridge acks within milliseconds and
#: extends leases while it holds a message, so a short deadline only speeds up
#: redelivery after a crash.
SERVICE_ACK_DEADLINE_S = 10


class ProvisionError(OperatorDecision):
    """Provisioning cannot proceed without an operator's decision."""


@dataclass(frozen=True)
class SubscriptionSpec:
    """A subscription the system needs."""

    name: str
    filter: str


def service_subscriptions(settings: Settings) -> list[SubscriptionSpec]:
    """The route table's subscriptions (``election.domain.routes``), named for
    ``settings.namespace``, in the table's order."""
    return [
        SubscriptionSpec(r.subscription(settings.namespace), r.filter) for r in creation_order()
    ]


def provision(
    settings: Settings,
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    database: peewee.Database,
    *,
    timeout: float = CALL_TIMEOUT,
) -> list[str]:
    """Create what is missing; return what was done, one line per resource."""
    specs = service_subscriptions(settings)
    for spec in specs:
        parse_filter(spec.filter)  # raises FilterSyntaxError before anything is created
    done = [ensure_topic(publisher, topic_path(settings), timeout)]
    done += [ensure_subscription(subscriber, settings, spec, timeout) for spec in specs]
    create_schema(database, settings.database_schema)
    done.append(f"tables ready in schema {settings.database_schema}")
    for line in done:
        log.debug("provision.step", result=line)
    return done


def ensure_topic(publisher: pubsub_v1.PublisherClient, topic: str, timeout: float) -> str:
    """Create ``topic`` unless it exists; say which."""
    try:
        publisher.create_topic(name=topic, timeout=timeout, retry=admin_retry(timeout))
    except api_exceptions.AlreadyExists:
        return f"topic {topic} exists"
    return f"topic {topic} created"


def ensure_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    settings: Settings,
    spec: SubscriptionSpec,
    timeout: float,
) -> str:
    """Create the subscription unless it exists; an existing one must match ``spec``."""
    path = subscription_path(settings, spec.name)
    try:
        subscriber.create_subscription(
            request={
                "name": path,
                "topic": topic_path(settings),
                "filter": spec.filter,
                "ack_deadline_seconds": SERVICE_ACK_DEADLINE_S,
                # An empty policy means the subscription never expires.
                "expiration_policy": {},
                "message_retention_duration": duration_pb2.Duration(seconds=7 * 24 * 3600),
            },
            timeout=timeout,
            retry=admin_retry(timeout),
        )
    except api_exceptions.AlreadyExists:
        existing = subscriber.get_subscription(
            subscription=path, timeout=timeout, retry=admin_retry(timeout)
        )
        if existing.filter != spec.filter:
            raise ProvisionError(
                f"subscription {path} exists with filter {existing.filter!r}, "
                f"expected {spec.filter!r}; filters cannot be changed: delete it first"
            ) from None
        if existing.topic != topic_path(settings):
            raise ProvisionError(
                f"subscription {path} is attached to {existing.topic}, "
                f"expected {topic_path(settings)}"
            ) from None
        return f"subscription {path} exists"
    return f"subscription {path} created"
