"""``analysis_config.json`` -> :class:`AnalysisConfig`: every error carries its JSON path; all are collected.

Each JSON object is described by a small table (key -> validator, plus the required keys and an
optional cross-field check), so validating an object is a table lookup rather than an if-chain.
A validator takes ``(value, path, errors)``, records problems in ``errors`` and returns the converted
value (lists as tuples, nested objects as frozen objects or read-only mappings) or ``_INVALID``.
The rules mirror the SDK schema ``sagemaker.clarify.ANALYSIS_CONFIG_SCHEMA_V1_0`` and the SDK
checks listed in clarify-spec §1.8 that can be decided from the document alone.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, cast

from openclarify._typing import AGG_METHODS, DATASET_TYPES, ESTIMATOR_NAMES, GRANULARITIES
from openclarify.config._languages import LANGUAGES, language_code
from openclarify.config._schema import (
    AnalysisConfig,
    BiasConfig,
    FacetConfig,
    MethodsConfig,
    PdpConfig,
    PredictorConfig,
    ReportConfig,
    ShapConfig,
    TextConfig,
)
from openclarify.errors import ConfigError
from openclarify.io import absence, is_url, read_text

__all__ = ["load_analysis_config", "parse_analysis_config"]

# ---------------------------------------------------------------------------------------------------
# machinery


class _Invalid:
    """Marker returned by a validator whose value was rejected (the error is already recorded)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid>"


_INVALID: Final = _Invalid()

# methods.shap.num_samples: every coalition of 20 features (2**20 - 2 <= 2**20). One record's coalitions
# then take about 2**20 x n_features bytes and 2**20 x n_baseline model rows (~1 s and 300 MB for 40
# features and one baseline row with a trivial model). Clarify documents no bound; its default is
# 2 * n + 2048. The estimator (shapley/_estimator.py MAX_NUM_SAMPLES) has the same bound.
MAX_NUM_SAMPLES: Final = 1 << 20
# With text_config each coalition is a masked copy of the whole text for every baseline row, and a text
# has one player per unit: 2**17 coalitions of a 200-token text take ~3 s per record before the model
# runs, and those of a 3,000-token document ~400 MB.
MAX_TEXT_NUM_SAMPLES: Final = 1 << 17
# methods.shap.seed seeds NumPy and scikit-learn's K-means (random_state) for the computed baseline,
# which take 0 .. 2**32 - 1; a larger seed fails there, and the sampler's counter-based generator
# would reduce it modulo 2**64 (seed 0 and 2**64 would collide).
MAX_SEED: Final = (1 << 32) - 1
# Arrays and objects nested in one another: an analysis config needs about 6; deeper ones exhaust the
# recursion of the JSON reader and of this module long before 1000.
MAX_DEPTH: Final = 64


class _Errors:
    """The ``(path, message)`` pairs collected while validating one document."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> _Invalid:
        self.items.append((path, message))
        return _INVALID

    def __len__(self) -> int:
        return len(self.items)


_Validator = Callable[[Any, str, _Errors], Any]
_Check = Callable[[dict[str, Any], Mapping[str, Any], str, _Errors], None]


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _thaw(value: Any) -> Any:
    """Frozen values back to plain JSON-like ones, so messages show ``{...}`` and ``[...]``."""
    if isinstance(value, MappingProxyType):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _show(value: Any, limit: int = 80) -> str:
    text = repr(_thaw(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quoted(choices: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in choices)


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _is_int(value: Any) -> bool:
    # bool is an int subclass; JSON true/false is never accepted where a number is expected.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _freeze(value: Any) -> Any:
    """Deep read-only copy of a JSON value: objects -> MappingProxyType, arrays -> tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if _is_list(value):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class _Spec:
    """How one JSON object validates: key -> validator, required keys (-> hint), cross-field check."""

    fields: Mapping[str, _Validator]
    required: Mapping[str, str] = field(default_factory=dict)
    check: _Check | None = None


def _fields(value: Any, path: str, errors: _Errors, spec: _Spec) -> dict[str, Any] | _Invalid:
    """Validate every key of an object against ``spec``; return the converted, valid values."""
    if not isinstance(value, Mapping):
        return errors.add(path, f"must be a JSON object; got {_show(value)}.")
    values: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            errors.add(path, f"keys must be strings; got {key!r}.")
            continue
        validate = spec.fields.get(key)
        if validate is None:
            hint = _did_you_mean(key, spec.fields) or f" Valid keys here: {_quoted(spec.fields)}."
            errors.add(_key(path, key), f"unknown key; got {key!r}.{hint}")
            continue
        result = validate(item, _key(path, key), errors)
        if result is not _INVALID:
            values[key] = result
    for key, hint in spec.required.items():
        if key not in value:
            errors.add(_key(path, key), f"required key is missing. {hint}")
    return values


def _object(spec: _Spec, build: Callable[..., Any] | None = None) -> _Validator:
    """Validator for a nested object: checked per ``spec``, then ``build(**values)``.

    Without ``build`` the values are returned as a read-only mapping.
    """

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        before = len(errors)
        values = _fields(value, path, errors, spec)
        if isinstance(values, _Invalid):
            return _INVALID
        if spec.check is not None:
            spec.check(values, value, path, errors)
        if len(errors) > before:
            return _INVALID
        return build(**values) if build is not None else MappingProxyType(values)

    return validate


# ---------------------------------------------------------------------------------------------------
# scalar and list validators


def _string(*, non_empty: bool = False) -> _Validator:
    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if not isinstance(value, str) or (non_empty and not value):
            return errors.add(path, f"must be a {'non-empty ' if non_empty else ''}string; got {_show(value)}.")
        return value

    return validate


