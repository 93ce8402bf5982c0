"""``analysis_config.json`` <-> typed, frozen, validated objects.

:func:`load_analysis_config` reads a file and :func:`parse_analysis_config` a loaded dict; both
return an :class:`AnalysisConfig` or raise one :class:`~openclarify.errors.ConfigError` listing
every problem with its JSON path (``methods.shap.num_samples: must be an integer >= 1; got -3.``).
:func:`build_analysis_config` goes the other way: settings -> the document the SageMaker SDK writes for
them, validated; :func:`format_analysis_config` and :func:`write_analysis_config` give it as text or a file.
"""

from __future__ import annotations

from openclarify.config._build import build_analysis_config, format_analysis_config, write_analysis_config
from openclarify.config._explainer import (
    FEATURE_TYPES,
    ExplainerConfig,
    FeatureType,
    load_explainer_config,
    parse_explainer_config,
)
from openclarify.config._languages import LANGUAGES, language_code
from openclarify.config._parse import load_analysis_config, parse_analysis_config
from openclarify.config._schema import (
    AnalysisConfig,
    BaselineRow,
    BaselineValue,
    BiasConfig,
    FacetConfig,
    MethodsConfig,
    PdpConfig,
    PredictorConfig,
    ReportConfig,
    ShapConfig,
    TextConfig,
)

__all__ = [
    "AnalysisConfig",
    "BaselineRow",
    "BaselineValue",
    "BiasConfig",
    "ExplainerConfig",
    "FEATURE_TYPES",
    "FacetConfig",
    "FeatureType",
    "LANGUAGES",
    "MethodsConfig",
    "PdpConfig",
    "PredictorConfig",
    "ReportConfig",
    "ShapConfig",
    "TextConfig",
    "build_analysis_config",
    "format_analysis_config",
    "language_code",
    "load_analysis_config",
    "load_explainer_config",
    "parse_analysis_config",
    "parse_explainer_config",
    "write_analysis_config",
]
