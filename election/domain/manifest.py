"""An election's manifest (TOML) and roll: bytes and text in, checked values out.

Pure: the caller reads the files. :func:`load_definition` takes the manifest's bytes and a
callback that returns the roll's text, so that what is parsed and what is read stay apart.

Decisions (issue 12):

- **Times** are TOML offset date-times only (``opens_at = 2027-03-01T08:00:00Z``), kept in
  UTC. A local date-time (no offset) is refused: the machine reading it does not know
  which zone was meant. Quoted RFC 3339 strings are refused too, so a time has one
  spelling in a manifest, and TOML's own parser checks it.
- **Choices** are stripped of surrounding white space; two choices that differ only in
  case or Unicode compatibility form (``"North"``, ``"north "``) are refused, since a voter
  could not tell them apart. Control, format and unassigned characters are refused in
  every text (a ballot shows them as nothing, or breaks its line).
- Errors name the field as it is written (``choices[2]``: the index is the wire's
  ``voting`` value) and never repeat a voter ID.
- **The definition** is the manifest's bytes and the roll's tokens: its digest covers
  both, so re-reading an unchanged manifest whose roll file changed is seen as a change.
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cached_property
from pathlib import PurePath
from typing import Any

from election.domain.errors import InvalidInput
from election.domain.secrecy import VoterSecrets
from election.domain.votes import InvalidId, canonical_id

MAX_MANIFEST_BYTES = 256 * 1024
MAX_TITLE = 200
MAX_CHOICES = 1000
MAX_CHOICE = 100
MAX_ROLL_PATH = 1000
KEYS = ("id", "title", "choices", "roll", "opens_at", "closes_at")
REQUIRED = ("id", "title", "choices")
_TIME_EXAMPLE = "2027-03-01T08:00:00Z"
#: Control, format, surrogate, private-use and unassigned characters; line separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class ManifestError(InvalidInput):
    """A manifest or roll that breaks a rule; the message is one line naming the field."""


class DefinitionConflict(InvalidInput):
    """A manifest for an existing election that differs from the one it was created with."""


@dataclass(frozen=True)
class Manifest:
    """A checked manifest. ``sha256`` is the hex digest of the exact bytes it was read from."""

    election_id: str
    title: str
    choices: tuple[str, ...]
    roll_path: str | None
    opens_at: datetime | None
    closes_at: datetime | None
    sha256: str


def parse_manifest(data: bytes) -> Manifest:
    """Check a manifest's bytes; raise :class:`ManifestError` at the first broken rule."""
    table = _toml(data)
    unknown = [key for key in table if key not in KEYS]
    if unknown:
        raise ManifestError(f"unknown key {_shown(unknown[0])}")
    for key in REQUIRED:
        if key not in table:
            raise ManifestError(f"{key}: missing")
    opens_at = _time(table, "opens_at")
    closes_at = _time(table, "closes_at")
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise ManifestError("closes_at: must be after opens_at")
    return Manifest(
        election_id=_election_id(table["id"]),
        title=_text("title", table["title"], MAX_TITLE),
        choices=_choices(table["choices"]),
        roll_path=_roll_path(table.get("roll")),
        opens_at=opens_at,
        closes_at=closes_at,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _toml(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest: {len(data)} bytes, over the limit of {MAX_MANIFEST_BYTES}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not valid TOML: not UTF-8 (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"not valid TOML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ManifestError("not valid TOML: nested too deeply") from None


def _election_id(value: object) -> str:
    try:
        return canonical_id(value)
    except InvalidId as exc:
        raise ManifestError(f"id: not a valid election ID; it {exc}") from None


def _text(field: str, value: object, limit: int) -> str:
    """A one-line text of 1 to ``limit`` characters, stripped of surrounding white space."""
    if not isinstance(value, str):
        raise ManifestError(f"{field}: must be a string")
    text = value.strip()
    if not text:
        raise ManifestError(f"{field}: empty")
    if len(text) > limit:
        raise ManifestError(f"{field}: longer than {limit} characters")
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in text):
        raise ManifestError(f"{field}: contains a control or invisible character")
    return text


def _choices(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ManifestError("choices: must be a list of strings")
    if not value:
        raise ManifestError("choices: at least one choice is required")
    if len(value) > MAX_CHOICES:
        raise ManifestError(f"choices: at most {MAX_CHOICES} choices, not {len(value)}")
    names = tuple(_text(f"choices[{index}]", item, MAX_CHOICE) for index, item in enumerate(value))
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        key = choice_key(name)
        if key in first:
            raise ManifestError(f"choices[{index}]: the same choice as choices[{first[key]}]")
        first[key] = index
    return names


def choice_key(name: str) -> str:
    """What two choice names must not share: the name without case or compatibility forms."""
    return unicodedata.normalize("NFKC", name.strip()).casefold()


def _roll_path(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManifestError("roll: must be a string (a file name relative to the manifest)")
    if not value.strip():
        raise ManifestError("roll: empty")
    if len(value) > MAX_ROLL_PATH:
        raise ManifestError(f"roll: longer than {MAX_ROLL_PATH} characters")
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in value):
        raise ManifestError("roll: contains a control or invisible character")
    return value


def _time(table: dict[str, Any], field: str) -> datetime | None:
    value = table.get(field)
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ManifestError(
                f"{field}: needs a UTC offset (e.g. {_TIME_EXAMPLE}); a local time is ambiguous"
            )
        return value.astimezone(UTC)
    if isinstance(value, str):
        raise ManifestError(f"{field}: write the date-time without quotes, e.g. {_TIME_EXAMPLE}")
    kind = "a date" if isinstance(value, date) else "a time" if isinstance(value, time) else None
    found = f", not {kind}" if kind else ""
    raise ManifestError(f"{field}: must be a date-time with an offset{found}, e.g. {_TIME_EXAMPLE}")


def _shown(key: str) -> str:
    """A key as it is named in a message: quoted, escaped and at most 40 characters."""
    return repr(key if len(key) <= 40 else key[:40] + "...")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# The roll
# --------------------------------------------------------------------------------------------


def parse_roll(text: str, election_id: str) -> tuple[str, ...]:
    """The canonical voter IDs of a roll of ``election_id``: one a line, ``#`` starts a
    comment, blank lines are skipped; a voter is on it once. Raise :class:`ManifestError`
    (``roll line N: ...``, the ID not repeated: it must not reach logs)."""
    voters: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            voter = canonical_id(entry)
        except InvalidId as exc:
            raise ManifestError(f"roll line {number}: voter ID {exc}") from None
        if voter in first_line:
            raise ManifestError(f"roll line {number}: the same voter as line {first_line[voter]}")
        first_line[voter] = number
        voters.append(voter)
    if not voters:
        raise ManifestError(f"roll: the roll of election {election_id} names no voter")
    return tuple(voters)


def roll_tokens(
    voter_ids: Iterable[str], election_id: str, secrets: VoterSecrets
) -> frozenset[bytes]:
    """The roll as the stores keep it: the voters' keyed tokens in ``election_id``."""
    return frozenset(secrets.voter_token(election_id, voter) for voter in voter_ids)


def roll_location(manifest_path: PurePath, roll_path: str) -> PurePath:
    """Where the roll file is: ``roll_path`` relative to the manifest's folder."""
    return manifest_path.parent / roll_path


# --------------------------------------------------------------------------------------------
# The definition: what "the same election" means
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """A manifest and its roll's tokens (``None``: no roll, anyone may vote)."""

    manifest: Manifest
    roll: frozenset[bytes] | None

    @cached_property
    def digest(self) -> str:
        """SHA-256 (hex) of the manifest's digest and the sorted roll tokens.

        Tokens depend on ``VOTER_KEY``: two digests compare only under the same key.
        """
        hasher = hashlib.sha256(b"election-definition/1\x00" + self.manifest.sha256.encode())
        if self.roll is None:
            hasher.update(b"\x00no roll")
        else:
            hasher.update(b"\x00roll\x00")
            for token in sorted(self.roll):  # tokens have one length: no separator needed
                hasher.update(token)
        return hasher.hexdigest()


def load_definition(
    data: bytes, read_roll: Callable[[str], str], secrets: VoterSecrets
) -> Definition:
    """Parse a manifest and, when it names one, the roll that ``read_roll(roll_path)`` returns."""
    manifest = parse_manifest(data)
    if manifest.roll_path is None:
        return Definition(manifest, None)
    voters = parse_roll(read_roll(manifest.roll_path), manifest.election_id)
    return Definition(manifest, roll_tokens(voters, manifest.election_id, secrets))


def same_definition(a: Definition, b: Definition) -> bool:
    """Whether ``b`` defines the election exactly as ``a`` does (manifest bytes and roll)."""
    return a.digest == b.digest


def ensure_same_definition(existing: Definition, new: Definition) -> None:
    """Let a re-created election through only when nothing differs; else say what does."""
    if same_definition(existing, new):
        return
    election = existing.manifest.election_id
    if existing.manifest.sha256 != new.manifest.sha256:
        raise DefinitionConflict(f"election {election} exists with a different manifest")
    raise DefinitionConflict(f"election {election} exists with a different roll")
