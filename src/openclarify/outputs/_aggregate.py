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

    Sums are taken over blocks of ``block`` consecutive records and the block sums are added in
    order, so the result is bit-identical however the records were chunked, as long as chunks
    are whole blocks (the pipeline reads chunks of a multiple of the sampling block).
    """

    def __init__(self, agg_method: AggMethod, *, block: int = 64) -> None:
        self.agg_method = agg_method
        self.block = block
        self.count = 0
        self._sum: FloatArray | None = None
        self._parts: list[FloatArray] = []

    def add(self, phi: FloatArray) -> None:
        if phi.shape[0] == 0:
            return
        self.count += phi.shape[0]
        if self.agg_method == "median":
            self._parts.append(phi.copy())
            return
        term = np.abs(phi) if self.agg_method == "mean_abs" else phi * phi
        for start in range(0, term.shape[0], self.block):
            part = term[start : start + self.block].sum(axis=0)
            self._sum = part if self._sum is None else self._sum + part

    def result(self) -> FloatArray:
        if self.count == 0:
            raise ValueError("no local values were aggregated")
        if self.agg_method == "median":
            return np.asarray(np.median(np.concatenate(self._parts), axis=0), dtype=np.float64)
        assert self._sum is not None  # noqa: S101 - count > 0 implies a sum
        return self._sum / self.count
