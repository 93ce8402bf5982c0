"""``methods.shap``: Kernel SHAP, tabular and text (``"shap"`` in :data:`openclarify.analyses.ANALYSES`)."""

from __future__ import annotations

from ._analysis import ShapAnalysis, ShapPart, ShapPlan, ShapSummary
from ._online import FeatureAttribution, OnlineShap, RecordExplanation, UnitAttribution

__all__ = [
    "FeatureAttribution",
    "OnlineShap",
    "RecordExplanation",
    "ShapAnalysis",
    "ShapPart",
    "ShapPlan",
    "ShapSummary",
    "UnitAttribution",
]
