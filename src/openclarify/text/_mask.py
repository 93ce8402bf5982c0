"""(text, units, coalitions, replacement) -> masked strings, rebuilt from character spans.

A masked text keeps the original string outside the units (the separators, the text before the first
unit and after the last) and replaces each absent unit's span by the replacement string: coalition
{good} of "This is a good product" with ``"<UNK>"`` gives ``"<UNK> <UNK> <UNK> good <UNK>"``
(clarify-spec §2.3). An empty replacement removes the unit and keeps the separators around it.

A unit that touches a neighbour without whitespace (``"bad"`` + ``"."`` in ``"really bad."``) is
replaced with a space on that side (``"really bad <UNK>"``), so the replacement never fuses with the
kept text into a new word (``"bad<UNK>"``) that a whitespace-tokenizing model (fastText, BlazingText)
would read as one unknown token. Turn that off with ``pad=False`` (done for scripts written without
spaces: Chinese, Japanese, Thai).

Memory: the masker holds one table of pieces (the text with a unit kept, and with it replaced), with
equal pieces stored once (a document's words repeat), so a long document costs about 16 bytes a unit
on top of its distinct pieces; :meth:`TextMasker.mask` builds the texts of at most about
``_GATHER_ELEMENTS`` units at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._typing import BoolArray, IntArray
from ._segment import Segment

__all__ = ["TextMasker"]

# Units gathered at a time by mask(): rows x units pointers, three times over (indices, pieces, lists).
_GATHER_ELEMENTS = 1 << 20


class TextMasker:
    """Builds the texts of coalitions of one string's units.

    Parameters
    ----------
    text
        The original string.
    segments
        Its units, ordered and non-overlapping (as :class:`~openclarify.text.Segmenter` returns them),
        or an int array of shape ``(n_units, 2)`` of their starts and ends
        (:meth:`~openclarify.text.Segmenter.spans`).
    replacement
        The string that stands in for an absent unit (``"<PAD>"``, ``"<UNK>"``, ``"[MASK]"``, ``""``).
    pad
        Put a space between a non-empty replacement and kept text it would otherwise touch.
    """

    __slots__ = ("text", "replacement", "_spans", "_prefix", "_table", "_n")

    def __init__(
        self, text: str, segments: Sequence[Segment] | IntArray, replacement: str, *, pad: bool = True
    ) -> None:
        self.text = text
        self.replacement = replacement
        spans = np.asarray(segments, dtype=np.int64).reshape(-1, 2)
        self._spans = spans
        n = len(spans)
        self._n = n
        starts: list[int] = spans[:, 0].tolist()
        ends: list[int] = spans[:, 1].tolist()
        self._prefix = text[: starts[0]] if n else text
        # index i: unit i present (with the separator after it); index n + i: unit i replaced. Equal
        # pieces are one object: a long text's words and its "<UNK> " pieces repeat.
        keeps: list[str] = []
        drops: list[str] = []
        pieces: dict[str, str] = {}
        size = len(text)
        for i in range(n):
            start, end = starts[i], ends[i]
            nxt = starts[i + 1] if i + 1 < n else size
            keep = text[start:nxt]
            left = " " if pad and replacement and start > 0 and not text[start - 1].isspace() else ""
            right = " " if pad and replacement and end < size and not text[end].isspace() else ""
            drop = left + replacement + right + text[end:nxt]
            if i == 0:  # the text before the first unit goes with unit 0, kept or replaced
                keep = self._prefix + keep
                drop = self._prefix + drop
            keeps.append(pieces.setdefault(keep, keep))
            drops.append(pieces.setdefault(drop, drop))
        del pieces
        keeps += drops
        del drops
        self._table = np.array(keeps, dtype=object)

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The units, as :class:`~openclarify.text.Segment` spans."""
        return tuple(Segment._make(row) for row in self._spans.tolist())

    @property
    def n_units(self) -> int:
        return self._n

    def partial_texts(self) -> list[str]:
        """``text[start:end]`` of every unit, in order."""
        return [self.text[s:e] for s, e in self._spans.tolist()]

    def mask(self, z: BoolArray) -> list[str]:
        """Texts of the coalitions ``z`` (shape ``(n_coalitions, n_units)``; True keeps a unit)."""
        n = self._n
        if z.ndim != 2 or z.shape[1] != n:
            raise ValueError(f"z must have shape (n_coalitions, {n}); got {z.shape}")
        if n == 0:
            return [self.text] * z.shape[0]
        kept, replaced = np.arange(n), np.arange(n, 2 * n)
        join = "".join
        step = max(1, _GATHER_ELEMENTS // n)
        out: list[str] = []
        for r0 in range(0, z.shape[0], step):
            # one gather of the pieces for a block of rows, then one join per row
            rows = self._table[np.where(z[r0 : r0 + step], kept, replaced)].tolist()
            out += [join(r) for r in rows]
        return out

    def mask_all(self) -> str:
        """The text with every unit replaced."""
        return self.mask(np.zeros((1, self._n), dtype=bool))[0]
