"""Voter claims in Redis: who has voted in which election, claimed atomically.

Layout, per election ``E`` (all binary-safe):

- ``<ns>:c:E:<bucket>`` — a small hash per bucket of voter tokens (the first two bytes of
  the token pick one of 65,536 buckets); field: the rest of the token; value: the tag of
  the ballot that claimed the voter (:func:`election.domain.secrecy.VoterSecrets.ballot_tag`)
  and the second it was claimed (4 bytes). Small hashes use Redis' compact listpack
  encoding, far cheaper than one key per voter. A claim is never deleted: a voter whose
  ballot will never count (a tombstone in PostgreSQL) is claimed again by the next
  ballot, in place (:meth:`VoterClaims.reclaim`).
- ``<ns>:closing`` — the close barrier (``election.storage.close_barrier``): every claim
  of an election, and every reclaim, first reads its entry there, and claims nothing once
  Redis' clock has reached it. So a close is exact across any number of logger workers,
  however late each hears of it.
- ``<ns>:dedup`` — the seal: the ID of this store and the check of the ``VOTER_KEY`` it
  was built with (``actors.seal``). Every claim call first checks it, so a Redis that
  restarted empty, was flushed or replaced, or a logger with another key, stops voting
  at once instead of counting voters twice.

One Lua script makes check-and-set one atomic step, so two machines sending the same
voter at the same instant cannot both win. A batch of votes is claimed by one call of the
script (one round trip); the votes of a batch are claimed in order, each atomically.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from election.domain.errors import ElectionError
from election.domain.secrecy import BUCKET_BYTES, TAG_BYTES
from election.storage.close_barrier import closing_key

#: A script argument.
Arg = bytes | str | int
#: How long the claim time is, in bytes, after the tag.
_TIME_BYTES = 4

# The checks every script runs first. KEYS[1]: the seal; KEYS[2]: the claim hash of this
# process's canary (its latest claim); ARGV[1]: the store ID, ARGV[2]: the voter key's
# check, ARGV[3]: the canary's field ('' for none), ARGV[4]: the fewest claims the store
# must have counted (the watermark kept in PostgreSQL), ARGV[5]: a problem found outside
# the script ('' for none). Returns a reason, or nil.
_SEAL_CHECK = """
local function seal_problem()
  if ARGV[5] ~= '' then return ARGV[5] end
  local seal = redis.call('HMGET', KEYS[1], 'id', 'key', 'n')
  if not seal[1] then
    return 'the dedup store has no seal: Redis restarted empty, was flushed or lost keys'
  end
  if seal[1] ~= ARGV[1] then
    return 'Redis holds another dedup store than the election began with'
  end
  if seal[2] ~= ARGV[2] then return 'VOTER_KEY is not the key this dedup store was built with' end
  if tonumber(seal[3] or '0') < tonumber(ARGV[4]) then
    return 'Redis has fewer claims than it counted before: it was restored from an older copy'
  end
  local evicted = string.match(redis.call('INFO', 'stats'), 'evicted_keys:(%d+)')
  if evicted and tonumber(evicted) > 0 then return 'Redis has evicted keys' end
  if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then
    return 'a claim this logger made is missing from Redis'
  end
  return nil
end
"""

# The close barrier (``election.storage.close_barrier``): KEYS[3] is ``<ns>:closing``
# (election -> ms by Redis' clock from which its claims stop). ``closed(e)`` says whether
# election e's time has come, asked once per election per call.
_BARRIER = """
local closing_at = {}
local now_ms = nil
local function closed(e)
  local at = closing_at[e]
  if at == nil then
    at = tonumber(redis.call('HGET', KEYS[3], e) or '-1')
    closing_at[e] = at
  end
  if at < 0 then return false end
  if now_ms == nil then
    local t = redis.call('TIME')
    now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now_ms >= at
end
"""

# Per vote i (from 1): KEYS[3 + i] claim hash; ARGV[3 + 3i] claim field, ARGV[4 + 3i]
# ballot tag, ARGV[5 + 3i] election. Returns {problem or '', claims counted, server time
# (s)}, then a code and the claim's value (for TAKEN) per vote. A vote whose claim holds
# its own tag (a redelivery, claimed before any close or problem) is SAME; else a vote of
# a closed election is CLOSED; else while there is a problem SUSPENDED: neither claims.
_CLAIM = (
    _SEAL_CHECK
    + _BARRIER
    + """
