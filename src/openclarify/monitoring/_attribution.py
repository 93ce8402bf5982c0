"""Feature-attribution drift: Model Monitor's NDCG check between a baseline job's and a current job's attributions.

The baseline's ``analysis.json`` is the constraints file (bias-drift-spec §6.1). For each label of its
``explanations.kernel_shap``, the current global attributions order the features and the baseline's are
the gains; a label whose NDCG falls below the threshold (0.9, AWS's fixed value) is a violation. What AWS
leaves silent is decided here, and reported: a baseline with negative values (``agg_method: median``) is
ranked by magnitude; one feature gives 1.0; an all-zero baseline gives 1.0 when the current values are all
zero too, else 0.0; features are the baseline's (a missing current feature counts 0, extra ones are
listed); a label missing now is a violation.

Beyond AWS: which features moved and by how many ranks, and, from the current job's local values
(``explanations_shap/out.csv``), a bootstrap interval of each label's NDCG; with ``alert_on="interval"``
a label is a violation only when the whole interval lies below the threshold.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from .._typing import FloatArray
from ..errors import ConfigError, ReportError
from ..outputs import LOCAL_SHAP_CSV, LabelSummary, OutputFolder
from ._ndcg import ndcg

__all__ = ["DEFAULT_THRESHOLD", "AlertOn", "AttributionDrift", "FeatureMove", "LabelDrift", "attribution_drift"]

DEFAULT_THRESHOLD: Final = 0.9  # Model Monitor's, fixed there
AlertOn = Literal["point", "interval"]
CHECK: Final = "feature_attribution_drift_check"


@dataclass(frozen=True, slots=True)
class FeatureMove:
    """One feature's place in the two rankings (1 = the largest attribution); ``moved`` > 0: it rose."""

    name: str
    baseline_value: float
    current_value: float | None
    baseline_rank: int
    current_rank: int

    @property
    def moved(self) -> int:
        return self.baseline_rank - self.current_rank


@dataclass(frozen=True, slots=True)
class LabelDrift:
    """The check of one label: its NDCG (None when the label is missing now), whether it is a violation."""

    label: str
    ndcg: float | None
    violation: bool
    description: str | None
    features: tuple[FeatureMove, ...] = ()
    interval: tuple[float, float, float] | None = None  # (level, lower, upper)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AttributionDrift:
    """The whole check: one :class:`LabelDrift` per baseline label, in its order."""

    threshold: float
    alert_on: AlertOn
    labels: tuple[LabelDrift, ...]
    records: int | None = None  # current local records the interval was drawn from
    replicates: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def violations(self) -> list[dict[str, str]]:
        """``constraint_violations.json``'s entries, as Model Monitor writes them."""
        return [
            {
                "label": d.label,
                "metric_name": "shap",
                "constraint_check_type": CHECK,
                "description": d.description or "",
            }
            for d in self.labels
            if d.violation
        ]


def _ranks(names: Sequence[str], values: FloatArray) -> dict[str, int]:
    order = np.argsort(-values, kind="stable")
    return {names[i]: r + 1 for r, i in enumerate(order)}


def _label_ndcg(base: dict[str, float], now: dict[str, float]) -> tuple[float, list[str], FloatArray, FloatArray]:
    """NDCG over the baseline's features, the notes of the edge rules, and the two value vectors used."""
    names = list(base)
    notes: list[str] = []
    gains = np.array([base[n] for n in names], dtype=np.float64)
    scores = np.array([now.get(n, 0.0) for n in names], dtype=np.float64)
    missing = [n for n in names if n not in now]
    if missing:
        notes.append(f"features missing from the current job count 0: {missing[:20]!r}")
    extra = [n for n in now if n not in base]
    if extra:
        notes.append(f"features only the current job has are left out: {extra[:20]!r}")
    if (gains < 0).any() or (scores < 0).any():
        notes.append("negative attributions (agg_method median?): features are ranked by magnitude")
        gains, scores = np.abs(gains), np.abs(scores)
    if len(names) == 1:
        notes.append("one feature: its ranking cannot change (NDCG 1.0)")
        return 1.0, notes, gains, scores
    if not gains.any():
        same = not scores.any()
        notes.append(
            "the baseline's attributions are all zero: "
            + ("so are the current ones (NDCG 1.0)" if same else "the current ones are not (NDCG 0.0)")
        )
        return (1.0 if same else 0.0), notes, gains, scores
    return ndcg(gains, scores), notes, gains, scores


