"""Typed, frozen objects for ``analysis_config.json``; field names are Clarify's keys, one to one.

Every object is built by :func:`openclarify.config.parse_analysis_config`, which validates the
document first, so code that receives one may trust its fields. Lists become tuples; every method
section and facet is a typed object, and the few nested objects later stages interpret themselves
(``image_config``, ``asymmetric_shapley_value``, ``segment_config``, ...) become read-only mappings
(``types.MappingProxyType``, nested lists as tuples).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from openclarify._typing import AggMethod, DatasetType, Estimator, Granularity

__all__ = [
    "AnalysisConfig",
    "BaselineRow",
    "BaselineValue",
    "MethodsConfig",
    "PredictorConfig",
    "ReportConfig",
    "ShapConfig",
    "TextConfig",
]

#: One value of an in-place CSV/Parquet baseline row (JSON number, string or null).
BaselineValue: TypeAlias = int | float | str | None
#: One in-place CSV/Parquet baseline row: feature values only, no label.
BaselineRow: TypeAlias = tuple[BaselineValue, ...]


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictorConfig:
    """The ``predictor`` object: how the model is called and how its response is read.

    ``content_type`` and ``accept_type`` are stored lowercased; ``label_headers`` as strings.
    ``model_name`` / ``endpoint_name`` are optional because a local run may supply the model itself.
    """

    model_name: str | None = None
    endpoint_name: str | None = None
    endpoint_name_prefix: str | None = None
    instance_type: str | None = None
    initial_instance_count: int | None = None
    accelerator_type: str | None = None
    target_model: str | None = None
    custom_attributes: str | None = None
    content_type: str | None = None
    accept_type: str | None = None
    content_template: str | Mapping[str, str] | None = None
    record_template: str | None = None
    label: int | str | None = None
    probability: int | str | None = None
    label_headers: tuple[str, ...] | None = None
    time_series_predictor_config: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TextConfig:
    """``methods.shap.text_config``: how text columns are split into features.

    ``granularity`` is lowercased; ``language`` is always the spaCy code (``"english"`` -> ``"en"``,
    ``"multi-language"`` -> ``"xx"``), see :data:`openclarify.config.LANGUAGES`.
    """

    granularity: Granularity
    language: str
    max_top_tokens: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapConfig:
    """``methods.shap``: Kernel SHAP options.

    ``baseline`` is one of

    * ``None``: compute one (K-means / K-prototypes with ``num_clusters``);
    * a string: URI or path of a baseline file;
    * a tuple of rows, each a tuple of feature values (CSV / Parquet datasets);
    * a tuple of read-only mappings, one per record (JSON Lines, e.g. ``{"features": (0, 0)}``);
    * a read-only mapping: one JSON document shaped like the dataset (``application/json``).

    ``save_local_shap_values`` defaults to False as in the developer guide (the SDK always writes it).

    openclarify's extensions: ``estimator`` (``"kernel"``, Kernel SHAP's regression, or ``"gp"``, see
    ``shapley/_gp.py``) and ``save_local_shap_stderr`` (the standard error of every local value next to it:
    ``<feature>_<label>_se`` columns in ``out.csv``, ``stderr`` beside each ``attribution`` in ``out.jsonl``;
    needs ``estimator: "gp"``); ``target_error`` (sample in rounds until every standard error of a record
    is at most this, or ``num_samples`` is spent; ``estimator: "gp"``).
    """

    baseline: str | tuple[BaselineRow, ...] | tuple[Mapping[str, Any], ...] | Mapping[str, Any] | None = None
    num_clusters: int | None = None
    num_samples: int | None = None
    agg_method: AggMethod = "mean_abs"
    use_logit: bool = False
    save_local_shap_values: bool = False
    seed: int | None = None
    text_config: TextConfig | None = None
    image_config: Mapping[str, Any] | None = None
    features_to_explain: tuple[int | str, ...] | None = None
    estimator: Estimator = "kernel"
    save_local_shap_stderr: bool = False
    target_error: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportConfig:
    """``methods.report``: the report file base name and title."""

    name: str
    title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PdpConfig:
    """``methods.pdp``: partial dependence of ``features`` (names, or 0-based indices without headers) on
    ``grid_resolution`` buckets; without ``features``, the ``top_k_features`` by global SHAP value."""

    grid_resolution: int
    features: tuple[int | str, ...] | None = None
    top_k_features: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BiasConfig:
    """``methods.pre_training_bias`` / ``methods.post_training_bias``: ``methods`` is ``"all"`` or a
    tuple of upper-case metric codes (``("DPPL", "DI")``)."""

    methods: Literal["all"] | tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FacetConfig:
    """One entry of ``facet``: the column (``name_or_index``) and the values (or one threshold) of the
    sensitive group; without ``value_or_threshold`` every value is compared with the rest.

    openclarify's extension, an intersectional facet: ``name_or_index`` lists several columns, and each
    entry of ``value_or_threshold`` is a tuple of one value per column (a combination); without values,
    every combination that occurs is compared with the rest."""

    name_or_index: int | str | tuple[int | str, ...]
    value_or_threshold: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodsConfig:
    """``methods``: the analyses to run; an absent method is None and is not computed.

    ``asymmetric_shapley_value`` is validated structurally and kept as a read-only mapping.
    """

    shap: ShapConfig | None = None
    pdp: PdpConfig | None = None
    asymmetric_shapley_value: Mapping[str, Any] | None = None
    pre_training_bias: BiasConfig | None = None
    post_training_bias: BiasConfig | None = None
    report: ReportConfig | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisConfig:
    """A validated ``analysis_config.json``.

    ``dataset_type`` is lowercased. ``probability_threshold`` is a float (Clarify's default, 0.5,
    applies when it is None). ``segment_config`` and ``time_series_data_config`` are read-only
    mappings (tuples of them for lists). ``source`` holds the original document, deeply
    read-only, and takes no part in equality or ``repr``.
    """

    version: str | None = None
    dataset_type: DatasetType
    dataset_uri: str | None = None
    headers: tuple[str, ...] | None = None
    label: int | str | None = None
    predicted_label: int | str | None = None
    features: str | None = None
    joinsource_name_or_index: int | str | None = None
    excluded_columns: tuple[int | str, ...] | None = None
    probability_threshold: float | None = None
    label_values_or_threshold: tuple[int | float | str, ...] | None = None
    facet: tuple[FacetConfig, ...] | None = None
    group_variable: int | str | None = None
    facet_dataset_uri: str | None = None
    facet_headers: tuple[str, ...] | None = None
    predicted_label_dataset_uri: str | None = None
    predicted_label_headers: tuple[str, ...] | None = None
    segment_config: tuple[Mapping[str, Any], ...] | None = None
    time_series_data_config: Mapping[str, Any] | None = None
    methods: MethodsConfig
    predictor: PredictorConfig | None = None
    source: Mapping[str, Any] = field(default_factory=_empty_mapping, compare=False, repr=False)


def plain(value: object) -> object:
    """Read-only config values (mapping proxies, tuples) back to plain JSON values (dict, list)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
