"""Strict reading of the JSON documents the log publishes (checkpoints, proofs).

Whoever reads such a document may have got it from anyone: each field must be there,
of its one type and form, and the error names the field. Byte strings are lowercase hex
of a fixed length, so each value has exactly one spelling; unknown fields are refused, so
nothing unsigned rides along looking as if it were part of what was checked.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from election.domain.errors import InvalidInput

_HEX = re.compile(r"(?:[0-9a-f]{2})*")


def document(
    value: object, fields: Collection[str], error: type[InvalidInput], what: str
) -> Mapping[str, Any]:
    """``value`` as a JSON object with exactly ``fields``; raise ``error``."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise error(f"{what} must be a JSON object")
    missing = [name for name in fields if name not in value]
    if missing:
        raise error(f"{what} lacks {', '.join(missing)}")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        # repr, cut short: a field's name is the sender's text, never printed as it is.
        raise error(f"{what} has unknown fields: {', '.join(repr(k[:40]) for k in unknown[:5])}")
    return value


def hex_bytes(value: object, size: int, error: type[InvalidInput], name: str) -> bytes:
    """``value`` as the lowercase hex of exactly ``size`` bytes; raise ``error``."""
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.fullmatch(value):
        raise error(f"{name} must be {2 * size} lowercase hex digits")
    return bytes.fromhex(value)


def hex_list(
    value: object, size: int, limit: int, error: type[InvalidInput], name: str
) -> tuple[bytes, ...]:
    """``value`` as a list of at most ``limit`` hex strings of ``size`` bytes each."""
    if not isinstance(value, list) or len(value) > limit:
        raise error(f"{name} must be a list of at most {limit} hashes")
    return tuple(hex_bytes(item, size, error, f"{name}[{i}]") for i, item in enumerate(value))


def integer(value: object, maximum: int, error: type[InvalidInput], name: str) -> int:
    """``value`` as an integer from 0 to ``maximum`` (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise error(f"{name} must be an integer from 0 to {maximum}")
    return value


def text(value: object, error: type[InvalidInput], name: str) -> str:
    """``value`` as a string."""
    if not isinstance(value, str):
        raise error(f"{name} must be a string")
    return value


def exact(value: object, expected: str, error: type[InvalidInput], name: str) -> None:
    """Refuse ``value`` unless it is ``expected`` (a document's format and version)."""
    if value != expected:
        raise error(f"{name} must be {expected!r}")
