"""Clarify's output files; the only package that knows their layout."""

from __future__ import annotations

from ._aggregate import GlobalAggregator, TopTextAggregator, aggregate
from ._staging import OutputStaging
from ._writers import (
    ANALYSIS_JSON,
    BASELINE_CSV,
    LOCAL_SHAP_CSV,
    LOCAL_SHAP_JSONL,
    LocalShapCsvWriter,
    LocalShapJsonlWriter,
    kernel_shap_section,
    write_analysis_json,
    write_baseline_csv,
)

__all__ = [
    "ANALYSIS_JSON",
    "BASELINE_CSV",
    "LOCAL_SHAP_CSV",
    "LOCAL_SHAP_JSONL",
    "GlobalAggregator",
    "LocalShapCsvWriter",
    "LocalShapJsonlWriter",
    "OutputStaging",
    "TopTextAggregator",
    "aggregate",
    "kernel_shap_section",
    "write_analysis_json",
    "write_baseline_csv",
]
