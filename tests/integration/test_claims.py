"""The voter-claim store against the project's durable Redis, with a key prefix per test."""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from actors.claims import Claim, ClaimResult, ElectionClosed, Seal, StoreSuspended, VoterClaims
from config import load_settings
from election.domain.secrecy import VoterSecrets
from election.storage.close_barrier import close_at, close_now
from election.storage.redis_client import connect_redis

SECRETS = VoterSecrets(b"k" * 32)


def tag(election: str, voter: str, uuid: str) -> bytes:
    return SECRETS.ballot_tag(election, SECRETS.voter_token(election, voter), uuid)


def claim(claims: VoterClaims, election: str, voter: str, uuid: str) -> ClaimResult:
    token = SECRETS.voter_token(election, voter)
    return claims.claim_many([(election, token, tag(election, voter, uuid))]).results[0]


def suspended(claims: VoterClaims, election: str, voter: str, uuid: str) -> str:
    """The reason a claim is refused (and the claim is indeed not made)."""
    token = SECRETS.voter_token(election, voter)
    batch = claims.claim_many([(election, token, tag(election, voter, uuid))])
    assert batch.results[0].claim is Claim.SUSPENDED
    return batch.problem


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    made = connect_redis(load_settings({"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}).redis_url)
    yield made
    made.close()


@pytest.fixture
def claims(client: redis.Redis) -> Iterator[VoterClaims]:
    prefix = f"t{uuidlib.uuid4().hex[:12]}"
    seal = Seal(uuidlib.uuid4().hex, SECRETS.key_check)
    client.hset(f"{prefix}:dedup", mapping={"id": seal.store_id, "key": seal.key_check})
    yield VoterClaims(client, prefix, seal)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_the_first_ballot_of_a_voter_claims_them(claims: VoterClaims) -> None:
    assert claim(claims, "e1", "v1", "u-1").claim is Claim.NEW


def test_the_same_ballot_again_is_recognised_as_itself(claims: VoterClaims) -> None:
    claim(claims, "e1", "v1", "u-1")
    assert claim(claims, "e1", "v1", "u-1").claim is Claim.SAME


def test_another_ballot_of_a_claimed_voter_is_taken_and_says_which_ballot_holds_them(
    claims: VoterClaims,
) -> None:
    claim(claims, "e1", "v1", "u-1")
    redis_now = int(claims.client.time()[0])
    found = claim(claims, "e1", "v1", "u-2")
    assert found.claim is Claim.TAKEN
    assert found.held_tag == tag("e1", "v1", "u-1")
    # Stamped with Redis' own clock, so no logger's clock decides a claim's age.
    assert abs(found.claimed_at - redis_now) <= 1


def test_another_voter_sending_the_same_uuid_casts_a_ballot_of_their_own(
    claims: VoterClaims,
) -> None:
    claim(claims, "e1", "v1", "copied-uuid")
    assert claim(claims, "e1", "v2", "copied-uuid").claim is Claim.NEW
    assert tag("e1", "v1", "copied-uuid") != tag("e1", "v2", "copied-uuid")


def test_claims_are_per_election(claims: VoterClaims) -> None:
    claim(claims, "e1", "v1", "u-1")
    assert claim(claims, "e2", "v1", "u-2").claim is Claim.NEW


@pytest.mark.parametrize("round_", range(5))
def test_many_ballots_of_one_voter_at_the_same_instant_make_exactly_one_claim(
    claims: VoterClaims, round_: int
) -> None:
    threads = 32
    barrier = threading.Barrier(threads)
    results: list[Claim] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        barrier.wait(timeout=10)
        found = claim(claims, "race", "v1", f"u-{n}").claim
        with lock:
            results.append(found)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert Counter(results) == {Claim.NEW: 1, Claim.TAKEN: threads - 1}


def test_a_reclaim_moves_the_claim_only_from_the_ballot_it_names(claims: VoterClaims) -> None:
    first = claim(claims, "e1", "v1", "u-1")
    assert first.claim is Claim.NEW
    held = claim(claims, "e1", "v1", "u-2").held
    token = SECRETS.voter_token("e1", "v1")

    assert claims.reclaim("e1", token, held, tag("e1", "v1", "u-2")) is True
    # The claim now holds u-2: a reclaim that still names u-1 changes nothing.
    assert claims.reclaim("e1", token, held, tag("e1", "v1", "u-3")) is False
    assert claim(claims, "e1", "v1", "u-2").claim is Claim.SAME
    assert claim(claims, "e1", "v1", "u-1").claim is Claim.TAKEN


def test_redis_holds_no_voter_id_and_no_ballot_uuid(claims: VoterClaims) -> None:
    claim(claims, "e1", "voter-4711", "ballot-0042")
    for key in claims.client.scan_iter(f"{claims.prefix}:*"):
        for field, value in claims.client.hgetall(key).items():
            for secret in (b"voter-4711", b"ballot-0042", b"4711", b"0042"):
                assert secret not in key + field + value


def test_a_batch_of_claims_gives_each_vote_its_own_answer_in_order(claims: VoterClaims) -> None:
    claim(claims, "e1", "old", "u-old")
    votes = [
        ("e1", "v1", "u-1"),  # new voter
        ("e1", "old", "u-2"),  # voted before the batch
        ("e1", "v1", "u-3"),  # voted earlier in this batch
        ("e1", "v1", "u-1"),  # the first ballot again, redelivered
        ("e2", "v1", "u-4"),  # same voter, another election
    ]
    batch = claims.claim_many([(e, SECRETS.voter_token(e, v), tag(e, v, u)) for e, v, u in votes])
    assert [f.claim for f in batch.results] == [
        Claim.NEW,
        Claim.TAKEN,
        Claim.TAKEN,
        Claim.SAME,
        Claim.NEW,
    ]
    assert batch.counted == 3  # the old voter's claim, and the two new ones
    assert claims.claim_many([]).results == []


def test_every_claim_of_an_election_can_be_listed(claims: VoterClaims) -> None:
    for n in range(30):
        claim(claims, "e1", f"v{n}", f"u-{n}")
    claim(claims, "e2", "v0", "u-x")
    listed = dict(claims.scan("e1"))
    assert set(listed) == {SECRETS.voter_token("e1", f"v{n}") for n in range(30)}
    assert listed[SECRETS.voter_token("e1", "v3")].held_tag == tag("e1", "v3", "u-3")


def test_claims_stop_when_the_seal_is_gone(claims: VoterClaims) -> None:
    claim(claims, "e1", "v1", "u-1")
    claims.client.delete(f"{claims.prefix}:dedup")
    assert "no seal" in suspended(claims, "e1", "v2", "u-2")
    assert claims.holder("e1", SECRETS.voter_token("e1", "v2")) is None


def test_a_redelivered_ballot_still_goes_on_while_the_store_is_suspended(
    claims: VoterClaims,
) -> None:
    # Its voter is claimed for it already: answering "not counted" would lock them out.
    claim(claims, "e1", "v1", "u-1")
    claims.floor = 10**9
    assert claim(claims, "e1", "v1", "u-1").claim is Claim.SAME
    assert "fewer claims" in suspended(claims, "e1", "v2", "u-2")


def test_claims_stop_for_a_logger_with_another_voter_key(claims: VoterClaims) -> None:
    other = VoterClaims(
        claims.client, claims.prefix, Seal(claims.seal.store_id, VoterSecrets(b"o" * 32).key_check)
    )
    assert "VOTER_KEY" in suspended(other, "e1", "v1", "u-1")


def test_claims_stop_when_a_claim_this_logger_made_disappears(claims: VoterClaims) -> None:
    claim(claims, "e1", "v1", "u-1")
    # As a failover to a replica that missed the last writes would look.
    for key in claims.client.scan_iter(f"{claims.prefix}:c:*"):
        claims.client.delete(key)
    assert "missing" in suspended(claims, "e1", "v2", "u-2")


def test_claims_stop_when_redis_counted_fewer_claims_than_the_watermark(
    claims: VoterClaims,
) -> None:
    # A Redis restored from a copy older than the last claims: its count went back.
    for n in range(5):
        claim(claims, "e1", f"v{n}", f"u-{n}")
    claims.floor = 5
    assert claim(claims, "e1", "v9", "u-9").claim is Claim.NEW
    claims.client.hset(f"{claims.prefix}:dedup", "n", 2)
    fresh = VoterClaims(claims.client, claims.prefix, claims.seal)  # a logger started since
    fresh.floor = 6
    assert "restored from an older copy" in suspended(fresh, "e1", "v1", "u-x")


def test_claims_stop_once_the_configuration_check_finds_a_problem(
    claims: VoterClaims, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems: list[str] = []
    watched = VoterClaims(
        claims.client, claims.prefix, claims.seal, config_problems=lambda _: list(problems)
    )
    assert claim(watched, "e1", "v1", "u-1").claim is Claim.NEW
    problems.append("Redis has appendfsync everysec, needs always")
    monkeypatch.setattr("actors.claims.CONFIG_CHECK_S", 0.0)
    assert "everysec" in suspended(watched, "e1", "v2", "u-2")
    problems.clear()
    assert claim(watched, "e1", "v2", "u-2").claim is Claim.NEW  # and resumes by itself


def test_a_reclaim_while_the_store_is_suspended_is_refused(claims: VoterClaims) -> None:
    claim(claims, "e1", "v1", "u-1")
    held = claim(claims, "e1", "v1", "u-2").held
    claims.client.delete(f"{claims.prefix}:dedup")
    with pytest.raises(StoreSuspended):
        claims.reclaim("e1", SECRETS.voter_token("e1", "v1"), held, tag("e1", "v1", "u-2"))


# -- the close barrier (election.storage.close_barrier) ----------------------------------------


def test_a_claim_after_the_close_is_closed_and_claims_nothing(claims: VoterClaims) -> None:
    assert claim(claims, "e1", "v1", "u-1").claim is Claim.NEW  # before the close
    close_now(claims.client, claims.prefix, "e1")
    assert claim(claims, "e1", "v2", "u-2").claim is Claim.CLOSED
    assert claim(claims, "e1", "v1", "u-3").claim is Claim.CLOSED  # not even TAKEN
    assert claims.holder("e1", SECRETS.voter_token("e1", "v2")) is None
    assert claim(claims, "e2", "v2", "u-4").claim is Claim.NEW  # other elections go on


def test_a_ballot_claimed_before_the_close_is_still_itself_after_it(claims: VoterClaims) -> None:
    claim(claims, "e1", "v1", "u-1")
    close_now(claims.client, claims.prefix, "e1")
    # A redelivery of a ballot accepted before the close: it goes on, and it counts.
    assert claim(claims, "e1", "v1", "u-1").claim is Claim.SAME


def test_the_barrier_holds_from_its_time_by_redis_clock(claims: VoterClaims) -> None:
    seconds, micros = claims.client.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    close_at(claims.client, claims.prefix, "later", now_ms + 60_000)
    close_at(claims.client, claims.prefix, "passed", now_ms - 1)
    assert claim(claims, "later", "v1", "u-1").claim is Claim.NEW
    assert claim(claims, "passed", "v1", "u-1").claim is Claim.CLOSED
    close_now(claims.client, claims.prefix, "later")  # a close by hand overrides the time
    assert claim(claims, "later", "v2", "u-2").claim is Claim.CLOSED


def test_a_reclaim_after_the_close_claims_nothing(claims: VoterClaims) -> None:
    claim(claims, "e1", "v1", "u-1")
    held = claim(claims, "e1", "v1", "u-2").held
    close_now(claims.client, claims.prefix, "e1")
    token = SECRETS.voter_token("e1", "v1")
    with pytest.raises(ElectionClosed):
        claims.reclaim("e1", token, held, tag("e1", "v1", "u-2"))
    assert claim(claims, "e1", "v1", "u-1").claim is Claim.SAME


def test_a_batch_across_the_barrier_closes_only_the_closed_election(claims: VoterClaims) -> None:
    close_now(claims.client, claims.prefix, "shut")
    votes = [("open", "v1", "u-1"), ("shut", "v1", "u-2"), ("open", "v2", "u-3")]
    batch = claims.claim_many([(e, SECRETS.voter_token(e, v), tag(e, v, u)) for e, v, u in votes])
    assert [f.claim for f in batch.results] == [Claim.NEW, Claim.CLOSED, Claim.NEW]
    assert batch.counted == 2
