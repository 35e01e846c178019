"""The one place that reads the log key from the settings (``election.ops.log_signing``)."""

from __future__ import annotations

import pytest

from config import load_settings
from election.domain.ed25519 import load_private_key, new_private_key, public_key_text
from election.domain.errors import ConfigError
from election.ops.log_signing import log_public_key

EMULATOR = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}


def test_the_public_key_is_the_signing_keys_half_when_only_that_is_set() -> None:
    private = new_private_key()
    settings = load_settings({**EMULATOR, "LOG_SIGNING_KEY": private})
    assert public_key_text(log_public_key(settings)) == public_key_text(load_private_key(private))


def test_a_public_key_that_is_not_the_signing_keys_half_is_refused() -> None:
    stranger = public_key_text(load_private_key(new_private_key()))
    settings = load_settings(
        {**EMULATOR, "LOG_SIGNING_KEY": new_private_key(), "LOG_PUBLIC_KEY": stranger}
    )
    with pytest.raises(ConfigError, match="not the public half of LOG_SIGNING_KEY"):
        log_public_key(settings)
