"""Text units for explanations: segmentation into character spans, and masking by coalitions."""

from __future__ import annotations

from ._mask import TextMasker
from ._segment import EXTRA_PACKAGES, MAX_RUN_CHARS, Segment, Segmenter, WhitespaceMode, segment

__all__ = [
    "EXTRA_PACKAGES",
    "MAX_RUN_CHARS",
    "Segment",
    "Segmenter",
    "TextMasker",
    "WhitespaceMode",
    "segment",
]
