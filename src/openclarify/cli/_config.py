"""``openclarify config``: options -> :func:`openclarify.config.build_analysis_config` -> analysis_config.json."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .._typing import AGG_METHODS, GRANULARITIES
from ..config import FacetConfig, build_analysis_config, format_analysis_config, write_analysis_config
from ..config._build import as_number
from ..data import DatasetSchema, open_dataset, read_baseline
from ..errors import ConfigError, DataError
from ._terminal import echo

__all__ = ["config_command"]

# dataset_type by file name ending; a folder or another name needs --dataset-type
_BY_SUFFIX = {
    ".csv": "text/csv",
    ".jsonl": "application/jsonlines",
    ".jsonlines": "application/jsonlines",
    ".parquet": "application/x-parquet",
}
_DATASET_TYPES = ("text/csv", "application/jsonlines", "application/x-parquet")
_ROWS = 1000  # records read to type the label column (the readers type the others from as many)
_CONTENT_TYPES = ("text/csv", "application/jsonlines", "application/json")
_PLACEHOLDER = re.compile(r"column_\d+")  # the name a CSV reader gives a column without a header row

F = TypeVar("F", bound=Callable[..., Any])


def _names(text: str | None) -> list[str] | None:
    """A comma-separated option as its items (spaces around them dropped)."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _key(text: str | None) -> int | str | None:
    """``--label-key`` / ``--probability-key``: a CSV answer's 0-based index, else a JMESPath expression."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


def _dataset_type(dataset: str, given: str | None) -> str:
    if given is not None:
        return given
    name = dataset.rstrip("/").lower()
    for suffix, kind in _BY_SUFFIX.items():
        if name.endswith(suffix):
            return kind
    raise ConfigError(
        f"--dataset: cannot tell its format from the name; got {dataset!r}. Give --dataset-type "
        f"({', '.join(_DATASET_TYPES)}), or name the file .csv, .jsonl or .parquet."
    )


def _facets(facets: tuple[str, ...], thresholds: tuple[str, ...], numeric: set[str]) -> list[FacetConfig]:
    """``--facet NAME[=V1,V2]`` then ``--facet-threshold NAME=T``, in the order given."""
    found: list[FacetConfig] = []
    for text in facets:
        name, sep, values = text.partition("=")
        if not name.strip():
            raise ConfigError(f"--facet: must be NAME or NAME=VALUE[,VALUE...]; got {text!r}.")
        found.append(FacetConfig(name_or_index=name.strip(), value_or_threshold=tuple(_names(values) or ()) or None))
        if sep and not found[-1].value_or_threshold:
            raise ConfigError(f"--facet {name}: no value after '='; got {text!r}. Leave out '=' for every value.")
    for text in thresholds:
        name, _, value = text.partition("=")
        name = name.strip()
        if not name or as_number(value) is None:
            raise ConfigError(f"--facet-threshold: must be NAME=NUMBER (the group: values above it); got {text!r}.")
        if name not in numeric:
            raise ConfigError(
                f"--facet-threshold {name}: a threshold needs a column of numbers; got {text!r}. Give its values "
                f"with --facet {name}=VALUE instead."
            )
        found.append(FacetConfig(name_or_index=name, value_or_threshold=(value.strip(),)))
    names = [f.name_or_index for f in found]
    twice = sorted({str(n) for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"--facet / --facet-threshold: each column once; got {twice[0]!r} more than once.")
    return found


def _baseline(text: str | None) -> str | list[Any] | None:
    """``--baseline``: in-place rows as JSON (``[[...], ...]``), else a file path or URI, kept as written."""
    if text is None or not text.lstrip().startswith("["):
        return text
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--baseline: rows must be JSON such as [[0.5, 1]]; got {text!r} ({exc.msg}).") from None
    if not isinstance(rows, list):
        raise ConfigError(f"--baseline: must be a list of rows such as [[0.5, 1]]; got {text!r}.")
    return rows


def _check_baseline(
    baseline: str | list[Any], schema: DatasetSchema, dataset_type: str, features: str | None, output: str | None
) -> None:
    """Read the baseline as ``analyze`` will: a relative path from the config's folder; a URL is not fetched."""
    if isinstance(baseline, str):
        if "://" in baseline or (output is not None and "://" in output):
            return  # read where the job runs
        folder = Path(output).parent if output is not None else Path.cwd()
        path = folder / baseline
        if not path.exists():
            raise ConfigError(
                f"--baseline: no such file {str(path)!r}; got {baseline!r}. A relative path is read from the "
                "config's folder (--output's, else the current one)."
            )
        read_baseline(path, schema, dataset_type=dataset_type, features=features)
        return
    read_baseline(baseline, schema, dataset_type=dataset_type, features=features)


