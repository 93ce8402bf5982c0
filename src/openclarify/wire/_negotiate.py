"""Content negotiation on ``/invocations``: ``Content-Type`` and ``Accept`` headers to the three formats."""

from __future__ import annotations

import codecs
from collections.abc import Sequence

from ._base import MEDIA_TYPES, MediaType, RequestError

__all__ = ["choose_accept", "parse_content_type", "parse_media_type"]

# Text codecs of Python's that are no character set a client sends: they read escapes or domain names
# (and "undefined" refuses everything).
_PYTHON_CODECS = frozenset({"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape"})

# Spellings seen in the wild for the same three formats.
_ALIASES: dict[str, MediaType] = {
    "text/csv": "text/csv",
    "application/csv": "text/csv",
    "application/jsonlines": "application/jsonlines",
    "application/x-jsonlines": "application/jsonlines",
    "application/jsonl": "application/jsonlines",
    "application/json": "application/json",
}


def parse_media_type(header: str) -> tuple[str, dict[str, str]]:
    """Split ``type/subtype; key=value`` into the lower-cased type and its parameters."""
    head, *rest = header.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return head.strip().lower(), params


def parse_content_type(header: str | None, allowed: Sequence[MediaType] = MEDIA_TYPES) -> tuple[MediaType, str]:
    """The request's format and character set (``utf-8`` unless a ``charset`` parameter names another).

    Raises
    ------
    RequestError
        415 for a missing or unsupported content type or an unknown charset.
    """
    supported = ", ".join(allowed)
    if not header:
        raise RequestError(415, f"Content-Type: missing; send one of {supported}.")
    name, params = parse_media_type(header)
    media = _ALIASES.get(name)
    if media is None or media not in allowed:
        raise RequestError(415, f"Content-Type: unsupported; got {header!r}. Send one of {supported}.")
    charset = params.get("charset", "utf-8")
    try:
        info = codecs.lookup(charset)
    except LookupError:
        raise RequestError(415, f"Content-Type: unknown charset; got {charset!r}. Send UTF-8.") from None
    # rot13, zlib, base64, hex, ...: codecs that bytes.decode() refuses (CodecInfo's flag, which str.encode
    # and bytes.decode read themselves)
    if not getattr(info, "_is_text_encoding", True):
        raise RequestError(
            415, f"Content-Type: unsupported charset (not a text encoding); got {charset!r}. Send UTF-8."
        )
    if info.name in _PYTHON_CODECS:
        raise RequestError(
            415,
            f"Content-Type: unsupported charset (a Python codec, not a character set); got {charset!r}. Send UTF-8.",
        )
    return media, charset


def choose_accept(header: str | None, content_type: MediaType) -> MediaType:
    """The response format for an ``Accept`` header: the first supported type by preference (``q``).

    A missing header, ``*/*`` or ``application/*`` answers in the request's own format.

    Raises
    ------
    RequestError
        406 when no listed type can be produced.
    """
    if not header or not header.strip():
        return content_type
    choices: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")):
        name, params = parse_media_type(item)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        if name and q > 0:
            choices.append((-q, i, name))
    for _, _, name in sorted(choices):
        if name in _ALIASES:
            return _ALIASES[name]
        if name == "*/*":
            return content_type
        if name == "text/*":
            return "text/csv"
        if name == "application/*":
            return content_type if content_type != "text/csv" else "application/json"
    raise RequestError(406, f"Accept: unsupported; got {header!r}. Accept one of {', '.join(MEDIA_TYPES)}.")
