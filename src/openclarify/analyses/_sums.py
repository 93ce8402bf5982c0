"""Sums over records that merge exactly: the same bits for any split of the records into partitions.

Floating-point addition is not associative, so partial sums of two partitions do not add up to the
sum of the whole. :class:`RecordSum` therefore sums by blocks of ``BLOCK`` record numbers (records
``64 b .. 64 b + 63`` form block ``b``): a block whose records are all present is summed at once, a block
cut by a partition boundary keeps its rows until a merge completes it, and the blocks' sums are added in
block order at the end. Records may be missing (a record the model failed on): they add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .._typing import BoolArray, FloatArray

__all__ = ["BLOCK", "RecordSum"]

BLOCK = 64


@dataclass(slots=True)
class RecordSum:
    """Per-record terms of records ``start .. stop - 1``: their sum (``mean``) or every term (``median``)."""

    start: int = 0
    stop: int = 0
    count: int = 0
    keep_all: bool = False
    _sums: dict[int, FloatArray] = field(default_factory=dict)  # complete blocks
    _rows: dict[int, list[FloatArray]] = field(default_factory=dict)  # cut blocks (and everything, keep_all)

    @classmethod
    def of(
        cls, first_row: int, terms: FloatArray, present: BoolArray | None = None, *, keep_all: bool = False
    ) -> RecordSum:
        """The records ``first_row ..`` with ``terms[i]`` for record ``first_row + i`` (where ``present[i]``)."""
        n = terms.shape[0]
        out = cls(first_row, first_row + n, 0, keep_all)
        b = first_row // BLOCK
        while b * BLOCK < first_row + n:
            lo, hi = max(b * BLOCK, first_row), min((b + 1) * BLOCK, first_row + n)
            block = terms[lo - first_row : hi - first_row]
            if present is not None:
                block = block[present[lo - first_row : hi - first_row]]
            out.count += block.shape[0]
            whole = lo == b * BLOCK and hi == (b + 1) * BLOCK
            if block.shape[0]:
                if whole and not keep_all:
                    out._sums[b] = np.ascontiguousarray(block).sum(axis=0)
                else:
                    out._rows[b] = [np.array(block)]
            elif not whole:
                out._rows[b] = []
            b += 1
        return out

    def merge(self, other: RecordSum) -> RecordSum:
        """This sum followed by ``other`` (which must start where this one stops)."""
        if self.stop == self.start:
            return other
        if other.stop == other.start:
            return self
        if other.start != self.stop:
            raise ValueError(f"can only merge adjacent records; got {self.start}..{self.stop} and {other.start}..")
        out = RecordSum(self.start, other.stop, self.count + other.count, self.keep_all)
        out._sums = {**self._sums, **other._sums}
        out._rows = {b: list(rows) for b, rows in self._rows.items()}
        for b, rows in other._rows.items():
            out._rows.setdefault(b, []).extend(rows)
        cut = self.stop // BLOCK
        if not self.keep_all and cut in out._rows and out.start <= cut * BLOCK and (cut + 1) * BLOCK <= out.stop:
            rows = out._rows.pop(cut)
            if rows:
                out._sums[cut] = np.concatenate(rows).sum(axis=0)
        return out

    def total(self) -> FloatArray:
        """Sum of the terms: complete blocks' sums and the cut blocks' sums, added in block order."""
        result: FloatArray | None = None
        for b in sorted({*self._sums, *self._rows}):
            if b in self._sums:
                part = self._sums[b]
            elif self._rows[b]:
                part = np.concatenate(self._rows[b]).sum(axis=0)
            else:
                continue
            result = part if result is None else result + part
        if result is None:
            raise ValueError("no records were summed")
        return result

    def terms(self) -> FloatArray:
        """Every term in record order (``keep_all`` only)."""
        return np.concatenate([r for b in sorted(self._rows) for r in self._rows[b]])

    def aggregate(self, how: Literal["mean", "median"]) -> FloatArray:
        if self.count == 0:
            raise ValueError("no records were summed")
        if how == "median":
            return np.asarray(np.median(self.terms(), axis=0), dtype=np.float64)
        return self.total() / self.count