#: What ``methods.report.name`` must be, said in messages.
PLAIN_FILE_NAME: Final = (
    "a plain file name inside the output folder (no '/', '\\', leading '.' or NUL, at most 200 characters)"
)


def is_plain_file_name(value: str) -> bool:
    """A file base name that stays inside its folder: no folder part, not hidden (so not '.' or '..' and
    not one of openclarify's bookkeeping files), no NUL, at most 200 characters."""
    return bool(value) and not any(c in value for c in "/\\\x00") and not value.startswith(".") and len(value) <= 200


def _file_name(value: Any, path: str, errors: _Errors) -> Any:
    if not isinstance(value, str) or not value:
        return errors.add(path, f"must be a non-empty string; got {_show(value)}.")
    if not is_plain_file_name(value):
        return errors.add(path, f"must be {PLAIN_FILE_NAME}; got {_show(value)}. Use e.g. 'report'.")
    return value


def _integer(minimum: int | None = None, maximum: int | None = None, why: str = "") -> _Validator:
    """An integer (not a boolean) in ``[minimum, maximum]``; ``why`` explains the maximum in the message."""

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if not _is_int(value) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            return errors.add(path, f"must be an integer{bound}; got {_show(value)}.")
        if maximum is not None and value > maximum:
            return errors.add(path, f"must be at most {maximum}{why}; got {_show(value)}.")
        return value

    return validate


def _number(minimum: float | None = None, maximum: float | None = None) -> _Validator:
    """An int or float (stored as float); the SDK schema wants a float, the container takes both."""

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        ok = _is_number(value) and math.isfinite(value)
        ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
        if not ok:
            if minimum is not None and maximum is not None:
                what = f"a number between {minimum} and {maximum}"
            elif minimum is not None:
                what = f"a number >= {minimum}"
            else:
                what = "a finite number"
            return errors.add(path, f"must be {what}; got {_show(value)}.")
        return float(value)

    return validate


def _positive(value: Any, path: str, errors: _Errors) -> Any:
    """A finite number > 0 (stored as float)."""
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        return errors.add(path, f"must be a number > 0; got {_show(value)}.")
    return float(value)


def _boolean(value: Any, path: str, errors: _Errors) -> Any:
    if not isinstance(value, bool):
        return errors.add(path, f"must be true or false; got {_show(value)}.")
    return value


def _choice(choices: Sequence[str], *, normalise: Callable[[str], str] = str.lower) -> _Validator:
    """One of ``choices``, matched case-insensitively (the SDK schema's ``Use(str.lower)``)."""

    expected = f"be {choices[0]!r}" if len(choices) == 1 else f"be one of {_quoted(choices)}"

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if isinstance(value, str) and normalise(value) in choices:
            return normalise(value)
        hint = _did_you_mean(normalise(value), choices) if isinstance(value, str) and choices[1:] else ""
        return errors.add(path, f"must {expected}; got {_show(value)}.{hint}")

    return validate


def _name_or_index(value: Any, path: str, errors: _Errors) -> Any:
    """A column name / JMESPath (string) or a 0-based column index."""
    if isinstance(value, str) or (_is_int(value) and value >= 0):
        return value
    return errors.add(path, f"must be a column name (string) or a 0-based column index; got {_show(value)}.")


def _scalar(value: Any, path: str, errors: _Errors) -> Any:
    if isinstance(value, str) or _is_number(value):
        return value
    return errors.add(path, f"must be a number or a string; got {_show(value)}.")


def _list(item: _Validator, what: str, *, non_empty: bool = False, unique: bool = False) -> _Validator:
    """A JSON array of ``item`` (described as ``what``), returned as a tuple."""

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if not _is_list(value) or (non_empty and not value):
            return errors.add(path, f"must be a {'non-empty ' if non_empty else ''}list of {what}; got {_show(value)}.")
        before = len(errors)
        items = tuple(item(v, f"{path}[{i}]", errors) for i, v in enumerate(value))
        if unique:
            seen: set[Any] = set()
            for i, v in enumerate(items):
                if v is not _INVALID and v in seen:
                    errors.add(f"{path}[{i}]", f"duplicate entry; got {_show(v)}. Each entry must be unique.")
                seen.add(v)
        return items if len(errors) == before else _INVALID

    return validate


def _dict_of(item: _Validator, what: str) -> _Validator:
    """A JSON object with arbitrary keys and values of one kind, returned read-only."""

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if not isinstance(value, Mapping):
            return errors.add(path, f"must be a JSON object of {what}; got {_show(value)}.")
        before = len(errors)
        items = {str(k): item(v, _key(path, str(k)), errors) for k, v in value.items()}
        return MappingProxyType(items) if len(errors) == before else _INVALID

    return validate


def _one_of(*validators: _Validator, what: str) -> _Validator:
    """The first of ``validators`` that accepts the value; else one error describing ``what``."""

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        for candidate in validators:
            scratch = _Errors()
            result = candidate(value, path, scratch)
            if not scratch.items:
                return result
        return errors.add(path, f"must be {what}; got {_show(value)}.")

    return validate


# ---------------------------------------------------------------------------------------------------
# special values


def _language(value: Any, path: str, errors: _Errors) -> Any:
    """A language name or code (clarify-spec §2.1), stored as the spaCy code."""
    code = language_code(value) if isinstance(value, str) else None
    if code is not None:
        return code
    hint = _did_you_mean(value.lower(), [*LANGUAGES, *LANGUAGES.values()]) if isinstance(value, str) else ""
    return errors.add(
        path,
        f"must be a supported language name or code such as 'english' or 'en' "
        f"(see openclarify.config.LANGUAGES); got {_show(value)}.{hint}",
    )


