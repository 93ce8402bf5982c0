"""Clarify's output files; the only package that knows their layout."""

from __future__ import annotations

from ._aggregate import GlobalAggregator, TopTextAggregator, aggregate
from ._read import (
    ExplainedFeature,
    ExplainedRecord,
    ExplainedUnit,
    LabelSummary,
    OutputFolder,
    PdpFeature,
    RecordSelection,
    read_output_folder,
)
from ._staging import MANIFEST_FILE, OutputStaging, add_published, published_files, write_atomic
from ._writers import (
    ANALYSIS_JSON,
    BASELINE_CSV,
    CONFIG_JSON,
    LOCAL_SHAP_CSV,
    LOCAL_SHAP_JSONL,
    PREDICTIONS_JSONL,
    RUN_SUMMARY_JSON,
    LocalShapCsvWriter,
    LocalShapJsonlWriter,
    PredictionsJsonlWriter,
    encode_json,
    kernel_shap_section,
    write_analysis_json,
    write_baseline_csv,
    write_json,
)

__all__ = [
    "ANALYSIS_JSON",
    "BASELINE_CSV",
    "CONFIG_JSON",
    "LOCAL_SHAP_CSV",
    "LOCAL_SHAP_JSONL",
    "MANIFEST_FILE",
    "PREDICTIONS_JSONL",
    "RUN_SUMMARY_JSON",
    "ExplainedFeature",
    "ExplainedRecord",
    "ExplainedUnit",
    "GlobalAggregator",
    "LabelSummary",
    "LocalShapCsvWriter",
    "LocalShapJsonlWriter",
    "OutputFolder",
    "OutputStaging",
    "PdpFeature",
    "PredictionsJsonlWriter",
    "RecordSelection",
    "TopTextAggregator",
    "add_published",
    "aggregate",
    "encode_json",
    "kernel_shap_section",
    "published_files",
    "read_output_folder",
    "write_analysis_json",
    "write_baseline_csv",
    "write_atomic",
    "write_json",
]
