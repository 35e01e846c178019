"""Receipts, commitments and the bytes of a ballot's leaf in the election's log.

A voter leaves with a **receipt**: a random tracking code, nothing derived from the voter
or the choice, so it reveals neither. The log stores, per ballot, a **commitment** to its
choice: a hash of the choice and a secret 32-byte nonce. Without the nonce the commitment
says nothing about the choice (hiding: the nonce is random and secret); with it, it opens
to one choice only (binding: SHA-256 has no known collisions). Anyone can look a receipt
up in the log and check, with an inclusion proof, that the ballot is counted in a signed
tree head.

Receipt
    128 random bits and a 12-bit check, 140 bits written as 28 symbols of Crockford's
    base 32 (``0-9 A-Z`` without ``I L O U``), most significant first, in groups of 4:
    ``K7QD-3M9X-...``. The check is the first 12 bits of
    ``SHA-256("election-receipt-v1" || 0x00 || code)`` (``code``: the 16 random bytes),
    so a mistyped receipt is refused as one (all but 1 in 4096 typos) instead of being
    looked up and found missing. People may type it in any case, with spaces or dashes
    anywhere, and ``I``/``L`` for ``1``, ``O`` for ``0``.

Commitment (32 bytes)
    ``SHA-256("election-commit-v1" || 0x00 || choice || nonce)``, ``choice`` a signed
    64-bit big-endian integer (two's complement) and ``nonce`` exactly 32 bytes.

Leaf data (the RFC 9162 leaf input; its leaf hash is ``SHA-256(0x00 || leaf data)``)
    ``"election-leaf-v1" || 0x00 || field(election) || field(receipt) || field(commitment)``,
    ``field(x) = len(x) as 4-byte big-endian || x``; the election is its canonical ID
    (``election.domain.votes.canonical_id``) in UTF-8 (ASCII, in fact), the receipt its 34
    ASCII characters as :func:`new_receipt` writes them, the commitment its 32 bytes.
    Every field carries its length, so no two different triples give the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from election.domain.errors import InvalidInput
from election.domain.votes import InvalidId, canonical_id

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_BYTES = 16
CHECK_BITS = 12
SYMBOLS = 28  # (128 + 12) / 5
GROUP = 4
NONCE_BYTES = 32
COMMITMENT_BYTES = 32
_RECEIPT_TAG = b"election-receipt-v1\x00"
_COMMIT_TAG = b"election-commit-v1\x00"
_LEAF_TAG = b"election-leaf-v1\x00"
#: What people type between groups, or by mistake: whitespace and dashes of any kind.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_LOOK_ALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_MAX_TYPED = 100
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}


class BadReceipt(InvalidInput):
    """Text that is not a receipt; the message says what is wrong with it."""


class BadCommitment(InvalidInput):
    """A choice or nonce that cannot be committed to, or a commitment of the wrong size."""


class BadLeaf(InvalidInput):
    """A field of a log leaf is malformed; the message names it."""


def _check(code: bytes) -> int:
    digest = hashlib.sha256(_RECEIPT_TAG + code).digest()
    return int.from_bytes(digest[:2], "big") >> (16 - CHECK_BITS)


def _write(code: bytes) -> str:
    value = int.from_bytes(code, "big") << CHECK_BITS | _check(code)
    symbols = [ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(SYMBOLS))]
    groups = ("".join(symbols[i : i + GROUP]) for i in range(0, SYMBOLS, GROUP))
    return "-".join(groups)


def new_receipt() -> str:
    """A fresh random receipt, in its canonical form."""
    return _write(secrets.token_bytes(CODE_BYTES))


def parse_receipt(text: str) -> str:
    """The canonical form of a receipt as a person typed it; raise :class:`BadReceipt`."""
    if not isinstance(text, str):
        raise BadReceipt("a receipt is text")
    if len(text) > _MAX_TYPED:
        raise BadReceipt(f"too long for a receipt ({len(text)} characters)")
    symbols = _SEPARATORS.sub("", text).upper().translate(_LOOK_ALIKES)
    if not symbols:
        raise BadReceipt("the receipt is empty")
    stray = sorted({symbol for symbol in symbols if symbol not in _VALUES})
    if stray:
        shown = " ".join(repr(symbol) for symbol in stray[:5])
        raise BadReceipt(f"not in a receipt: {shown} (it has digits and letters but U)")
    if len(symbols) != SYMBOLS:
        raise BadReceipt(
            f"a receipt has {SYMBOLS} digits and letters; this has {len(symbols)}"
            f" ({'some left out' if len(symbols) < SYMBOLS else 'too many'})"
        )
    value = 0
    for symbol in symbols:
        value = value << 5 | _VALUES[symbol]
    code = (value >> CHECK_BITS).to_bytes(CODE_BYTES, "big")
    if value & ((1 << CHECK_BITS) - 1) != _check(code):
        raise BadReceipt("the receipt does not check out: a character is mistyped, or two swapped")
    return _write(code)


#: A receipt in its canonical form: seven groups of four symbols of ``ALPHABET``.
_CANONICAL = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){6}")
#: ``ALPHABET`` onto the digits ``int(..., 32)`` reads, to decode in one call.
_AS_BASE32 = str.maketrans(ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTUV")


def is_canonical_receipt(text: object) -> bool:
    """Whether ``text`` is a receipt in its canonical form (what ``new_receipt`` writes),
    its check included: the fast test for receipts read back from storage."""
    if not isinstance(text, str) or _CANONICAL.fullmatch(text) is None:
        return False
    value = int(text.replace("-", "").translate(_AS_BASE32), 32)
    code = (value >> CHECK_BITS).to_bytes(CODE_BYTES, "big")
    return value & ((1 << CHECK_BITS) - 1) == _check(code)


def new_nonce() -> bytes:
    """A fresh secret nonce for one commitment."""
    return secrets.token_bytes(NONCE_BYTES)


def commitment(choice: int, nonce: bytes) -> bytes:
    """The commitment to ``choice`` under ``nonce``; raise :class:`BadCommitment`."""
    if isinstance(choice, bool) or not isinstance(choice, int):
        raise BadCommitment("the choice must be an integer")
    if not -(2**63) <= choice < 2**63:
        raise BadCommitment("the choice must fit in 64 bits")
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise BadCommitment(f"the nonce must be {NONCE_BYTES} bytes")
    encoded = choice.to_bytes(8, "big", signed=True)
    return hashlib.sha256(_COMMIT_TAG + encoded + nonce).digest()


def open_commitment(commitment_: bytes, choice: int, nonce: bytes) -> bool:
    """Whether ``commitment_`` is the commitment to ``choice`` under ``nonce``. Never raises."""
    try:
        expected = commitment(choice, nonce)
    except BadCommitment:
        return False
    return isinstance(commitment_, bytes) and hmac.compare_digest(expected, commitment_)


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def leaf_data(election_id: str, receipt: str, commitment_: bytes) -> bytes:
    """The leaf input binding one ballot's receipt and commitment to its election.

    Refuses a non-canonical election ID or receipt: each ballot has one leaf, whatever
    spelling a caller had at hand.
    """
    try:
        canonical = canonical_id(election_id)
    except InvalidId as exc:
        raise BadLeaf(f"election ID {exc}") from None
    if canonical != election_id:
        raise BadLeaf(f"election ID is not in its canonical form {canonical!r}")
    if not is_canonical_receipt(receipt):
        parse_receipt(receipt)  # says what is wrong, if it is not a receipt at all
        raise BadReceipt("the receipt is not in its canonical form")
    if not isinstance(commitment_, bytes) or len(commitment_) != COMMITMENT_BYTES:
        raise BadCommitment(f"a commitment is {COMMITMENT_BYTES} bytes")
    fields = (election_id.encode(), receipt.encode(), commitment_)
    return _LEAF_TAG + b"".join(_field(value) for value in fields)
