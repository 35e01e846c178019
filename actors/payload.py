"""How a Pub/Sub message travels as the arguments of a Dramatiq actor message.

The body goes base64-encoded (it may be any bytes, even invalid UTF-8, and must reach the
actor unchanged to be judged there), with the attributes and the Pub/Sub message ID. A
service's actor takes a batch of such argument triples (``args`` of its Dramatiq message:
``[[[data, attributes, message_id], ...]]``); a give-up and a dead letter keep one vote
in the form of a single triple (``args``: ``[data, attributes, message_id]``), as the
single-vote actors of before had it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


def to_args(
    data: bytes, attributes: Mapping[str, str], message_id: str
) -> tuple[str, dict[str, str], str]:
    """Actor arguments for one Pub/Sub message."""
    return base64.b64encode(data).decode("ascii"), dict(attributes), message_id


def body_of(data_b64: str) -> bytes:
    """The Pub/Sub body from its actor argument."""
    return base64.b64decode(data_b64)


def votes_of(message: Mapping[str, Any]) -> list[list[Any]]:
    """The argument triples a Dramatiq message (``asdict()`` form) carries: the batch of a
    service's actor, or the one vote of a message in the one-vote form."""
    args = list(message.get("args") or [])
    if args and isinstance(args[0], list):
        return [list(vote) for vote in args[0]]
    return [args] if args else []


def vote_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a Dramatiq message (``asdict()`` form) of one vote, in the one-vote form
    (a batch of one is unwrapped; a message in that form already stays as it is)."""
    votes = votes_of(message)
    if len(votes) != 1:
        raise ValueError(f"a message of {len(votes)} votes, not one")
    return {**message, "args": votes[0]}


def from_message(message: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Body and attributes from a Dramatiq message in ``asdict()`` form (dead letters)."""
    args = list(message.get("args") or [])
    data = body_of(str(args[0])) if args else b""
    attributes = dict(args[1]) if len(args) > 1 and isinstance(args[1], dict) else {}
    return data, attributes


def with_body(message: Mapping[str, Any], data: bytes) -> dict[str, Any]:
    """A copy of a Dramatiq message (``asdict()`` form) carrying another Pub/Sub body."""
    args = list(message.get("args") or [])
    args[:1] = [base64.b64encode(data).decode("ascii")]
    return {**message, "args": args}
