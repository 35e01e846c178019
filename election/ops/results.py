"""An election's result and the list of elections, read from the registry: the objects
``election results``, ``election list`` and the web process all show (one way each).

A declared election's result is the sealed counts once it is sealed, else the ballots
recorded so far; an undeclared one is named by its choices' indexes.
"""

from __future__ import annotations

from typing import Any

from election.domain.results import Result, tally
from election.storage.elections import ElectionRecord, ElectionRegistry

#: The ``state`` of an undeclared election in ``--json``.
UNDECLARED = "undeclared"


def counts_of(registry: ElectionRegistry, election_id: str) -> tuple[dict[int, int], bool]:
    """The sealed counts when the result is sealed, else the recorded ones so far."""
    sealed = registry.sealed(election_id)
    if sealed is not None:
        return dict(enumerate(sealed.counts)), True
    return registry.counts(election_id), False


def result_of(registry: ElectionRegistry, record: ElectionRecord) -> Result:
    """The result of a declared election as it stands (sealed or so far)."""
    return result_from(record, *counts_of(registry, record.election_id))


def result_from(record: ElectionRecord, counts: dict[int, int], sealed: bool) -> Result:
    """The result of ``counts``, in the election's state now."""
    return tally(record, counts, state=record.state(), sealed=sealed, roll_size=record.roll_size)


def undeclared_json(election_id: str, counts: dict[int, int]) -> dict[str, Any]:
    """``--json`` of an undeclared election: the result's keys; choices named by index,
    only those that got votes (there is no ballot to list the others)."""
    return {
        "election": election_id,
        "title": None,
        "state": UNDECLARED,
        "sealed": False,
        "total": sum(counts.values()),
        "roll": None,
        "turnout": None,
        "choices": [{"name": str(c), "votes": v} for c, v in sorted(counts.items())],
    }


def summaries(registry: ElectionRegistry) -> list[dict[str, Any]]:
    """Every declared election as ``list --json`` prints it, by ID."""
    rows = []
    for record in registry.all():
        sealed = registry.sealed(record.election_id)
        total = sealed.total if sealed else sum(registry.counts(record.election_id).values())
        rows.append(
            {
                "election": record.election_id,
                "title": record.title,
                "state": record.state().value,
                "sealed": sealed is not None,
                "choices": list(record.choices),
                "roll": record.roll_size,
                "total": total,
            }
        )
    return rows
