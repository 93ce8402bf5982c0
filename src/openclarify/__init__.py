"""openclarify: run SageMaker Clarify analysis configs locally, with exact and fast Kernel SHAP for tabular
and text models, and train BlazingText-compatible text classifiers."""

from __future__ import annotations

from ._pipeline import AnalysisResult, run_analysis
from ._version import __version__ as __version__
from .config import AnalysisConfig, load_analysis_config, parse_analysis_config
from .data import Dataset, open_dataset, read_baseline
from .errors import (
    ApproximationWarning,
    ConfigError,
    DataError,
    EstimationError,
    MissingDependencyError,
    ModelError,
    OpenClarifyError,
    OpenClarifyWarning,
    OutputError,
    ReportError,
)
from .models import FastTextPredictor, Predictor, load_model
from .outputs import aggregate
from .shapley import (
    ShapResult,
    TextShapResult,
    default_num_samples,
    kernel_shap,
    kernel_shap_text,
    summarize_baseline,
)
from .text import Segmenter, TextMasker, segment
from .training import train_text_classifier

__all__ = [
    "AnalysisConfig",
    "AnalysisResult",
    "ApproximationWarning",
    "ConfigError",
    "DataError",
    "Dataset",
    "EstimationError",
    "FastTextPredictor",
    "MissingDependencyError",
    "ModelError",
    "OpenClarifyError",
    "OpenClarifyWarning",
    "OutputError",
    "Predictor",
    "ReportError",
    "Segmenter",
    "ShapResult",
    "TextMasker",
    "TextShapResult",
    "aggregate",
    "default_num_samples",
    "kernel_shap",
    "kernel_shap_text",
    "load_analysis_config",
    "load_model",
    "open_dataset",
    "parse_analysis_config",
    "read_baseline",
    "run_analysis",
    "segment",
    "summarize_baseline",
    "train_text_classifier",
]
