"""``methods.post_training_bias``: the shared bias analysis (``analyses/_bias.py``) at the post-training stage."""

from __future__ import annotations

from typing import ClassVar

from .._bias import BiasAnalysisBase, Stage

__all__ = ["PostTrainingBiasAnalysis"]


class PostTrainingBiasAnalysis(BiasAnalysisBase):
    key: ClassVar[str] = "post_training_bias"
    stage: Stage = "post"
