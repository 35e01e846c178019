"""Declared elections for end-to-end tests: made with the registry and announced with a
signed event, as ``election create`` and ``election open`` do."""

from __future__ import annotations

from election.domain.manifest import load_definition
from election.ops.announce import announce
from election.storage.elections import ElectionRecord, ElectionRegistry
from tests.support.system import ElectionSystem


def declare(
    system: ElectionSystem,
    election_id: str,
    choices: tuple[str, ...] = ("North", "South", "East"),
    roll: list[int] | None = None,
) -> ElectionRecord:
    """Create the election (a draft) and announce it."""
    names = ", ".join(f'"{name}"' for name in choices)
    manifest = f'id = "{election_id}"\ntitle = "Test {election_id}"\nchoices = [{names}]\n'
    if roll is not None:
        manifest += 'roll = "roll.txt"\n'
    text = "\n".join(str(voter) for voter in roll or [])
    definition = load_definition(manifest.encode(), lambda _: text, system.secrets)
    with system.database.connection_context():
        record, _ = ElectionRegistry(system.database).create(definition)
    announce(system.settings, system.publisher, record)
    return record


def open_election(system: ElectionSystem, election_id: str) -> ElectionRecord:
    """Open the election and announce it; returns once the event is published."""
    with system.database.connection_context():
        record = ElectionRegistry(system.database).open(election_id)
    announce(system.settings, system.publisher, record)
    return record


def sealed_counts(system: ElectionSystem, election_id: str) -> tuple[int, ...] | None:
    """The sealed result's counts per choice, or ``None`` before the seal."""
    with system.database.connection_context():
        sealed = ElectionRegistry(system.database).sealed(election_id)
    return None if sealed is None else sealed.counts
