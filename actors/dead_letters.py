"""Dead letters: actor messages whose retries ran out, kept for an operator.

Each is stored in a Redis hash ``<ns>:dead-letters`` by Dramatiq message ID, with why it
failed; ``election dead-letters`` lists, replays and purges them.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import redis
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    """One given-up actor message."""

    message_id: str
    actor: str
    message: dict[str, Any]
    retries: int
    error: str
    failed_at: float

    @property
    def ballot(self) -> str:
        """The ballot UUID the message was about, if it can be read (for listings)."""
        from election.domain.votes import peek_uuid

        args = self.message.get("args") or []
        return peek_uuid(args[0]) if args else "?"


_EXCEPTION_LINE = re.compile(
    r"^((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Exceeded|Timeout)): (.+)$"
)


def error_summary(traceback: str) -> str:
    """The exception line of a formatted traceback ("psycopg2.Error: message"), shortened.

    Drivers add lines after it (PostgreSQL's CONTEXT, for one), so the last line of a
    traceback is not always the one that says what went wrong.
    """
    for line in reversed(traceback.splitlines()):
        match = _EXCEPTION_LINE.match(line)
        if match:
            return f"{match.group(1).rsplit('.', 1)[-1]}: {match.group(2)}"[:300]
    return "unknown error"


class DeadLetters:
    """The dead-letter store of one namespace."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}:dead-letters"

    def add(
        self,
        message: dict[str, Any],
        retries: int,
        *,
        letter_id: str | None = None,
        error: str | None = None,
    ) -> DeadLetter:
        """Keep ``message`` (Dramatiq's ``asdict()`` form) as dead, under ``letter_id``
        (by default its message ID; a ballot's reference keeps one letter per ballot).
        ``error`` overrides the reason read from the message's traceback."""
        letter = self._letter(message, retries, letter_id, error)
        self.client.hset(self.key, letter.message_id, json.dumps(letter.__dict__))
        self._logged(letter)
        return letter

    def add_if_room(
        self, message: dict[str, Any], retries: int, *, error: str, cap: int
    ) -> DeadLetter | None:
        """:meth:`add`, unless the store holds ``cap`` letters already (then ``None``, and
        an alarm in the logs): for messages anyone could send, such as records signed
        with an unknown key, which must not fill Redis."""
        letter = self._letter(message, retries, None, error)
        if int(self.client.hlen(self.key)) >= cap:
            log.critical("dead_letters.full", message_id=letter.message_id, cap=cap, alarm=True)
            return None
        self.client.hset(self.key, letter.message_id, json.dumps(letter.__dict__))
        self._logged(letter)
        return letter

    @staticmethod
    def _letter(
        message: dict[str, Any], retries: int, letter_id: str | None, error: str | None
    ) -> DeadLetter:
        traceback = str(message.get("options", {}).get("traceback", ""))
        return DeadLetter(
            message_id=letter_id or str(message.get("message_id")),
            actor=str(message.get("actor_name")),
            message=message,
            retries=retries,
            error=error or error_summary(traceback),
            failed_at=time.time(),
        )

    @staticmethod
    def _logged(letter: DeadLetter) -> None:
        log.error(
            "vote.dead_lettered",
            actor=letter.actor,
            message_id=letter.message_id,
            retries=letter.retries,
            error=letter.error,
        )

    def all(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        letters = [DeadLetter(**json.loads(raw)) for raw in self.client.hvals(self.key)]
        return sorted(letters, key=lambda letter: letter.failed_at)

    def get(self, message_id: str) -> DeadLetter | None:
        """One dead letter by message ID."""
        raw = self.client.hget(self.key, message_id)
        return None if raw is None else DeadLetter(**json.loads(raw))

    def remove(self, message_id: str) -> bool:
        """Forget a dead letter (after a replay or a purge)."""
        return bool(self.client.hdel(self.key, message_id))
