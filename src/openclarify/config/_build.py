"""Settings -> an ``analysis_config.json`` document with the keys, value shapes and key order the SDK writes.

The SageMaker SDK (``sagemaker.clarify._AnalysisConfigGenerator``) builds the document from
``DataConfig``, ``BiasConfig``, ``ModelConfig``, ``ModelPredictedLabelConfig``, ``SHAPConfig`` and
``PDPConfig``; :func:`build_analysis_config` takes the same settings under their Clarify key names and
writes the same dict (clarify-spec §0, §1.7): the SDK's defaults (``use_logit`` and
``save_local_shap_values`` always written, PDP ``grid_resolution`` 15 and ``top_k_features`` 10, the
report ``{"name": "report", "title": "Analysis Report"}``) and its key order (data keys, then bias
keys, then ``methods`` before ``predictor`` when a bias method is asked for, after it otherwise). The
document is validated by :func:`parse_analysis_config` before it is returned or written.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

from openclarify._typing import DATASET_TYPES
from openclarify.config._parse import _POST_TRAINING_CODES as POST_TRAINING_CODES
from openclarify.config._parse import _PRE_TRAINING_CODES as PRE_TRAINING_CODES
from openclarify.config._parse import _did_you_mean as did_you_mean
from openclarify.config._parse import parse_analysis_config
from openclarify.config._schema import BaselineValue, FacetConfig
from openclarify.errors import ConfigError, OutputError
from openclarify.io import write_file

__all__ = ["build_analysis_config", "format_analysis_config", "write_analysis_config"]

#: The report the SDK adds to every config it generates (``_AnalysisConfigGenerator._add_methods``).
SDK_REPORT_NAME: Final = "report"
SDK_REPORT_TITLE: Final = "Analysis Report"
# SDK PDPConfig defaults.
SDK_GRID_RESOLUTION: Final = 15
SDK_TOP_K_FEATURES: Final = 10

#: ``methods.<bias stage>.methods``: ``"all"`` or metric codes.
BiasMethods: TypeAlias = Literal["all"] | Sequence[str]
#: ``methods.shap.baseline``: a URI or path, in-place rows (CSV, Parquet) or records (JSON Lines), a document.
Baseline: TypeAlias = str | Sequence[Sequence[BaselineValue]] | Sequence[Mapping[str, Any]] | Mapping[str, Any]

_INTEGER: Final = re.compile(r"[+-]?\d+")
_ROWS: Final = ("text/csv", "application/x-parquet")  # columns named by headers, baseline rows of values


class _Problems:
    """The ``(json path, message)`` pairs found while building one document."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _shown(names: Sequence[str]) -> str:
    text = ", ".join(repr(n) for n in names[:20])
    return text + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def as_number(text: str) -> int | float | None:
    """The number ``text`` spells (``"1"`` -> 1, ``"0.5"`` -> 0.5), or None when it spells none."""
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class _Columns:
    """The dataset's columns as the config names them: every header, and the model's inputs among them."""

    def __init__(
        self,
        dataset_type: str,
        headers: Sequence[str] | None,
        refs: Mapping[str, int | str | None],
        excluded: Sequence[int | str],
        problems: _Problems,
    ) -> None:
        self.headers = tuple(headers) if headers is not None else None
        self.roles: dict[str, str] = {}  # header -> the key that takes it out of the model's inputs
        names = self.headers
        if names is None:
            self.inputs: tuple[str, ...] | None = None
            return
        dropped: set[str] = set()
        if dataset_type in _ROWS:
            for key, ref in [*refs.items(), *((f"excluded_columns[{i}]", r) for i, r in enumerate(excluded))]:
                name = self.resolve(key, ref, names, problems, "the dataset's columns")
                if name is not None:
                    dropped.add(name)
                    self.roles.setdefault(name, key.split("[")[0])
            self.inputs = tuple(n for n in names if n not in dropped)
        else:  # JSON Lines: headers are the feature names, then the label's and predicted label's names
            extra = sum(refs.get(k) is not None for k in ("label", "predicted_label"))
            features = names[: len(names) - extra] if extra < len(names) else names
            for name in names[len(features) :]:
                self.roles[name] = "label"
            for i, ref in enumerate(excluded):
                name = self.resolve(f"excluded_columns[{i}]", ref, features, problems, "the feature names")
                if name is not None:
                    dropped.add(name)
                    self.roles.setdefault(name, "excluded_columns")
            self.inputs = tuple(n for n in features if n not in dropped)

    @staticmethod
    def resolve(key: str, ref: int | str | None, names: Sequence[str], problems: _Problems, what: str) -> str | None:
        if ref is None:
            return None
        if isinstance(ref, str):
            if ref in names:
                return ref
            problems.add(
                key, f"must be one of {what}; got {ref!r}.{did_you_mean(ref, names)} They are {_shown(names)}."
            )
            return None
        if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(names):
            return names[ref]
        problems.add(key, f"must be a column name or a 0-based index below {len(names)}; got {ref!r}.")
        return None

    def name(self, ref: int | str | None) -> str | None:
        """The header a reference designates, when it can be told."""
        if isinstance(ref, str):
            return ref
        if isinstance(ref, int) and self.headers is not None and 0 <= ref < len(self.headers):
            return self.headers[ref]
        return None

    def check_input(self, key: str, ref: int | str, problems: _Problems, role: str) -> None:
        """``ref`` must name one of the model's input columns (facets, PDP features, ...)."""
        if self.inputs is None or self.headers is None:
            return
        if not isinstance(ref, str):
            if not 0 <= ref < len(self.headers):
                problems.add(key, f"must be a 0-based column index below {len(self.headers)}; got {ref!r}.")
            return
        if ref in self.inputs:
            return
        if ref in self.roles:
            problems.add(
                key,
                f"must be one of the model's input columns; got {ref!r}, which is the {self.roles[ref]}. "
                f"{role} is a model input: name another column.",
            )
            return
        problems.add(
            key,
            f"must be one of the model's input columns; got {ref!r}.{did_you_mean(ref, self.inputs)} "
            f"They are {_shown(self.inputs)}.",
        )


