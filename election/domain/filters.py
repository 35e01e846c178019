"""Parse and evaluate Google Cloud Pub/Sub subscription filters.

Pub/Sub lets a subscription carry a filter over message *attributes*; messages that do not
match are acknowledged by the service and never delivered. This module implements that
filter language as Google documents it at
https://cloud.google.com/pubsub/docs/subscription-message-filter, so that code running
without the real service (emulators, tests, local fan-out) can deliver the same messages.
Nesting depth needs no guard: the 256-byte limit bounds it well below Python's recursion limit.

Grammar (``AND``, ``OR``, ``NOT``, ``attributes`` and ``hasPrefix`` are case-sensitive)::

    filter     := <empty> | expression
    expression := term ( ("AND" term)+ | ("OR" term)+ )?      # no mixing at one level
    term       := [ "NOT" | "-" ] primary                      # one negation per term
    primary    := "(" expression ")" | condition
    condition  := "attributes" ":" key
                | "attributes" "." key ( "=" | "!=" ) string
                | "hasPrefix" "(" "attributes" "." key "," string ")"
    key        := [A-Za-z0-9_-]+ | string
    string     := '"' ... '"' | "'" ... "'"                    # with escape sequences

Example::

    >>> f = parse_filter('attributes.function = "result" AND attributes.machineID = "7"')
    >>> f.matches({"function": "result", "machineID": "7"})
    True
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

from election.domain.errors import InvalidInput

__all__ = [
    "MAX_FILTER_BYTES",
    "Filter",
    "FilterSyntaxError",
    "parse_filter",
    "quote",
]

MAX_FILTER_BYTES: Final = 256
"""Pub/Sub rejects filters longer than this many bytes of UTF-8."""

_WHITESPACE: Final = frozenset(" \t\n\r\f\v")
_WORD_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_")
_KEY_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_-")
_HEX_DIGITS: Final = frozenset(string.hexdigits)
_OCTAL_DIGITS: Final = frozenset(string.octdigits)

# Single-character escapes understood inside string literals, mapped to what they denote.
_SIMPLE_ESCAPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "\\": "\\",
        '"': '"',
        "'": "'",
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "v": "\v",
    }
)
# Code-point escapes: the letter after the backslash and how many hex digits follow it.
_HEX_ESCAPE_LENGTHS: Final[Mapping[str, int]] = MappingProxyType({"x": 2, "u": 4, "U": 8})
# The reverse of _SIMPLE_ESCAPES, as used by quote(); "'" needs no escape inside "...".
_QUOTE_ESCAPES: Final[Mapping[str, str]] = MappingProxyType(
    {char: "\\" + letter for letter, char in _SIMPLE_ESCAPES.items() if char != "'"}
)

_MAX_CODE_POINT: Final = 0x10FFFF
_SURROGATES: Final = range(0xD800, 0xE000)


class FilterSyntaxError(InvalidInput):
    """Invalid filter text.

    ``position`` is the 0-based character offset of the problem in ``text`` and ``reason`` says
    what is wrong. ``str()`` gives both, followed by the filter with a caret under the offending
    character, so the message is useful on its own in a log line or an HTTP 400 body.
    """

    position: int
    reason: str
    text: str

    def __init__(self, reason: str, position: int, text: str) -> None:
        self.reason = reason
        self.position = position
        self.text = text
        super().__init__(f"{reason} at position {position}\n{_caret_excerpt(text, position)}")

    def __reduce__(self) -> tuple[type[FilterSyntaxError], tuple[str, int, str]]:
        """Pickle by constructor arguments (the default would pass only the message)."""
        return (type(self), (self.reason, self.position, self.text))


def _caret_excerpt(text: str, position: int) -> str:
    """Render ``text`` on one line with a ``^`` under ``position``.

    Non-printing characters (newlines, tabs, ...) are shown as spaces so that the caret stays
    aligned and the excerpt stays on one line.
    """
    shown = "".join(char if char.isprintable() else " " for char in text)
    return f"  {shown}\n  {' ' * position}^"


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------


class TokenKind(enum.Enum):
    """The lexical categories of the filter language."""

    WORD = "word"  # AND, OR, NOT, attributes, hasPrefix, or any other bare identifier
    KEY = "key"  # a bare attribute key, read right after "." or ":"
    STRING = "string literal"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    DOT = "'.'"
    COLON = "':'"
    EQUALS = "'='"
    NOT_EQUALS = "'!='"
    MINUS = "'-'"
    UNKNOWN = "unexpected character"  # reported by the parser, which knows what it expected
    END = "end of filter"


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: its kind, its value (decoded, for strings) and where it starts."""

    kind: TokenKind
    value: str
    position: int

    def describe(self) -> str:
        """Name the token for error messages, e.g. ``'foo'`` or ``string literal``."""
        if self.kind in (TokenKind.WORD, TokenKind.KEY, TokenKind.UNKNOWN):
            return repr(self.value)
        return str(self.kind.value)


