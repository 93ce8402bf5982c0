"""``methods.shap``: Kernel SHAP, tabular and text (``"shap"`` in :data:`openclarify.analyses.ANALYSES`)."""

from __future__ import annotations

from ._analysis import ShapAnalysis, ShapPart, ShapPlan, ShapSummary

__all__ = ["ShapAnalysis", "ShapPart", "ShapPlan", "ShapSummary"]
