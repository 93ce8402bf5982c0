"""``methods.pdp``: the mean model prediction with one feature set to each value of a grid.

For a numerical feature the grid is the centre of each of ``grid_resolution`` equal-width buckets over
the feature's range in the dataset; for a categorical feature every value it takes, in order of first
appearance (clarify-spec §1.3, §3.2). ``model_predictions[k][v]`` is the mean over all records of
output ``k`` with the feature set to value ``v`` (what ``sklearn.inspection.partial_dependence(...,
method="brute")`` computes on the same grid); ``data_distribution[v]`` is the fraction of records in
bucket ``v`` (or holding value ``v``). Records are sent to the model in calls of at most
``max_batch_rows`` rows, each holding many records at many grid values. A feature PDP cannot be
computed for (free text, too many distinct values) gets an ``error`` entry and the others are computed.

The plan reads the dataset once for the features' ranges and values; the partial results are exact
sums (see :class:`~openclarify.analyses.RecordSum`), so any split of the records gives the same bits.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..._typing import FloatArray, IntArray
from ...config import AnalysisConfig, PdpConfig
from ...data import DataChunk
from ...errors import ConfigError, ModelError, OpenClarifyWarning
from ...models import Predictor
from .._base import Finished, Job, Needs
from .._common import counted_predict, feature_columns, json_value, output_labels, text_columns
from .._sums import RecordSum

__all__ = ["MAX_CATEGORIES", "PdpAnalysis", "PdpFeaturePlan", "PdpPart", "PdpPlan"]

#: Most distinct values of a categorical feature PDP is computed for (each one is a pass of the model
#: over every record).
MAX_CATEGORIES = 1000
_TEXT_ERROR = (
    "Detected data type is not supported for PDP. PDP can only be computed for numerical or categorical columns"
)
_DEFAULT_TOP_K = 10


@dataclass(frozen=True, slots=True)
class PdpFeaturePlan:
    """One feature's grid: ``values`` (bucket centres or categories) and, numerical, the bucket edges."""

    name: str
    column: int
    data_type: str  # "numerical", "categorical" or "free_text"
    values: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PdpPlan:
    features: tuple[PdpFeaturePlan, ...]
    grid_resolution: int
    max_batch_rows: int
    n_outputs: int


@dataclass(slots=True)
class PdpPart:
    """Per computed feature: the sum of predictions ``(n_values, n_outputs)`` and the records per value."""

    start: int
    stop: int
    predictions: dict[str, RecordSum] = field(default_factory=dict)
    counts: dict[str, IntArray] = field(default_factory=dict)
    model_rows: int = 0
    model_calls: int = 0
    model_seconds: float = 0.0


def _bucket(values: FloatArray, low: float, high: float, n: int) -> IntArray:
    """Bucket of each value among ``n`` equal-width buckets of ``[low, high]`` (-1: missing)."""
    out = np.full(values.shape[0], -1, dtype=np.int64)
    finite = np.isfinite(values)
    if high > low:
        b = np.floor((values[finite] - low) / (high - low) * n).astype(np.int64)
        out[finite] = np.clip(b, 0, n - 1)
    else:
        out[finite] = 0
    return out


def _grid(low: float, high: float, n: int) -> tuple[float, ...]:
    if high <= low:
        return (float(low),)
    width = (high - low) / n
    return tuple(float(low + (i + 0.5) * width) for i in range(n))


def _requested(pdp: PdpConfig, job: Job) -> list[tuple[int, str, bool]]:
    """``(column, name, requested)``: the features to compute, from ``features`` or SHAP's top k."""
    names = list(job.schema.feature_names)
    if pdp.features:
        return [(j, names[j], True) for j in feature_columns(pdp.features, names, "methods.pdp.features")]
    shap = job.earlier.get("shap")
    if shap is None:
        raise ConfigError(
            "no features to compute; give methods.pdp.features, or add methods.shap to take the top_k_features "
            "by global SHAP value.",
            path="methods.pdp.features",
        )
    result = shap.result
    k = pdp.top_k_features if pdp.top_k_features is not None else _DEFAULT_TOP_K
    # rank by the sum over labels of the global values (each is >= 0 for mean_abs and mean_sq)
    score = np.abs(result.global_values).sum(axis=1)
    order = sorted(range(len(result.feature_names)), key=lambda j: (-score[j], j))[:k]
    return [(names.index(result.feature_names[j]), result.feature_names[j], False) for j in order]


