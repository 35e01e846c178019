"""Ed25519 keys as one line of text, and signatures anyone can check with the public key.

The election's log signs what it publishes (checkpoints, and later the answers it sends
to machines) with one Ed25519 key, so anyone holding the public key can check them and
nobody else can make them, unlike the HMAC of ``election.domain.signing``.

Text forms, one line each (an environment variable, a ``--public-key`` option):

- private key: ``ed25519-private:`` then the standard base64 (RFC 4648 section 4, with
  padding: 44 characters) of the 32-byte raw private key (RFC 8032's seed);
- public key: ``ed25519:`` then the standard base64 of the 32-byte raw public key.

The prefixes differ so that a private key pasted where a public key belongs is refused,
and error messages never repeat a key.

What is signed: ``"election-ed25519-v1" || 0x00 || purpose || 0x00 || message``, the
purpose a short lowercase ASCII name (``checkpoint``, ...). One key signs many kinds of
message; the purpose keeps a signature on one kind from passing for another kind.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from election.domain.errors import InvalidInput

PRIVATE_PREFIX = "ed25519-private:"
PUBLIC_PREFIX = "ed25519:"
KEY_BYTES = 32
SIGNATURE_BYTES = 64
_TAG = b"election-ed25519-v1\x00"
_PURPOSE = re.compile(r"[a-z][a-z0-9.-]{0,63}")
_RAW = serialization.Encoding.Raw


class BadKey(InvalidInput):
    """Text that is not an Ed25519 key of the expected kind; the message says why."""


def new_private_key() -> str:
    """A fresh private key, in its text form."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return PRIVATE_PREFIX + base64.b64encode(raw).decode()


def _raw(text: object, kind: str, prefix: str, other: str) -> bytes:
    if not isinstance(text, str):
        raise BadKey(f"a {kind} key is text")
    text = text.strip()
    if text.startswith(other):
        wrong = "public" if kind == "private" else "private"
        raise BadKey(f"this is a {wrong} key, not a {kind} key")
    if not text.startswith(prefix):
        raise BadKey(f"a {kind} key starts with {prefix!r}")
    encoded = text[len(prefix) :]
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(f"the {kind} key after {prefix!r} is not base64") from None
    if len(raw) != KEY_BYTES or base64.b64encode(raw).decode() != encoded:
        raise BadKey(f"an Ed25519 {kind} key is the base64 of {KEY_BYTES} bytes")
    return raw


def load_private_key(text: str) -> Ed25519PrivateKey:
    """The private key written as ``text``; raise :class:`BadKey`."""
    return Ed25519PrivateKey.from_private_bytes(
        _raw(text, "private", PRIVATE_PREFIX, PUBLIC_PREFIX)
    )


def load_public_key(text: str) -> Ed25519PublicKey:
    """The public key written as ``text``; raise :class:`BadKey`."""
    raw = _raw(text, "public", PUBLIC_PREFIX, PRIVATE_PREFIX)
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise BadKey("these 32 bytes are not an Ed25519 public key") from None


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The text form of the public key of ``key`` (or of ``key`` itself), for verifiers."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(_RAW, serialization.PublicFormat.Raw)
    return PUBLIC_PREFIX + base64.b64encode(raw).decode()


def _signed(purpose: str, message: bytes) -> bytes:
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"not a signature purpose: {purpose!r}")
    return _TAG + purpose.encode() + b"\x00" + message


def sign_bytes(private_key: Ed25519PrivateKey, purpose: str, message: bytes) -> bytes:
    """The 64-byte signature of ``message`` for ``purpose``."""
    return private_key.sign(_signed(purpose, message))


def verify_bytes(
    public_key: Ed25519PublicKey, purpose: str, message: bytes, signature: bytes
) -> bool:
    """Whether ``signature`` is ``public_key``'s on ``message`` for ``purpose``. Never raises."""
    if not isinstance(public_key, Ed25519PublicKey):
        return False
    if not isinstance(message, bytes) or not isinstance(signature, bytes):
        return False
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        public_key.verify(signature, _signed(purpose, message))
    except (InvalidSignature, ValueError):
        return False
    return True
