"""Global SHAP values: ``agg_method`` over records, computed incrementally chunk by chunk."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .._typing import AggMethod, FloatArray

__all__ = ["GlobalAggregator", "TopTextAggregator", "aggregate"]


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

    def __init__(self, agg_method: AggMethod | Literal["mean"], *, block: int = 64) -> None:
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
        if self.agg_method == "mean":  # plain mean (used for per-record base values)
            term = phi
        else:
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


class TopTextAggregator:
    """``global_top_shap_text``: per text feature and label, the units (by their text) with the largest
    aggregate of local values over all their occurrences in all records.

    A unit's aggregate is ``agg_method`` over its occurrences (mean of ``|phi|``, median of ``phi``, mean
    of ``phi**2``); the top ``max_top`` are kept, largest first (ties by text). Only ``median`` keeps
    every value; the others keep a running sum and count per distinct unit.
    """

    def __init__(self, agg_method: AggMethod, max_top: int) -> None:
        self.agg_method = agg_method
        self.max_top = max_top
        self._index: dict[str, dict[str, int]] = {}
        self._sums: dict[str, list[FloatArray]] = {}
        self._counts: dict[str, list[int]] = {}
        self._values: dict[str, list[list[FloatArray]]] = {}

    def add(self, feature: str, units: list[str], phi: FloatArray) -> None:
        """Local values ``phi`` (shape ``(len(units), n_outputs)``) of one record's units of ``feature``."""
        index = self._index.setdefault(feature, {})
        sums = self._sums.setdefault(feature, [])
        counts = self._counts.setdefault(feature, [])
        values = self._values.setdefault(feature, [])
        median = self.agg_method == "median"
        term = phi if median else (np.abs(phi) if self.agg_method == "mean_abs" else phi * phi)
        for unit, row in zip(units, term, strict=True):
            k = index.get(unit)
            if k is None:
                k = index[unit] = len(counts)
                counts.append(0)
                if median:
                    values.append([])
                else:
                    sums.append(np.zeros(row.shape[0]))
            counts[k] += 1
            if median:
                values[k].append(row.copy())
            else:
                sums[k] += row

    def result(self, n_outputs: int) -> list[dict[str, dict[str, float]]]:
        """Per label ``k``: ``{feature: {unit: aggregate}}``, the top ``max_top`` units, largest first."""
        out: list[dict[str, dict[str, float]]] = [{} for _ in range(n_outputs)]
        for feature, index in self._index.items():
            units = list(index)
            if not units:
                for k in range(n_outputs):
                    out[k][feature] = {}
                continue
            if self.agg_method == "median":
                agg = np.stack([np.median(np.stack(v), axis=0) for v in self._values[feature]])
            else:
                agg = np.stack(self._sums[feature]) / np.asarray(self._counts[feature], dtype=np.float64)[:, None]
            for k in range(n_outputs):
                order = sorted(range(len(units)), key=lambda i: (-agg[i, k], units[i]))[: self.max_top]
                out[k][feature] = {units[i]: float(agg[i, k]) for i in order}
        return out

    def features(self) -> list[str]:
        return list(self._index)
