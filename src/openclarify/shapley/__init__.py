"""The Kernel SHAP estimator core: arrays and a Predictor in, frozen results out."""

from __future__ import annotations

from ._baseline import summarize_baseline
from ._coalitions import CoalitionPlan, default_num_samples, plan_coalitions, sample_coalitions
from ._estimator import ShapResult, kernel_shap
from ._solve import solve

__all__ = [
    "CoalitionPlan",
    "ShapResult",
    "default_num_samples",
    "kernel_shap",
    "plan_coalitions",
    "sample_coalitions",
    "solve",
    "summarize_baseline",
]