def _aggregate(values: FloatArray, agg_method: str) -> FloatArray:
    """Global values of local ones ``(n_records, n_features)`` (or ``(B, n_records, n_features)``)."""
    if agg_method == "mean_sq":
        return np.asarray(np.mean(values * values, axis=-2))
    if agg_method == "median":
        return np.asarray(np.median(values, axis=-2))
    return np.asarray(np.mean(np.abs(values), axis=-2))


def _local_values(folder: OutputFolder, label: str, names: Sequence[str]) -> FloatArray | None:
    """The current job's local values of ``label`` for ``names`` (records the model failed on left out)."""
    path = Path(folder.path) / LOCAL_SHAP_CSV
    if folder.local_file != LOCAL_SHAP_CSV or not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        try:
            columns = [header.index(f"{n}_{label}") for n in names]
        except ValueError:
            return None
        rows = []
        for row in reader:
            cells = [row[j] for j in columns]
            if all(cells):
                rows.append([float(c) for c in cells])
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(names))


def _agg_method(folder: OutputFolder, summary: LabelSummary, local: FloatArray, names: Sequence[str]) -> str | None:
    """How the current job aggregated its local values: from its config, else the one that gives its values."""
    config = folder.config or {}
    given = ((config.get("methods") or {}).get("shap") or {}).get("agg_method")
    if given in ("mean_abs", "mean_sq", "median"):
        return str(given)
    target = np.array([summary.global_shap_values[n] for n in names])
    for method in ("mean_abs", "mean_sq", "median"):
        if np.allclose(_aggregate(local, method), target, rtol=1e-9, atol=1e-12):
            return method
    return None


