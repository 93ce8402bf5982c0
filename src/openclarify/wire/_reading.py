"""Reading request bodies safely: text in its charset, and JSON that Python would read wrong or fail on refused."""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

import numpy as np

from ._base import RequestError, short

__all__ = ["ASCII_COMPATIBLE", "RANGE_HINT", "JsonReader", "body_text", "number_text", "too_deep"]

ASCII_COMPATIBLE = frozenset({"utf-8", "utf-8-sig", "ascii", "iso8859-1", "cp1252"})
_SURROGATE = re.compile("[\ud800-\udfff]")
# Decoders that never give a lone surrogate (UTF-8, -16 and -32 refuse them; ASCII and Latin-1 have none), by
# codecs.lookup() name; the text of any other is searched for one.
_SURROGATE_FREE = frozenset(
    {"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "ascii", "iso8859-1"}
)


def body_text(body: bytes, charset: str) -> str:
    """The body as text in ``charset``, without a byte order mark; 400 for bytes that are not that charset."""
    try:
        text = body.decode(charset)
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body: not valid {charset} at byte {exc.start}.") from None
    except UnicodeError as exc:  # a decoder that does not say where (utf-7 in some versions)
        raise RequestError(400, f"body: not valid {charset} ({exc}).") from None
    if codecs.lookup(charset).name not in _SURROGATE_FREE:
        found = _SURROGATE.search(text)
        if found is not None:  # utf-7 can spell one; nothing downstream can encode it again
            raise RequestError(
                400,
                f"body: not valid {charset} at character {found.start()} (a lone surrogate); got {found.group()!r}. "
                "Send the text as UTF-8.",
            )
    return text[1:] if text.startswith("\ufeff") else text


RANGE_HINT = "Send numbers within the float64 range (about ±1.8e308)."

# Which bodies may hold a number past the float64 range: their bytes mapped to shapes (digits to "0",
# e and E to "e", "+" kept, anything else a space) hold 200 digits in a row (with an exponent below 100)
# or an exponent of three digits. Only such a body pays for checking every number it holds: mapping and
# searching costs a few milliseconds a megabyte, a hook on every number a third of the decoding time.
_NUMBER_SHAPES = bytes(
    ord("0") if chr(c) in "0123456789" else ord("e") if chr(c) in "eE" else c if chr(c) == "+" else ord(" ")
    for c in range(256)
)
_LONG_DIGITS = b"0" * 200
_BIG_EXPONENT = re.compile(rb"e\+?000")
# An escape that may be half of a surrogate pair: only a body with one is searched for lone surrogates.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_JSON_STRING = re.compile(r'"(?:[^"\\]+|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def number_text(text: str) -> str:
    """A number as an error message shows it: whole when short, else its start and its length."""
    return repr(text) if len(text) <= 24 else f"'{text[:20]}...' ({len(text)} characters)"


class _OutOfRange(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _checked_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # float() rounds a finite number past the range to infinity
        raise _OutOfRange(text)
    return value


def _checked_int(text: str) -> int:
    # no integer of more than 309 digits is a float64 (and int() refuses more than 4300 of them)
    if len(text.lstrip("-")) > 309:
        raise _OutOfRange(text)
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise _OutOfRange(text) from None
    return value


def _depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode()
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


def too_deep(where: str, text: str) -> RequestError:
    """The 400 for a JSON text nested past what Python reads."""
    return RequestError(
        400,
        f"{where}: arrays or objects nested too deeply; got {_depth(text)} levels. "
        "Send each record as a flat list of values.",
    )


def _lone_surrogate(value: object) -> str | None:
    """The first string (value or key) of a decoded JSON value that holds a lone surrogate."""
    stack = [value]
    while stack:  # no recursion: the value may nest as deep as json.loads allowed
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return item
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                stack.append(inner)
                stack.append(key)
    return None


class JsonReader:
    """``json.loads`` for the texts of one body, refusing what it would read wrong or fail on.

    Refused, with 400: a number past the float64 range (``float()`` makes it infinite, and ``int()``
    refuses one of more than 4300 digits), nesting past the recursion limit, and a lone surrogate (an
    escape ``\\ud800`` without its pair, which no encoder writes back). ``Infinity``, ``-Infinity`` and
    ``NaN`` are read as those floats (a numeric column then refuses an infinite one, as the analysis data
    layer does, and reads NaN as missing). ``raw`` is the body in an ASCII-compatible encoding: where
    numbers and escapes are looked for once, not per line.
    """

    def __init__(self, raw: bytes) -> None:
        shapes = raw.translate(_NUMBER_SHAPES)
        big = _LONG_DIGITS in shapes or _BIG_EXPONENT.search(shapes) is not None
        self._decoder = json.JSONDecoder(parse_float=_checked_float, parse_int=_checked_int) if big else None
        self._surrogates = _SURROGATE_ESCAPE.search(raw) is not None

    def load(self, text: str, where: str) -> Any:
        """The value of ``text``; raises ``json.JSONDecodeError`` for text that is not JSON."""
        try:
            value = json.loads(text) if self._decoder is None else self._decoder.decode(text)
        except _OutOfRange as exc:
            raise RequestError(
                400, f"{where}: a number outside the float64 range; got {number_text(exc.text)}. {RANGE_HINT}"
            ) from None
        except RecursionError:
            raise too_deep(where, text) from None
        if self._surrogates:
            found = _lone_surrogate(value)
            if found is not None:
                raise RequestError(
                    400,
                    f"{where}: a string holds a lone surrogate; got {short(found)}. Pair each \\uD800-\\uDBFF "
                    "escape with a \\uDC00-\\uDFFF one, or send the character itself as UTF-8.",
                )
        return value