def _label_header(value: Any, path: str, errors: _Errors) -> Any:
    if isinstance(value, str) or _is_int(value):
        return str(value)
    return errors.add(path, f"must be a string or an integer class name; got {_show(value)}.")


def _baseline_value(value: Any, path: str, errors: _Errors) -> Any:
    if value is None or isinstance(value, str) or _is_number(value):
        return value
    return errors.add(path, f"must be a number, a string or null; got {_show(value)}.")


def _baseline(value: Any, path: str, errors: _Errors) -> Any:
    """``methods.shap.baseline``: a URI/path, in-place rows or records, or one JSON document."""
    if isinstance(value, str):
        return value if value else errors.add(path, "must be a non-empty URI or path; got ''.")
    if isinstance(value, Mapping):
        return _freeze(value)
    if not _is_list(value) or not value:
        return errors.add(
            path,
            f"must be a URI or path, a non-empty list of rows or records, or a JSON object; "
            f"got {_show(value)}. Omit it to compute a baseline by clustering.",
        )
    if not any(_is_list(row) or isinstance(row, Mapping) for row in value):
        return errors.add(path, f"must be a list of rows; got {_show(value)}. A single row is written [[...]].")
    before = len(errors)
    records = isinstance(value[0], Mapping)  # JSON Lines style records, else CSV-style rows
    rows: list[Any] = []
    width: tuple[int, int] | None = None  # (row index, length) of the first non-empty row
    for i, row in enumerate(value):
        row_path = f"{path}[{i}]"
        if records:
            if isinstance(row, Mapping):
                rows.append(_freeze(row))
            else:
                errors.add(row_path, f"must be a JSON object like {path}[0]; got {_show(row)}.")
        elif _is_list(row):
            if not row:
                errors.add(row_path, "must be a non-empty list of feature values; got [].")
            elif width is None:
                width = (i, len(row))
            elif len(row) != width[1]:
                errors.add(row_path, f"must have {width[1]} values like {path}[{width[0]}]; got {len(row)}.")
            rows.append(tuple(_baseline_value(v, f"{row_path}[{j}]", errors) for j, v in enumerate(row)))
        else:
            errors.add(row_path, f"must be a list of feature values like {path}[0]; got {_show(row)}.")
    return tuple(rows) if len(errors) == before else _INVALID


def _asv_baseline(value: Any, path: str, errors: _Errors) -> Any:
    if isinstance(value, Mapping):
        return _object(_ASV_BASELINE)(value, path, errors)
    if isinstance(value, str) and value:
        return value
    return errors.add(
        path,
        "must be a URI or path, or an object with target_time_series, related_time_series and/or "
        f"static_covariates; got {_show(value)}.",
    )


def _content_template(value: Any, path: str, errors: _Errors) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return MappingProxyType(dict(value))
    return errors.add(path, f"must be a string (or an object of strings); got {_show(value)}.")


def _bias_methods(codes: Sequence[str]) -> _Validator:
    """``"all"`` or a list of metric codes (case-insensitive), stored as ``"all"`` / upper-case tuple."""

    def code(value: Any, path: str, errors: _Errors) -> Any:
        if isinstance(value, str) and value.upper() in codes:
            return value.upper()
        hint = _did_you_mean(value.upper(), codes) if isinstance(value, str) else ""
        return errors.add(path, f"must be one of {_quoted(codes)}; got {_show(value)}.{hint}")

    as_list = _list(code, "metric codes", non_empty=True, unique=True)

    def validate(value: Any, path: str, errors: _Errors) -> Any:
        if isinstance(value, str) and value.lower() == "all":
            return "all"
        if _is_list(value):
            return as_list(value, path, errors)
        return errors.add(
            path, f"must be 'all' or a list of metric codes such as {list(codes[:2])!r}; got {_show(value)}."
        )

    return validate


# ---------------------------------------------------------------------------------------------------
# cross-field checks