def _interval(
    base: dict[str, float], local: FloatArray, names: Sequence[str], agg_method: str, level: float, replicates: int,
    seed: int,
) -> tuple[float, float, float]:  # fmt: skip
    """A percentile bootstrap interval of the NDCG, resampling the current job's records."""
    rng = np.random.default_rng(seed)
    n = local.shape[0]
    values = np.empty(replicates)
    chunk = max(1, min(replicates, 2_000_000 // max(1, n * len(names))))
    done = 0
    while done < replicates:
        take = min(chunk, replicates - done)
        idx = rng.integers(0, n, size=(take, n))
        globals_ = _aggregate(local[idx], agg_method)  # (take, n_features)
        for b in range(take):
            now = dict(zip(names, globals_[b].tolist(), strict=True))
            values[done + b] = _label_ndcg(base, now)[0]
        done += take
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(values, [tail, 1.0 - tail])
    return level, float(lower), float(upper)


def attribution_drift(
    baseline: OutputFolder,
    current: OutputFolder,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alert_on: AlertOn = "point",
    confidence: float | None = None,
    replicates: int = 1000,
    seed: int = 0,
) -> AttributionDrift:
    """Model Monitor's feature-attribution drift check of ``current`` against ``baseline`` (module docstring).

    ``confidence`` (e.g. 0.95) adds a bootstrap interval of each label's NDCG from ``replicates`` resamples of
    the current job's local values (tabular jobs that saved them); ``alert_on="interval"`` needs it.

    Raises
    ------
    ConfigError
        An argument out of range, or ``alert_on="interval"`` without ``confidence``.
    ReportError
        A job without SHAP results, or the interval asked of a job without local values.
    """
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ConfigError(f"must be a number from 0 to 1; got {threshold!r}.", path="threshold")
    if alert_on not in ("point", "interval"):
        raise ConfigError(f"must be 'point' or 'interval'; got {alert_on!r}.", path="alert_on")
    if confidence is not None and not (isinstance(confidence, float) and 0.0 < confidence < 1.0):
        raise ConfigError(f"must be a number between 0 and 1, e.g. 0.95; got {confidence!r}.", path="confidence")
    if alert_on == "interval" and confidence is None:
        raise ConfigError("alerting on the interval needs its level; give confidence (e.g. 0.95).", path="alert_on")
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 10:
        raise ConfigError(f"must be an integer >= 10; got {replicates!r}.", path="replicates")
    for job, what in ((baseline, "baseline"), (current, "current")):
        if not job.has_shap:
            raise ReportError(
                f"{what} job '{job.path}': its analysis.json has no explanations.kernel_shap. Give the output of "
                "an explainability job (openclarify analyze with methods.shap, or Clarify's)."
            )
    now_by_label = {s.label: s for s in current.summaries}
    results: list[LabelDrift] = []
    n_records: int | None = None
    for summary in baseline.summaries:
        base = summary.global_shap_values
        now_summary = now_by_label.get(summary.label)
        if now_summary is None:
            results.append(
                LabelDrift(
                    summary.label,
                    None,
                    True,
                    f"Label {summary.label} is missing from the current analysis",
                    notes=(f"the current job's labels are {list(now_by_label)[:20]!r}",),
                )
            )
            continue
        now = now_summary.global_shap_values
        value, notes, gains, scores = _label_ndcg(base, now)
        names = list(base)
        base_ranks, now_ranks = _ranks(names, gains), _ranks(names, scores)
        moves = tuple(
            sorted(
                (FeatureMove(n, base[n], now.get(n), base_ranks[n], now_ranks[n]) for n in names),
                key=lambda m: (-abs(m.moved), m.baseline_rank),
            )
        )
        interval = None
        if confidence is not None:
            local = _local_values(current, summary.label, names)
            if local is None or local.shape[0] == 0:
                raise ReportError(
                    f"current job '{current.path}': the NDCG interval is drawn from the local values of "
                    f"{LOCAL_SHAP_CSV}, which it has none of for label {summary.label!r}. Run the job with "
                    "save_local_shap_values (tabular), or leave the interval out."
                )
            method = _agg_method(current, now_summary, local, [n for n in names if n in now])
            if method is None:
                raise ReportError(
                    f"current job '{current.path}': its global values are no mean_abs, mean_sq or median of "
                    f"{LOCAL_SHAP_CSV}; cannot resample them. Leave the interval out."
                )
            interval = _interval(base, local, names, method, confidence, replicates, seed)
            n_records = local.shape[0]
        below = value < threshold
        violation = below if alert_on == "point" or interval is None else interval[2] < threshold
        description = f"Feature attribution drift {value!r} exceeds threshold {threshold!r}" if violation else None
        if below and not violation:
            notes.append(
                f"NDCG {value:.4f} is below {threshold:g}, but its interval reaches {interval[2]:.4f}: not alerted"  # type: ignore[index]
            )
        results.append(LabelDrift(summary.label, value, violation, description, moves, interval, tuple(notes)))
    extra = [label for label in now_by_label if label not in {s.label for s in baseline.summaries}]
    return AttributionDrift(
        threshold,
        alert_on,
        tuple(results),
        records=n_records,
        replicates=replicates if confidence is not None else None,
        notes=(f"labels only the current job has are not checked: {extra[:20]!r}",) if extra else (),
    )


def drift_report(result: AttributionDrift) -> dict[str, Any]:
    """openclarify's ``drift_report.json`` of an attribution check: what ``constraint_violations.json`` has
    not (the NDCG of every label, its interval, the features that moved)."""
    return {
        "version": "1.0",
        "constraint_check_type": CHECK,
        "threshold": result.threshold,
        "alert_on": result.alert_on,
        "bootstrap": {"replicates": result.replicates, "records": result.records} if result.replicates else None,
        "labels": [
            {
                "label": d.label,
                "ndcg": d.ndcg,
                "violation": d.violation,
                "interval": (
                    {"level": d.interval[0], "lower": d.interval[1], "upper": d.interval[2]} if d.interval else None
                ),
                "features": [
                    {
                        "feature": m.name,
                        "baseline_value": m.baseline_value,
                        "current_value": m.current_value,
                        "baseline_rank": m.baseline_rank,
                        "current_rank": m.current_rank,
                        "moved": m.moved,
                    }
                    for m in d.features
                ],
                "notes": list(d.notes),
            }
            for d in result.labels
        ],
        "notes": list(result.notes),
    }
