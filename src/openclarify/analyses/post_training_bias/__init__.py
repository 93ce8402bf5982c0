"""``methods.post_training_bias``: Clarify's post-training bias metrics per facet value."""

from __future__ import annotations

from ._analysis import PostTrainingBiasAnalysis

__all__ = ["PostTrainingBiasAnalysis"]
