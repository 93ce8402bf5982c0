"""What Clarify's two bias analyses share (``methods.pre_training_bias``, ``methods.post_training_bias``).

Every bias metric but FT is a function of how many records share each combination of label value,
facet values, group value and (after training) predicted label. A partition's result is that table of
distinct combinations, with their number of records and the number of the first one; tables merge
exactly (integer sums and minima), whatever the split. The driver then types each column from the
merged table, as Clarify does from the whole column (its rules need the column's uniqueness and the
order in which values first appear; spec §2.3), selects the sensitive groups, counts them with
:mod:`openclarify.bias` and writes ``pre_training_bias_metrics`` / ``post_training_bias_metrics``
(spec §4). Memory grows with the number of distinct combinations, not with the number of records.

Numeric columns reach the analysis as floats (the dataset reader's rule); a numeric column whose every
value is a whole number is typed as the integer column a CSV reader makes of it.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._typing import BoolArray, FloatArray, IntArray
from ..bias import (
    FT_DESCRIPTION,
    POST_TRAINING,
    PRE_TRAINING,
    BiasCounts,
    ColumnKind,
    DtypeKind,
    MetricValue,
    check_threshold,
    facet_value_counts,
    flip_test,
    kind_from_values,
    matches,
    positive_mask,
    value_string,
)
from ..config import AnalysisConfig, BiasConfig
from ..data import DataChunk, DatasetSchema
from ..errors import ConfigError, DataError, ModelError, OpenClarifyWarning
from ..models import Predictor
from ..outputs import BIAS_COUNTS_JSON, write_json
from ._base import Finished, Job, Needs
from ._common import counted_predict, output_labels

__all__ = ["BiasAnalysisBase", "BiasPart", "BiasPlan", "Stage"]

Stage = Literal["pre", "post"]
_SECTION = {"pre": "pre_training_bias_metrics", "post": "post_training_bias_metrics"}
_METHOD = {"pre": "pre_training_bias", "post": "post_training_bias"}
_FT_MISSING = {"name": "FT", "description": FT_DESCRIPTION, "value": None, "error": "no records to compare"}
_LISTED = 10


@dataclass(frozen=True, slots=True)
class BiasPlan:
    """Which columns the analysis reads and how predictions are made (the same for every partition)."""

    stage: Stage
    label: str
    facets: tuple[tuple[str, ...], ...]  # per facet entry its column names (several: an intersectional facet)
    group: str | None
    methods: tuple[str, ...]  # metric codes in name order
    max_batch_rows: int = 16384
    probability_threshold: float = 0.5
    labels: tuple[str, ...] = ()  # the model's outputs, for several scores: the label of the highest
    single: tuple[Any, Any] | None = None  # one score: the predicted values for score <= t and > t
    features: tuple[str, ...] = ()  # FT: the model's inputs, and which of them are numbers
    numeric: tuple[bool, ...] = ()
    from_column: bool = False  # predictions from the dataset's predicted-label column, not the model
    confidence: float | None = None  # bootstrap intervals at this level, from ``bootstrap`` replicates
    bootstrap: int = 1000
    bootstrap_seed: int = 0


@dataclass(slots=True)
class BiasPart:
    """The distinct combinations of a partition's records: key columns ``y`` (label), ``f<i>.<k>`` (column
    ``k`` of facet ``i``), ``g`` (group), ``p`` (predicted label), with ``n`` (records) and ``first`` (the
    first record's number).
    With FT asked for, every kept record's row of the table and its numeric features, in record order."""

    table: pd.DataFrame
    n_rows: int
    ft_rows: IntArray | None = None  # FT: each kept record's row of ``table``, and its numeric features
    ft_x: FloatArray | None = None
    failed: int = 0
    failed_rows: tuple[int, ...] = ()
    model_rows: int = 0
    model_calls: int = 0
    model_seconds: float = 0.0


def _in_first_order(table: pd.DataFrame, ids: IntArray) -> tuple[pd.DataFrame, IntArray]:
    """The table sorted by first record number, and ``ids`` (old row numbers) as rows of the sorted table."""
    order = np.argsort(table["first"].to_numpy(), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return table.iloc[order].reset_index(drop=True), rank[ids]


def _tabulate(columns: dict[str, pd.Series], start: int) -> tuple[pd.DataFrame, IntArray]:
    """The distinct combinations of the records' values (``n``, ``first``), and each record's row."""
    frame = pd.DataFrame({k: v.reset_index(drop=True) for k, v in columns.items()})
    frame["_row"] = np.arange(start, start + len(frame), dtype=np.int64)
    grouped = frame.groupby(list(columns), dropna=False, sort=False)
    ids = grouped.ngroup().to_numpy(dtype=np.int64)
    table = grouped["_row"].agg(["size", "min"]).reset_index().rename(columns={"size": "n", "min": "first"})
    table["n"] = table["n"].astype(np.int64)
    return _in_first_order(table, ids)


def _merge_tables(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, IntArray, IntArray]:
    """The combinations of both tables, and where each row of ``a`` and of ``b`` went."""
    both = pd.concat([a, b], ignore_index=True)
    grouped = both.groupby(keys, dropna=False, sort=False)
    ids = grouped.ngroup().to_numpy(dtype=np.int64)
    merged = grouped.agg(n=("n", "sum"), first=("first", "min")).reset_index()
    merged["n"] = merged["n"].astype(np.int64)
    merged["first"] = merged["first"].astype(np.int64)
    table, rows = _in_first_order(merged, ids)
    return table, rows[: len(a)], rows[len(a) :]


def _column(name_or_index: int | str, schema: DatasetSchema, path: str) -> str:
    """The feature column a facet or group variable names."""
    if isinstance(name_or_index, int):
        if not 0 <= name_or_index < len(schema.headers):
            raise ConfigError(
                f"index {name_or_index} is out of range: the dataset has {len(schema.headers)} columns "
                "(numbered from 0). Give a column index in range, or the column's name.",
                path=path,
            )
        name = schema.headers[name_or_index]
    else:
        name = name_or_index
    if name in schema.feature_names:
        return name
    if name in schema.headers:
        raise ConfigError(
            f"column {name!r} is the label, the predicted label, the join source or an excluded column; a bias "
            "column must be one of the model's input columns (not supported yet otherwise). Remove it from "
            "excluded_columns, or name another column.",
            path=path,
        )
    shown = ", ".join(repr(n) for n in schema.feature_names[:20])
    raise ConfigError(f"no column {name!r} in the dataset; the columns are {shown}.", path=path)


def _facet_columns(ref: int | str | tuple[int | str, ...], schema: DatasetSchema, path: str) -> tuple[str, ...]:
    """The columns of a facet entry: one, or several for an intersectional facet."""
    if isinstance(ref, tuple):
        return tuple(_column(r, schema, f"{path}[{k}]") for k, r in enumerate(ref))
    return (_column(ref, schema, path),)


def _as_number_if_whole(series: pd.Series) -> tuple[pd.Series, DtypeKind]:
    """A float column of whole numbers as the integer column a CSV reader makes of it."""
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64)
        finite = values[~np.isnan(values)]
        if len(finite) == len(values) and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
            return series.astype(np.int64), "int"
        return series, "float"
    if pd.api.types.is_object_dtype(series.dtype) or isinstance(series.dtype, pd.StringDtype):
        return series, "text"
    if pd.api.types.is_bool_dtype(series.dtype):
        return series, "bool"
    if pd.api.types.is_integer_dtype(series.dtype):
        return series, "int"
    return series, "other"


@dataclass(frozen=True, slots=True)
class _Typed:
    """A column of the merged table, typed: its distinct values in order of first appearance, and which
    distinct value each table row holds (-1: missing)."""

    name: str
    kind: ColumnKind
    uniques: list[Any]
    codes: IntArray


def _typed(name: str, series: pd.Series, weights: IntArray, values: Sequence[Any], path: str) -> _Typed:
    series, dtype_kind = _as_number_if_whole(series)
    codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    if len(uniques) == 0:
        raise DataError(
            f"column {name!r}: every value is missing; got {int(weights.sum())} records. Check that {path} "
            "names the intended column."
        )
    plain = [u.item() if isinstance(u, np.generic) else u for u in uniques]
    count = int(weights[codes >= 0].sum())
    return _Typed(name, kind_from_values(dtype_kind, plain, count, values), plain, np.asarray(codes, dtype=np.int64))


def _in_group(col: _Typed, values: Sequence[Any], path: str) -> BoolArray:
    """Per table row: its value is one of ``values`` (categorical) or above the threshold (continuous)."""
    if col.kind == "continuous":
        hit = positive_mask(pd.Series(col.uniques, name=col.name), values, "continuous", what=path)
    else:
        hit = matches(col.uniques, values)
    return np.append(hit, False)[col.codes]


def _interval(col: _Typed, values: Sequence[Any], path: str) -> str:
    """pandas' interval text ``(t, max]`` of a continuous column (Clarify's ``value_or_threshold``)."""
    return value_string(values, "continuous", pd.Series(col.uniques, name=col.name), what=path)


def _metric_json(m: MetricValue) -> dict[str, Any]:
    out: dict[str, Any] = {"name": m.name, "description": m.description}
    value = m.value
    if m.error is not None or value is None:
        out["value"] = None
        out["error"] = m.error or "the metric is undefined on this data"
    elif isinstance(value, float) and math.isnan(value):
        out["value"] = None
        out["error"] = "the metric is undefined on this data (not a number)"
    else:
        out["value"] = _json_number(value)
    return out


def _facet_groups(name: str, column: pd.Series, weights: IntArray, facet: Any, i: int) -> tuple[IntArray, list[str]]:
    """Per table row, the group of a one-column facet (-1: facet *a* only), and each group's string."""
    path = f"facet[{i}].value_or_threshold"
    values = list(facet.value_or_threshold or ())
    col = _typed(name, column, weights, values, path)
    if values:
        codes = np.where(_in_group(col, values, path), 0, -1)
        text = _interval(col, values, path) if col.kind == "continuous" else ",".join(str(v) for v in values)
        return codes.astype(np.int64), [text]
    if col.kind == "continuous":
        check_threshold(pd.Series(col.uniques, name=name), values, what=path)  # raises: no threshold
    return col.codes, [str(u) for u in col.uniques]


def _intersection_groups(
    names: tuple[str, ...], columns: list[pd.Series], first: pd.Series, weights: IntArray, facet: Any, i: int
) -> tuple[IntArray, list[str]]:
    """An intersectional facet: its groups are combinations of one value per column (categorical columns
    only), the configured ones or every combination that occurs, in order of first appearance; a record
    with a missing value in one of the columns is in no group (it stays in facet *a*)."""
    typed = []
    for k, (name, column) in enumerate(zip(names, columns, strict=True)):
        col = _typed(name, column, weights, (), f"facet[{i}].name_or_index[{k}]")
        if col.kind == "continuous":
            raise ConfigError(
                f"column {name!r} is continuous; an intersectional facet combines categorical columns. Leave it "
                "out of the combination, or give it as a facet of its own with a threshold.",
                path=f"facet[{i}].name_or_index[{k}]",
            )
        typed.append(col)
    missing = np.zeros(len(first), dtype=bool)
    for col in typed:
        missing |= col.codes < 0
    combos = [tuple(int(c) for c in row) for row in np.stack([col.codes for col in typed], axis=1).tolist()]
    if facet.value_or_threshold:
        # a row is in the group when each of its values is that column's value of one configured combination
        hit = np.zeros(len(first), dtype=bool)
        for group in facet.value_or_threshold:
            row_hit = np.ones(len(first), dtype=bool)
            for k, col in enumerate(typed):
                row_hit &= np.append(matches(col.uniques, [group[k]]), False)[col.codes]
            hit |= row_hit
        text = ",".join(" & ".join(str(v) for v in group) for group in facet.value_or_threshold)
        return np.where(hit & ~missing, 0, -1).astype(np.int64), [text]
    order: dict[tuple[int, ...], int] = {}
    for row in np.argsort(first.to_numpy(), kind="stable").tolist():
        if not missing[row]:
            order.setdefault(combos[row], len(order))
    codes = np.array([-1 if missing[r] else order[combos[r]] for r in range(len(combos))], dtype=np.int64)
    strings = [" & ".join(str(typed[k].uniques[c]) for k, c in enumerate(combo)) for combo in order]
    return codes, strings


def _counts_json(c: BiasCounts) -> dict[str, Any]:
    """The counts behind one group's metrics: ``[group, other rows]`` of records, positive labels and
    (after training) positive predictions, and each side's confusion matrix ``[TP, FP, FN, TN]``."""
    m = c.confusion  # [facet a/d][label][prediction]
    a, d = m[0], m[1]
    out: dict[str, Any] = {
        "records": [int(d.sum()), int(a.sum())],
        "positive_labels": [int(d[1].sum()), int(a[1].sum())],
    }
    if c.has_predicted:
        out["positive_predictions"] = [int(d[:, 1].sum()), int(a[:, 1].sum())]
        out["confusion_matrix"] = [[int(x[1, 1]), int(x[0, 1]), int(x[1, 0]), int(x[0, 0])] for x in (d, a)]
    return out


def _json_number(value: float | None) -> float | str | None:
    if value is None:
        return None
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return value


@dataclass(frozen=True, slots=True)
class _Sample:
    """Per row of the merged table: positive label, positive prediction, group code (and the values)."""

    positive: BoolArray
    predicted: BoolArray | None
    group_codes: IntArray | None
    group_values: list[Any] | None


def _bootstrap(
    plan: BiasPlan, splits: list[tuple[IntArray, int]], sample: _Sample, weights: IntArray
) -> list[list[dict[str, dict[str, Any]]]]:
    """Percentile bootstrap intervals of every count-based metric, per facet, group and metric code.

    A replicate draws as many records as the data has, with replacement: a multinomial draw of the
    table's combinations in proportion to their records (the same as resampling records, without
    touching them). Its metrics come from its counts; a replicate where a metric is undefined does not
    count for it (``replicates`` says how many did). The bounds are the empirical quantiles
    (``inverted_cdf``) at ``(1 - level) / 2`` and ``(1 + level) / 2``; FT (k-NN) gets none.
    """
    assert plan.confidence is not None  # noqa: S101 - the caller checks
    registry = PRE_TRAINING if plan.stage == "pre" else POST_TRAINING
    codes = [c for c in plan.methods if c in registry]
    rng = np.random.default_rng(plan.bootstrap_seed)
    n = int(weights.sum())
    p = weights / n
    drawn: list[list[dict[str, list[float]]]] = [[{c: [] for c in codes} for _ in range(k)] for _, k in splits]
    for _ in range(plan.bootstrap):
        w = rng.multinomial(n, p).astype(np.int64)
        for f, (facet_codes, n_groups) in enumerate(splits):
            counts = facet_value_counts(
                facet_codes, n_groups, sample.positive, sample.predicted, sample.group_codes, sample.group_values,
                weights=w,
            )  # fmt: skip
            for g, c in enumerate(counts):
                for code in codes:
                    value = registry[code](c).value
                    if value is not None and not math.isnan(value):
                        drawn[f][g][code].append(float(value))
    level = plan.confidence
    out: list[list[dict[str, dict[str, Any]]]] = []
    for per_facet in drawn:
        facet_out: list[dict[str, dict[str, Any]]] = []
        for per_group in per_facet:
            group_out: dict[str, dict[str, Any]] = {}
            for code, values in per_group.items():
                lower = upper = None
                if values:
                    q = np.quantile(np.array(values), [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
                    lower, upper = float(q[0]), float(q[1])
                group_out[code] = {
                    "level": level,
                    "lower": _json_number(lower),
                    "upper": _json_number(upper),
                    "replicates": len(values),
                }
            facet_out.append(group_out)
        out.append(facet_out)
    return out


class BiasAnalysisBase:
    """One bias stage: ``stage`` is ``"pre"`` (labels only) or ``"post"`` (labels and predictions)."""

    stage: Stage = "pre"

    def _config(self, config: AnalysisConfig) -> BiasConfig | None:
        method: BiasConfig | None = getattr(config.methods, _METHOD[self.stage])
        return method

    # check and plan -------------------------------------------------------------------------------
    def check(self, config: AnalysisConfig, base_dir: Path | str | None) -> Needs:
        method = _METHOD[self.stage]
        problems: list[tuple[str, str]] = []
        if config.label is None:
            problems.append(("label", f"{method} needs the label column; name it in label."))
        for key in ("facet_dataset_uri", "predicted_label_dataset_uri"):
            if getattr(config, key) is not None:
                problems.append((key, f"not supported yet for {method}; put the columns in the dataset."))
        # post-training predictions come from the predicted-label column when the config names one
        return Needs(tuple(problems), needs_model=self.stage == "post" and config.predicted_label is None)

    def plan(self, job: Job) -> BiasPlan:
        config, schema = job.config, job.schema
        method = self._config(config)
        if method is None:
            raise ConfigError("no such method to plan.", path=f"methods.{_METHOD[self.stage]}")
        if schema.label_name is None:
            raise ConfigError(f"{_METHOD[self.stage]} needs the label column; name it in label.", path="label")
        assert config.facet is not None and config.label_values_or_threshold is not None  # noqa: S101 - parser
        facets = tuple(
            _facet_columns(f.name_or_index, schema, f"facet[{i}].name_or_index") for i, f in enumerate(config.facet)
        )
        group = _column(config.group_variable, schema, "group_variable") if config.group_variable is not None else None
        registry = PRE_TRAINING if self.stage == "pre" else POST_TRAINING
        codes = [*registry] + (["FT"] if self.stage == "post" else [])
        wanted = sorted(codes if method.methods == "all" else method.methods)
        options = job.options
        ft = self.stage == "post" and "FT" in wanted
        plan = BiasPlan(
            self.stage,
            schema.label_name,
            facets,
            group,
            tuple(wanted),
            features=tuple(schema.feature_names) if ft else (),
            numeric=tuple(not c for c in schema.categorical) if ft else (),
            confidence=options.bias_confidence,
            bootstrap=options.bias_bootstrap,
            bootstrap_seed=options.bias_seed,
        )
        if self.stage == "pre":
            return plan
        if config.predicted_label is not None:
            return dataclasses.replace(plan, from_column=True)
        # predictions: name the model's outputs now, so a label_headers mismatch fails before the pass
        first = next(iter(job.dataset.chunks(8)), None)
        if first is None:
            raise DataError(f"dataset '{job.location}': no records; got 0 rows. Give a dataset with records.")
        n_outputs = job.model.predict(first.features).shape[1]
        labels = tuple(output_labels(config, n_outputs, getattr(job.model, "label_headers", None)))
        threshold = 0.5 if config.probability_threshold is None else float(config.probability_threshold)
        single: tuple[Any, Any] | None = None
        if n_outputs == 1:
            headers = config.predictor.label_headers if config.predictor is not None else None
            single = (headers[0], headers[1]) if headers and len(headers) == 2 else (0, 1)
        # the labels the model can predict must include a positive one, or every prediction is negative
        possible = list(single) if single is not None else list(labels)
        positive_values = list(config.label_values_or_threshold)
        if not matches(possible, positive_values).any():
            named = "one score (positive above probability_threshold)" if single else f"{n_outputs} scores"
            raise ConfigError(
                f"the model gives {named}, read as the labels {possible!r}, and none of them is a positive label "
                f"value {positive_values!r}, so no prediction could be positive. Set predictor.label_headers to "
                'the labels of the model\'s scores, in order (e.g. ["0", "1"]).',
                path="predictor.label_headers",
            )
        return dataclasses.replace(
            plan,
            max_batch_rows=options.max_batch_rows,
            probability_threshold=threshold,
            labels=labels,
            single=single,
        )

    # run / merge ------------------------------------------------------------------------------------
    def run(self, plan: BiasPlan, chunk: DataChunk, model: Predictor) -> BiasPart:
        if chunk.label is None:
            raise ConfigError("the dataset has no label column.", path="label")
        columns: dict[str, pd.Series] = {"y": chunk.label}
        for i, names in enumerate(plan.facets):
            for k, name in enumerate(names):
                columns[f"f{i}.{k}"] = chunk.features[name]
        if plan.group is not None:
            columns["g"] = chunk.features[plan.group]
        n = len(chunk.features)
        part = BiasPart(pd.DataFrame(), n)
        if plan.stage == "pre":
            part.table, _ = _tabulate(columns, chunk.start_row)
            return part
        if plan.from_column:
            if chunk.predicted_label is None:
                raise ConfigError("the dataset has no predicted-label column.", path="predicted_label")
            predicted = chunk.predicted_label.reset_index(drop=True)
            ok = predicted.notna().to_numpy()
        else:
            predicted, ok = self._predict(plan, chunk, model, part)
        columns = {k: v[ok] for k, v in columns.items()}
        columns["p"] = predicted[ok]
        part.failed = int((~ok).sum())
        part.failed_rows = tuple((chunk.start_row + np.flatnonzero(~ok)[:_LISTED]).tolist())
        kept = chunk.start_row + np.flatnonzero(ok)
        table, rows = _tabulate(columns, 0)
        table["first"] = kept[table["first"].to_numpy()] if len(table) else table["first"]  # record numbers
        part.table = table
        if plan.features:
            numeric = [name for name, num in zip(plan.features, plan.numeric, strict=True) if num]
            part.ft_rows = rows
            part.ft_x = chunk.features.loc[ok, numeric].to_numpy(dtype=np.float64)
        return part

    def _predict(self, plan: BiasPlan, chunk: DataChunk, model: Predictor, part: BiasPart) -> tuple[pd.Series, Any]:
        step, width = plan.max_batch_rows, max(1, len(plan.labels))
        parts = []
        for i in range(0, len(chunk.features), step):
            scores = counted_predict(model, chunk.features.iloc[i : i + step], part)
            if scores.shape[1] != width:  # each batch: a batch of another width never reaches concatenate
                raise ModelError(
                    f"model: returned {scores.shape[1]} scores per record, but {len(plan.labels)} before. Return "
                    "the same number of scores for every record."
                )
            parts.append(scores)
        scores = np.concatenate(parts) if parts else np.zeros((0, width))
        ok = np.isfinite(scores).all(axis=1)
        if plan.single is not None:
            low, high = plan.single
            values = np.where(scores[:, 0] > plan.probability_threshold, 1, 0)
            predicted = pd.Series([high if v else low for v in values.tolist()], dtype=object)
        else:
            best = np.argmax(np.where(np.isfinite(scores), scores, -np.inf), axis=1)
            predicted = pd.Series([plan.labels[k] for k in best.tolist()], dtype=object)
        return predicted, ok

    def merge(self, a: BiasPart, b: BiasPart) -> BiasPart:
        keys = [c for c in (a.table if len(a.table.columns) else b.table).columns if c not in ("n", "first")]
        if not len(a.table.columns) or not len(b.table.columns):
            table = a.table if len(a.table.columns) else b.table
            rows_a = rows_b = np.arange(len(table), dtype=np.int64)
        else:
            table, rows_a, rows_b = _merge_tables(a.table, b.table, keys)
        ft_rows = ft_x = None
        if a.ft_rows is not None and b.ft_rows is not None and a.ft_x is not None and b.ft_x is not None:
            ft_rows = np.concatenate([rows_a[a.ft_rows], rows_b[b.ft_rows]])
            ft_x = np.concatenate([a.ft_x, b.ft_x])
        return BiasPart(
            table,
            a.n_rows + b.n_rows,
            ft_rows,
            ft_x,
            a.failed + b.failed,
            (a.failed_rows + b.failed_rows)[:_LISTED],
            a.model_rows + b.model_rows,
            a.model_calls + b.model_calls,
            a.model_seconds + b.model_seconds,
        )

    def consume(self, plan: BiasPlan, part: BiasPart, job: Job) -> None:
        return None

    def close(self, plan: BiasPlan) -> None:
        return None

    # finish -----------------------------------------------------------------------------------------
    def finish(self, plan: BiasPlan, total: BiasPart | None, job: Job) -> Finished:
        config = job.config
        method = _METHOD[self.stage]
        if total is None or total.n_rows == 0:
            raise DataError(f"dataset '{job.location}': no records; got 0 rows. Give a dataset with records.")
        table = total.table
        if table.empty:
            raise ModelError(f"model: gave no predictions for any of the {total.n_rows} records; {method} needs them.")
        weights = table["n"].to_numpy(dtype=np.int64)
        label_values = list(config.label_values_or_threshold or ())
        label = _typed(plan.label, table["y"], weights, label_values, "label")
        if self.stage == "post" and label.kind == "continuous" and not plan.from_column:
            raise ConfigError(
                f"the label {plan.label!r} is continuous (a threshold); post-training bias with a model's predictions "
                "needs categorical labels (not supported yet for thresholds). Give the positive label values.",
                path="label_values_or_threshold",
            )
        positive = _in_group(label, label_values, "label_values_or_threshold")
        if not weights[positive].any():
            warnings.warn(
                f"label_values_or_threshold: no record's label {plan.label!r} is positive ({label_values!r}); the "
                "metrics that need positive labels report an error. Check the positive label values.",
                OpenClarifyWarning,
                stacklevel=4,
            )
        predicted: BoolArray | None = None
        if self.stage == "post":
            column = table["p"] if plan.from_column else table["p"].astype(object)
            pred = _typed("predicted label", column, weights, label_values, "predicted_label")
            # the predicted label is typed as the label is (smclarify needs both of one type)
            pred = _Typed(pred.name, label.kind, pred.uniques, pred.codes)
            predicted = _in_group(pred, label_values, "label_values_or_threshold")
            if not predicted.any():
                warnings.warn(
                    f"{method}: the model predicted no record as positive ({label_values!r}); the metrics are "
                    "computed anyway (a rate of 0 positives).",
                    OpenClarifyWarning,
                    stacklevel=4,
                )
        group_codes: IntArray | None = None
        group_values: list[Any] | None = None
        if plan.group is not None:
            g = _typed(plan.group, table["g"], weights, (), "group_variable")
            numeric = all(isinstance(u, int | float) and not isinstance(u, bool) for u in g.uniques)
            group_values = list(g.uniques) if numeric else [str(u) for u in g.uniques]
            group_codes = g.codes
            if (g.codes < 0).any():  # records without a group value form a group of their own, sorted last
                group_codes = np.where(g.codes >= 0, g.codes, len(group_values))
                group_values.append(math.inf if numeric else "\U0010ffff")
        facets_out: dict[str, list[dict[str, Any]]] = {}
        counts_out: dict[str, list[dict[str, Any]]] = {}
        splits: list[tuple[IntArray, int]] = []
        assert config.facet is not None  # noqa: S101 - the parser requires it for bias
        for i, (names, facet) in enumerate(zip(plan.facets, config.facet, strict=True)):
            if len(names) == 1:
                name = names[0]
                codes, strings = _facet_groups(name, table[f"f{i}.0"], weights, facet, i)
            else:
                name = " & ".join(names)
                parts = [table[f"f{i}.{k}"] for k in range(len(names))]
                codes, strings = _intersection_groups(names, parts, table["first"], weights, facet, i)
            counts = facet_value_counts(
                codes.astype(np.int64),
                len(strings),
                positive,
                predicted,
                group_codes,
                group_values,
                weights=weights,
            )
            splits.append((codes.astype(np.int64), len(strings)))
            for text, c in zip(strings, counts, strict=True):
                if not c.confusion[1].any():
                    warnings.warn(
                        f"facet[{i}].value_or_threshold: no record of {name!r} is in the group {text!r}; its "
                        "metrics report Clarify's 'facet set is empty' errors. Check the facet's values.",
                        OpenClarifyWarning,
                        stacklevel=4,
                    )
            flips = self._flips(plan, total, names, codes, len(strings), predicted)
            facets_out[name] = [
                {"value_or_threshold": text, "metrics": self._metrics(plan, c, flip)}
                for text, c, flip in zip(strings, counts, flips, strict=True)
            ]
            counts_out[name] = [
                {"value_or_threshold": text, **_counts_json(c)} for text, c in zip(strings, counts, strict=True)
            ]
        if plan.confidence is not None:
            sample = _Sample(positive, predicted, group_codes, group_values)
            bounds = _bootstrap(plan, splits, sample, weights)
            for groups, per_facet in zip(facets_out.values(), bounds, strict=True):
                for entry, per_group in zip(groups, per_facet, strict=True):
                    for metric in entry["metrics"]:
                        if metric["name"] in per_group:
                            metric["confidence_interval"] = per_group[metric["name"]]
        label_string = (
            _interval(label, label_values, "label_values_or_threshold")
            if label.kind == "continuous"
            else ",".join(str(v) for v in label_values)
        )
        section = {"label": plan.label, "facets": facets_out, "label_value_or_threshold": label_string}
        stage_name = "pre_training" if self.stage == "pre" else "post_training"
        write_json(job.stage.path(BIAS_COUNTS_JSON[stage_name]), {"label": plan.label, "facets": counts_out})
        if total.failed:
            shown = ", ".join(str(r) for r in total.failed_rows) + (", ..." if total.failed > _LISTED else "")
            warnings.warn(
                f"{method}: {total.failed} of {total.n_rows} records got no prediction from the "
                f"{'predicted-label column' if plan.from_column else 'model'} (records "
                f"{shown}, numbered from 0); they are left out of the post-training metrics.",
                OpenClarifyWarning,
                stacklevel=4,
            )
        summary: dict[str, Any] = {f"{method}_rows": total.n_rows - total.failed}
        if plan.confidence is not None:
            summary |= {
                f"{method}_confidence_level": plan.confidence,
                f"{method}_bootstrap": plan.bootstrap,
                f"{method}_bootstrap_seed": plan.bootstrap_seed,
            }
        if self.stage == "post":
            summary |= {
                f"{method}_failed": total.failed,
                f"{method}_model_calls": total.model_calls,
                f"{method}_model_rows": total.model_rows,
                f"{method}_model_seconds": round(total.model_seconds, 3),
            }
        if "n_rows" not in {k for done in job.earlier.values() for k in done.summary}:
            summary["n_rows"] = total.n_rows
        return Finished(_SECTION[self.stage], None, {_SECTION[self.stage]: section}, summary, section)

    def _flips(
        self,
        plan: BiasPlan,
        total: BiasPart,
        facet: tuple[str, ...],
        codes: IntArray,
        n_groups: int,
        predicted: BoolArray | None,
    ) -> list[MetricValue | None]:
        """FT of each group of ``facet`` (None when FT is not asked for): k-NN over the numeric features
        but the facet's own columns; any other column that is not numeric gives smclarify's error."""
        if "FT" not in plan.methods or total.ft_rows is None or total.ft_x is None or predicted is None:
            return [None] * n_groups
        numeric = [name for name, num in zip(plan.features, plan.numeric, strict=True) if num]
        others_numeric = all(num for name, num in zip(plan.features, plan.numeric, strict=True) if name not in facet)
        x = total.ft_x[:, [j for j, name in enumerate(numeric) if name not in facet]] if others_numeric else None
        record_codes = codes[total.ft_rows]
        yhat = predicted[total.ft_rows]
        return [flip_test(x, record_codes == v, yhat) for v in range(n_groups)]

    def _metrics(self, plan: BiasPlan, counts: BiasCounts, flip: MetricValue | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        registry = PRE_TRAINING if plan.stage == "pre" else POST_TRAINING
        for code in plan.methods:
            if code == "FT":
                out.append(_metric_json(flip) if flip is not None else _FT_MISSING)
            else:
                out.append(_metric_json(registry[code](counts)))
        return out
