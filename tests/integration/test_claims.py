"""The voter-claim store against the machine's real Redis, with a key prefix per test."""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from actors.claims import Claim, VoterClaims
from tests.conftest import REDIS_BROKER


@pytest.fixture
def claims() -> Iterator[VoterClaims]:
    client = redis.Redis.from_url(REDIS_BROKER, socket_timeout=5)
    prefix = f"t{uuidlib.uuid4().hex[:12]}"
    yield VoterClaims(client, prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_the_first_ballot_of_a_voter_claims_them(claims: VoterClaims) -> None:
    assert claims.claim("e1", "v1", "u-1") is Claim.NEW


def test_the_same_ballot_again_is_recognised_as_itself(claims: VoterClaims) -> None:
    claims.claim("e1", "v1", "u-1")
    assert claims.claim("e1", "v1", "u-1") is Claim.SAME


def test_another_ballot_of_a_claimed_voter_is_a_repeat(claims: VoterClaims) -> None:
    claims.claim("e1", "v1", "u-1")
    assert claims.claim("e1", "v1", "u-2") is Claim.TAKEN


def test_claims_are_per_election(claims: VoterClaims) -> None:
    claims.claim("e1", "v1", "u-1")
    assert claims.claim("e2", "v1", "u-2") is Claim.NEW


@pytest.mark.parametrize("round_", range(5))
def test_many_ballots_of_one_voter_at_the_same_instant_make_exactly_one_claim(
    claims: VoterClaims, round_: int
) -> None:
    threads = 32
    barrier = threading.Barrier(threads)
    results: list[Claim] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        barrier.wait(timeout=10)
        found = claims.claim("race", "v1", f"u-{n}")
        with lock:
            results.append(found)

    workers = [threading.Thread(target=claim, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert Counter(results) == {Claim.NEW: 1, Claim.TAKEN: threads - 1}