class PdpAnalysis:
    key: ClassVar[str] = "pdp"

    def __init__(self) -> None:
        self._labels: tuple[str, ...] = ()
        self._n_rows = 0

    def check(self, config: AnalysisConfig, base_dir: Path | str | None) -> Needs:
        """Features are checked against the dataset in :meth:`plan`, which reads SHAP's results (its top k
        features and its text columns) when the config has SHAP."""
        return Needs(after=("shap",) if config.methods.shap is not None else ())

    def plan(self, job: Job) -> PdpPlan:
        pdp = job.config.methods.pdp
        if pdp is None:
            raise ConfigError("no pdp method to plan.", path="methods.pdp")
        wanted = _requested(pdp, job)
        schema = job.schema
        shap = job.earlier.get("shap")
        if shap is not None:
            text = set(shap.result.text_columns)
        elif any(schema.categorical[c] for c, _, _ in wanted):
            text = set(text_columns(job.dataset, job.options.text_columns, one_feature_is_text=False))
        else:
            text = set()
        errors = [
            (f"methods.pdp.features[{i}]", f"{name!r} holds free text; PDP needs a numerical or categorical column.")
            for i, (_, name, requested) in enumerate(wanted)
            if requested and name in text
        ]
        if errors:
            raise ConfigError(errors)
        columns = sorted({c for c, name, _ in wanted if name not in text})
        low = {c: math.inf for c in columns if not schema.categorical[c]}
        high = {c: -math.inf for c in columns if not schema.categorical[c]}
        seen: dict[int, dict[Any, None]] = {c: {} for c in columns if schema.categorical[c]}
        n_rows = 0
        first: pd.DataFrame | None = None
        for chunk in job.dataset.chunks(max(1, job.options.chunksize)):
            n_rows += len(chunk.features)
            if first is None and len(chunk.features):
                first = chunk.features.iloc[:1]
            for c in low:
                values = pd.to_numeric(chunk.features.iloc[:, c], errors="coerce").to_numpy(dtype=np.float64)
                finite = values[np.isfinite(values)]
                if finite.size:
                    low[c], high[c] = min(low[c], float(finite.min())), max(high[c], float(finite.max()))
            for c, found in seen.items():
                if len(found) <= MAX_CATEGORIES:
                    for v in chunk.features.iloc[:, c].tolist():
                        if v is not None and not (isinstance(v, float) and math.isnan(v)):
                            found.setdefault(v, None)
        self._n_rows = n_rows
        grid = pdp.grid_resolution
        features: list[PdpFeaturePlan] = []
        for c, name, _ in wanted:
            if name in text:
                features.append(PdpFeaturePlan(name, c, "free_text", error=_TEXT_ERROR))
            elif c in seen:
                values = list(seen[c])
                if len(values) > MAX_CATEGORIES:
                    message = (
                        f"has more than {MAX_CATEGORIES} distinct values; PDP is computed for categorical features "
                        f"with at most {MAX_CATEGORIES}."
                    )
                    features.append(PdpFeaturePlan(name, c, "categorical", error=message))
                elif not values:
                    features.append(PdpFeaturePlan(name, c, "categorical", error="has no values in the dataset."))
                else:
                    features.append(PdpFeaturePlan(name, c, "categorical", tuple(values)))
            elif math.isfinite(low[c]):
                features.append(PdpFeaturePlan(name, c, "numerical", _grid(low[c], high[c], grid), low[c], high[c]))
            else:
                features.append(PdpFeaturePlan(name, c, "numerical", error="has no finite values in the dataset."))
        n_outputs = 0
        if first is not None:
            scores = job.model.predict(first)
            n_outputs = scores.shape[1]
            self._labels = tuple(output_labels(job.config, n_outputs, getattr(job.model, "label_headers", None)))
        return PdpPlan(tuple(features), grid, job.options.max_batch_rows, n_outputs)

    def run(self, plan: PdpPlan, chunk: DataChunk, model: Predictor) -> PdpPart:
        frame = chunk.features.reset_index(drop=True)
        n = len(frame)
        part = PdpPart(chunk.start_row, chunk.start_row + n)
        for feature in plan.features:
            if feature.error is not None:
                continue
            column = frame.columns[feature.column]
            if feature.data_type == "numerical":
                x = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
                bucket = _bucket(x, feature.low, feature.high, len(feature.values))
                part.counts[feature.name] = np.bincount(bucket[bucket >= 0], minlength=len(feature.values))
            else:
                index = {v: i for i, v in enumerate(feature.values)}
                codes = np.asarray([index.get(v, -1) for v in frame[column].tolist()], dtype=np.int64)
                part.counts[feature.name] = np.bincount(codes[codes >= 0], minlength=len(feature.values))
            scores = self._predict_grid(plan, frame, column, feature.values, model, part)
            ok = np.asarray(np.isfinite(scores).all(axis=(1, 2)), dtype=bool)
            part.predictions[feature.name] = RecordSum.of(chunk.start_row, scores, ok)
        return part

    @staticmethod
    def _predict_grid(
        plan: PdpPlan, frame: pd.DataFrame, column: Any, values: tuple[Any, ...], model: Predictor, part: PdpPart
    ) -> FloatArray:
        """Scores ``(n_records, n_values, n_outputs)`` of every record with ``column`` set to each value."""
        n, limit = len(frame), max(1, plan.max_batch_rows)
        pieces: list[tuple[int, int, int]] = []  # (value, first row, last row + 1) of each block of a call
        for v in range(len(values)):
            for r0 in range(0, n, limit):
                pieces.append((v, r0, min(n, r0 + limit)))
        out: FloatArray | None = None
        i = 0
        while i < len(pieces):
            call: list[tuple[int, int, int]] = []
            rows = 0
            while i < len(pieces) and rows + (pieces[i][2] - pieces[i][1]) <= limit:
                call.append(pieces[i])
                rows += pieces[i][2] - pieces[i][1]
                i += 1
            blocks = []
            for v, r0, r1 in call:
                block = frame.iloc[r0:r1].copy()
                block[column] = pd.Series([values[v]] * (r1 - r0), index=block.index, dtype=frame[column].dtype)
                blocks.append(block)
            records = blocks[0] if len(blocks) == 1 else pd.concat(blocks, ignore_index=True)
            scores = counted_predict(model, records, part)
            if out is None:
                out = np.empty((n, len(values), scores.shape[1]))
            elif scores.shape[1] != out.shape[2]:
                raise ModelError(
                    f"model: returned {scores.shape[1]} scores per record for one batch and {out.shape[2]} for "
                    "another. Return the same number of scores for every record."
                )
            at = 0
            for v, r0, r1 in call:
                out[r0:r1, v] = scores[at : at + (r1 - r0)]
                at += r1 - r0
        return out if out is not None else np.zeros((n, len(values), plan.n_outputs))

    def merge(self, a: PdpPart, b: PdpPart) -> PdpPart:
        out = PdpPart(
            a.start,
            b.stop,
            model_rows=a.model_rows + b.model_rows,
            model_calls=a.model_calls + b.model_calls,
            model_seconds=a.model_seconds + b.model_seconds,
        )
        for name in {**a.predictions, **b.predictions}:
            empty = RecordSum()
            out.predictions[name] = a.predictions.get(name, empty).merge(b.predictions.get(name, empty))
        for name in {**a.counts, **b.counts}:
            if name in a.counts and name in b.counts:
                out.counts[name] = a.counts[name] + b.counts[name]
            else:
                out.counts[name] = a.counts.get(name, b.counts.get(name))  # type: ignore[assignment]
        return out

    def consume(self, plan: PdpPlan, part: PdpPart, job: Job) -> None:
        return None

    def close(self, plan: PdpPlan) -> None:
        return None

    def finish(self, plan: PdpPlan, total: PdpPart | None, job: Job) -> Finished:
        n_rows = self._n_rows
        section: list[dict[str, Any]] = []
        for feature in plan.features:
            entry: dict[str, Any] = {"feature_name": feature.name, "data_type": feature.data_type}
            sums = total.predictions.get(feature.name) if total is not None else None
            if feature.error is None and (sums is None or sums.count == 0):
                entry["error"] = "the model gave no scores for any record at these feature values."
            elif feature.error is not None:
                entry["error"] = feature.error
            else:
                assert total is not None and sums is not None  # noqa: S101 - checked above
                means = sums.aggregate("mean")  # (n_values, n_outputs)
                entry["feature_values"] = [json_value(v) for v in feature.values]
                entry["data_distribution"] = [float(c) / n_rows for c in total.counts[feature.name].tolist()]
                entry["model_predictions"] = [means[:, k].tolist() for k in range(means.shape[1])]
                entry["label_headers"] = list(self._labels)
            if "error" in entry:
                warnings.warn(f"methods.pdp: {feature.name!r}: {entry['error']}", OpenClarifyWarning, stacklevel=4)
            section.append(entry)
        summary: dict[str, Any] = {} if "shap" in job.earlier else {"labels": list(self._labels), "n_rows": n_rows}
        summary |= {
            "pdp_features": [f.name for f in plan.features],
            "pdp_model_calls": total.model_calls if total is not None else 0,
            "pdp_model_rows": total.model_rows if total is not None else 0,
            "pdp_model_seconds": round(total.model_seconds, 3) if total is not None else 0.0,
        }
        return Finished("pdp", section, {}, summary, tuple(section))
