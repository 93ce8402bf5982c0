"""The one text normalization shared by training-data preparation and the fastText predictor."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

__all__ = ["TEXT_NORMALIZATIONS", "TextNormalization", "normalize_text", "normalize_texts"]

# "none": the text as it is; "lower-tokenize": normalize_text below.
TextNormalization = Literal["none", "lower-tokenize"]
TEXT_NORMALIZATIONS: tuple[TextNormalization, ...] = ("none", "lower-tokenize")

# One token is, in order of preference:
#   * a mask token as explanation engines insert them, kept whole: <unk>, <pad>, </s>, [mask], [cls];
#   * a word, with inner apostrophes kept (don't, o'neill, l’homme);
#   * any other single non-space character (punctuation, symbols), split off on its own.
# Lower-casing happens before matching, so "<UNK>" and "[MASK]" come out as "<unk>" and "[mask]".
_TOKEN = re.compile(r"</?\w+>|\[\w+\]|\w+(?:['’]\w+)*|[^\w\s]")
_findall = _TOKEN.findall

# normalize_texts splits whitespace-separated chunks only when they are not plain words; the chunks it
# does split (punctuation, "word,", "<unk>") repeat a lot, above all across the perturbed copies of
# one text that an explanation sends, so their normal forms are cached.
_CHUNKS: dict[str, str] = {}
_MAX_CHUNKS = 1 << 16


def normalize_text(text: str) -> str:
    """Lower-case ``text`` and split punctuation off words; tokens are joined by single spaces.

    Tokens are mask tokens (``<UNK>``, ``<PAD>``, ``</s>``, ``[MASK]``, ``<mask>``: kept whole,
    because explanation engines replace text units with them), words (``\\w+``, inner apostrophes
    kept: ``don't``) and single punctuation or symbol characters. The result is idempotent:
    ``normalize_text(normalize_text(s)) == normalize_text(s)``.

    Examples
    --------
    >>> normalize_text("Hello, World! It's <UNK> [MASK].")
    "hello , world ! it's <unk> [mask] ."
    """
    return " ".join(_findall(text.lower()))


def _chunk(chunk: str) -> str:
    if len(_CHUNKS) >= _MAX_CHUNKS:
        _CHUNKS.clear()
    out = _CHUNKS[chunk] = " ".join(_findall(chunk))
    return out


def normalize_texts(texts: Iterable[str]) -> list[str]:
    """:func:`normalize_text` of each text, computed faster for many texts at once.

    Line breaks inside a text separate tokens like any other whitespace. The result equals
    ``[normalize_text(t) for t in texts]``: no token spans whitespace, so the text can be cut at
    whitespace first; a chunk of letters and digits only (``str.isalnum``, which is ``\\w`` without
    ``_``) is one word token, and only the other chunks go through the regular expression.
    """
    items = [t.replace("\n", " ") for t in texts]
    if not items:
        return []
    get = _CHUNKS.get
    return [
        " ".join([w if w.isalnum() else get(w) or _chunk(w) for w in line.split()])
        for line in "\n".join(items).lower().split("\n")
    ]