def _read_schema(
    dataset: str, dataset_type: str, headers: list[str] | None, refs: dict[str, Any]
) -> tuple[DatasetSchema, set[str]]:
    """The dataset's columns, and the names of those that hold numbers (the first records decide)."""
    opened = open_dataset(dataset, dataset_type=dataset_type, headers=headers, **refs)
    schema = opened.schema
    numeric = {name for name, text in zip(schema.feature_names, schema.categorical, strict=True) if not text}
    first = next(opened.chunks(_ROWS), None)
    if first is not None:
        for ref, series in ((refs["label"], first.label), (refs["predicted_label"], first.predicted_label)):
            if series is not None and series.dtype.kind == "f":
                numeric.update({str(ref), str(series.name)})
    return schema, numeric


def _shap_options(f: F) -> F:
    options = [
        click.option("--shap", is_flag=True, help="Ask for methods.shap (Kernel SHAP)."),
        click.option(
            "--baseline",
            default=None,
            help="SHAP baseline: a file path or URI (written as given; a relative path is read from the config's "
            "folder) or in-place rows as JSON, e.g. '[[0.5, 1]]' (text: '[[\"<UNK>\"]]'). Default: computed by "
            "clustering the dataset.",
        ),
        click.option("--num-samples", type=click.IntRange(1), default=None, help="Coalitions per record."),
        click.option("--agg-method", type=click.Choice(AGG_METHODS), default=None, help="Global SHAP aggregation."),
        click.option("--seed", type=click.IntRange(0), default=None, help="Seed of the sampling and the baseline."),
        click.option("--num-clusters", type=click.IntRange(1), default=None, help="Size of a computed baseline."),
        click.option(
            "--save-local-shap-values/--no-save-local-shap-values",
            default=None,
            help="Write explanations_shap/out.csv.  [default: save, as the SDK]",
        ),
        click.option("--use-logit", is_flag=True, default=None, help="Explain log-odds of the scores."),
        click.option("--text-granularity", type=click.Choice(GRANULARITIES), default=None, help="Text units."),
        click.option("--text-language", default=None, help="Text language, e.g. english or en."),
        click.option("--max-top-tokens", type=click.IntRange(1), default=None, help="Text: global top units kept."),
        click.option("--features-to-explain", default=None, help="Comma-separated features (tabular data)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _bias_options(f: F) -> F:
    options = [
        click.option(
            "--pre-training-bias",
            is_flag=False,
            flag_value="all",
            default=None,
            help="Ask for methods.pre_training_bias: alone, every metric; or codes, e.g. CI,DPL.",
        ),
        click.option(
            "--post-training-bias",
            is_flag=False,
            flag_value="all",
            default=None,
            help="Ask for methods.post_training_bias: alone, every metric; or codes, e.g. DPPL,DI.",
        ),
        click.option("--label-values", default=None, help="Bias: the positive label values, comma-separated."),
        click.option("--label-threshold", default=None, help="Bias: positive when the label is above this number."),
        click.option(
            "--facet",
            "facets",
            multiple=True,
            help="Bias: a sensitive column, NAME (every value against the rest) or NAME=V1,V2 (the group). Repeatable.",
        ),
        click.option(
            "--facet-threshold",
            "facet_thresholds",
            multiple=True,
            help="Bias: a sensitive column of numbers, NAME=T (the group: values above T). Repeatable.",
        ),
        click.option("--group-variable", default=None, help="Bias: the column CDDL and CDDPL condition on."),
        click.option("--predicted-label", default=None, help="Column of predicted labels (no model call for bias)."),
        click.option("--probability-threshold", type=float, default=None, help="Score above it: label 1."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _predictor_options(f: F) -> F:
    options = [
        click.option("--content-type", type=click.Choice(_CONTENT_TYPES), default=None, help="Request format."),
        click.option("--accept-type", type=click.Choice(_CONTENT_TYPES), default=None, help="Response format."),
        click.option(
            "--content-template", default=None, help="JSON request template, e.g. '{\"features\":$features}'."
        ),
        click.option("--record-template", default=None, help="JSON record template (content type application/json)."),
        click.option("--label-key", default=None, help="predictor.label: index or JMESPath of the predicted label."),
        click.option("--probability-key", default=None, help="predictor.probability: index or JMESPath of scores."),
        click.option("--label-headers", default=None, help="predictor.label_headers: score names, comma-separated."),
        click.option("--model-name", default=None, help="SageMaker model for a shadow endpoint."),
        click.option("--instance-type", default=None, help="With --model-name: instance type, e.g. ml.m5.xlarge."),
        click.option("--instance-count", type=click.IntRange(1), default=None, help="With --model-name.  [default: 1]"),
        click.option("--endpoint-name", default=None, help="An existing SageMaker endpoint to call instead."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command("config")
@click.option(
    "--dataset",
    required=True,
    help="The dataset (CSV with a header row, JSON Lines, Parquet): a file, folder or s3:// URI. Its first records "
    "give the headers and column types.",
)
@click.option("--dataset-type", type=click.Choice(_DATASET_TYPES), default=None, help="Default: from the name.")
@click.option(
    "--headers",
    default=None,
    help="Column names, comma-separated (CSV without a header row; JSON Lines: the feature names, then the label's).",
)
@click.option("--features", default=None, help="JSON Lines: JMESPath of each line's feature list, e.g. features.")
@click.option("--label", default=None, help="The label column (JSON Lines: JMESPath).")
@click.option("--joinsource", default=None, help="An identifier column: not a feature, first in out.csv.")
@click.option("--excluded-columns", default=None, help="Columns not sent to the model, comma-separated.")
@click.option("--dataset-uri", default=None, help="Write it as dataset_uri (analyze reads it without --data).")
@_shap_options
@click.option("--pdp", is_flag=True, help="Ask for methods.pdp (with --shap: of the top features).")
@click.option("--pdp-features", default=None, help="PDP of these features, comma-separated (implies --pdp).")
@click.option("--grid-resolution", type=click.IntRange(1), default=None, help="PDP grid points.  [default: 15]")
@click.option("--top-k-features", type=click.IntRange(1), default=None, help="PDP with SHAP.  [default: 10]")
@_bias_options
@click.option("--report-name", default=None, help="methods.report.name.  [default: report]")
@click.option("--report-title", default=None, help="methods.report.title.  [default: Analysis Report]")
@click.option("--no-report", is_flag=True, help="Leave out methods.report (the SDK always writes it).")
@_predictor_options
@click.option("--output", "-o", default=None, help="Write the config to this file (atomically) instead of stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def config_command(**options: Any) -> None:
    """Write an analysis_config.json from options, as the SageMaker SDK would write it.

    The dataset's header and column types fill headers and dataset_type and check the columns named;
    the config is validated before it is written.
    """
    o = options
    if not (o["shap"] or o["pdp"] or o["pdp_features"] or o["pre_training_bias"] or o["post_training_bias"]):
        raise ConfigError(
            "no method: give --shap, --pdp (or --pdp-features), --pre-training-bias and/or --post-training-bias."
        )
    dataset_type = _dataset_type(o["dataset"], o["dataset_type"])
    if o["label_values"] is not None and o["label_threshold"] is not None:
        raise ConfigError("--label-values and --label-threshold: give one of them (values, or a threshold).")
    if o["label_threshold"] is not None and as_number(o["label_threshold"]) is None:
        raise ConfigError(f"--label-threshold: must be a number; got {o['label_threshold']!r}.")
    headers = _names(o["headers"])
    refs = {
        "label": o["label"],
        "predicted_label": o["predicted_label"],
        "features": o["features"],
        "joinsource_name_or_index": o["joinsource"],
        "excluded_columns": _names(o["excluded_columns"]),
    }
    baseline = _baseline(o["baseline"])
    try:
        schema, numeric = _read_schema(o["dataset"], dataset_type, headers, refs)
        if baseline is not None and o["shap"]:
            _check_baseline(baseline, schema, dataset_type, o["features"], o["output"])
    except DataError as exc:  # making a config: what the dataset says is a problem of the options
        raise ConfigError(str(exc)) from exc
    placeholders = [h for h in schema.headers if _PLACEHOLDER.fullmatch(h)]
    if headers is None and dataset_type != "application/x-parquet" and placeholders:
        shown = ", ".join(placeholders[:3]) + (", ..." if len(placeholders) > 3 else "")
        what = "no header row recognised" if dataset_type == "text/csv" else "JSON Lines features have no names"
        echo(f"openclarify: warning: --dataset: {what}; the columns are named {shown}. Give --headers to name them.")
    if o["label_threshold"] is not None and o["label"] is not None and o["label"] not in numeric:
        raise ConfigError(f"--label-threshold: the label {o['label']!r} does not hold numbers; give --label-values.")
    label_values = [o["label_threshold"]] if o["label_threshold"] is not None else _names(o["label_values"])
    document = build_analysis_config(
        dataset_type=dataset_type,
        headers=list(schema.headers),
        features=o["features"],
        label=o["label"],
        joinsource_name_or_index=o["joinsource"],
        predicted_label=o["predicted_label"],
        excluded_columns=refs["excluded_columns"],
        dataset_uri=o["dataset_uri"],
        numeric_columns=numeric,
        shap=o["shap"],
        baseline=baseline,
        num_samples=o["num_samples"],
        agg_method=o["agg_method"],
        use_logit=o["use_logit"],
        save_local_shap_values=o["save_local_shap_values"],
        seed=o["seed"],
        num_clusters=o["num_clusters"],
        granularity=o["text_granularity"],
        language=o["text_language"],
        max_top_tokens=o["max_top_tokens"],
        features_to_explain=_names(o["features_to_explain"]),
        pdp=o["pdp"],
        pdp_features=_names(o["pdp_features"]),
        grid_resolution=o["grid_resolution"],
        top_k_features=o["top_k_features"],
        pre_training_bias=_bias_codes(o["pre_training_bias"]),
        post_training_bias=_bias_codes(o["post_training_bias"]),
        label_values_or_threshold=label_values,
        facet=_facets(o["facets"], o["facet_thresholds"], numeric) or None,
        group_variable=o["group_variable"],
        probability_threshold=o["probability_threshold"],
        report=not o["no_report"],
        report_name=o["report_name"],
        report_title=o["report_title"],
        model_name=o["model_name"],
        instance_type=o["instance_type"],
        initial_instance_count=o["instance_count"],
        endpoint_name=o["endpoint_name"],
        content_type=o["content_type"],
        accept_type=o["accept_type"],
        content_template=o["content_template"],
        record_template=o["record_template"],
        predictor_label=_key(o["label_key"]),
        predictor_probability=_key(o["probability_key"]),
        label_headers=_names(o["label_headers"]),
    )
    if o["output"] is None:
        click.echo(format_analysis_config(document), nl=False)
    else:
        write_analysis_config(document, o["output"])


def _bias_codes(text: str | None) -> str | list[str] | None:
    if text is None or text.strip().lower() == "all":
        return None if text is None else "all"
    return _names(text) or []
