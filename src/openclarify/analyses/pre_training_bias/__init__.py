"""``methods.pre_training_bias``: Clarify's pre-training bias metrics per facet value."""

from __future__ import annotations

from ._analysis import PreTrainingBiasAnalysis

__all__ = ["PreTrainingBiasAnalysis"]
