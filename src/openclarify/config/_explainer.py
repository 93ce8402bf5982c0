"""SageMaker's ``ClarifyExplainerConfig`` (online explanations of an endpoint) <-> a typed, validated object.

The document is the one ``CreateEndpointConfig`` takes under ``ExplainerConfig`` (clarify-spec §5.1): the
whole ``{"ExplainerConfig": {"ClarifyExplainerConfig": {...}}}``, ``{"ClarifyExplainerConfig": {...}}``
(what the SDK's ``ExplainerConfig._to_request_dict()`` writes) or the inner object alone. Limits are the
API's; every problem is reported with its path (``ClarifyExplainerConfig.ShapConfig.NumberOfSamples``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import jmespath
from jmespath.exceptions import JMESPathError

from openclarify._typing import GRANULARITIES
from openclarify.config._parse import (
    _INVALID,
    MAX_NUM_SAMPLES,
    MAX_SEED,
    _boolean,
    _check_document,
    _choice,
    _Errors,
    _integer,
    _Invalid,
    _is_list,
    _language,
    _object,
    _quoted,
    _show,
    _Spec,
    read_json_object,
)
from openclarify.config._schema import TextConfig
from openclarify.errors import ConfigError

__all__ = [
    "FEATURE_TYPES",
    "ExplainerConfig",
    "FeatureType",
    "load_explainer_config",
    "parse_explainer_config",
]

FeatureType = Literal["numerical", "categorical", "text"]
FEATURE_TYPES: Final[tuple[FeatureType, ...]] = ("numerical", "categorical", "text")
_ROOT: Final = "ClarifyExplainerConfig"
_BASELINE_MIME_TYPES: Final = ("text/csv", "application/jsonlines")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplainerConfig:
    """``ClarifyExplainerConfig``: how an endpoint explains its predictions (field names in snake case).

    ``enable_explanations`` is the JMESPath expression evaluated on each record's model output (``None``:
    explain every record). The baseline is ``shap_baseline`` (records in the format of requests, per
    ``baseline_mime_type``) or ``shap_baseline_uri`` (``s3://``, ``https://`` or, an openclarify
    extension, a local path). ``number_of_samples`` is ``None`` for the default budget
    ``min(2M + 2048, 2**M - 2)``. ``max_payload_in_mb`` limits a request's body.
    """

    enable_explanations: str | None = None
    features_attribute: str | None = None
    content_template: str | None = None
    max_record_count: int | None = None
    max_payload_in_mb: int | None = None
    probability_index: int | None = None
    label_index: int | None = None
    probability_attribute: str | None = None
    label_attribute: str | None = None
    label_headers: tuple[str, ...] | None = None
    feature_headers: tuple[str, ...] | None = None
    feature_types: tuple[FeatureType, ...] | None = None
    baseline_mime_type: str = "text/csv"
    shap_baseline: str | None = None
    shap_baseline_uri: str | None = None
    number_of_samples: int | None = None
    use_logit: bool = False
    seed: int | None = None
    text_config: TextConfig | None = None


def _text(low: int, high: int) -> Any:
    """A string of ``low`` to ``high`` characters (the API's length limits)."""

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if not isinstance(value, str) or not low <= len(value) <= high:
            size = f" of {len(value)} characters" if isinstance(value, str) else ""
            return errors.add(path, f"must be a string of {low} to {high} characters; got {_show(value)}{size}.")
        return value

    return validate


def _texts(low: int, high: int, item_high: int) -> Any:
    """A list of ``low`` to ``high`` strings of 1 to ``item_high`` characters each."""
    item = _text(1, item_high)

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if not _is_list(value) or not low <= len(value) <= high:
            size = f" of {len(value)}" if _is_list(value) else ""
            return errors.add(path, f"must be a list of {low} to {high} strings; got {_show(value)}{size}.")
        before = len(errors)
        items = tuple(item(v, f"{path}[{i}]", errors) for i, v in enumerate(value))
        return items if len(errors) == before else _INVALID

    return validate


def _expression(value: Any, path: str, errors: _Errors) -> Any:
    """A JMESPath expression of 1 to 64 characters (``EnableExplanations``)."""
    checked = _text(1, 64)(value, path, errors)
    if isinstance(checked, _Invalid):
        return checked
    try:
        jmespath.compile(checked)
    except JMESPathError as exc:
        reason = " ".join(str(exc).split())
        return errors.add(
            path, f"not a valid JMESPath expression ({reason}); got {checked!r}. Write e.g. '`true`' or '[0]>`0.5`'."
        )
    return checked


def _feature_types(value: Any, path: str, errors: _Errors) -> Any:
    if not _is_list(value) or not 1 <= len(value) <= 256:
        return errors.add(path, f"must be a list of 1 to 256 of {_quoted(FEATURE_TYPES)}; got {_show(value)}.")
    before = len(errors)
    kinds = tuple(_choice(FEATURE_TYPES)(v, f"{path}[{i}]", errors) for i, v in enumerate(value))
    if len(errors) > before:
        return _INVALID
    if "text" not in kinds:
        return errors.add(
            path,
            f"must contain 'text' (the API takes FeatureTypes only for records with text); got {_show(value)}. "
            "Leave it out for a tabular model.",
        )
    return kinds


def _baseline_uri(value: Any, path: str, errors: _Errors) -> Any:
    checked = _text(1, 1024)(value, path, errors)
    if isinstance(checked, _Invalid):
        return checked
    if "://" in checked and not checked.startswith(("s3://", "https://", "http://", "file://")):
        return errors.add(path, f"must be an s3:// or https:// URI or a local path; got {checked!r}.")
    return checked


def _baseline_mime_type(value: Any, path: str, errors: _Errors) -> Any:
    if isinstance(value, str) and value.strip().lower() in _BASELINE_MIME_TYPES:
        return value.strip().lower()
    return errors.add(path, f"must be one of {_quoted(_BASELINE_MIME_TYPES)}; got {_show(value)}.")


def _check_baseline(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    given = [k for k in ("ShapBaseline", "ShapBaselineUri") if k in raw]
    if len(given) != 1:
        errors.add(
            path,
            "must give exactly one of 'ShapBaseline' (records inline, e.g. '0,0,0' or '\"<MASK>\"') and "
            f"'ShapBaselineUri' (a file of records); got {_quoted(given) if given else 'neither'}.",
        )


_TEXT_CONFIG = _Spec(
    {"Language": _language, "Granularity": _choice(GRANULARITIES)},
    required={
        "Language": "Set it to a language code such as 'en'.",
        "Granularity": f"Set it to one of {_quoted(GRANULARITIES)}.",
    },
)
_BASELINE = _Spec(
    {"MimeType": _baseline_mime_type, "ShapBaseline": _text(1, 4096), "ShapBaselineUri": _baseline_uri},
    check=_check_baseline,
)
_SHAP = _Spec(
    {
        "ShapBaselineConfig": _object(_BASELINE),
        "NumberOfSamples": _integer(1, MAX_NUM_SAMPLES),
        "UseLogit": _boolean,
        "Seed": _integer(0, MAX_SEED, " (2**32 - 1)"),
        "TextConfig": _object(_TEXT_CONFIG),
    },
    required={"ShapBaselineConfig": "Give the baseline: {'ShapBaseline': '<a record as CSV>'}."},
)
_INFERENCE = _Spec(
    {
        "FeaturesAttribute": _text(1, 64),
        "ContentTemplate": _text(1, 64),
        "MaxRecordCount": _integer(1),
        "MaxPayloadInMB": _integer(1, 25),
        "ProbabilityIndex": _integer(0),
        "LabelIndex": _integer(0),
        "ProbabilityAttribute": _text(1, 64),
        "LabelAttribute": _text(1, 64),
        "LabelHeaders": lambda v, p, e: _texts(1, 16, 64)(v, p, e),
        "FeatureHeaders": lambda v, p, e: _texts(1, 256, 64)(v, p, e),
        "FeatureTypes": _feature_types,
    }
)
_CLARIFY = _Spec(
    {
        "EnableExplanations": _expression,
        "InferenceConfig": _object(_INFERENCE),
        "ShapConfig": _object(_SHAP),
    },
    required={"ShapConfig": "Give at least {'ShapBaselineConfig': {'ShapBaseline': '...'}}."},
)


def _inner(document: Mapping[str, Any]) -> Any:
    """The ``ClarifyExplainerConfig`` object of any of the three accepted shapes."""
    if set(document) == {"ExplainerConfig"} and isinstance(document["ExplainerConfig"], Mapping):
        return document["ExplainerConfig"].get(_ROOT, document["ExplainerConfig"]), True
    if set(document) == {_ROOT}:
        return document[_ROOT], False
    return document, False


def parse_explainer_config(document: Mapping[str, Any]) -> ExplainerConfig:
    """Validate a loaded ``ClarifyExplainerConfig`` document and return it as an :class:`ExplainerConfig`.

    Raises
    ------
    ConfigError
        Anything invalid; ``errors`` lists every problem as ``(path, message)``.

    Examples
    --------
    >>> cfg = parse_explainer_config({"ClarifyExplainerConfig": {"ShapConfig": {
    ...     "ShapBaselineConfig": {"ShapBaseline": "0,0"}, "NumberOfSamples": 10, "Seed": 1}}})
    >>> cfg.shap_baseline, cfg.number_of_samples
    ('0,0', 10)
    """
    if not isinstance(document, Mapping):
        kind = "a JSON array" if _is_list(document) else _show(document)
        raise ConfigError(
            [("", f"an explainer config must be a JSON object; got {kind}.")], document="the explainer config"
        )
    problems = _check_document(document)
    if problems:
        raise ConfigError(problems, document="the explainer config")
    inner, wrapped = _inner(document)
    path = f"ExplainerConfig.{_ROOT}" if wrapped else _ROOT
    errors = _Errors()
    values = _object(_CLARIFY)(inner, path, errors)
    if errors.items:
        raise ConfigError(errors.items, document="the explainer config")
    return _build(cast(Mapping[str, Any], values))


def _build(values: Mapping[str, Any]) -> ExplainerConfig:
    inference: Mapping[str, Any] = values.get("InferenceConfig", {})
    shap: Mapping[str, Any] = values["ShapConfig"]
    baseline: Mapping[str, Any] = shap["ShapBaselineConfig"]
    text = shap.get("TextConfig")
    return ExplainerConfig(
        enable_explanations=values.get("EnableExplanations"),
        features_attribute=inference.get("FeaturesAttribute"),
        content_template=inference.get("ContentTemplate"),
        max_record_count=inference.get("MaxRecordCount"),
        max_payload_in_mb=inference.get("MaxPayloadInMB"),
        probability_index=inference.get("ProbabilityIndex"),
        label_index=inference.get("LabelIndex"),
        probability_attribute=inference.get("ProbabilityAttribute"),
        label_attribute=inference.get("LabelAttribute"),
        label_headers=inference.get("LabelHeaders"),
        feature_headers=inference.get("FeatureHeaders"),
        feature_types=inference.get("FeatureTypes"),
        baseline_mime_type=baseline.get("MimeType", "text/csv"),
        shap_baseline=baseline.get("ShapBaseline"),
        shap_baseline_uri=baseline.get("ShapBaselineUri"),
        number_of_samples=shap.get("NumberOfSamples"),
        use_logit=shap.get("UseLogit", False),
        seed=shap.get("Seed"),
        text_config=TextConfig(granularity=text["Granularity"], language=text["Language"]) if text else None,
    )


def load_explainer_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> ExplainerConfig:
    """Read a ``ClarifyExplainerConfig`` JSON file (a path or an ``s3://`` URL) and validate it.

    Raises
    ------
    ConfigError
        The file is missing, unreadable, not a JSON object, or invalid (every problem with its path).
    """
    if isinstance(source, Mapping):
        return parse_explainer_config(source)
    return parse_explainer_config(read_json_object(source, "explainer config"))
