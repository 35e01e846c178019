"""The route table: every service subscription, what it selects, and where it leads.

Each entry is declared once here and read by everything that must agree on it:
provisioning creates the subscriptions with these filters, the preflight checks them, the
bridge pulls them and enqueues to these actors on these queues, the workers declare the
actors and consume the queues, and the tests use the same names. Adding a consumer is one
entry (and the actor set its service declares, ``actors.service``).

Besides the routes the bridge pulls, the table declares the subscriptions that each
process of a service makes for itself (:class:`ProcessSubscription`): each voting logger
process reads ``election changed`` events through one of its own. Provisioning does not
make them and the bridge never pulls them; the process that owns one makes it when it
starts and deletes it when it stops (and Pub/Sub lets an abandoned one expire).

Names derive from the namespace (``ELECTION_NAMESPACE``), so several deployments or test
runs share one project and one broker without meeting.
"""

from __future__ import annotations

from dataclasses import dataclass

from election.domain import protocol
from election.domain.errors import InvalidInput


@dataclass(frozen=True)
class Route:
    """One service subscription feeding one service's actors.

    ``service`` names the worker role too (``election worker logger``). The bridge sends
    the matching messages of a pull to ``actor`` in batches; a batch whose retries ran
    out goes to ``gave_up``.
    """

    service: str
    filter: str
    actor: str
    gave_up: str

    def subscription(self, namespace: str) -> str:
        """The subscription's name in ``namespace``."""
        return f"{namespace}-{self.service}"

    def queue(self, namespace: str) -> str:
        """The Dramatiq queue of the service's actors in ``namespace``."""
        return f"{namespace}.{self.service}"


#: The voting logger: dedups ``submit vote`` messages.
LOGGER = Route("logger", protocol.LOGGER_FILTER, actor="dedup_votes", gave_up="dedup_gave_up")
#: The voting record service: stores ``record vote`` messages.
RECORDER = Route(
    "recorder", protocol.RECORDER_FILTER, actor="record_votes", gave_up="record_gave_up"
)

#: Every route, in the order provisioning makes them and the bridge re-makes them: the
#: subscriptions our own services feed first, the one the machines feed last (see
#: ``bridge.service.Bridge.recreate``).
ROUTES: tuple[Route, ...] = (RECORDER, LOGGER)
#: The worker roles, one per route.
SERVICES: tuple[str, ...] = tuple(route.service for route in ROUTES)


@dataclass(frozen=True)
class ProcessSubscription:
    """A subscription each process of ``service`` makes for itself, named
    ``<namespace>-<kind>-<8 hex>``, filtered on ``filter``, expiring after a day unused."""

    kind: str
    service: str
    filter: str

    def prefix(self, namespace: str) -> str:
        """What every such subscription's name in ``namespace`` starts with."""
        return f"{namespace}-{self.kind}-"

    def subscription(self, namespace: str, suffix: str) -> str:
        """The name of one process's subscription (``suffix``: 8 random hex digits)."""
        return self.prefix(namespace) + suffix


#: Each voting logger process learns of created, opened and closed elections here.
ELECTIONS = ProcessSubscription("elections", LOGGER.service, protocol.ELECTION_CHANGED_FILTER)
#: Every per-process subscription.
PER_PROCESS: tuple[ProcessSubscription, ...] = (ELECTIONS,)


def route_for(service: str) -> Route:
    """The route of ``service`` (``logger`` or ``recorder``)."""
    for route in ROUTES:
        if route.service == service:
            return route
    raise InvalidInput(f"no service {service!r}: one of {', '.join(SERVICES)}")
