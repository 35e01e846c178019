"""The voter-claim store against the machine's real Redis, with a key prefix per test."""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from actors.claims import Claim, VoterClaims
from election.secrecy import voter_token
from tests.conftest import REDIS_BROKER

KEY = b"k" * 32


def token(election: str, voter: str) -> bytes:
    return voter_token(KEY, election, voter)


@pytest.fixture
def claims() -> Iterator[VoterClaims]:
    client = redis.Redis.from_url(REDIS_BROKER, socket_timeout=5)
    prefix = f"t{uuidlib.uuid4().hex[:12]}"
    yield VoterClaims(client, prefix, link_ttl_s=3600)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_the_first_ballot_of_a_voter_claims_them(claims: VoterClaims) -> None:
    assert claims.claim("e1", token("e1", "v1"), "u-1") is Claim.NEW


def test_the_same_ballot_again_is_recognised_as_itself(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    assert claims.claim("e1", token("e1", "v1"), "u-1") is Claim.SAME


def test_another_ballot_of_a_claimed_voter_is_a_repeat(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    assert claims.claim("e1", token("e1", "v1"), "u-2") is Claim.TAKEN


def test_claims_are_per_election(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    assert claims.claim("e2", token("e2", "v1"), "u-2") is Claim.NEW


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
        found = claims.claim("race", token("race", "v1"), f"u-{n}")
        with lock:
            results.append(found)

    workers = [threading.Thread(target=claim, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert Counter(results) == {Claim.NEW: 1, Claim.TAKEN: threads - 1}


def test_releasing_a_ballot_frees_its_voter_for_a_new_ballot(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")

    assert claims.release("e1", "u-1") is True
    assert claims.claim("e1", token("e1", "v1"), "u-2") is Claim.NEW


def test_a_released_ballot_redelivered_stays_refused(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    claims.release("e1", "u-1")

    assert claims.claim("e1", token("e1", "v1"), "u-1") is Claim.RELEASED


def test_releasing_twice_or_an_unknown_ballot_changes_nothing(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    claims.release("e1", "u-1")

    assert claims.release("e1", "u-1") is False
    assert claims.release("e1", "never-seen") is False


def test_a_released_ballot_can_be_reclaimed_while_its_voter_has_not_voted_again(
    claims: VoterClaims,
) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    claims.release("e1", "u-1")

    assert claims.reclaim("e1", "u-1") is Claim.NEW
    assert claims.claim("e1", token("e1", "v1"), "u-2") is Claim.TAKEN
    assert claims.claim("e1", token("e1", "v1"), "u-1") is Claim.SAME


def test_a_released_ballot_cannot_be_reclaimed_once_its_voter_voted_again(
    claims: VoterClaims,
) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    claims.release("e1", "u-1")
    claims.claim("e1", token("e1", "v1"), "u-2")

    assert claims.reclaim("e1", "u-1") is Claim.TAKEN


def test_a_ballot_link_lives_at_most_the_configured_time(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "v1"), "u-1")
    link_keys = list(claims.client.scan_iter(f"{claims.prefix}:l:*"))
    assert link_keys
    for key in link_keys:
        assert 0 < claims.client.ttl(key) <= 3600


def test_redis_holds_no_voter_id(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "voter-4711"), "u-1")
    for key in claims.client.scan_iter(f"{claims.prefix}:*"):
        assert b"voter-4711" not in key
        for field, value in claims.client.hgetall(key).items():
            assert b"voter-4711" not in field + value


def test_a_ballot_link_outside_its_window_is_forgotten(claims: VoterClaims) -> None:
    now = 1_000_000.0
    claims.claim("e1", token("e1", "v1"), "u-1", now=now)
    later = now + 2 * claims.window_s
    # Two windows on, the link is neither in the current nor in the previous window.
    assert claims.claim("e1", token("e1", "v1"), "u-1", now=later) is Claim.TAKEN


def test_a_batch_of_claims_gives_each_vote_its_own_answer_in_order(claims: VoterClaims) -> None:
    claims.claim("e1", token("e1", "old"), "u-old")

    found = claims.claim_many(
        [
            ("e1", token("e1", "v1"), "u-1"),  # new voter
            ("e1", token("e1", "old"), "u-2"),  # voted before the batch
            ("e1", token("e1", "v1"), "u-3"),  # voted earlier in this batch
            ("e1", token("e1", "v1"), "u-1"),  # the first ballot again, redelivered
            ("e2", token("e2", "v1"), "u-4"),  # same voter, another election
        ]
    )

    assert found == [Claim.NEW, Claim.TAKEN, Claim.TAKEN, Claim.SAME, Claim.NEW]


def test_a_batch_claim_is_seen_by_single_claims_afterwards(claims: VoterClaims) -> None:
    claims.claim_many([("e1", token("e1", f"v{n}"), f"u-{n}") for n in range(50)])

    assert claims.claim("e1", token("e1", "v7"), "u-7") is Claim.SAME
    assert claims.claim("e1", token("e1", "v7"), "u-x") is Claim.TAKEN
    assert claims.claim_many([]) == []
