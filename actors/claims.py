"""Voter claims in Redis: who has voted in which election, claimed atomically.

Layout, per election ``E`` (all binary-safe):

- ``<ns>:c:E:<bucket>`` — a small hash per bucket of voter tokens (the first two bytes of
  the token pick one of 65,536 buckets); field: the rest of the token; value: empty.
  This is the permanent record of who voted. Small hashes use Redis' compact listpack
  encoding, far cheaper than one key per voter.
- ``<ns>:l:E:<window>:<bucket>`` — ballot links: which voter token a ballot (by a tag of
  its UUID) claimed. Needed to recognise a redelivered ballot as itself and to release a
  claim. Links live in time windows of half ``BALLOT_LINK_TTL_S``; a window's hashes
  expire one window after it ends, so no link outlives ``BALLOT_LINK_TTL_S``.

One Lua script makes check-and-set one atomic step, so two machines sending the same
voter at the same instant cannot both win. A batch of votes is claimed by one call of the
script (one round trip); the votes of a batch are claimed in order, each atomically.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence

import redis

from election.secrecy import BUCKET_BYTES, TOKEN_BYTES, ballot_tag

#: Marks a link whose claim was released (the ballot was given up).
RELEASED_MARK = b"x"

# Per vote i (from 0): KEYS[3i+1..3i+3]: claim hash, link hash (this window), link hash
# (previous window); ARGV[4i+1..4i+4]: claim field, ballot tag, voter token, expire-at of
# this window's link hash. Returns one code per vote (see Claim).
_CLAIM = """
local function claim(k, a)
  local linked = redis.call('HGET', KEYS[k + 2], ARGV[a + 2])
  if not linked then linked = redis.call('HGET', KEYS[k + 3], ARGV[a + 2]) end
  if linked then
    if linked == ARGV[a + 3] then return 2 end
    if linked == 'x' .. ARGV[a + 3] then return 3 end
    return 0
  end
  if redis.call('HSETNX', KEYS[k + 1], ARGV[a + 1], '') == 1 then
    redis.call('HSET', KEYS[k + 2], ARGV[a + 2], ARGV[a + 3])
    redis.call('EXPIREAT', KEYS[k + 2], ARGV[a + 4])
    return 1
  end
  return 0
end
local found = {}
for i = 0, #KEYS / 3 - 1 do
  found[i + 1] = claim(3 * i, 4 * i)
end
return found
"""

# KEYS: claim hash, the link hash holding the ballot; ARGV: claim field, tag, token
_RELEASE = """
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[2], 'x' .. ARGV[3])
  return 1
end
return 0
"""

# KEYS: claim hash, the link hash holding the ballot; ARGV: claim field, tag, token
_RECLAIM = """
if redis.call('HGET', KEYS[2], ARGV[2]) ~= 'x' .. ARGV[3] then return 2 end
if redis.call('HSETNX', KEYS[1], ARGV[1], '') == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0
"""


class Claim(enum.Enum):
    """What a claim attempt found."""

    NEW = 1  # first ballot of this voter: pass it on
    SAME = 2  # this very ballot was seen before (a redelivery): pass it on again
    TAKEN = 0  # another ballot of this voter came first: "Already voted"
    RELEASED = 3  # this ballot was given up earlier; it stays refused


class VoterClaims:
    """The dedup store of the voting logger."""

    def __init__(self, client: redis.Redis, prefix: str, *, link_ttl_s: int = 3600) -> None:
        self.client = client
        self.prefix = prefix
        self.window_s = max(1, link_ttl_s // 2)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._reclaim = client.register_script(_RECLAIM)

    def claim_key(self, election_id: str, token: bytes) -> bytes:
        """The claim hash that holds ``token``."""
        return f"{self.prefix}:c:{election_id}:".encode() + token[:BUCKET_BYTES].hex().encode()

    def _link_keys(self, election_id: str, tag: bytes, now: float) -> tuple[bytes, bytes, int]:
        window = int(now // self.window_s)
        base = f"{self.prefix}:l:{election_id}:"
        bucket = tag[:BUCKET_BYTES].hex()
        current = f"{base}{window}:{bucket}".encode()
        previous = f"{base}{window - 1}:{bucket}".encode()
        return current, previous, (window + 2) * self.window_s

    def claim(self, election_id: str, token: bytes, uuid: str, now: float | None = None) -> Claim:
        """Claim the voter ``token`` in ``election_id`` for the ballot ``uuid``, atomically."""
        return self.claim_many([(election_id, token, uuid)], now)[0]

    def claim_many(
        self, votes: Sequence[tuple[str, bytes, str]], now: float | None = None
    ) -> list[Claim]:
        """Claim each ``(election_id, token, uuid)`` in order, in one round trip; each
        claim is atomic, and a later vote of the same voter sees the earlier one."""
        if not votes:
            return []
        keys: list[bytes] = []
        args: list[bytes | int] = []
        moment = now or time.time()
        for election_id, token, uuid in votes:
            tag = ballot_tag(uuid)
            current, previous, expire_at = self._link_keys(election_id, tag, moment)
            keys += [self.claim_key(election_id, token), current, previous]
            args += [token[BUCKET_BYTES:], tag, token, expire_at]
        found = self._claim(keys=keys, args=args)
        return [Claim(int(code)) for code in found]

    def _find_link(self, election_id: str, uuid: str) -> tuple[bytes, bytes, bytes] | None:
        """(link hash, ballot tag, stored value) of a ballot's link, if it still exists."""
        tag = ballot_tag(uuid)
        current, previous, _ = self._link_keys(election_id, tag, time.time())
        for key in (current, previous):
            value = self.client.hget(key, tag)
            if isinstance(value, bytes):  # a client made with decode_responses is not ours
                return key, tag, value
        return None

    def release(self, election_id: str, uuid: str) -> bool:
        """Free the voter that ballot ``uuid`` claimed; ``False`` if it holds no claim."""
        link = self._find_link(election_id, uuid)
        if link is None or _released(link[2]):
            return False
        key, tag, token = link
        done = self._release(
            keys=[self.claim_key(election_id, token), key],
            args=[token[BUCKET_BYTES:], tag, token],
        )
        return bool(done)

    def reclaim(self, election_id: str, uuid: str) -> Claim:
        """Claim again for a released ballot (an operator's replay).

        ``NEW`` when the voter is claimed for it again, ``TAKEN`` when the voter has voted
        since, ``SAME`` when it was never released; :class:`LookupError` when its link has
        expired and nobody can tell any more which voter it was.
        """
        link = self._find_link(election_id, uuid)
        if link is None:
            raise LookupError(f"the link of ballot {uuid} has expired")
        key, tag, value = link
        if not _released(value):
            return Claim.SAME
        token = value[len(RELEASED_MARK) :]
        done = int(
            self._reclaim(
                keys=[self.claim_key(election_id, token), key],
                args=[token[BUCKET_BYTES:], tag, token],
            )
        )
        return {1: Claim.NEW, 0: Claim.TAKEN}.get(done, Claim.SAME)


def _released(link_value: bytes) -> bool:
    # Tokens are binary and may start with the mark's byte: tell them apart by length.
    return len(link_value) == TOKEN_BYTES + len(RELEASED_MARK)