local problem = seal_problem() or ''
local now = redis.call('TIME')[1]
local stamp = struct.pack('>I4', tonumber(now))
local out = {problem, 0, now}
local new = 0
for i = 1, #KEYS - 3 do
  local field, tag, election = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  local held = redis.call('HGET', KEYS[3 + i], field)
  if held and string.sub(held, 1, #tag) == tag then
    out[#out + 1] = 2
    out[#out + 1] = ''
  elseif closed(election) then
    out[#out + 1] = 4
    out[#out + 1] = ''
  elseif problem ~= '' then
    out[#out + 1] = 3
    out[#out + 1] = ''
  elseif not held then
    redis.call('HSET', KEYS[3 + i], field, tag .. stamp)
    new = new + 1
    out[#out + 1] = 1
    out[#out + 1] = ''
  else
    out[#out + 1] = 0
    out[#out + 1] = held
  end
end
if new > 0 then out[2] = redis.call('HINCRBY', KEYS[1], 'n', new) end
return out
"""
)

# KEYS[3]: the barrier, KEYS[4]: the claim hash; ARGV[6]: field, ARGV[7]: the value it
# must hold, ARGV[8]: the new tag, ARGV[9]: the election. Returns {problem or ''}, then 1
# when replaced, 0 when it held something else, 2 when the election is closed.
_RECLAIM = (
    _SEAL_CHECK
    + _BARRIER
    + """
local problem = seal_problem()
if problem then return {problem, 0} end
if closed(ARGV[9]) then return {'', 2} end
if redis.call('HGET', KEYS[4], ARGV[6]) == ARGV[7] then
  local stamp = struct.pack('>I4', tonumber(redis.call('TIME')[1]))
  redis.call('HSET', KEYS[4], ARGV[6], ARGV[8] .. stamp)
  return {'', 1}
end
return {'', 0}
"""
)


class Claim(enum.Enum):
    """What a claim attempt found."""

    NEW = 1  # first ballot of this voter: pass it on
    SAME = 2  # this very ballot was seen before (a redelivery): pass it on again
    TAKEN = 0  # another ballot holds the voter: see its row before answering
    SUSPENDED = 3  # the store cannot vouch for itself: nothing was claimed
    CLOSED = 4  # the election's close barrier has come: nothing was claimed


@dataclass(frozen=True)
class ClaimResult:
    """One claim attempt; for ``TAKEN``, ``held`` is what the voter's claim holds."""

    claim: Claim
    held: bytes = b""

    @property
    def held_tag(self) -> bytes:
        """The tag of the ballot that holds the voter."""
        return self.held[:TAG_BYTES]

    @property
    def claimed_at(self) -> int:
        """When that ballot claimed the voter (seconds since the epoch)."""
        return int.from_bytes(self.held[TAG_BYTES : TAG_BYTES + _TIME_BYTES], "big")


@dataclass(frozen=True)
class Seal:
    """The seal a logger expects: the store's ID and the check of its own voter key."""

    store_id: str
    key_check: str


class StoreSuspended(ElectionError):
    """The dedup store cannot vouch that it knows every voter who has voted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ElectionClosed(ElectionError):
    """A reclaim found the election's close barrier passed: nothing was claimed."""


class ClaimsNotReplicated(redis.ConnectionError):
    """Fewer replicas than required confirmed a batch of claims (retried)."""


@dataclass(frozen=True)
class ClaimBatch:
    """What one claim call found: a result per vote, and about the store.

    ``problem`` says why the store cannot vouch for itself (then nothing was claimed and
    every vote but a redelivery is ``SUSPENDED``); ``counted`` is how many claims the
    store has made (0 when this call made none); ``now`` is Redis' clock (seconds), which
    also stamps the claims, so claim ages never depend on a logger's clock."""

    results: list[ClaimResult]
    problem: str
    counted: int
    now: int


#: Seconds between two checks of the Redis configuration (``durability_problems``).
CONFIG_CHECK_S = 10.0


class VoterClaims:
    """The dedup store of the voting logger.

    ``config_problems`` (``election.ops.preflight.durability_problems``) is asked at most every
    :data:`CONFIG_CHECK_S`; while it names a problem, nothing is claimed. ``floor`` is the
    fewest claims the store must have counted (the watermark in PostgreSQL, see
    ``actors.seal.Watermark``): a store restored from an older copy has fewer. With
    ``wait_replicas``, each claim call waits until that many replicas have the claims
    (``WAIT``), in the same round trip.
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        seal: Seal,
        *,
        config_problems: Callable[[redis.Redis], list[str]] | None = None,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 2000,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.seal = seal
        self.seal_key = f"{prefix}:dedup".encode()
        self.closing_key = closing_key(prefix).encode()
        self.config_problems = config_problems
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.floor = 0
        self._claim = client.register_script(_CLAIM)
        self._reclaim = client.register_script(_RECLAIM)
        self._lock = threading.Lock()
        self._canary: tuple[bytes, bytes] | None = None
        self._checked_at = float("-inf")
        self._config_problem = ""

    def claim_key(self, election_id: str, token: bytes) -> bytes:
        """The claim hash that holds ``token``."""
        return f"{self.prefix}:c:{election_id}:".encode() + token[:BUCKET_BYTES].hex().encode()

    def claim_many(self, votes: Sequence[tuple[str, bytes, bytes]]) -> ClaimBatch:
        """Claim each ``(election_id, token, tag)`` in order, in one round trip; each
        claim is atomic, and a later vote of the same voter sees the earlier one."""
        if not votes:
            return ClaimBatch([], "", 0, 0)
        keys = self._check_keys()
        args = self._check_args()
        for election_id, token, tag in votes:
            keys.append(self.claim_key(election_id, token))
            args += [token[BUCKET_BYTES:], tag, election_id]
        found = self._run(self._claim, keys, args)
        results = [
            ClaimResult(Claim(int(found[i])), bytes(found[i + 1])) for i in range(3, len(found), 2)
        ]
        for (election_id, token, _), result in zip(votes, results, strict=True):
            if result.claim is Claim.NEW:
                self._canary = (self.claim_key(election_id, token), token[BUCKET_BYTES:])
        return ClaimBatch(results, bytes(found[0]).decode(), int(found[1]), int(found[2]))

    def reclaim(self, election_id: str, token: bytes, held: bytes, tag: bytes) -> bool:
        """Give the voter's claim to the ballot ``tag`` if it still holds ``held`` (its
        earlier ballot is a tombstone); ``False`` if something else claimed it since.
        Raises :class:`StoreSuspended` when the store cannot vouch for itself, and
        :class:`ElectionClosed` when the election's close barrier has come."""
        keys = [*self._check_keys(), self.claim_key(election_id, token)]
        args = [*self._check_args(), token[BUCKET_BYTES:], held, tag, election_id]
        found = self._run(self._reclaim, keys, args)
        if found[0]:
            raise StoreSuspended(bytes(found[0]).decode())
        if int(found[1]) == 2:
            raise ElectionClosed(f"election {election_id} is closed")
        return int(found[1]) == 1

    def holder(self, election_id: str, token: bytes) -> ClaimResult | None:
        """What the voter's claim holds, if the voter is claimed (read only)."""
        held = self.client.hget(self.claim_key(election_id, token), token[BUCKET_BYTES:])
        if not isinstance(held, bytes):
            return None
        return ClaimResult(Claim.TAKEN, held)

    def scan(self, election_id: str) -> Iterator[tuple[bytes, ClaimResult]]:
        """Every claim of ``election_id``: (voter token, what it holds)."""
        pattern = f"{self.prefix}:c:{election_id}:*"
        for key in self.client.scan_iter(pattern, count=1000):
            bucket = bytes.fromhex(bytes(key).rsplit(b":", 1)[1].decode())
            for field, held in self.client.hscan_iter(key, count=1000):
                yield bucket + bytes(field), ClaimResult(Claim.TAKEN, bytes(held))

    def _check_keys(self) -> list[bytes]:
        canary = self._canary
        return [self.seal_key, canary[0] if canary else self.seal_key, self.closing_key]

    def _check_args(self) -> list[Arg]:
        canary = self._canary
        return [
            self.seal.store_id,
            self.seal.key_check,
            canary[1] if canary else b"",
            self.floor,
            self._problem_outside(),
        ]

    def _problem_outside(self) -> str:
        """The configuration's problem, asked again at most every CONFIG_CHECK_S."""
        if self.config_problems is None:
            return ""
        with self._lock:
            if time.monotonic() - self._checked_at >= CONFIG_CHECK_S:
                problems = self.config_problems(self.client)
                self._config_problem = problems[0] if problems else ""
                self._checked_at = time.monotonic()
            return self._config_problem

    def _run(self, script: Any, keys: list[bytes], args: list[Arg]) -> list[Any]:
        if not self.wait_replicas:
            return list(script(keys=keys, args=args))
        pipe = self.client.pipeline(transaction=False)
        script(keys=keys, args=args, client=pipe)
        pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)  # type: ignore[no-untyped-call]
        found, replicas = pipe.execute()
        if int(replicas) < self.wait_replicas:
            raise ClaimsNotReplicated(
                f"{replicas} of {self.wait_replicas} replicas confirmed the claims"
            )
        return list(found)