def _typed(value: Any, numeric: bool, column: str | None, path: str, problems: _Problems) -> Any:
    """A value of a numeric column given as text becomes the number it spells, as an SDK user writes it."""
    if not isinstance(value, str) or not numeric:
        return value
    number = as_number(value)
    if number is None:
        problems.add(path, f"must be a number, since column {column!r} holds numbers; got {value!r}.")
    return number


def _bias_methods(methods: BiasMethods, codes: Sequence[str], path: str, problems: _Problems) -> Any:
    if isinstance(methods, str):
        if methods.lower() == "all":
            return "all"
        methods = [methods]
    if not methods:
        problems.add(path, f"must be 'all' or a non-empty list of metric codes such as {list(codes[:2])!r}; got [].")
        return []
    chosen: list[str] = []
    for i, code in enumerate(methods):
        upper = code.upper() if isinstance(code, str) else code
        if upper not in codes:
            hint = did_you_mean(upper, codes) if isinstance(upper, str) else ""
            problems.add(f"{path}[{i}]", f"must be one of {', '.join(map(repr, codes))}; got {code!r}.{hint}")
        elif upper in chosen:
            problems.add(f"{path}[{i}]", f"duplicate metric code; got {code!r}. Give each code once.")
        else:
            chosen.append(upper)
    return chosen


def _unused(problems: _Problems, method: str, given: Mapping[str, object], fix: str) -> None:
    for key, value in given.items():
        if value is not None:
            problems.add(key, f"applies to {method} only; got {value!r} without it. {fix}")


