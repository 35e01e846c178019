"""The log key of a deployment, from its settings: what signs its checkpoints and its
answers, and the public key that checks them (one place reads ``LOG_SIGNING_KEY`` and
``LOG_PUBLIC_KEY``)."""

from __future__ import annotations

from functools import partial

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from config import Settings
from election.domain.answers import AnswerSigner
from election.domain.checkpoints import sign_checkpoint
from election.domain.ed25519 import BadKey, load_private_key, load_public_key, public_key_text
from election.domain.errors import ConfigError
from election.storage.ballot_log import CheckpointSigner


def log_private_key(settings: Settings) -> Ed25519PrivateKey:
    """The log key; :class:`ConfigError` when it is unset or malformed."""
    try:
        return load_private_key(settings.require_log_key())
    except BadKey as bad:
        raise ConfigError(f"LOG_SIGNING_KEY: {bad}") from None


def log_public_key(settings: Settings) -> Ed25519PublicKey:
    """``LOG_PUBLIC_KEY``, else the public half of ``LOG_SIGNING_KEY``."""
    if settings.log_public_key is not None:
        try:
            public = load_public_key(settings.log_public_key)
        except BadKey as bad:
            raise ConfigError(f"LOG_PUBLIC_KEY: {bad}") from None
        if settings.log_key is not None and public_key_text(public) != public_key_text(
            log_private_key(settings)
        ):
            # What this process signs would not check against what it hands out.
            raise ConfigError("LOG_PUBLIC_KEY is not the public half of LOG_SIGNING_KEY")
        return public
    if settings.log_key is None:
        raise ConfigError(
            "LOG_PUBLIC_KEY is not set (`election log-key` prints it where LOG_SIGNING_KEY is)"
        )
    return log_private_key(settings).public_key()


def answer_signer(settings: Settings) -> AnswerSigner:
    """What signs this deployment's answers to machines."""
    return AnswerSigner(log_private_key(settings), settings.namespace)


def checkpoint_signer(settings: Settings) -> CheckpointSigner:
    """What signs this deployment's checkpoints."""
    return partial(sign_checkpoint, private_key=log_private_key(settings))