_PUNCTUATION: Final[Mapping[str, TokenKind]] = MappingProxyType(
    {
        "(": TokenKind.LPAREN,
        ")": TokenKind.RPAREN,
        ",": TokenKind.COMMA,
        ".": TokenKind.DOT,
        ":": TokenKind.COLON,
        "=": TokenKind.EQUALS,
        "-": TokenKind.MINUS,
    }
)


class Tokenizer:
    """Split filter text into tokens on demand.

    Tokens are produced lazily, one per :meth:`next_token` call, so that errors are reported in
    the order they occur in the text (a bad escape late in the filter does not mask a syntax
    error early on).

    Bare attribute keys may contain (and even start with) ``-``, which elsewhere is the
    negation operator, so the tokenizer is slightly context-sensitive: right after a ``.`` or
    ``:`` token a run of ``[A-Za-z0-9_-]`` is read as one KEY token.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._previous = TokenKind.END

    def next_token(self) -> Token:
        """Return the next token, or an END token once the text is exhausted."""
        token = self._read_token()
        self._previous = token.kind
        return token

    def _read_token(self) -> Token:
        text = self._text
        while self._pos < len(text) and text[self._pos] in _WHITESPACE:
            self._pos += 1
        start = self._pos
        if start >= len(text):
            return Token(TokenKind.END, "", start)
        char = text[start]
        if char in ('"', "'"):
            return Token(TokenKind.STRING, self._read_string(), start)
        if self._previous in (TokenKind.DOT, TokenKind.COLON) and char in _KEY_CHARS:
            return Token(TokenKind.KEY, self._read_run(_KEY_CHARS), start)
        if char in _WORD_CHARS:
            return Token(TokenKind.WORD, self._read_run(_WORD_CHARS), start)
        if text.startswith("!=", start):
            self._pos += 2
            return Token(TokenKind.NOT_EQUALS, "!=", start)
        self._pos += 1
        kind = _PUNCTUATION.get(char, TokenKind.UNKNOWN)
        return Token(kind, char, start)

    def _read_run(self, allowed: frozenset[str]) -> str:
        """Consume and return the longest run of ``allowed`` characters."""
        start = self._pos
        while self._pos < len(self._text) and self._text[self._pos] in allowed:
            self._pos += 1
        return self._text[start : self._pos]

    def _read_string(self) -> str:
        """Consume a quoted string literal and return its decoded value."""
        text = self._text
        start = self._pos
        quote_char = text[start]
        self._pos += 1
        chunks: list[str] = []
        while self._pos < len(text):
            char = text[self._pos]
            if char == quote_char:
                self._pos += 1
                return "".join(chunks)
            if char == "\\":
                chunks.append(self._read_escape(start))
            else:
                chunks.append(char)
                self._pos += 1
        raise FilterSyntaxError("unterminated string literal", start, text)

    def _read_escape(self, literal_start: int) -> str:
        r"""Consume one backslash escape sequence and return the character it denotes.

        ``literal_start`` is where the enclosing literal began, for reporting an unterminated
        literal that ends in a lone backslash.

        As in CEL string literals, ``\xHH`` and ``\ooo`` denote the code points U+0000..U+00FF
        (not raw UTF-8 bytes), and ``\u``/``\U`` escapes may not denote surrogates.
        """
        text = self._text
        start = self._pos
        letter = text[start + 1 : start + 2]
        if not letter:
            raise FilterSyntaxError("unterminated string literal", literal_start, text)
        if letter in _SIMPLE_ESCAPES:
            self._pos += 2
            return _SIMPLE_ESCAPES[letter]
        if letter in _HEX_ESCAPE_LENGTHS:
            digits = text[start + 2 : start + 2 + _HEX_ESCAPE_LENGTHS[letter]]
            if len(digits) != _HEX_ESCAPE_LENGTHS[letter] or not set(digits) <= _HEX_DIGITS:
                raise FilterSyntaxError(
                    f"'\\{letter}' must be followed by {_HEX_ESCAPE_LENGTHS[letter]} hex digits",
                    start,
                    text,
                )
            code_point = int(digits, 16)
        elif letter in _OCTAL_DIGITS:
            digits = text[start + 1 : start + 4]
            if len(digits) != 3 or not set(digits) <= _OCTAL_DIGITS or digits[0] > "3":
                raise FilterSyntaxError(
                    "octal escape must be three octal digits from \\000 to \\377", start, text
                )
            code_point = int(digits, 8)
        else:
            raise FilterSyntaxError(f"unknown escape sequence '\\{letter}'", start, text)
        if code_point > _MAX_CODE_POINT or code_point in _SURROGATES:
            raise FilterSyntaxError(
                f"escape denotes U+{code_point:04X}, which is not a valid Unicode character",
                start,
                text,
            )
        # Skip the backslash, the digits and (for \x, \u, \U) the letter.
        self._pos = start + 1 + len(digits) + (1 if letter in _HEX_ESCAPE_LENGTHS else 0)
        return chr(code_point)


# --------------------------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchAll:
    """The empty filter: Pub/Sub delivers every message."""

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return True: there is nothing to check."""
        return True


