"""Clarify's analyses, one folder per method key of ``analysis_config.json``'s ``methods``.

:data:`ANALYSES` maps each method key to the ``"module:attribute"`` of its analysis (None: the key is
part of Clarify's contract but not computed yet). A new analysis is one folder plus one line here;
the job (``openclarify._pipeline``) loops over the analyses the config asks for and edits nothing.
"""

from __future__ import annotations

import importlib
from typing import Literal

from ._base import Analysis, Finished, Job, JobOptions, Needs
from ._sums import RecordSum

__all__ = ["ANALYSES", "Analysis", "Finished", "Job", "JobOptions", "MethodKey", "Needs", "RecordSum", "load_analysis"]

MethodKey = Literal["shap", "pdp", "pre_training_bias", "post_training_bias"]

#: In the order the job runs them (an analysis may use the results of those before it).
ANALYSES: dict[MethodKey, str | None] = {
    "shap": "openclarify.analyses.shap:ShapAnalysis",
    "pdp": "openclarify.analyses.pdp:PdpAnalysis",
    "post_training_bias": "openclarify.analyses.post_training_bias:PostTrainingBiasAnalysis",
    "pre_training_bias": "openclarify.analyses.pre_training_bias:PreTrainingBiasAnalysis",
}


def load_analysis(key: MethodKey) -> Analysis[object, object]:
    """The analysis registered for method ``key`` (imported now, not before)."""
    target = ANALYSES[key]
    if target is None:
        raise NotImplementedError(key)
    module, _, attr = target.partition(":")
    analysis: Analysis[object, object] = getattr(importlib.import_module(module), attr)()
    return analysis
