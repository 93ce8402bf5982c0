"""Drift monitoring as SageMaker Model Monitor does it: feature-attribution drift (NDCG) and bias drift.

:func:`attribution_drift` and :func:`bias_drift` compare a current job's output folder with a baseline
job's (its ``analysis.json`` is the constraints file, as for Model Monitor); :func:`write_violations`
writes ``constraint_violations.json`` in Model Monitor's layout and openclarify's ``drift_report.json``
beside it. Both read openclarify's folders and Clarify's or Model Monitor's own outputs.
"""

from __future__ import annotations

from ._attribution import (
    DEFAULT_THRESHOLD,
    AlertOn,
    AttributionDrift,
    FeatureMove,
    LabelDrift,
    attribution_drift,
    drift_report,
)
from ._bias import BiasDrift, MetricDrift, bias_drift, bias_report
from ._files import CONSTRAINT_VIOLATIONS, DRIFT_REPORT, read_job, write_violations
from ._ndcg import ndcg

__all__ = [
    "CONSTRAINT_VIOLATIONS",
    "DEFAULT_THRESHOLD",
    "DRIFT_REPORT",
    "AlertOn",
    "AttributionDrift",
    "BiasDrift",
    "FeatureMove",
    "LabelDrift",
    "MetricDrift",
    "attribution_drift",
    "bias_drift",
    "bias_report",
    "drift_report",
    "ndcg",
    "read_job",
    "write_violations",
]
