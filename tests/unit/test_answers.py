"""The services' answers to machines are signed together per publish, each with its own
inclusion proof (``election.domain.answers``): each verifies alone, none fits another, and
whatever a forger sends is refused without an exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from election.domain import answers, protocol
from election.domain.answers import AnswerSigner, answer_is_signed
from election.domain.ed25519 import load_private_key, new_private_key

KEY = load_private_key(new_private_key())
SIGNER = AnswerSigner(KEY, "ns")
PUBLIC = KEY.public_key()


def test_every_answer_of_one_publish_verifies_alone_under_one_signature() -> None:
    messages = [protocol.successful_message(f"m{n}", f"u{n}", None) for n in range(7)]
    vote = protocol.OutgoingMessage({"x": 1}, {protocol.FUNCTION: protocol.SUBMIT_VOTE})
    signed = SIGNER.sign([*messages, vote])
    assert signed[-1] == vote  # only answers are signed
    assert len({m.attributes[answers.SIGNATURE] for m in signed[:-1]}) == 1
    for message in signed[:-1]:
        assert answer_is_signed(PUBLIC, "ns", message.data(), message.attributes)


def test_an_answer_moved_to_another_machine_body_or_deployment_does_not_verify() -> None:
    first, second = SIGNER.sign(
        [
            protocol.successful_message("m1", "u1", None),
            protocol.successful_message("m2", "u2", None),
        ]
    )
    swapped = {**first.attributes, answers.PROOF: second.attributes[answers.PROOF]}
    moved = {**first.attributes, protocol.MACHINE_ID: "m2"}
    assert not answer_is_signed(PUBLIC, "ns", first.data(), swapped)
    assert not answer_is_signed(PUBLIC, "ns", first.data(), moved)
    assert not answer_is_signed(PUBLIC, "ns", second.data(), first.attributes)
    assert not answer_is_signed(PUBLIC, "other", first.data(), first.attributes)
    other_key = load_private_key(new_private_key()).public_key()
    assert not answer_is_signed(other_key, "ns", first.data(), first.attributes)


def test_a_publish_of_more_answers_than_one_tree_holds_signs_them_in_parts() -> None:
    many = [protocol.successful_message("m", f"u{n}", None) for n in range(answers.MAX_BATCH + 3)]
    signed = SIGNER.sign(many)
    assert len({m.attributes[answers.SIGNATURE] for m in signed}) == 2
    assert all(answer_is_signed(PUBLIC, "ns", m.data(), m.attributes) for m in signed[-5:])


def test_a_proof_with_digits_of_another_script_is_refused_without_an_exception() -> None:
    (good,) = SIGNER.sign([protocol.successful_message("m", "u", None)])
    for odd in ("\u00b2:1:", "0:\u0661:", "\uff10:1:"):
        attributes = {**good.attributes, answers.PROOF: odd}
        assert answer_is_signed(PUBLIC, "ns", good.data(), attributes) is False


@given(
    data=st.binary(max_size=200),
    signature=st.text(max_size=100),
    proof=st.text(max_size=200),
    machine=st.text(max_size=20),
)
def test_whatever_a_forger_sends_is_refused_without_an_exception(
    data: bytes, signature: str, proof: str, machine: str
) -> None:
    attributes = {
        protocol.MACHINE_ID: machine,
        answers.SIGNATURE: signature,
        answers.PROOF: proof,
    }
    assert answer_is_signed(PUBLIC, "ns", data, attributes) is False
