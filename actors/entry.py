"""The Dramatiq worker's entry point: ``actors.entry:broker``, the broker argument that
``election worker`` gives Dramatiq's command line (through ``actors.dramatiq_cli``).

This is the one module whose import configures anything, and that is all it is for
(``actors.worker`` runs it; nothing else imports it): importing it reads the settings
from the environment, builds the broker (``actors.broker``), makes it Dramatiq's global
broker, and declares on it the actors of the role ``ELECTION_WORKER_ROLE`` names
(``logger`` or ``recorder``): each of its services' actors (``actors.logger``), whose
workers each process builds when it boots and closes when it stops
(``actors.process.WorkerLifecycle``). Dramatiq imports it again in each worker process it
forks.
"""

from __future__ import annotations

import os

import dramatiq

from actors import logger, recorder
from actors.broker import build_broker
from actors.process import WorkerLifecycle
from actors.service import DeclareRole, ServiceActors
from actors.telemetry import WorkerTelemetry
from actors.worker import ROLE_VARIABLE
from config import load_settings
from election.domain.errors import InvalidInput
from election.domain.routes import LOGGER, RECORDER, SERVICES

#: What each role declares.
DECLARE: dict[str, DeclareRole] = {
    LOGGER.service: logger.declare,
    RECORDER.service: recorder.declare,
}

role = os.environ.get(ROLE_VARIABLE, "")
if role not in DECLARE:
    raise InvalidInput(f"{ROLE_VARIABLE} must be one of {', '.join(SERVICES)}, not {role!r}")
settings = load_settings()
broker = build_broker(settings)
dramatiq.set_broker(broker)
# Before the actors are declared: they count their answers through it.
broker.add_middleware(WorkerTelemetry(settings, kind=role))
actors: tuple[ServiceActors, ...] = DECLARE[role](broker, settings)
for service in actors:
    broker.add_middleware(WorkerLifecycle(service.worker))
