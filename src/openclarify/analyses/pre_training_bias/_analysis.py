"""``methods.pre_training_bias``: the shared bias analysis (``analyses/_bias.py``) at the pre-training stage."""

from __future__ import annotations

from typing import ClassVar

from .._bias import BiasAnalysisBase, Stage

__all__ = ["PreTrainingBiasAnalysis"]


class PreTrainingBiasAnalysis(BiasAnalysisBase):
    key: ClassVar[str] = "pre_training_bias"
    stage: Stage = "pre"
