"""Global SHAP values: ``agg_method`` over records, computed incrementally chunk by chunk."""

from __future__ import annotations

import numpy as np

from .._typing import AggMethod, FloatArray

__all__ = ["GlobalAggregator", "aggregate"]


def aggregate(phi: FloatArray, agg_method: AggMethod) -> FloatArray:
    """Aggregate local values ``(n_instances, n_features, n_outputs)`` into ``(n_features, n_outputs)``.

    ``mean_abs``: mean of ``|phi|``; ``median``: median of ``phi``; ``mean_sq``: mean of ``phi**2``.
    """
    agg = GlobalAggregator(agg_method)
    agg.add(phi)
    return agg.result()


class GlobalAggregator:
    """Accumulates local values chunk by chunk; only ``median`` keeps every value.

    Sums are taken over blocks of ``block`` consecutive records (by record number, whatever the
    chunks were) and the block sums are added in order, so the result is bit-identical however the
    records were chunked.
    """

    def __init__(self, agg_method: AggMethod, *, block: int = 64) -> None:
        self.agg_method = agg_method
        self.block = block
        self.count = 0
        self._sum: FloatArray | None = None
        self._pending: list[FloatArray] = []  # rows of the current, unfinished block
        self._parts: list[FloatArray] = []

    def add(self, phi: FloatArray) -> None:
        """Add the local values of the next ``phi.shape[0]`` records, shape ``(n, n_features, n_outputs)``."""
        if phi.shape[0] == 0:
            return
        if self.agg_method == "median":
            self._parts.append(phi.copy())
            self.count += phi.shape[0]
            return
        term = np.abs(phi) if self.agg_method == "mean_abs" else phi * phi
        start = 0
        while start < term.shape[0]:
            room = self.block - (self.count % self.block)
            piece = term[start : start + room]
            self._pending.append(piece)
            self.count += piece.shape[0]
            start += piece.shape[0]
            if self.count % self.block == 0:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        block = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        part = block.sum(axis=0)
        self._sum = part if self._sum is None else self._sum + part
        self._pending = []

    def result(self) -> FloatArray:
        """The aggregate, shape ``(n_features, n_outputs)``."""
        if self.count == 0:
            raise ValueError("no local values were aggregated")
        if self.agg_method == "median":
            return np.asarray(np.median(np.concatenate(self._parts), axis=0), dtype=np.float64)
        self._flush()
        assert self._sum is not None  # noqa: S101 - count > 0 implies a sum
        return self._sum / self.count
