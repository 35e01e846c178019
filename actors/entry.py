"""The Dramatiq worker's entry point: ``python -m dramatiq actors.entry:broker``.

This is the one module whose import configures anything, and that is all it is for
(``actors.worker`` runs it; nothing else imports it): importing it reads the settings
from the environment, builds the broker (``actors.broker``), makes it Dramatiq's global
broker, and declares on it the actors of the role ``ELECTION_WORKER_ROLE`` names
(``logger`` or ``recorder``), whose worker each process builds when it boots and closes
when it stops (``actors.process.WorkerLifecycle``). Dramatiq imports it again in each
worker process it forks.
"""

from __future__ import annotations

import os

import dramatiq

from actors import logger, recorder
from actors.broker import build_broker
from actors.process import WorkerLifecycle
from actors.service import Declare, ServiceActors
from actors.worker import ROLE_VARIABLE
from config import load_settings
from election.domain.errors import InvalidInput
from election.domain.routes import LOGGER, RECORDER, SERVICES

#: What each role declares.
DECLARE: dict[str, Declare] = {LOGGER.service: logger.declare, RECORDER.service: recorder.declare}

role = os.environ.get(ROLE_VARIABLE, "")
if role not in DECLARE:
    raise InvalidInput(f"{ROLE_VARIABLE} must be one of {', '.join(SERVICES)}, not {role!r}")
settings = load_settings()
broker = build_broker(settings)
dramatiq.set_broker(broker)
actors: ServiceActors = DECLARE[role](broker, settings)
broker.add_middleware(WorkerLifecycle(actors.worker))