def build_analysis_config(
    *,
    dataset_type: str,
    headers: Sequence[str] | None = None,
    features: str | None = None,
    label: int | str | None = None,
    joinsource_name_or_index: int | str | None = None,
    predicted_label: int | str | None = None,
    excluded_columns: Sequence[int | str] | None = None,
    dataset_uri: str | None = None,
    numeric_columns: Collection[str] = (),
    shap: bool = False,
    baseline: Baseline | None = None,
    num_samples: int | None = None,
    agg_method: str | None = None,
    use_logit: bool | None = None,
    save_local_shap_values: bool | None = None,
    seed: int | None = None,
    num_clusters: int | None = None,
    granularity: str | None = None,
    language: str | None = None,
    max_top_tokens: int | None = None,
    features_to_explain: Sequence[int | str] | None = None,
    pdp: bool = False,
    pdp_features: Sequence[int | str] | None = None,
    grid_resolution: int | None = None,
    top_k_features: int | None = None,
    pre_training_bias: BiasMethods | None = None,
    post_training_bias: BiasMethods | None = None,
    label_values_or_threshold: Sequence[int | float | str] | None = None,
    facet: Sequence[FacetConfig] | None = None,
    group_variable: int | str | None = None,
    probability_threshold: float | None = None,
    report: bool = True,
    report_name: str | None = None,
    report_title: str | None = None,
    model_name: str | None = None,
    instance_type: str | None = None,
    initial_instance_count: int | None = None,
    endpoint_name: str | None = None,
    content_type: str | None = None,
    accept_type: str | None = None,
    content_template: str | None = None,
    record_template: str | None = None,
    predictor_label: int | str | None = None,
    predictor_probability: int | str | None = None,
    label_headers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build an ``analysis_config.json`` document as the SageMaker SDK would write it for these settings.

    Every setting is optional except ``dataset_type`` and at least one method (``shap``, ``pdp``,
    ``pre_training_bias``, ``post_training_bias``); each is the Clarify key of that name, with the
    SDK's default when it is None.

    Parameters
    ----------
    dataset_type, headers, features, label, joinsource_name_or_index, predicted_label, excluded_columns
        The data keys (SDK ``DataConfig``; ``joinsource`` there). ``headers``: every column of a CSV or
        Parquet dataset; JSON Lines: the feature names, then the label's name. With ``headers``, every
        column named anywhere must be one of them (facets, PDP features, ``features_to_explain`` and
        ``group_variable`` one of the model's inputs: not the label, join source, predicted label or an
        excluded column).
    dataset_uri
        Written as ``dataset_uri`` (the SDK passes the dataset as a processing input instead).
    numeric_columns
        Names of the columns that hold numbers: a label or facet value given as text for one of them is
        written as the number it spells (``"1"`` -> ``1``, ``"0.5"`` -> ``0.5``), as an SDK user writes
        ``label_values_or_threshold=[1]``; text that spells no number is an error.
    shap, baseline, num_samples, agg_method, use_logit, save_local_shap_values, seed, num_clusters
        ``methods.shap`` (SDK ``SHAPConfig``): ``baseline`` is a URI or path (a string) or in-place rows;
        ``use_logit`` defaults to False and ``save_local_shap_values`` to True, both always written.
    granularity, language, max_top_tokens
        ``methods.shap.text_config`` (SDK ``TextConfig``; ``max_top_tokens`` is a Clarify key the SDK
        cannot write). ``granularity`` and ``language`` go together.
    features_to_explain
        ``methods.shap.features_to_explain``: tabular data only.
    pdp, pdp_features, grid_resolution, top_k_features
        ``methods.pdp`` (SDK ``PDPConfig``), asked for by ``pdp`` or by giving ``pdp_features``;
        ``grid_resolution`` defaults to 15 and ``top_k_features`` to 10, both always written.
    pre_training_bias, post_training_bias
        ``methods.<stage>.methods``: ``"all"`` or metric codes (``["CI", "DPL"]``, any case).
    label_values_or_threshold, facet, group_variable
        The bias keys (SDK ``BiasConfig``): required with a bias method (``facet`` non-empty, each
        facet one column).
    probability_threshold
        Top-level ``probability_threshold`` (SDK ``ModelPredictedLabelConfig``), written as a float.
    report, report_name, report_title
        ``methods.report``: the SDK always adds ``{"name": "report", "title": "Analysis Report"}``;
        ``report=False`` leaves it out.
    model_name, instance_type, initial_instance_count, endpoint_name
        The model the SageMaker job calls (SDK ``ModelConfig``): ``model_name`` with ``instance_type``
        (``initial_instance_count`` defaults to 1 then), or ``endpoint_name``, or neither for a job run
        locally with its own model.
    content_type, accept_type, content_template, record_template
        The wire format of the model (``predictor`` keys).
    predictor_label, predictor_probability, label_headers
        ``predictor.label``, ``predictor.probability`` and ``predictor.label_headers``: where the
        predicted label and the scores are in the model's answer, and the names of the scores.

    Returns
    -------
    dict
        The document, JSON-serialisable, keys in the SDK's order; it passes
        :func:`parse_analysis_config`.

    Raises
    ------
    ConfigError
        Listing every problem with the JSON path of the key it concerns: an unknown column, a facet that
        is not a model input, an unknown metric code, settings that exclude each other (``baseline`` and
        ``num_clusters``, ``model_name`` and ``endpoint_name``), a setting of a method not asked for, or
        anything :func:`parse_analysis_config` rejects.

    Examples
    --------
    >>> doc = build_analysis_config(dataset_type="text/csv", headers=["y", "a", "b"], label="y",
    ...                             shap=True, baseline=[[0, 0]], num_samples=100)
    >>> doc["methods"]["shap"]
    {'use_logit': False, 'save_local_shap_values': True, 'baseline': [[0, 0]], 'num_samples': 100}
    >>> list(doc)
    ['dataset_type', 'headers', 'label', 'predictor', 'methods']
    """
    problems = _Problems()
    if dataset_type not in DATASET_TYPES:
        problems.add("dataset_type", f"must be one of {', '.join(map(repr, DATASET_TYPES))}; got {dataset_type!r}.")
    refs = {"label": label, "joinsource_name_or_index": joinsource_name_or_index, "predicted_label": predicted_label}
    columns = _Columns(dataset_type, headers, refs, list(excluded_columns or ()), problems)
    pdp = pdp or pdp_features is not None
    bias = pre_training_bias is not None or post_training_bias is not None

    document: dict[str, Any] = {"dataset_type": dataset_type}  # SDK DataConfig order
    data = [
        ("dataset_uri", dataset_uri),
        ("features", features),
        ("headers", list(headers) if headers is not None else None),
        ("label", label),
        ("joinsource_name_or_index", joinsource_name_or_index),
        ("predicted_label", predicted_label),
        ("excluded_columns", list(excluded_columns) if excluded_columns is not None else None),
    ]
    document.update((k, v) for k, v in data if v is not None)
    bias_given = {
        "label_values_or_threshold": label_values_or_threshold,
        "facet": facet,
        "group_variable": group_variable,
    }
    if bias:
        numeric = set(numeric_columns)
        bias_keys = _bias_keys(label, label_values_or_threshold, facet, group_variable, columns, numeric, problems)
    else:
        bias_keys = {}
        _unused(problems, "the bias methods", bias_given, "Ask for pre_training_bias or post_training_bias.")

    # methods (SDK _add_methods): the report first, then the bias stages, then shap and pdp
    methods: dict[str, Any] = {}
    if report:
        methods["report"] = {
            "name": SDK_REPORT_NAME if report_name is None else report_name,
            "title": SDK_REPORT_TITLE if report_title is None else report_title,
        }
    else:
        given = {"methods.report.name": report_name, "methods.report.title": report_title}
        _unused(problems, "methods.report", given, "Leave out report=False, or these.")
    for stage, methods_of_stage, codes in (
        ("pre_training_bias", pre_training_bias, PRE_TRAINING_CODES),
        ("post_training_bias", post_training_bias, POST_TRAINING_CODES),
    ):
        if methods_of_stage is not None:
            chosen = _bias_methods(methods_of_stage, codes, f"methods.{stage}.methods", problems)
            methods[stage] = {"methods": chosen}
    shap_given = {
        "baseline": baseline,
        "num_samples": num_samples,
        "agg_method": agg_method,
        "use_logit": use_logit,
        "save_local_shap_values": save_local_shap_values,
        "seed": seed,
        "num_clusters": num_clusters,
        "text_config.granularity": granularity,
        "text_config.language": language,
        "text_config.max_top_tokens": max_top_tokens,
        "features_to_explain": features_to_explain,
    }
    if shap:
        methods["shap"] = _shap_section(shap_given, columns, problems)
    else:
        _unused(problems, "methods.shap", {f"methods.shap.{k}": v for k, v in shap_given.items()}, "Ask for shap.")
    pdp_given = {"grid_resolution": grid_resolution, "top_k_features": top_k_features}
    if pdp:
        methods["pdp"] = _pdp_section(pdp_features, pdp_given, shap, columns, problems)
    else:
        _unused(problems, "methods.pdp", {f"methods.pdp.{k}": v for k, v in pdp_given.items()}, "Ask for pdp.")
    if not (shap or pdp or bias):
        problems.add(
            "methods",
            "must hold at least one method; got none. Ask for shap, pdp, pre_training_bias or post_training_bias.",
        )

    endpoint = {
        "model_name": model_name,
        "instance_type": instance_type,
        "initial_instance_count": initial_instance_count,
        "endpoint_name": endpoint_name,
    }
    wire = {
        "accept_type": accept_type,
        "content_type": content_type,
        "content_template": content_template,
        "record_template": record_template,
        "label": predictor_label,
        "probability": predictor_probability,
        "label_headers": list(label_headers) if label_headers is not None else None,
    }
    predictor = _predictor_section(endpoint, wire, problems)
    needs_model = shap or pdp or (post_training_bias is not None and predicted_label is None)
    tail: dict[str, Any] = {}  # SDK _add_predictor: the predictor, then probability_threshold
    if predictor or needs_model:
        tail["predictor"] = predictor
    if probability_threshold is not None:
        tail["probability_threshold"] = float(probability_threshold)  # the SDK schema wants a float
    if bias:  # SDK bias(...), bias_and_explainability(...): the bias keys, methods, then the predictor
        document.update({**bias_keys, "methods": methods, **tail})
    else:  # SDK explainability(...): the predictor before methods
        document.update({**tail, "methods": methods})
    if problems.items:
        raise ConfigError(problems.items)
    parse_analysis_config(document)
    return document


def _bias_keys(
    label: int | str | None,
    values: Sequence[int | float | str] | None,
    facet: Sequence[FacetConfig] | None,
    group_variable: int | str | None,
    columns: _Columns,
    numeric: set[str],
    problems: _Problems,
) -> dict[str, Any]:
    """``label_values_or_threshold``, ``facet`` and ``group_variable`` (SDK ``BiasConfig``)."""
    keys: dict[str, Any] = {}
    if label is None:
        problems.add("label", "required key is missing; a bias method needs the label column.")
    label_name = columns.name(label)
    if not values:
        problems.add(
            "label_values_or_threshold",
            f"required with a bias method; got {values!r}. Give the positive label values, or one threshold "
            "(positive: label > threshold).",
        )
    else:
        keys["label_values_or_threshold"] = [
            _typed(v, label_name in numeric, label_name, f"label_values_or_threshold[{i}]", problems)
            for i, v in enumerate(values)
        ]
    if not facet:
        problems.add("facet", "required with a bias method; got no facet. Name the sensitive column(s).")
    else:
        entries: list[dict[str, Any]] = []
        seen: set[object] = set()
        for i, one in enumerate(facet):
            path, ref = f"facet[{i}].name_or_index", one.name_or_index
            if isinstance(ref, tuple):
                problems.add(path, f"must be one column; got {list(ref)!r}.")
                continue
            columns.check_input(path, ref, problems, "A facet")
            if ref in seen:
                problems.add(path, f"duplicate facet; got {ref!r}. Give each column once.")
            seen.add(ref)
            entry: dict[str, Any] = {"name_or_index": ref}
            if one.value_or_threshold is not None:
                name = columns.name(ref)
                entry["value_or_threshold"] = [
                    _typed(v, name in numeric, name, f"facet[{i}].value_or_threshold[{j}]", problems)
                    for j, v in enumerate(one.value_or_threshold)
                ]
            entries.append(entry)
        keys["facet"] = entries
    if group_variable is not None:
        columns.check_input("group_variable", group_variable, problems, "The group variable")
        keys["group_variable"] = group_variable
    return keys


def _pdp_section(
    features: Sequence[int | str] | None,
    given: Mapping[str, int | None],
    shap: bool,
    columns: _Columns,
    problems: _Problems,
) -> dict[str, Any]:
    """``methods.pdp`` in SDK ``PDPConfig`` order, its defaults always written."""
    grid, top_k = given["grid_resolution"], given["top_k_features"]
    section: dict[str, Any] = {
        "grid_resolution": SDK_GRID_RESOLUTION if grid is None else grid,
        "top_k_features": SDK_TOP_K_FEATURES if top_k is None else top_k,
    }
    if features is not None:
        for i, ref in enumerate(features):
            columns.check_input(f"methods.pdp.features[{i}]", ref, problems, "A PDP feature")
        section["features"] = list(features)
    elif not shap:
        problems.add(
            "methods.pdp.features",
            "required without methods.shap (with it, the top_k_features by SHAP value are used); got none. "
            "Name the features, or ask for shap too.",
        )
    return section


def _predictor_section(endpoint: Mapping[str, Any], wire: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    """``predictor`` in SDK order: ``ModelConfig``'s keys, then ``ModelPredictedLabelConfig``'s."""
    predictor: dict[str, Any] = {}
    model_name, endpoint_name = endpoint["model_name"], endpoint["endpoint_name"]
    if model_name is not None and endpoint_name is not None:
        problems.add(
            "predictor.endpoint_name",
            f"cannot be given together with model_name; got {endpoint_name!r} and {model_name!r}. Give "
            "endpoint_name to call an existing endpoint, or model_name (with instance_type) for a shadow one.",
        )
    if model_name is not None:
        if endpoint["instance_type"] is None:
            problems.add(
                "predictor.instance_type",
                f"required with model_name {model_name!r}: the instance type of its shadow endpoint, e.g. "
                "'ml.m5.xlarge'.",
            )
        count = endpoint["initial_instance_count"]
        predictor.update(
            model_name=model_name,
            instance_type=endpoint["instance_type"],
            initial_instance_count=1 if count is None else count,
        )
    else:
        sizes = {f"predictor.{k}": endpoint[k] for k in ("instance_type", "initial_instance_count")}
        _unused(problems, "model_name", sizes, "They size the shadow endpoint of model_name: give model_name too.")
        if endpoint_name is not None:
            predictor["endpoint_name"] = endpoint_name
    predictor.update((k, v) for k, v in wire.items() if v is not None)
    return predictor


def _shap_section(given: Mapping[str, Any], columns: _Columns, problems: _Problems) -> dict[str, Any]:
    """``methods.shap`` in SDK ``SHAPConfig`` order, ``use_logit`` and ``save_local_shap_values`` always written."""
    baseline, num_clusters = given["baseline"], given["num_clusters"]
    use_logit, save = given["use_logit"], given["save_local_shap_values"]
    section: dict[str, Any] = {
        "use_logit": False if use_logit is None else use_logit,
        "save_local_shap_values": True if save is None else save,
    }
    if baseline is not None and num_clusters is not None:
        problems.add(
            "methods.shap.num_clusters",
            f"cannot be given together with a baseline; got {num_clusters!r}. Give a baseline, or num_clusters "
            "to compute one from the dataset by clustering.",
        )
    if baseline is not None:
        section["baseline"] = baseline if isinstance(baseline, str) else _plain(baseline)
    agg_method = given["agg_method"]
    optional = {
        "num_samples": given["num_samples"],
        "agg_method": agg_method.lower() if isinstance(agg_method, str) else agg_method,
        "seed": given["seed"],
        "num_clusters": num_clusters,
    }
    section.update((k, v) for k, v in optional.items() if v is not None)
    granularity, language = given["text_config.granularity"], given["text_config.language"]
    max_top_tokens, features_to_explain = given["text_config.max_top_tokens"], given["features_to_explain"]
    text = granularity is not None or language is not None
    if text:
        if granularity is None or language is None:
            missing = "granularity" if granularity is None else "language"
            problems.add(
                f"methods.shap.text_config.{missing}",
                "required key is missing; text_config needs both granularity ('token', 'sentence' or "
                "'paragraph') and language (e.g. 'english').",
            )
        text_config: dict[str, Any] = {"granularity": (granularity or "").lower(), "language": (language or "").lower()}
        if max_top_tokens is not None:
            text_config["max_top_tokens"] = max_top_tokens
        section["text_config"] = text_config
    elif max_top_tokens is not None:
        problems.add(
            "methods.shap.text_config.max_top_tokens",
            f"applies to text only; got {max_top_tokens!r} without granularity and language.",
        )
    if features_to_explain is not None:
        if text:
            problems.add(
                "methods.shap.features_to_explain",
                f"is not supported with text_config (tabular data only); got {list(features_to_explain)!r}.",
            )
        for i, ref in enumerate(features_to_explain):
            columns.check_input(f"methods.shap.features_to_explain[{i}]", ref, problems, "A feature to explain")
        section["features_to_explain"] = list(features_to_explain)
    return section


def _plain(value: Any) -> Any:
    """Tuples and read-only mappings as the lists and dicts JSON writes."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def format_analysis_config(document: Mapping[str, Any]) -> str:
    """The document as ``analysis_config.json`` text: validated, indented, keys in their order, one newline last.

    Raises
    ------
    ConfigError
        The document is not a valid analysis config (:func:`parse_analysis_config`).
    """
    parse_analysis_config(document)
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def write_analysis_config(document: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate the document and write it to ``path`` (a local file, replaced atomically, or a URL).

    Raises
    ------
    ConfigError
        The document is not a valid analysis config; nothing is written.
    OutputError
        The file cannot be written.
    """
    text = format_analysis_config(document)
    try:
        write_file(path, text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(
            f"output file {os.fspath(path)!r}: cannot be written ({exc.strerror or exc}); got {os.fspath(path)!r}. "
            "Check the folder exists and may be written."
        ) from exc
