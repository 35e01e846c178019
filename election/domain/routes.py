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

    ``service`` names the worker role too (``election worker logger``), and so the Dramatiq
    queue: several routes of one role share its queue and its workers. ``name`` names the
    subscription when it is not the role's own (a role's second subscription); it
    defaults to ``service``. The bridge sends the matching messages of a pull to
    ``actor`` in batches; a batch whose retries ran out goes to ``gave_up``.
    """

    service: str
    filter: str
    actor: str
    gave_up: str
    name: str = ""
    #: Whether voting machines publish what it selects (rather than our own services):
    #: such subscriptions are (re-)created last (see :func:`creation_order`).
    fed_by_machines: bool = False
    #: Seconds between the starts of two pulls, for a subscription of rare messages
    #: (0: pull again at once). See :data:`QUIET_PACE_S`.
    pace_s: float = 0.0

    def subscription(self, namespace: str) -> str:
        """The subscription's name in ``namespace``."""
        return f"{namespace}-{self.name or self.service}"

    def queue(self, namespace: str) -> str:
        """The Dramatiq queue of the service's actors in ``namespace``."""
        return f"{namespace}.{self.service}"


#: The pace of a subscription that selects rare messages (ballot requests, election
#: changes). The emulator applies no filter and hands such a subscription every vote's
#: messages, to be dropped; pulled at once, each pull under load carries a few of them,
#: and its pull and acknowledge cost more CPU than the vote's own work. Paced, a quarter
#: second's drops share one pull. Its matches wait up to this much longer.
QUIET_PACE_S = 0.25

#: The voting logger: dedups ``submit vote`` messages.
LOGGER = Route(
    "logger",
    protocol.LOGGER_FILTER,
    actor="dedup_votes",
    gave_up="dedup_gave_up",
    fed_by_machines=True,
)
#: The voting record service: stores ``record vote`` messages.
RECORDER = Route(
    "recorder", protocol.RECORDER_FILTER, actor="record_votes", gave_up="record_gave_up"
)

#: The ballot desk, in the logger's worker role (its queue, its workers): answers a
#: machine's ``ballot request`` with the election's title, choice names and state.
BALLOTS = Route(
    "logger",
    protocol.BALLOT_REQUEST_FILTER,
    actor="answer_ballots",
    gave_up="ballot_gave_up",
    name="ballots",
    fed_by_machines=True,
    pace_s=QUIET_PACE_S,
)

#: Every route (made in :func:`creation_order`; a ballot request lost while the
#: subscriptions are re-made only leaves its machine voting as on an undeclared election).
ROUTES: tuple[Route, ...] = (RECORDER, BALLOTS, LOGGER)
#: The worker roles, each once, in the table's order.
SERVICES: tuple[str, ...] = tuple(dict.fromkeys(route.service for route in ROUTES))


def creation_order(table: tuple[Route, ...] = ROUTES) -> list[Route]:
    """The routes in the order their subscriptions are made (by provisioning, and again
    by the bridge after an emulator restart): those our own services feed first, those
    the machines feed last. Between a topic's creation and a subscription's, what is
    published is lost to it: a lost ``record vote`` leaves a voter claimed with no
    ballot, while a lost ``submit vote`` was never claimed (its machine times out)."""
    return sorted(table, key=lambda route: route.fed_by_machines)


@dataclass(frozen=True)
class ProcessSubscription:
    """A subscription each process of ``service`` makes for itself, named
    ``<namespace>-<kind>-<8 hex>``, filtered on ``filter``, expiring after a day unused."""

    kind: str
    service: str
    filter: str
    #: As :attr:`Route.pace_s`.
    pace_s: float = 0.0

    def prefix(self, namespace: str) -> str:
        """What every such subscription's name in ``namespace`` starts with."""
        return f"{namespace}-{self.kind}-"

    def subscription(self, namespace: str, suffix: str) -> str:
        """The name of one process's subscription (``suffix``: 8 random hex digits)."""
        return self.prefix(namespace) + suffix


#: Each voting logger process learns of created, opened and closed elections here.
ELECTIONS = ProcessSubscription(
    "elections", LOGGER.service, protocol.ELECTION_CHANGED_FILTER, pace_s=QUIET_PACE_S
)
#: Every per-process subscription.
PER_PROCESS: tuple[ProcessSubscription, ...] = (ELECTIONS,)


def route_for(service: str) -> Route:
    """The route of ``service`` (``logger`` or ``recorder``) whose subscription is the
    role's own (``<ns>-<service>``); its queue is the role's."""
    for route in ROUTES:
        if route.service == service and not route.name:
            return route
    raise InvalidInput(f"no service {service!r}: one of {', '.join(SERVICES)}")
