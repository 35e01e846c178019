"""Making whole election systems for tests, on any emulator: the session's (the
``make_system`` fixture) or one a test starts for itself (tests/faults/test_heal.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.support.system import ElectionSystem

#: Makes a provisioned, started system: ``make(broker_url, *roles, env=...)``.
SystemFactory = Callable[..., ElectionSystem]


@contextlib.contextmanager
def system_factory(emulator_host: str, log_dir: Path) -> Iterator[SystemFactory]:
    """A factory of provisioned :class:`ElectionSystem` objects on the emulator at
    ``emulator_host``, each closed (stopped and cleaned up) when the block ends."""
    systems: list[ElectionSystem] = []

    def make(broker_url: str, *roles: str, env: dict[str, str] | None = None) -> ElectionSystem:
        system = ElectionSystem(emulator_host, broker_url, log_dir, env)
        systems.append(system)
        system.provision()
        system.start(*roles)
        return system

    try:
        yield make
    finally:
        for system in systems:
            system.close()
