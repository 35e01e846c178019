"""A voting machine trusts only answers our services signed (``election.domain.answers``):
an unsigned ``successful``, or one signed with another key, is shown as forged and never
as an outcome, and the vote goes on waiting for its real answer. Over the real emulator;
the test plays the services, so it can also send what an attacker would."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from config import Settings
from election.domain import protocol
from election.domain.answers import AnswerSigner
from election.domain.ed25519 import load_private_key, new_private_key
from election.domain.outcomes import Kind
from election.machine.board import Cast
from election.machine.voting import VotingMachine
from election.ops.log_signing import answer_signer
from election.pubsub.calls import PubSubCalls
from tests.integration.test_heal import find_vote
from tests.support.processes import wait_for


def test_a_forged_answer_is_shown_as_forged_and_the_signed_one_as_the_outcome(
    settings: Settings, subscription: tuple[PubSubCalls, str, str]
) -> None:
    calls, topic, path = subscription
    forged: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_forged(uuid: str, why: str) -> None:
        with lock:
            forged.append((uuid, why))

    machine = VotingMachine(settings, "sig-3", "e1", on_forged=on_forged)
    machine.open()
    try:
        result: Future[Cast] = Future()
        voting = threading.Thread(
            target=lambda: result.set_result(machine.cast(77, 1, timeout=30)), daemon=True
        )
        voting.start()
        uuid = find_vote(calls, path, "sig-3")
        claim = protocol.successful_message("sig-3", uuid, None)
        stranger = AnswerSigner(load_private_key(new_private_key()), settings.namespace)
        elsewhere = AnswerSigner(answer_signer(settings).key, "another-deployment")
        (good,) = answer_signer(settings).sign([claim])
        moved = good.with_attributes({protocol.MACHINE_ID: "sig-3"})  # same, as a control
        tampered = protocol.OutgoingMessage(
            {**good.body, "result": protocol.RESULT_ALREADY_VOTED}, good.attributes
        )
        # A forgery about no vote of this machine, made to look like one of its lines.
        fake_line = "\r\x1b[2Kx  choice 2  A vote was recorded successfully"
        stray = protocol.successful_message("sig-3", fake_line, None)
        for message in (
            stray,  # about no vote it waits for: logged, never shown
            claim,  # unsigned
            *stranger.sign([claim]),  # signed, by a key that is not the log's
            *elsewhere.sign([claim]),  # the log's key, for another namespace
            tampered,  # a valid signature over another body
        ):
            calls.publish(topic, [(message.data(), message.attributes)], 10)
        wait_for(lambda: len(forged) >= 4, 20, "the four forged answers to be seen")
        assert not result.done()  # none of them was taken for the outcome
        calls.publish(topic, [(moved.data(), moved.attributes)], 10)
        cast = result.result(timeout=25)
    finally:
        machine.close()
    assert cast.uuid == uuid and cast.outcome.kind is Kind.RECORDED
    assert sorted(why for _, why in forged) == [
        "bad signature",
        "bad signature",
        "bad signature",
        "unsigned",
    ]
    assert {u for u, _ in forged} == {uuid}
