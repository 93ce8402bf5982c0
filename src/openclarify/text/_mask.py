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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._typing import BoolArray
from ._segment import Segment

__all__ = ["TextMasker"]


class TextMasker:
    """Builds the texts of coalitions of one string's units.

    Parameters
    ----------
    text
        The original string.
    segments
        Its units, ordered and non-overlapping (as :class:`~openclarify.text.Segmenter` returns them).
    replacement
        The string that stands in for an absent unit (``"<PAD>"``, ``"<UNK>"``, ``"[MASK]"``, ``""``).
    pad
        Put a space between a non-empty replacement and kept text it would otherwise touch.
    """

    __slots__ = ("text", "segments", "replacement", "_prefix", "_table", "_n")

    def __init__(self, text: str, segments: Sequence[Segment], replacement: str, *, pad: bool = True) -> None:
        self.text = text
        self.segments = tuple(segments)
        self.replacement = replacement
        n = len(self.segments)
        self._n = n
        self._prefix = text[: self.segments[0].start] if n else text
        keep: list[str] = []
        drop: list[str] = []
        for i, (start, end) in enumerate(self.segments):
            nxt = self.segments[i + 1].start if i + 1 < n else len(text)
            gap = text[end:nxt]
            keep.append(text[start:nxt])
            left = " " if pad and replacement and start > 0 and not text[start - 1].isspace() else ""
            right = " " if pad and replacement and end < len(text) and not text[end].isspace() else ""
            drop.append(left + replacement + right + gap)
        if n:  # the text before the first unit goes with unit 0, kept or replaced
            keep[0] = self._prefix + keep[0]
            drop[0] = self._prefix + drop[0]
        # index i: unit i present (with the separator after it); index n + i: unit i replaced
        self._table = np.array(keep + drop, dtype=object)

    @property
    def n_units(self) -> int:
        return self._n

    def partial_texts(self) -> list[str]:
        """``text[start:end]`` of every unit, in order."""
        return [self.text[s:e] for s, e in self.segments]

    def mask(self, z: BoolArray) -> list[str]:
        """Texts of the coalitions ``z`` (shape ``(n_coalitions, n_units)``; True keeps a unit)."""
        n = self._n
        if z.ndim != 2 or z.shape[1] != n:
            raise ValueError(f"z must have shape (n_coalitions, {n}); got {z.shape}")
        if n == 0:
            return [self.text] * z.shape[0]
        idx = np.where(z, np.arange(n), np.arange(n, 2 * n))
        # one gather of the pieces for every row, then one join per row
        rows = self._table[idx].tolist()
        join = "".join
        return [join(r) for r in rows]

    def mask_all(self) -> str:
        """The text with every unit replaced."""
        return self.mask(np.zeros((1, self._n), dtype=bool))[0]
