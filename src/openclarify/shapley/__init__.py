"""The Kernel SHAP estimator core: arrays and a Predictor in, frozen results out."""

from __future__ import annotations

from ._baseline import summarize_baseline
from ._coalitions import CoalitionCache, CoalitionPlan, default_num_samples, plan_coalitions, sample_coalitions
from ._estimator import (
    ESTIMATORS,
    BaseValue,
    ShapResult,
    base_value,
    blame_data,
    check_target_error,
    kernel_shap,
)
from ._solve import solve
from ._text import TextPlayer, TextShapResult, kernel_shap_text

__all__ = [
    "ESTIMATORS",
    "BaseValue",
    "CoalitionCache",
    "CoalitionPlan",
    "ShapResult",
    "TextPlayer",
    "TextShapResult",
    "base_value",
    "blame_data",
    "check_target_error",
    "default_num_samples",
    "kernel_shap",
    "kernel_shap_text",
    "plan_coalitions",
    "sample_coalitions",
    "solve",
    "summarize_baseline",
]
