"""The one mapping from the project's error families to ``election``'s exit codes and lines."""

from __future__ import annotations

import pytest

from bridge.service import BridgeFailed
from election.cli.exits import (
    RET_CONFIG,
    RET_ERROR,
    RET_UNAVAILABLE,
    RET_USAGE,
    exit_for,
)
from election.domain.errors import ConfigError, ElectionError, InvalidInput, Unavailable
from election.machine.voting import TopicMissing
from election.ops.preflight import UnsafeDedupStore
from election.ops.provision import ProvisionError
from election.storage.models import OldLayout


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (ConfigError("X is not set"), RET_CONFIG, "election: configuration error: X is not set"),
        (
            UnsafeDedupStore("appendonly no"),
            RET_CONFIG,
            "election: configuration error: appendonly no",
        ),
        (Unavailable("cannot reach Redis"), RET_UNAVAILABLE, "election: cannot reach Redis"),
        (TopicMissing("no topic"), RET_UNAVAILABLE, "election: no topic"),
        (InvalidInput("invalid ID 'a b'"), RET_USAGE, "election provision: invalid ID 'a b'"),
        (ProvisionError("filter differs"), RET_ERROR, "election: provision failed: filter differs"),
        (OldLayout("old tables"), RET_ERROR, "election: provision failed: old tables"),
        (BridgeFailed("cannot pull"), RET_ERROR, "election: provision failed: cannot pull"),
        (ElectionError("other"), RET_ERROR, "election: provision failed: other"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_family_has_one_code_and_one_line(error: ElectionError, code: int, line: str) -> None:
    assert exit_for(error, "provision") == (code, line)
