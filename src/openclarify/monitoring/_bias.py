"""Bias drift: Model Monitor's check that no bias metric got worse than in the baseline job.

Per stage (pre- and post-training), facet, sensitive group and metric (bias-drift-spec §6.2): a violation
when the current value is further from the ideal than the baseline's, the ideal being 0 (``|current| >
|baseline|``), or 1 for DI, compared as ``|ln DI|`` (symmetric for ratios: DI 0.5 and 2 are as far). A
metric null on either side is no violation (it is listed). With ``alert_on="interval"``, a metric whose
current job computed a bootstrap interval (openclarify's ``--bias-ci``) is a violation only when the whole
interval is further from the ideal than the baseline value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConfigError, ReportError
from ..outputs import BiasMetric, BiasStage, OutputFolder
from ._attribution import AlertOn

__all__ = ["BiasDrift", "MetricDrift", "bias_drift"]

CHECK: Final = "bias_drift_check"


@dataclass(frozen=True, slots=True)
class MetricDrift:
    """One metric of one group: both values (None when not computed), and whether it is a violation."""

    stage: str
    facet: str
    facet_value: str
    metric: str
    baseline: float | None
    current: float | None
    violation: bool
    note: str | None = None
    interval: tuple[float, float | None, float | None] | None = None


@dataclass(frozen=True, slots=True)
class BiasDrift:
    """Every metric compared, in the baseline's order."""

    alert_on: AlertOn
    metrics: tuple[MetricDrift, ...]

    @property
    def violations(self) -> list[dict[str, str]]:
        """``constraint_violations.json``'s entries, as Model Monitor writes them."""
        return [
            {
                "facet": m.facet,
                "facet_value": m.facet_value,
                "metric_name": m.metric,
                "constraint_check_type": CHECK,
                "description": f"Metric value {_text(m.current)} doesn't meet the baseline constraint requirement "
                f"{_text(m.baseline)}",
            }
            for m in self.metrics
            if m.violation
        ]


def _text(value: float | None) -> str:
    if value is None:
        return "null"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _distance(name: str, value: float) -> float:
    """How far ``value`` is from the metric's ideal (0; 1 for DI, as |ln DI|)."""
    if name == "DI":
        return math.inf if value <= 0 or math.isinf(value) else abs(math.log(value))
    return abs(value)


def _groups(stage: BiasStage) -> Iterator[tuple[str, str, BiasMetric]]:
    for facet in stage.facets:
        for group in facet.groups:
            for metric in group.metrics:
                yield facet.name, group.value_or_threshold, metric


def bias_drift(baseline: OutputFolder, current: OutputFolder, *, alert_on: AlertOn = "point") -> BiasDrift:
    """Model Monitor's bias drift check of ``current`` against ``baseline`` (module docstring).

    Raises
    ------
    ConfigError
        ``alert_on`` is not ``"point"`` or ``"interval"``.
    ReportError
        The baseline has no bias metrics, or the two jobs share no stage.
    """
    if alert_on not in ("point", "interval"):
        raise ConfigError(f"must be 'point' or 'interval'; got {alert_on!r}.", path="alert_on")
    if not baseline.has_bias:
        raise ReportError(
            f"baseline job '{baseline.path}': its analysis.json has no pre_training_bias_metrics or "
            "post_training_bias_metrics. Give the output of a bias job."
        )
    stages = {stage.stage: stage for stage in current.bias}
    if not any(stage.stage in stages for stage in baseline.bias):
        raise ReportError(
            f"current job '{current.path}': has none of the baseline's bias stages "
            f"({', '.join(s.key for s in baseline.bias)}). Run the same bias methods on the current data."
        )
    out: list[MetricDrift] = []
    for stage in baseline.bias:
        now_stage = stages.get(stage.stage)
        now = {(f, v, m.name): m for f, v, m in _groups(now_stage)} if now_stage is not None else {}
        for facet, value, metric in _groups(stage):
            found = now.get((facet, value, metric.name))
            base_value = metric.value
            now_value = found.value if found is not None else None
            if found is None:
                note: str | None = "missing from the current job"
            elif base_value is None or now_value is None:
                note = "not computed " + ("in the baseline" if base_value is None else "now") + ": not compared"
            else:
                note = None
            violation = False
            interval = found.interval if found is not None else None
            if note is None:
                assert base_value is not None and now_value is not None  # noqa: S101 - both checked above
                allowed = _distance(metric.name, base_value)
                violation = _distance(metric.name, now_value) > allowed
                if violation and alert_on == "interval" and interval is not None:
                    _, lower, upper = interval
                    if lower is not None and upper is not None:
                        inside = lower <= (1.0 if metric.name == "DI" else 0.0) <= upper
                        near = min(_distance(metric.name, lower), _distance(metric.name, upper))
                        if inside or near <= allowed:
                            violation = False
                            note = "worse than the baseline, but its interval reaches the allowed range: not alerted"
            out.append(
                MetricDrift(stage.stage, facet, value, metric.name, base_value, now_value, violation, note, interval)
            )
    return BiasDrift(alert_on, tuple(out))


def bias_report(result: BiasDrift) -> dict[str, Any]:
    """openclarify's ``drift_report.json`` of a bias check: every metric compared, with both values."""
    return {
        "version": "1.0",
        "constraint_check_type": CHECK,
        "alert_on": result.alert_on,
        "metrics": [
            {
                "stage": m.stage,
                "facet": m.facet,
                "facet_value": m.facet_value,
                "metric_name": m.metric,
                "baseline": _text(m.baseline) if m.baseline is not None and math.isinf(m.baseline) else m.baseline,
                "current": _text(m.current) if m.current is not None and math.isinf(m.current) else m.current,
                "violation": m.violation,
                "note": m.note,
            }
            for m in result.metrics
        ],
    }
