"""openclarify: run SageMaker Clarify analysis configs locally, with exact and fast Kernel SHAP."""

from __future__ import annotations

from ._pipeline import AnalysisResult, run_analysis
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
)
from .models import Predictor, load_model
from .outputs import aggregate
from .shapley import ShapResult, default_num_samples, kernel_shap, summarize_baseline

__version__ = "0.1.0"

__all__ = [
    "AnalysisConfig",
    "AnalysisResult",
    "ApproximationWarning",
    "ConfigError",
    "DataError",
    "Dataset",
    "EstimationError",
    "MissingDependencyError",
    "ModelError",
    "OpenClarifyError",
    "OpenClarifyWarning",
    "OutputError",
    "Predictor",
    "ShapResult",
    "aggregate",
    "default_num_samples",
    "kernel_shap",
    "load_analysis_config",
    "load_model",
    "open_dataset",
    "parse_analysis_config",
    "read_baseline",
    "run_analysis",
    "summarize_baseline",
]
