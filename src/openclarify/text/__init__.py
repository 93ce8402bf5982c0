"""Text for models and explanations: segmentation into character spans, masking by coalitions, and the
text normalization shared by training and the fastText predictor."""

from __future__ import annotations

from ._mask import TextMasker
from ._normalize import TEXT_NORMALIZATIONS, TextNormalization, normalize_text, normalize_texts
from ._segment import EXTRA_PACKAGES, MAX_RUN_CHARS, Segment, Segmenter, WhitespaceMode, segment

__all__ = [
    "EXTRA_PACKAGES",
    "MAX_RUN_CHARS",
    "TEXT_NORMALIZATIONS",
    "Segment",
    "Segmenter",
    "TextMasker",
    "TextNormalization",
    "WhitespaceMode",
    "normalize_text",
    "normalize_texts",
    "segment",
]