def _check_shap(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    num_samples = values.get("num_samples")
    if num_samples is not None and "text_config" in raw and num_samples > MAX_TEXT_NUM_SAMPLES:
        errors.add(
            _key(path, "num_samples"),
            f"must be at most {MAX_TEXT_NUM_SAMPLES} with text_config (2**17: every coalition of a text of 17 "
            "units; each coalition is a masked copy of the whole text for every baseline row, so larger budgets "
            f"do not finish); got {num_samples}. Use sentence or paragraph granularity for long texts.",
        )
    elif num_samples is not None and num_samples > MAX_NUM_SAMPLES:
        errors.add(
            _key(path, "num_samples"),
            f"must be at most {MAX_NUM_SAMPLES} (2**20: every coalition of 20 features; larger budgets do not "
            f"finish in memory); got {num_samples}.",
        )
    if "target_error" in values and values.get("estimator", "kernel") != "gp":
        errors.add(
            _key(path, "target_error"),
            'needs estimator "gp" (it stops on the standard errors gp gives); got estimator '
            f'{_show(raw.get("estimator", "kernel"))}. Add "estimator": "gp" or remove target_error.',
        )
    if values.get("save_local_shap_stderr") and values.get("estimator", "kernel") != "gp":
        errors.add(
            _key(path, "save_local_shap_stderr"),
            'needs estimator "gp" (Kernel SHAP\'s regression gives no standard errors); got estimator '
            f'{_show(raw.get("estimator", "kernel"))}. Add "estimator": "gp" or remove save_local_shap_stderr.',
        )
    if "baseline" in raw and "num_clusters" in raw:
        errors.add(
            _key(path, "num_clusters"),
            f"cannot be given together with 'baseline'; got {_show(raw['num_clusters'])}. "
            "Give a baseline, or num_clusters to compute one, not both.",
        )
    for other in ("text_config", "image_config"):
        if "features_to_explain" in raw and other in raw:
            errors.add(
                _key(path, "features_to_explain"),
                f"is not supported together with {other!r}; got {_show(raw['features_to_explain'])}. "
                "Remove features_to_explain for text or image explanations.",
            )


def _check_asv(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    granularity = values.get("granularity")
    if granularity == "fine_grained":
        if "num_samples" not in raw:
            errors.add(_key(path, "num_samples"), "required key is missing. Fine-grained explanations need it.")
        if values.get("direction", "chronological") != "chronological":
            errors.add(
                _key(path, "direction"),
                f"must be 'chronological' with granularity 'fine_grained'; got {values['direction']!r}.",
            )
    elif granularity == "timewise" and "num_samples" in values:
        errors.add(
            _key(path, "num_samples"),
            f"is only used with granularity 'fine_grained'; got {values['num_samples']!r}. Remove it.",
        )


_ANALYSES: Final = ("shap", "pdp", "asymmetric_shapley_value", "pre_training_bias", "post_training_bias")


def _check_methods(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    present = [m for m in _ANALYSES if m in raw]
    if not present:
        errors.add(path, f"must hold at least one of {_quoted(_ANALYSES)}; got {_show(dict(raw))}.")
    if "asymmetric_shapley_value" in raw and len(present) > 1:
        others = [m for m in present if m != "asymmetric_shapley_value"]
        errors.add(
            _key(path, "asymmetric_shapley_value"),
            f"cannot be combined with other methods (time series only); got also {others!r}.",
        )
    pdp = raw.get("pdp")
    if isinstance(pdp, Mapping) and "features" not in pdp and "shap" not in raw:
        errors.add(
            _key(path, "pdp.features"),
            "required key is missing. PDP needs 'features' when methods.shap is absent "
            "(with shap, the top_k_features by SHAP value are used).",
        )


_ENDPOINT_NAME_PREFIX: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])")


def _check_predictor(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    prefix = values.get("endpoint_name_prefix")
    if prefix is not None:
        if _ENDPOINT_NAME_PREFIX.search(prefix) is None or len(prefix) > 23:
            errors.add(
                _key(path, "endpoint_name_prefix"),
                f"must match ^[a-zA-Z0-9](-*[a-zA-Z0-9]) and be at most 23 characters; got {prefix!r}.",
            )
        if "endpoint_name" in raw:
            errors.add(
                _key(path, "endpoint_name_prefix"),
                f"cannot be given together with 'endpoint_name'; got {prefix!r}. "
                "The prefix only names a shadow endpoint created from model_name.",
            )
    if "content_type" in values:
        _check_templates(values["content_type"], values, raw, path, errors, "")


def _check_segment(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    aliases, segments = values.get("display_aliases"), values.get("segments")
    if aliases is not None and segments is not None and len(aliases) not in (len(segments), len(segments) + 1):
        errors.add(
            _key(path, "display_aliases"),
            f"must have {len(segments)} or {len(segments) + 1} entries (one per segment, optionally one "
            f"more for the default segment); got {len(aliases)}.",
        )


def _check_time_series(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    ids = [values[k] for k in ("target_time_series", "item_id", "timestamp") if k in values]
    if len({type(v) for v in ids}) > 1:
        errors.add(
            path,
            f"must give target_time_series, item_id and timestamp as all strings or all integers; got {ids!r}.",
        )
    by_name = bool(ids) and isinstance(ids[0], str)
    for key in ("related_time_series", "static_covariates"):
        columns = values.get(key, ())
        if ids and any(isinstance(c, str) != by_name for c in columns):
            kind = "strings" if by_name else "integers"
            errors.add(_key(path, key), f"must be a list of {kind} like target_time_series; got {list(columns)!r}.")
    if ids and by_name and "dataset_format" not in raw:
        errors.add(
            _key(path, "dataset_format"),
            "required key is missing. Set it to 'columns', 'item_records' or 'timestamp_records' "
            "when the time series fields are JMESPath strings.",
        )
    elif ids and not by_name and "dataset_format" in values:
        errors.add(
            _key(path, "dataset_format"),
            f"is only used when the time series fields are strings; got {values['dataset_format']!r}. Remove it.",
        )


# ---------------------------------------------------------------------------------------------------
# the tables

_TEXT = _Spec(
    {"granularity": _choice(GRANULARITIES), "language": _language, "max_top_tokens": _integer(1)},
    required={
        "granularity": f"Set it to one of {_quoted(GRANULARITIES)}.",
        "language": "Set it to a language name or code such as 'english' or 'en'.",
    },
)

_IMAGE_DEBUG = _Spec(
    {
        "image_names": _list(_string(), "strings"),
        "class_ids": _list(_integer(0), "integers"),
        "sample_from": _integer(0),
        "sample_to": _integer(0),
    }
)

_IMAGE = _Spec(
    {
        "num_segments": _integer(1),
        "segment_compactness": _number(minimum=0.0),
        "feature_extraction_method": _string(),
        "model_type": _choice(("IMAGE_CLASSIFICATION", "OBJECT_DETECTION"), normalise=str.upper),
        "max_objects": _integer(1),
        "iou_threshold": _number(0.0, 1.0),
        "context": _number(0.0, 1.0),
        "debug": _object(_IMAGE_DEBUG),
    }
)

_SHAP = _Spec(
    {
        "baseline": _baseline,
        "num_clusters": _integer(1),
        "num_samples": _integer(1),  # at most MAX_NUM_SAMPLES or MAX_TEXT_NUM_SAMPLES: _check_shap
        "agg_method": _choice(AGG_METHODS),
        "use_logit": _boolean,
        "save_local_shap_values": _boolean,
        "seed": _integer(0, MAX_SEED, " (2**32 - 1, the largest seed NumPy and scikit-learn's K-means accept)"),
        "text_config": _object(_TEXT, TextConfig),
        "image_config": _object(_IMAGE),
        "features_to_explain": _list(_name_or_index, "column names or indices", non_empty=True, unique=True),
        "estimator": _choice(ESTIMATOR_NAMES),
        "save_local_shap_stderr": _boolean,
        "target_error": _positive,
    },
    check=_check_shap,
)

_PDP = _Spec(
    {
        "grid_resolution": _integer(1),
        "features": _list(_name_or_index, "column names or indices", non_empty=True, unique=True),
        "top_k_features": _integer(1),
    },
    required={"grid_resolution": "Set it to the number of grid points for numerical features, e.g. 15."},
)

_PRE_TRAINING_CODES: Final = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
_POST_TRAINING_CODES: Final = (
    "DPPL", "DI", "DCA", "DCR", "RD", "SD", "DAR", "DRR", "AD", "CDDPL", "TE", "FT", "GE",
)  # fmt: skip
_BIAS_HINT: Final = "Set it to 'all' or a list of metric codes."
_PRE_TRAINING = _Spec({"methods": _bias_methods(_PRE_TRAINING_CODES)}, required={"methods": _BIAS_HINT})
_POST_TRAINING = _Spec({"methods": _bias_methods(_POST_TRAINING_CODES)}, required={"methods": _BIAS_HINT})

_ZERO_OR_MEAN: Final = ("zero", "mean")
_ASV_BASELINE = _Spec(
    {
        "target_time_series": _choice(_ZERO_OR_MEAN),
        "related_time_series": _choice(_ZERO_OR_MEAN),
        "static_covariates": _dict_of(_list(_scalar, "numbers or strings"), "lists of covariate values"),
    }
)

_ASV = _Spec(
    {
        "direction": _choice(("chronological", "anti_chronological", "bidirectional")),
        "granularity": _choice(("timewise", "fine_grained")),
        "num_samples": _integer(1),
        "baseline": _asv_baseline,
    },
    required={
        "direction": "Set it to 'chronological', 'anti_chronological' or 'bidirectional'.",
        "granularity": "Set it to 'timewise' or 'fine_grained'.",
    },
    check=_check_asv,
)

_REPORT = _Spec(
    {"name": _file_name, "title": _string()},
    required={"name": "Set it to the report's file base name, e.g. 'report'."},
)

_METHODS = _Spec(
    {
        "shap": _object(_SHAP, ShapConfig),
        "pdp": _object(_PDP, PdpConfig),
        "asymmetric_shapley_value": _object(_ASV),
        "pre_training_bias": _object(_PRE_TRAINING, BiasConfig),
        "post_training_bias": _object(_POST_TRAINING, BiasConfig),
        "report": _object(_REPORT, ReportConfig),
    },
    check=_check_methods,
)

_CONTENT_TYPES: Final = (
    "text/csv",
    "application/jsonlines",
    "application/json",
    "image/jpeg",
    "image/png",
    "application/x-npy",
)
_ACCEPT_TYPES: Final = ("text/csv", "application/jsonlines", "application/json")

_PREDICTOR = _Spec(
    {
        "model_name": _string(non_empty=True),
        "endpoint_name": _string(non_empty=True),
        "endpoint_name_prefix": _string(),
        "instance_type": _string(),
        "initial_instance_count": _integer(1),
        "accelerator_type": _string(),
        "target_model": _string(),
        "custom_attributes": _string(),
        "content_type": _choice(_CONTENT_TYPES),
        "accept_type": _choice(_ACCEPT_TYPES),
        "content_template": _content_template,
        "record_template": _string(),
        "label": _name_or_index,
        "probability": _name_or_index,
        "label_headers": _list(_label_header, "class names", non_empty=True, unique=True),
        "time_series_predictor_config": _object(
            _Spec(
                {"forecast": _string(non_empty=True)},
                required={"forecast": "Set it to a JMESPath expression."},
            )
        ),
    },
    check=_check_predictor,
)


def _check_facet(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    """An intersectional facet (openclarify's extension: several columns) lists a value per column in each
    of its groups."""
    names = values.get("name_or_index")
    groups = values.get("value_or_threshold")
    if not isinstance(names, tuple) or groups is None:
        return
    for i, group in enumerate(groups):
        if not isinstance(group, tuple) or len(group) != len(names):
            errors.add(
                f"{_key(path, 'value_or_threshold')}[{i}]",
                f"must list one value per column of {list(names)!r} (an intersectional facet's group); got "
                f"{_show(group)}. Write e.g. {[['F', 'black'][: len(names)] + ['...'] * (len(names) - 2)]!r}.",
            )


_FACET = _Spec(
    {
        "name_or_index": _one_of(
            _name_or_index,
            _list(_name_or_index, "column names or indices", non_empty=True, unique=True),
            what="a column name or index, or a list of them (an intersectional facet)",
        ),
        "value_or_threshold": _list(
            _one_of(_scalar, _list(_scalar, "values", non_empty=True), what="a value, or a list of values per column"),
            "values or one threshold",
            non_empty=True,
        ),
    },
    required={"name_or_index": "Set it to the facet column's name or index."},
    check=_check_facet,
)

_SEGMENT = _Spec(
    {
        "config_name": _string(),
        "name_or_index": _name_or_index,
        "segments": _list(
            _list(
                _one_of(_string(), _integer(), what="a string or an integer"),
                "values or intervals",
                non_empty=True,
            ),
            "lists of values or intervals",
            non_empty=True,
        ),
        "display_aliases": _list(_string(), "strings"),
    },
    required={
        "name_or_index": "Set it to the segmented column's name or index.",
        "segments": "Set it to a list of lists of values or intervals.",
    },
    check=_check_segment,
)

_TS_COLUMN = _one_of(_string(non_empty=True), _integer(0), what="a non-empty string or an integer >= 0")
_TIME_SERIES = _Spec(
    {
        "target_time_series": _TS_COLUMN,
        "item_id": _TS_COLUMN,
        "timestamp": _TS_COLUMN,
        "related_time_series": _list(_TS_COLUMN, "strings or integers"),
        "static_covariates": _list(_TS_COLUMN, "strings or integers"),
        "dataset_format": _choice(("columns", "item_records", "timestamp_records")),
    },
    required={
        k: "Set it to a JMESPath string or a column index." for k in ("target_time_series", "item_id", "timestamp")
    },
    check=_check_time_series,
)

_STRINGS = _list(_string(), "strings", non_empty=True, unique=True)


_TABULAR: Final = ("text/csv", "application/jsonlines", "application/json", "application/x-parquet")
# Keys that only some dataset types support (SDK DataConfig).
_KEY_DATASET_TYPES: Final[Mapping[str, tuple[str, ...]]] = {
    "facet_dataset_uri": ("text/csv",),
    "facet_headers": ("text/csv",),
    "predicted_label_dataset_uri": ("text/csv",),
    "predicted_label_headers": ("text/csv",),
    "predicted_label": (*_TABULAR, "application/sagemakercapturejson"),
    "excluded_columns": (*_TABULAR, "application/sagemakercapturejson"),
    "time_series_data_config": ("application/json",),
}
# Top-level keys a method needs.
_METHOD_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "pre_training_bias": ("label_values_or_threshold", "facet"),
    "post_training_bias": ("label_values_or_threshold", "facet"),
    "asymmetric_shapley_value": ("time_series_data_config",),
}


def _check_analysis(values: dict[str, Any], raw: Mapping[str, Any], path: str, errors: _Errors) -> None:
    """Rules that join several top-level keys (SDK ``DataConfig``/``ModelConfig``/generator)."""
    dataset_type: str | None = values.get("dataset_type")
    raw_methods: Mapping[str, Any] = raw["methods"] if isinstance(raw.get("methods"), Mapping) else {}
    predictor: PredictorConfig | None = values.get("predictor")

    if dataset_type == "application/json" and "features" not in raw and "time_series_data_config" not in raw:
        errors.add(
            "features",
            "required key is missing for dataset_type 'application/json'. "
            "Set it to a JMESPath expression giving the 2-D list of features, e.g. '[*].features'.",
        )
    for key, allowed in _KEY_DATASET_TYPES.items():
        if key in raw and dataset_type is not None and dataset_type not in allowed:
            errors.add(key, f"is only supported for dataset_type {_quoted(allowed)}; got {dataset_type!r}.")
    # Which methods call the model (SDK _AnalysisConfigGenerator._add_predictor).
    if "predictor" not in raw:
        needs = [m for m in ("shap", "pdp", "asymmetric_shapley_value") if m in raw_methods]
        if "post_training_bias" in raw_methods and not (
            "predicted_label" in raw or "predicted_label_dataset_uri" in raw
        ):
            needs.append("post_training_bias")
        if needs:
            errors.add(
                "predictor",
                f"required by methods.{needs[0]}; got no 'predictor' object. Add one saying how to call "
                "the model (content_type, accept_type, label/probability).",
            )
    missing: dict[str, str] = {}  # key -> the first method needing it
    for method, keys in _METHOD_KEYS.items():
        for key in keys if method in raw_methods else ():
            if key not in raw:
                missing.setdefault(key, method)
    for key, method in missing.items():
        errors.add(key, f"required key is missing; methods.{method} needs it.")
    if "asymmetric_shapley_value" in raw_methods:
        if isinstance(raw.get("predictor"), Mapping) and "time_series_predictor_config" not in raw["predictor"]:
            errors.add(
                "predictor.time_series_predictor_config",
                "required key is missing; methods.asymmetric_shapley_value needs it.",
            )
    elif "time_series_data_config" in raw and dataset_type == "application/json":
        errors.add(
            "time_series_data_config",
            "is only used by methods.asymmetric_shapley_value; got no such method. "
            "Add that method, or remove this key.",
        )

    if predictor is not None and dataset_type is not None:
        _check_default_content_type(predictor, dataset_type, errors)
    shap = values["methods"].shap if "methods" in values else None
    if shap is not None and dataset_type is not None:
        _check_baseline_form(shap, dataset_type, errors)
    if dataset_type in ("text/csv", "application/x-parquet") and "headers" in values:
        _check_columns(values, shap, errors)


def _check_templates(
    content_type: str,
    values: Mapping[str, Any],
    raw: Mapping[str, Any],
    path: str,
    errors: _Errors,
    note: str,
) -> None:
    """Templates the request content type needs (SDK ``ModelConfig``; clarify-spec §4.2)."""
    if "content_template" in raw and "content_template" not in values:
        return  # its type is wrong, which is already reported
    template = values.get("content_template")
    pieces = [template] if isinstance(template, str) else list(template.values()) if template else []
    if content_type == "application/jsonlines" and not any("$features" in t for t in pieces):
        errors.add(
            _key(path, "content_template"),
            f"must contain the placeholder $features for content_type 'application/jsonlines'{note}; "
            f"got {_show(template)}. Example: '{{\"features\":$features}}'.",
        )
    if content_type == "application/json":
        if not any("$record" in t for t in pieces):
            errors.add(
                _key(path, "content_template"),
                f"must contain the placeholder $records or $record for content_type 'application/json'"
                f"{note}; got {_show(template)}. Example: '{{\"instances\":$records}}'.",
            )
        if "record_template" not in raw:
            errors.add(
                _key(path, "record_template"),
                f"required key is missing for content_type 'application/json'{note}. "
                "Example: '$features' or '$features_kvp'.",
            )


def _check_default_content_type(predictor: PredictorConfig, dataset_type: str, errors: _Errors) -> None:
    """Without ``content_type`` the model receives ``dataset_type``, which may need templates too."""
    if predictor.content_type is not None:
        return
    if dataset_type == "application/x-parquet":
        errors.add(
            "predictor.content_type",
            "required key is missing for dataset_type 'application/x-parquet'. "
            "Set it to the type the model accepts, e.g. 'text/csv'.",
        )
    values = {
        k: getattr(predictor, k) for k in ("content_template", "record_template") if getattr(predictor, k) is not None
    }
    note = " (content_type defaults to dataset_type)"
    _check_templates(dataset_type, values, values, "predictor", errors, note)


def _check_baseline_form(shap: ShapConfig, dataset_type: str, errors: _Errors) -> None:
    """CSV and Parquet baselines are rows of feature values (clarify-spec §1.2)."""
    baseline = shap.baseline
    if dataset_type not in ("text/csv", "application/x-parquet") or baseline is None or isinstance(baseline, str):
        return
    if isinstance(baseline, Mapping) or isinstance(baseline[0], Mapping):
        errors.add(
            "methods.shap.baseline",
            f"must be a URI or path or a list of rows (lists of feature values) for dataset_type "
            f"{dataset_type!r}; got {_show(baseline if isinstance(baseline, Mapping) else baseline[0])}.",
        )


def _check_columns(values: dict[str, Any], shap: ShapConfig | None, errors: _Errors) -> None:
    """Names and indices of CSV/Parquet columns must refer to ``headers`` (all dataset columns)."""
    headers: tuple[str, ...] = values["headers"]

    def check(path: str, ref: Any) -> None:
        if isinstance(ref, str) and ref not in headers:
            errors.add(path, f"must be one of the 'headers'; got {ref!r}.{_did_you_mean(ref, headers)}")
        elif _is_int(ref) and ref >= len(headers):
            errors.add(path, f"must be a column index < {len(headers)} (the number of headers); got {ref}.")

    for key in ("label", "joinsource_name_or_index"):
        if key in values:
            check(key, values[key])
    if "predicted_label" in values and "predicted_label_dataset_uri" not in values:
        check("predicted_label", values["predicted_label"])
    for i, ref in enumerate(values.get("excluded_columns", ())):
        check(f"excluded_columns[{i}]", ref)
    for i, ref in enumerate((shap.features_to_explain or ()) if shap is not None else ()):
        if isinstance(ref, str):
            check(f"methods.shap.features_to_explain[{i}]", ref)


_ANALYSIS = _Spec(
    {
        "version": _choice(("1.0",)),
        "dataset_type": _choice(DATASET_TYPES),
        "dataset_uri": _string(non_empty=True),
        "headers": _STRINGS,
        "label": _name_or_index,
        "predicted_label": _name_or_index,
        "features": _string(non_empty=True),
        "joinsource_name_or_index": _name_or_index,
        "excluded_columns": _list(_name_or_index, "column names or indices"),
        "probability_threshold": _number(),
        "label_values_or_threshold": _list(_scalar, "label values or one threshold", non_empty=True),
        "facet": _list(_object(_FACET, FacetConfig), "facet objects", non_empty=True),
        "group_variable": _name_or_index,
        "facet_dataset_uri": _string(non_empty=True),
        "facet_headers": _STRINGS,
        "predicted_label_dataset_uri": _string(non_empty=True),
        "predicted_label_headers": _STRINGS,
        "segment_config": _list(_object(_SEGMENT), "segment objects", non_empty=True),
        "time_series_data_config": _object(_TIME_SERIES),
        "methods": _object(_METHODS, MethodsConfig),
        "predictor": _object(_PREDICTOR, PredictorConfig),
    },
    required={
        "dataset_type": f"Set it to one of {_quoted(DATASET_TYPES)}.",
        "methods": "Add an object with at least one method, e.g. {'shap': {...}}.",
    },
    check=_check_analysis,
)


# ---------------------------------------------------------------------------------------------------
# the JSON document itself


class _DuplicateKeys(dict[str, Any]):
    """A JSON object that gave some keys more than once; ``duplicates`` maps each to its count."""

    duplicates: dict[str, int]


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads`: a dict, marked when a key repeats (JSON keeps the last)."""
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = _DuplicateKeys(result)
    counts: dict[str, int] = {}
    for key, _ in pairs:
        counts[key] = counts.get(key, 0) + 1
    marked.duplicates = {key: n for key, n in counts.items() if n > 1}
    return marked


def _check_document(document: Any) -> list[tuple[str, str]]:
    """Problems of the JSON value itself, in document order, found before any key is validated.

    Arrays and objects nested more than :data:`MAX_DEPTH` deep (the validators recurse), keys given twice
    (documents read by :func:`load_analysis_config`) and NaN or infinite numbers (JSON has none, but
    Python's reader takes ``NaN``, ``Infinity`` and ``1e999``). Iterative, so any depth is safe.
    """
    problems: list[tuple[str, str]] = []
    stack: list[tuple[Any, str, int, int]] = [(document, "", 1, 1)]  # value, path, depth, times its key was given
    while stack:
        value, path, depth, times = stack.pop()
        if times > 1:
            key = path.rsplit(".", 1)[-1]
            problems.append(
                (path, f"duplicate key; got {key!r} {times} times. JSON keeps only the last one: remove the others.")
            )
        if isinstance(value, Mapping | list | tuple):
            if depth > MAX_DEPTH:
                kind = "object" if isinstance(value, Mapping) else "list"
                problems.append(
                    (
                        path,
                        f"nested more than {MAX_DEPTH} arrays and objects deep; got a deeper {kind}. An analysis "
                        "config needs a few levels: flatten the value.",
                    )
                )
                continue
            if isinstance(value, Mapping):
                repeated = value.duplicates if isinstance(value, _DuplicateKeys) else {}
                children = [(item, _key(path, str(k)), repeated.get(k, 1)) for k, item in value.items()]
            else:
                children = [(item, f"{path}[{i}]", 1) for i, item in enumerate(value)]
            stack.extend((item, where, depth + 1, n) for item, where, n in reversed(children))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(
                (
                    path,
                    f"must be a finite number; got {value!r}. JSON has no NaN or Infinity: write a number, or null "
                    "for a missing value.",
                )
            )
    return problems


# ---------------------------------------------------------------------------------------------------
# public functions


def parse_analysis_config(document: Mapping[str, Any]) -> AnalysisConfig:
    """Validate an analysis config already loaded as a dict, and return it as typed objects.

    Parameters
    ----------
    document
        The parsed ``analysis_config.json`` (JSON object -> dict).

    Returns
    -------
    AnalysisConfig
        The validated configuration; ``source`` holds a read-only copy of ``document``.

    Raises
    ------
    ConfigError
        If anything is invalid. ``errors`` lists every problem as ``(json_path, message)``.

    See Also
    --------
    load_analysis_config : the same, reading a JSON file.

    Examples
    --------
    >>> cfg = parse_analysis_config({"dataset_type": "text/csv", "methods": {"pre_training_bias":
    ...     {"methods": "all"}}, "label_values_or_threshold": [1], "facet": [{"name_or_index": 0}]})
    >>> cfg.methods.pre_training_bias.methods
    'all'
    """
    if not isinstance(document, Mapping):
        kind = "a JSON array" if _is_list(document) else _show(document)
        raise ConfigError([("", f"an analysis config must be a JSON object; got {kind}.")])
    problems = _check_document(document)
    if problems:
        raise ConfigError(problems)
    errors = _Errors()
    build = functools.partial(AnalysisConfig, source=_freeze(document))
    config = _object(_ANALYSIS, build)(document, "", errors)
    if errors.items:
        raise ConfigError(errors.items)
    return cast(AnalysisConfig, config)  # no errors recorded -> the object was built


def read_json_object(source: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """The JSON object in the file (or URL) ``source``, ``what`` naming it in messages (``analysis config``).

    Raises
    ------
    ConfigError
        The file is missing or unreadable, is not UTF-8 JSON or not a JSON object.
    """
    where = f"{what} {os.fspath(source)!r}"
    try:
        text = read_text(source, encoding="utf-8")  # a local path, or a URL (s3://) read through fsspec
    except FileNotFoundError:
        if is_url(os.fspath(source)):
            raise ConfigError([("", f"{where}: {absence(source)}; check the URI.")]) from None
        raise ConfigError([("", f"{where}: file not found; check the path.")]) from None
    except IsADirectoryError:
        raise ConfigError([("", f"{where}: is a directory; give the path of the JSON file.")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([("", f"{where}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8.")]) from None
    except ValueError as exc:  # a URL of a protocol fsspec does not know
        if not is_url(os.fspath(source)):
            raise
        raise ConfigError([("", f"{where}: cannot be read ({exc}); give a local path or an s3:// URI.")]) from None
    except OSError as exc:
        raise ConfigError([("", f"{where}: cannot be read ({exc.strerror or exc}).")]) from None
    try:
        document = json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [("", f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).")]
        ) from None
    except RecursionError:
        raise ConfigError(
            [
                (
                    "",
                    f"{where}: nested too deeply to read (more than {MAX_DEPTH} arrays and objects deep). An "
                    f"{what} needs a few levels: flatten the values.",
                )
            ]
        ) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ConfigError([("", f"{where}: not valid JSON ({exc}).")]) from None
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else f"{_show(document)}"
        raise ConfigError([("", f"{where}: the top level must be a JSON object; got {kind}.")])
    return document


def load_analysis_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> AnalysisConfig:
    """Read an ``analysis_config.json`` file (UTF-8 JSON) and validate it.

    Parameters
    ----------
    source
        Path of the file (or its URL, such as ``s3://bucket/analysis_config.json``, read through
        :mod:`openclarify.io`), or an already loaded document (passed to :func:`parse_analysis_config`).

    Returns
    -------
    AnalysisConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        If the file is missing or unreadable, is not UTF-8 JSON, is not a JSON object, or is invalid:
        nested more than :data:`MAX_DEPTH` deep, a key given twice, NaN or an infinite number included.
    MissingDependencyError
        A URL whose protocol needs a package that is not installed (``s3://``: ``pip install 'openclarify[s3]'``).

    See Also
    --------
    parse_analysis_config : the same, for a document already loaded.
    """
    if isinstance(source, Mapping):
        return parse_analysis_config(source)
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError([("", f"source must be a path or a mapping; got {_show(source)}.")])
    document = read_json_object(source, "analysis config")
    return parse_analysis_config(document)
