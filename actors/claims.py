"""Voter claims in Redis: who has voted in which election, claimed atomically.

One Lua script per vote makes check-and-set a single atomic step, so two machines sending
the same voter at the same instant cannot both win. The claim remembers the ballot UUID
that won it, so a redelivered copy of that same ballot is recognized as itself rather
than as a repeat.
"""

from __future__ import annotations

import enum

import redis

# KEYS[1]: the election's claim hash; ARGV[1]: voter; ARGV[2]: ballot UUID.
# Returns 1 when this ballot claims the voter, 2 when this ballot already had, 0 when
# another ballot had.
_CLAIM_SCRIPT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  return 1
end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return 2
end
return 0
"""


class Claim(enum.Enum):
    """What a claim attempt found."""

    NEW = 1  # first ballot of this voter: pass it on
    SAME = 2  # this very ballot was seen before (a redelivery): pass it on again
    TAKEN = 0  # another ballot of this voter came first: "Already voted"


class VoterClaims:
    """The dedup store of the voting logger."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_CLAIM_SCRIPT)

    def key(self, election_id: str) -> str:
        """The Redis key holding the claims of one election."""
        return f"{self.prefix}:claims:{election_id}"

    def claim(self, election_id: str, voter_id: str, uuid: str) -> Claim:
        """Claim ``voter_id`` in ``election_id`` for the ballot ``uuid``, atomically."""
        found = self._script(keys=[self.key(election_id)], args=[voter_id, uuid])
        return Claim(int(found))