@dataclass(frozen=True, slots=True)
class HasAttribute:
    """``attributes:KEY`` -- the message has attribute ``key``, whatever its value."""

    key: str

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return whether ``key`` is present."""
        return self.key in attributes


@dataclass(frozen=True, slots=True)
class AttributeEquals:
    """``attributes.KEY = "VALUE"`` -- the attribute is present with exactly this value."""

    key: str
    value: str

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return whether ``key`` is present and equal to ``value`` (case-sensitive)."""
        return self.key in attributes and attributes[self.key] == self.value


@dataclass(frozen=True, slots=True)
class AttributeNotEquals:
    """``attributes.KEY != "VALUE"`` -- exactly ``NOT attributes.KEY = "VALUE"``.

    Pub/Sub documents this as true for messages *without* the attribute too.
    """

    key: str
    value: str

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return whether ``key`` is absent or has any other value."""
        return self.key not in attributes or attributes[self.key] != self.value


@dataclass(frozen=True, slots=True)
class HasPrefix:
    """``hasPrefix(attributes.KEY, "PREFIX")`` -- the attribute's value starts with a prefix."""

    key: str
    prefix: str

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return whether ``key`` is present and its value starts with ``prefix``."""
        return self.key in attributes and attributes[self.key].startswith(self.prefix)


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT term`` or ``-term``."""

    operand: Expression

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return the negation of the operand."""
        return not self.operand.matches(attributes)


@dataclass(frozen=True, slots=True)
class And:
    """``a AND b AND ...`` (two or more operands)."""

    operands: tuple[Expression, ...]

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return whether every operand matches."""
        return all(operand.matches(attributes) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    """``a OR b OR ...`` (two or more operands)."""

    operands: tuple[Expression, ...]

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return whether at least one operand matches."""
        return any(operand.matches(attributes) for operand in self.operands)


Expression: TypeAlias = (
    MatchAll | HasAttribute | AttributeEquals | AttributeNotEquals | HasPrefix | Not | And | Or
)
"""Any node of a parsed filter."""


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter; immutable.

    ``source`` holds the text it was parsed from and ``expression`` its syntax tree. Build one
    with :func:`parse_filter`.
    """

    source: str
    expression: Expression

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return whether Pub/Sub would deliver a message with these attributes."""
        return self.expression.matches(attributes)


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------

_AND: Final = "AND"
_OR: Final = "OR"
_NOT: Final = "NOT"
_ATTRIBUTES: Final = "attributes"
_HAS_PREFIX: Final = "hasPrefix"
_KEYWORDS: Final = frozenset({_AND, _OR, _NOT})


class Parser:
    """Recursive-descent parser for the grammar in the module docstring.

    It keeps exactly one token of lookahead (``self._token``), pulled lazily from a
    :class:`Tokenizer`, and raises :class:`FilterSyntaxError` at the first token that does not
    fit the grammar.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokenizer = Tokenizer(text)
        self._token = self._tokenizer.next_token()

    def parse(self) -> Expression:
        """Parse the whole text; empty (or all-whitespace) text matches everything."""
        if self._at(TokenKind.END):
            return MatchAll()
        expression = self._expression()
        if not self._at(TokenKind.END):
            raise self._error("expected AND, OR or end of filter")  # e.g. a trailing token
        return expression

    # -- grammar rules ----------------------------------------------------------------------

    def _expression(self) -> Expression:
        """``term (("AND" term)+ | ("OR" term)+)?`` -- AND and OR may not share a level."""
        operands = [self._term()]
        operator = self._token.value if self._is_operator() else None
        while self._is_operator():
            if self._token.value != operator:
                raise self._error("cannot mix AND and OR without parentheses")
            self._advance()
            operands.append(self._term())
        if operator == _AND:
            return And(tuple(operands))
        if operator == _OR:
            return Or(tuple(operands))
        return operands[0]

    def _term(self) -> Expression:
        """``["NOT" | "-"] primary`` -- a negation applies to the single following term."""
        if self._is_word(_NOT) or self._at(TokenKind.MINUS):
            self._advance()
            if self._is_word(_NOT) or self._at(TokenKind.MINUS):
                raise self._error("only one NOT or '-' may precede a term; use parentheses to nest")
            return Not(self._primary())
        return self._primary()

    def _primary(self) -> Expression:
        """``"(" expression ")" | condition``."""
        if self._at(TokenKind.LPAREN):
            self._advance()
            if self._at(TokenKind.RPAREN):
                raise self._error("expected a condition inside parentheses")
            expression = self._expression()
            self._expect(TokenKind.RPAREN, "expected ')' or a matching AND/OR")
            return expression
        if self._is_word(_ATTRIBUTES):
            return self._attribute_condition()
        if self._is_word(_HAS_PREFIX):
            return self._has_prefix()
        raise self._error("expected a condition (attributes..., hasPrefix(...)), NOT, '-' or '('")

    def _attribute_condition(self) -> Expression:
        """``attributes:KEY``, ``attributes.KEY = "v"`` or ``attributes.KEY != "v"``."""
        self._advance()  # "attributes"
        if self._at(TokenKind.COLON):
            self._advance()
            return HasAttribute(self._key())
        self._expect(TokenKind.DOT, "expected '.' or ':' after 'attributes'")
        key = self._key()
        if self._at(TokenKind.EQUALS):
            self._advance()
            return AttributeEquals(key, self._string("expected a string literal after '='"))
        if self._at(TokenKind.NOT_EQUALS):
            self._advance()
            return AttributeNotEquals(key, self._string("expected a string literal after '!='"))
        raise self._error("expected '=' or '!=' after the attribute key")

    def _has_prefix(self) -> Expression:
        """``hasPrefix(attributes.KEY, "PREFIX")``."""
        self._advance()  # "hasPrefix"
        self._expect(TokenKind.LPAREN, "expected '(' after hasPrefix")
        if not self._is_word(_ATTRIBUTES):
            raise self._error("expected attributes.KEY as the first argument of hasPrefix")
        self._advance()
        self._expect(TokenKind.DOT, "expected '.' after 'attributes' in hasPrefix")
        key = self._key()
        self._expect(TokenKind.COMMA, "expected ',' after the first argument of hasPrefix")
        prefix = self._string("expected a string literal as the second argument of hasPrefix")
        self._expect(TokenKind.RPAREN, "expected ')': hasPrefix takes exactly two arguments")
        return HasPrefix(key, prefix)

    def _key(self) -> str:
        """Read a bare key (``[A-Za-z0-9_-]+``) or a string literal for any other key."""
        if self._token.kind in (TokenKind.KEY, TokenKind.STRING):
            key = self._token.value
            self._advance()
            return key
        raise self._error(
            "expected an attribute key (letters, digits, '_', '-', or a string literal)"
        )

    def _string(self, message: str) -> str:
        """Read a string literal and return its decoded value."""
        if not self._at(TokenKind.STRING):
            raise self._error(message)
        value = self._token.value
        self._advance()
        return value

    # -- helpers ----------------------------------------------------------------------------

    def _advance(self) -> None:
        self._token = self._tokenizer.next_token()

    def _expect(self, kind: TokenKind, message: str) -> None:
        if not self._at(kind):
            raise self._error(message)
        self._advance()

    def _at(self, kind: TokenKind) -> bool:
        """Return whether the lookahead token is of this kind."""
        return self._token.kind is kind

    def _is_word(self, word: str) -> bool:
        return self._at(TokenKind.WORD) and self._token.value == word

    def _is_operator(self) -> bool:
        return self._is_word(_AND) or self._is_word(_OR)

    def _error(self, message: str) -> FilterSyntaxError:
        """Build a syntax error at the current token, saying what was found instead."""
        found = self._token.describe()
        keyword = self._token.value.upper()
        if self._at(TokenKind.WORD) and keyword in _KEYWORDS and keyword != self._token.value:
            found += f" (operators are uppercase: {keyword})"
        return FilterSyntaxError(f"{message}, found {found}", self._token.position, self._text)


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def parse_filter(text: str) -> Filter:
    """Parse a Pub/Sub filter; raise :class:`FilterSyntaxError` if Pub/Sub would reject it.

    Empty or all-whitespace text is the "no filter" filter, which matches every message.
    """
    _check_length(text)
    return Filter(source=text, expression=Parser(text).parse())


def _check_length(text: str) -> None:
    """Reject text over MAX_FILTER_BYTES bytes of UTF-8, pointing at the first excess char."""
    size = 0
    for position, char in enumerate(text):
        if ord(char) in _SURROGATES:
            raise FilterSyntaxError("lone surrogate, not encodable as UTF-8", position, text)
        size += len(char.encode("utf-8"))
        if size > MAX_FILTER_BYTES:
            total = len(text.encode("utf-8", errors="surrogatepass"))
            raise FilterSyntaxError(
                f"filter is {total} bytes of UTF-8, over the {MAX_FILTER_BYTES}-byte limit",
                position,
                text,
            )


def quote(value: str) -> str:
    r"""Return a double-quoted string literal that :func:`parse_filter` decodes to ``value``.

    Backslash, double quote and non-printing characters are escaped (named escapes such as
    ``\n`` where they exist, else ``\xHH``, ``\uXXXX`` or ``\UXXXXXXXX``); printable
    characters, including non-ASCII ones, are kept as they are.

    Raises ValueError for a lone surrogate, which no UTF-8 filter or attribute can contain.
    """
    parts = ['"']
    for char in value:
        code_point = ord(char)
        if char in _QUOTE_ESCAPES:
            parts.append(_QUOTE_ESCAPES[char])
        elif char.isprintable():
            parts.append(char)
        elif code_point in _SURROGATES:
            raise ValueError(f"cannot quote lone surrogate U+{code_point:04X}")
        elif code_point <= 0xFF:
            parts.append(f"\\x{code_point:02x}")
        elif code_point <= 0xFFFF:
            parts.append(f"\\u{code_point:04x}")
        else:
            parts.append(f"\\U{code_point:08x}")
    parts.append('"')
    return "".join(parts)
