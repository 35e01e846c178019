"""An election's public record as the reading commands take it: from PostgreSQL in one
snapshot, or from a bulletin's files (``election bulletin`` writes them); and the files
themselves, read with care (anyone may hand us one).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from election.domain.errors import InvalidInput

#: The files of a bulletin.
PUBLIC_KEY = "public-key.txt"
CHECKPOINTS = "checkpoints.json"
LEAVES = "leaves.json"
RESULT = "result.json"
README = "README.txt"


@dataclass(frozen=True)
class Record:
    """An election's log as read at one moment: its leaves, its checkpoints (smallest
    first) and the size of the final one once the result is sealed."""

    leaves: list[Any]
    checkpoints: list[Any]
    sealed_size: int | None

    def target(self) -> Any:
        """The checkpoint a proof is made against: the final one once sealed (a leaf or
        checkpoint after the seal proves nothing), else the latest."""
        if self.sealed_size is not None:
            final = [c for c in self.checkpoints if c.checkpoint.size == self.sealed_size]
            if not final:
                raise InvalidInput(
                    f"the record has no checkpoint of the sealed size {self.sealed_size}: "
                    "it is damaged (run `election audit`)"
                )
            return final[-1]
        return self.checkpoints[-1]


def read_bulletin(directory: Path) -> Record:
    """An election's record from a bulletin's files (no database)."""
    from election.domain.bulletin import PublicLeaf
    from election.domain.checkpoints import SignedCheckpoint

    leaves_doc = parse_json(read_text(directory / LEAVES), str(directory / LEAVES))
    checkpoints_doc = parse_json(read_text(directory / CHECKPOINTS), str(directory / CHECKPOINTS))
    result = parse_json(read_text(directory / RESULT), str(directory / RESULT))
    try:
        leaves = [PublicLeaf.from_json(leaf) for leaf in leaves_doc["leaves"]]
        checkpoints = [SignedCheckpoint.from_json(c) for c in checkpoints_doc["checkpoints"]]
        elections = {leaves_doc["election"], checkpoints_doc["election"], result["election"]}
        log = result.get("log")
        sealed_size = None if log is None else int(log["size"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidInput(f"{directory} is not a bulletin (see README.txt there)") from None
    if len(elections) != 1:
        raise InvalidInput(f"{directory}: its files are of more than one election")
    ordered = sorted(checkpoints, key=lambda c: c.checkpoint.size)
    return Record(leaves, ordered, sealed_size)


def read_record(database: peewee.Database, election_id: str) -> Record:
    """An election's record from ``database``, in one snapshot (the one read that both
    ``election proof`` and the web's receipt lookup make)."""
    from election.storage.ballot_log import BallotLog
    from election.storage.elections import ElectionRegistry

    with snapshot(database):
        log = BallotLog(database)
        sealed = ElectionRegistry(database).sealed(election_id)
        size = None if sealed is None else sealed.log_size
        return Record(log.leaves(election_id), log.checkpoints(election_id), size)


@dataclass(frozen=True)
class BulletinParts:
    """What a bulletin publishes: checkpoints (smallest first), leaves and the result."""

    checkpoints: list[Any]
    leaves: list[Any]
    result: dict[str, Any]


def bulletin_parts(
    database: peewee.Database, election_id: str, *, leaves: bool = True
) -> BulletinParts:
    """The checkpoints, the leaves (none unless ``leaves``: one row per ballot, which a
    file without them need not read) and the result a bulletin publishes, in one snapshot.

    No counts before the seal: two bulletins a pass apart would tell, from the counts
    that moved and the few leaves that came, a choice per receipt.
    """
    from election.ops.results import UNDECLARED, result_of, undeclared_json
    from election.storage.ballot_log import BallotLog
    from election.storage.elections import ElectionRegistry

    with snapshot(database):
        registry = ElectionRegistry(database)
        log = BallotLog(database)
        record = registry.get(election_id)
        sealed = registry.sealed(election_id)
        if sealed is None:
            state = UNDECLARED if record is None else record.state().value
            result: dict[str, Any] = {"election": election_id, "state": state, "sealed": False}
        elif record is None:
            result = undeclared_json(election_id, registry.counts(election_id))
        else:
            result = result_of(registry, record).to_json()
        if sealed is not None and sealed.log_size is not None and sealed.log_root is not None:
            result["log"] = {"size": sealed.log_size, "root": sealed.log_root.hex()}
        listed = log.leaves(election_id) if leaves else []
        return BulletinParts(log.checkpoints(election_id), listed, result)


@contextlib.contextmanager
def snapshot(database: peewee.Database) -> Iterator[None]:
    """One transaction that sees the database as it was when it began (REPEATABLE READ):
    a checkpointer's pass that commits meanwhile is not half seen."""
    with database.atomic():
        database.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


#: The largest file a reading command takes (a bulletin of millions of leaves fits).
MAX_FILE_BYTES = 1 << 30


def read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return decoded(data, str(path))


def decoded(data: bytes, name: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"{name} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text") from None


def parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} is not JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{name} nests too deeply to be a proof or a record") from None


def write_bulletin(
    out: Path,
    election_id: str,
    public_key: str,
    checkpoints: list[Any],
    leaves: list[Any],
    result: Any,
) -> None:
    """Write the bulletin's files into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in bulletin_files(election_id, public_key, checkpoints, leaves, result).items():
        (out / name).write_text(text)


def bulletin_files(
    election_id: str,
    public_key: str,
    checkpoints: list[Any],
    leaves: list[Any],
    result: Any,
) -> dict[str, str]:
    """The bulletin's files by name: what ``election bulletin`` writes and the web serves."""
    return {
        PUBLIC_KEY: public_key + "\n",
        CHECKPOINTS: json.dumps(
            {"election": election_id, "checkpoints": [c.to_json() for c in checkpoints]}
        ),
        LEAVES: json.dumps(
            {"election": election_id, "leaves": [leaf.to_json() for leaf in leaves]}
        ),
        RESULT: json.dumps(result, indent=2, ensure_ascii=False),
        README: (
            f"The public record of election {election_id}.\n\n"
            "Prove a receipt from these files alone, then check the proof offline:\n"
            f"  election proof --election-id {election_id} --receipt RECEIPT --bulletin . "
            "> p.json\n"
            '  election verify p.json --public-key "$(cat public-key.txt)"\n'
            "Check the public key against one you got elsewhere (`election log-key` of the\n"
            "deployment): a key read from these files proves only that they agree.\n"
        ),
    }
