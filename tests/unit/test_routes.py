"""The route table: names derive from the namespace, machine-fed subscriptions come last."""

from __future__ import annotations

import dataclasses

import pytest

from election.domain.errors import InvalidInput
from election.domain.routes import LOGGER, RECORDER, ROUTES, creation_order, route_for


def test_each_route_names_its_subscription_and_queue_from_the_namespace() -> None:
    assert LOGGER.subscription("ns") == "ns-logger"
    assert RECORDER.queue("ns") == "ns.recorder"


def test_subscriptions_machines_feed_are_made_after_those_our_services_feed() -> None:
    later = dataclasses.replace(RECORDER, service="auditor")
    order = creation_order((LOGGER, *ROUTES, later))
    assert [route.fed_by_machines for route in order][-1] is True
    assert order.index(later) < order.index(LOGGER)


def test_an_unknown_service_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="no service 'tally'"):
        route_for("tally")
