"""Reading an output folder back: ours, or one downloaded from a Clarify processing job.

What is read (clarify-spec §3): ``analysis.json`` (required; its ``explanations`` hold ``kernel_shap``,
``pdp`` or both, and its ``pre_training_bias_metrics`` and ``post_training_bias_metrics`` the bias metrics
of bias-drift-spec §4; one of these at least), ``explanations_shap/out.jsonl`` (text) or
``explanations_shap/out.csv`` (tabular), and, when present, ``analysis_config.json`` (the SDK uploads it
next to the outputs) and the two files openclarify adds: ``run_summary.json`` and
``explanations_shap/predictions.jsonl``. Local explanations are streamed, one record at a time, so a
folder with 100,000 records costs the memory of the records kept, not of the file.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import heapq
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ReportError
from ._staging import published_files
from ._writers import (
    ANALYSIS_JSON,
    BIAS_COUNTS_JSON,
    CONFIG_JSON,
    LOCAL_SHAP_CSV,
    LOCAL_SHAP_JSONL,
    PREDICTIONS_JSONL,
    RUN_SUMMARY_JSON,
)

__all__ = [
    "BIAS_SECTIONS",
    "BiasFacet",
    "BiasGroup",
    "BiasGroupCounts",
    "BiasMetric",
    "BiasStage",
    "BiasStageName",
    "ExplainedFeature",
    "ExplainedRecord",
    "ExplainedUnit",
    "LabelSummary",
    "OutputFolder",
    "PdpFeature",
    "RecordSelection",
    "read_output_folder",
]

SelectionKind = Literal["first", "top", "ids"]
_PDP_TYPES = ("numerical", "categorical")  # the data types PDP is computed for (clarify-spec §3.2)
BiasStageName = Literal["pre_training", "post_training"]
# analysis.json's bias sections (bias-drift-spec §4), in reading order: the data's bias, then the model's
BIAS_SECTIONS: tuple[tuple[BiasStageName, str], ...] = (
    ("pre_training", "pre_training_bias_metrics"),
    ("post_training", "post_training_bias_metrics"),
)
_INFINITIES = {"Infinity": math.inf, "-Infinity": -math.inf}  # smclarify's inf_as_str


@dataclass(frozen=True, slots=True)
class ExplainedUnit:
    """One attributed unit: a text unit (``partial_text``, ``start_idx``) or a whole tabular feature."""

    attribution: tuple[float, ...]  # one value per label
    partial_text: str | None = None
    start_idx: int | None = None
    stderr: tuple[float, ...] | None = None  # each value's standard error, when the analysis wrote them


@dataclass(frozen=True, slots=True)
class ExplainedFeature:
    """One feature of a record: ``data_type`` is ``free_text``, ``numerical`` or ``categorical``."""

    feature_name: str
    data_type: str
    units: tuple[ExplainedUnit, ...]

    def total(self, k: int) -> float:
        """The feature's attribution to label ``k``: the sum over its units."""
        return math.fsum(u.attribution[k] for u in self.units)


@dataclass(frozen=True, slots=True)
class ExplainedRecord:
    """The local explanation of one record, as the output files hold it.

    ``row`` numbers the records of the output file from 0 (input order). ``prediction`` is the model's
    score per label when the folder records it (``predictions.jsonl``), else None; ``true_label`` the
    dataset's label when known; ``error`` says why a record was not explained (then ``features`` is
    empty).
    """

    row: int
    features: tuple[ExplainedFeature, ...]
    join_source_value: Any = None
    prediction: tuple[float, ...] | None = None
    true_label: Any = None
    error: str | None = None

    def total(self, k: int) -> float:
        """Sum of every attribution to label ``k`` (Σφ)."""
        return math.fsum(f.total(k) for f in self.features)

    def abs_total(self, k: int) -> float:
        return math.fsum(abs(u.attribution[k]) for f in self.features for u in f.units)

    def scores(self, expected_values: Sequence[float | None]) -> tuple[tuple[float, ...] | None, bool]:
        """The score per label and whether the model gave it: the recorded prediction, else
        expected_value + Σφ (the model's score for tabular Kernel SHAP; an estimate for text, whose
        records have base values of their own); None for a failed record or a missing expected_value."""
        if self.prediction is not None and all(math.isfinite(v) for v in self.prediction):
            return self.prediction, True
        if self.error is None and all(e is not None for e in expected_values):
            return tuple((e or 0.0) + self.total(k) for k, e in enumerate(expected_values)), False
        return None, False


@dataclass(frozen=True, slots=True)
class LabelSummary:
    """``analysis.json``'s entry for one label (model output)."""

    label: str
    expected_value: float | None
    global_shap_values: dict[str, float]
    global_top_shap_text: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PdpFeature:
    """``analysis.json``'s partial dependence of one feature (an entry of ``explanations.pdp``).

    ``feature_values`` are the grid: the centre of each equal-width bucket for a ``numerical`` feature
    (floats, in file order), every value for a ``categorical`` one (as text: a string as written, any
    other JSON value as JSON, e.g. ``1`` or ``true``). ``data_distribution[i]`` is the fraction of
    records in bucket or value ``i``; ``model_predictions[k][i]`` the model's mean prediction for output
    ``k`` (named ``label_headers[k]``) with the feature set to value ``i``. An entry PDP was not computed
    for has ``error`` and empty arrays.
    """

    feature_name: str
    data_type: str
    feature_values: tuple[float, ...] | tuple[str, ...] = ()
    data_distribution: tuple[float, ...] = ()
    model_predictions: tuple[tuple[float, ...], ...] = ()  # (n_outputs, n_values)
    label_headers: tuple[str, ...] = ()
    error: str | None = None

    @property
    def is_categorical(self) -> bool:
        return self.data_type == "categorical"


@dataclass(frozen=True, slots=True)
class BiasMetric:
    """One bias metric of a sensitive group: ``name`` is its code (``"CI"``, ``"DI"``, ...),
    ``description`` Clarify's name for it (``"Class Imbalance (CI)"``). ``value`` is a float, ``inf`` or
    ``-inf`` for Clarify's ``"Infinity"`` and ``"-Infinity"``, or None when the metric was not computed:
    then ``error`` says why (Clarify's message). ``interval`` is openclarify's bootstrap confidence
    interval ``(level, lower, upper)`` when the job computed one (``--bias-ci``; bounds may be None or
    infinite), else None."""

    name: str
    description: str
    value: float | None
    error: str | None = None
    interval: tuple[float, float | None, float | None] | None = None


@dataclass(frozen=True, slots=True)
class BiasGroupCounts:
    """The counts behind a group's metrics (openclarify's ``*_bias_counts.json``), each ``(group, others)``:
    records, positive labels, positive predictions (after training) and ``confusion``, each side's
    ``(TP, FP, FN, TN)`` (after training)."""

    records: tuple[int, int]
    positive_labels: tuple[int, int]
    positive_predictions: tuple[int, int] | None = None
    confusion: tuple[tuple[int, int, int, int], tuple[int, int, int, int]] | None = None


@dataclass(frozen=True, slots=True)
class BiasGroup:
    """The metrics of one sensitive group of a facet: the rows selected by ``value_or_threshold`` (as
    Clarify writes it: a value, a threshold or an interval, as text), compared with the other rows;
    ``counts`` when the folder has openclarify's counts file (a Clarify job's folder has none)."""

    value_or_threshold: str
    metrics: tuple[BiasMetric, ...]
    counts: BiasGroupCounts | None = None

    def metric(self, name: str) -> BiasMetric | None:
        """The metric with code ``name``; None when the group has none."""
        return next((m for m in self.metrics if m.name == name), None)


@dataclass(frozen=True, slots=True)
class BiasFacet:
    """A facet (sensitive column, named as ``facets``' key) and its groups in file order."""

    name: str
    groups: tuple[BiasGroup, ...]


@dataclass(frozen=True, slots=True)
class BiasStage:
    """``analysis.json``'s ``pre_training_bias_metrics`` or ``post_training_bias_metrics``.

    ``label`` is the label column, ``label_value_or_threshold`` the positive label values or threshold
    (as text, as Clarify writes it); ``facets`` in file order.
    """

    stage: BiasStageName
    label: str
    label_value_or_threshold: str
    facets: tuple[BiasFacet, ...]

    @property
    def key(self) -> str:
        """The section's key in ``analysis.json``."""
        return f"{self.stage}_bias_metrics"

    def facet(self, name: str) -> BiasFacet | None:
        return next((f for f in self.facets if f.name == name), None)


@dataclass(frozen=True, slots=True)
class RecordSelection:
    """Which records a report shows: the ``first`` n, the ``top`` n by total |attribution| to the label
    shown, or the records whose numbers (from 0, input order) are in ``ids``."""

    kind: SelectionKind = "first"
    n: int = 10
    ids: tuple[int, ...] = ()

    @classmethod
    def first(cls, n: int = 10) -> RecordSelection:
        return cls("first", _positive(n))

    @classmethod
    def top(cls, n: int = 10) -> RecordSelection:
        return cls("top", _positive(n))

    @classmethod
    def rows(cls, ids: Sequence[int]) -> RecordSelection:
        bad = [i for i in ids if not isinstance(i, int) or isinstance(i, bool) or i < 0]
        if bad or not ids:
            raise ReportError(
                f"records: must be record numbers >= 0 (from 0, in input order); got {list(ids)!r}. "
                "Give e.g. [0, 5, 9]."
            )
        return cls("ids", len(ids), tuple(dict.fromkeys(ids)))

    def describe(self) -> str:
        if self.kind == "first":
            return f"the first {self.n} records"
        if self.kind == "top":
            return f"the {self.n} records with the largest total |attribution| to the label shown"
        return "records " + ", ".join(str(i) for i in self.ids)


def _positive(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ReportError(f"records: the number of records to show must be an integer >= 1; got {n!r}.")
    return n


@dataclass(frozen=True, slots=True)
class OutputFolder:
    """What :func:`read_output_folder` found.

    ``labels`` are ``analysis.json``'s label keys in order; ``n_records`` counts every record of the
    local explanations file (0 when there is none); ``records`` holds the selected ones in input order;
    ``missing_ids`` the requested record numbers the file does not have. ``pdp`` holds the partial
    dependence entries in file order, ``bias`` the bias sections (pre-training first, then post-training,
    each when present). A folder without SHAP results (PDP or bias only) has no ``labels``,
    ``summaries`` or records.
    """

    path: Path
    labels: tuple[str, ...]
    summaries: tuple[LabelSummary, ...]
    records: tuple[ExplainedRecord, ...]
    n_records: int
    n_failed: int
    local_file: str | None
    selection: RecordSelection
    missing_ids: tuple[int, ...] = ()
    config: dict[str, Any] | None = None
    run_summary: dict[str, Any] | None = None
    has_predictions: bool = False
    analysis: dict[str, Any] = field(default_factory=dict)
    pdp: tuple[PdpFeature, ...] = ()
    bias: tuple[BiasStage, ...] = ()

    @property
    def is_text(self) -> bool:
        return self.local_file == LOCAL_SHAP_JSONL

    @property
    def has_shap(self) -> bool:
        """Whether ``analysis.json`` holds SHAP results (``explanations.kernel_shap``)."""
        return bool(self.summaries)

    @property
    def has_bias(self) -> bool:
        """Whether ``analysis.json`` holds bias metrics (pre-training, post-training or both)."""
        return bool(self.bias)

    @property
    def pre_training_bias(self) -> BiasStage | None:
        return next((b for b in self.bias if b.stage == "pre_training"), None)

    @property
    def post_training_bias(self) -> BiasStage | None:
        return next((b for b in self.bias if b.stage == "post_training"), None)


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ReportError(f"{what} '{path}': not UTF-8 ({exc.reason}). Give the file the analysis wrote.") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{what} '{path}': not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Give the file the analysis wrote, complete."
        ) from exc
    except (RecursionError, ValueError) as exc:  # nested too deep, or an integer of thousands of digits
        raise ReportError(
            f"{what} '{path}': not JSON an analysis writes ({exc}). Give the file the analysis wrote."
        ) from exc
    except OSError as exc:
        raise ReportError(f"{what} '{path}': cannot be read ({exc.strerror or exc}).") from exc


def _explanations(analysis: Any, path: Path) -> tuple[dict[str, Any], bool, bool]:
    """``analysis.json``'s ``explanations`` object (empty when there is none) and whether it has SHAP and
    PDP results; the file must hold explanations or bias metrics (one at least)."""
    where = f"analysis.json '{path}'"
    if not isinstance(analysis, dict):
        raise ReportError(f"{where}: must be a JSON object; got {type(analysis).__name__}.")
    has_bias = any(analysis.get(key) is not None for _, key in BIAS_SECTIONS)
    explanations = analysis.get("explanations")
    if explanations is None:
        if has_bias:
            return {}, False, False
        raise ReportError(
            f"{where}: has no 'explanations', 'pre_training_bias_metrics' or 'post_training_bias_metrics' "
            f"object; got keys {sorted(analysis)!r}. Give the analysis.json of an explainability or bias job."
        )
    if not isinstance(explanations, dict):
        raise ReportError(
            f"{where}: explanations must be an object (kernel_shap, pdp); got {explanations!r:.80}. "
            "Give the analysis.json the job wrote."
        )
    shap, pdp = explanations.get("kernel_shap"), explanations.get("pdp")
    has_shap = isinstance(shap, dict) and bool(shap)
    has_pdp = pdp is not None and pdp != []
    if not has_shap and not has_pdp and not has_bias:
        raise ReportError(
            f"{where}: explanations has no 'kernel_shap' or 'pdp' results; got {sorted(explanations)!r}. "
            "Reports cover SHAP and partial dependence explanations and bias metrics; run the job with "
            "methods.shap, methods.pdp or a bias method."
        )
    if shap is not None and not isinstance(shap, dict):
        raise ReportError(
            f"{where}: explanations.kernel_shap must be an object of label entries; got {shap!r:.80}. "
            "Give the analysis.json the job wrote."
        )
    return explanations, has_shap, has_pdp


def _summaries(section: dict[str, Any], path: Path) -> tuple[LabelSummary, ...]:
    where = f"analysis.json '{path}'"
    out = []
    for label, entry in section.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("global_shap_values", {}), dict):
            raise ReportError(f"{where}: explanations.kernel_shap.{label} is not a label entry; got {entry!r:.80}.")
        expected = entry.get("expected_value")
        top = entry.get("global_top_shap_text") or {}
        out.append(
            LabelSummary(
                label=str(label),
                expected_value=float(expected) if isinstance(expected, int | float) else None,
                global_shap_values={str(k): float(v) for k, v in entry.get("global_shap_values", {}).items()},
                global_top_shap_text={str(f): {str(u): float(v) for u, v in units.items()} for f, units in top.items()},
            )
        )
    return tuple(out)


def _pdp_features(section: Any, path: Path) -> tuple[PdpFeature, ...]:
    """``explanations.pdp`` (clarify-spec §3.2), checked: every array as long as ``feature_values``,
    one prediction list per label header, every number finite."""
    where = f"analysis.json '{path}': explanations.pdp"
    fix = "Give the analysis.json the job wrote, complete."
    if not isinstance(section, list):
        raise ReportError(f"{where}: must be a list of feature entries; got {section!r:.80}. {fix}")
    return tuple(_pdp_feature(entry, f"{where}[{i}]", fix) for i, entry in enumerate(section))


def _pdp_feature(entry: Any, where: str, fix: str) -> PdpFeature:
    if not isinstance(entry, dict):
        raise ReportError(f"{where}: must be a feature entry (an object); got {entry!r:.80}. {fix}")
    name = entry.get("feature_name")
    if isinstance(name, bool) or not isinstance(name, str | int):
        raise ReportError(f"{where}.feature_name: must be a feature name; got {name!r:.80}. {fix}")
    data_type = entry.get("data_type", "")
    if not isinstance(data_type, str):
        raise ReportError(f"{where}.data_type: must be a string; got {data_type!r:.80}. {fix}")
    error = entry.get("error")
    if error is not None:
        if not isinstance(error, str):
            raise ReportError(f"{where}.error: must be a message (a string); got {error!r:.80}. {fix}")
        return PdpFeature(str(name), data_type, error=error)  # Clarify writes no arrays with an error
    if data_type not in _PDP_TYPES:
        raise ReportError(
            f"{where}.data_type: must be one of {', '.join(repr(t) for t in _PDP_TYPES)} (or the entry holds "
            f"an 'error'); got {data_type!r:.80}. {fix}"
        )
    raw_values = entry.get("feature_values")
    if not isinstance(raw_values, list) or not raw_values:
        raise ReportError(f"{where}.feature_values: must be a non-empty list; got {raw_values!r:.80}. {fix}")
    n = len(raw_values)
    values: tuple[float, ...] | tuple[str, ...]
    if data_type == "numerical":
        values = _pdp_numbers(raw_values, f"{where}.feature_values", n, fix)
    else:
        if any(isinstance(v, dict | list) for v in raw_values):
            raise ReportError(f"{where}.feature_values: must be single values; got {raw_values!r:.80}. {fix}")
        values = tuple(v if isinstance(v, str) else json.dumps(v) for v in raw_values)
    distribution = _pdp_numbers(entry.get("data_distribution"), f"{where}.data_distribution", n, fix)
    negative = [v for v in distribution if v < 0]
    if negative:
        raise ReportError(f"{where}.data_distribution: fractions of records must be >= 0; got {negative[0]!r}. {fix}")
    raw_predictions = entry.get("model_predictions")
    if not isinstance(raw_predictions, list) or not raw_predictions:
        raise ReportError(
            f"{where}.model_predictions: must be a non-empty list, one list per label; got "
            f"{raw_predictions!r:.80}. {fix}"
        )
    predictions = tuple(
        _pdp_numbers(p, f"{where}.model_predictions[{k}]", n, fix) for k, p in enumerate(raw_predictions)
    )
    headers = entry.get("label_headers")
    if headers is None:  # not written by every version: Clarify's default names
        headers = [f"label{k}" for k in range(len(predictions))]
    if not isinstance(headers, list) or any(isinstance(h, dict | list) or h is None for h in headers):
        raise ReportError(f"{where}.label_headers: must be a list of label names; got {headers!r:.80}. {fix}")
    if len(headers) != len(predictions):
        raise ReportError(
            f"{where}.label_headers: has {len(headers)} names but model_predictions has {len(predictions)} "
            f"lists (one per label); got {headers!r:.80}. {fix}"
        )
    return PdpFeature(str(name), data_type, values, distribution, predictions, tuple(str(h) for h in headers))


def _pdp_numbers(raw: Any, where: str, n: int, fix: str) -> tuple[float, ...]:
    """A list of ``n`` finite numbers."""
    if not isinstance(raw, list):
        raise ReportError(f"{where}: must be a list of {n} numbers; got {raw!r:.80}. {fix}")
    if len(raw) != n:
        raise ReportError(f"{where}: has {len(raw)} values but feature_values has {n}; got {raw!r:.80}. {fix}")
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ReportError(f"{where}: must hold finite numbers; got {v!r:.80}. {fix}")
    return tuple(float(v) for v in raw)


def _bias_stages(analysis: dict[str, Any], path: Path) -> tuple[BiasStage, ...]:
    """The bias sections of ``analysis.json`` (bias-drift-spec §4), pre-training first, each checked."""
    return tuple(
        _bias_stage(analysis[key], stage, f"analysis.json '{path}': {key}")
        for stage, key in BIAS_SECTIONS
        if analysis.get(key) is not None
    )


def _pair(raw: Any, where: str) -> tuple[int, int]:
    if not (isinstance(raw, list) and len(raw) == 2 and all(_is_count(v) for v in raw)):
        raise ReportError(f"{where}: must be [group, others], two counts; got {raw!r:.80}. {_COUNTS_FIX}")
    return int(raw[0]), int(raw[1])


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _four(x: list[int]) -> tuple[int, int, int, int]:
    return int(x[0]), int(x[1]), int(x[2]), int(x[3])


def _group_counts(raw: Any, where: str) -> BiasGroupCounts:
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: must be a group's counts (an object); got {raw!r:.80}. {_COUNTS_FIX}")
    predictions = raw.get("positive_predictions")
    confusion = raw.get("confusion_matrix")
    sides: tuple[tuple[int, int, int, int], tuple[int, int, int, int]] | None = None
    if confusion is not None:
        if not (
            isinstance(confusion, list)
            and len(confusion) == 2
            and all(isinstance(x, list) and len(x) == 4 and all(_is_count(v) for v in x) for x in confusion)
        ):
            raise ReportError(
                f"{where}.confusion_matrix: must be [[TP, FP, FN, TN] of the group, the same of the others]; got "
                f"{confusion!r:.80}. {_COUNTS_FIX}"
            )
        sides = (_four(confusion[0]), _four(confusion[1]))
    return BiasGroupCounts(
        _pair(raw.get("records"), f"{where}.records"),
        _pair(raw.get("positive_labels"), f"{where}.positive_labels"),
        _pair(predictions, f"{where}.positive_predictions") if predictions is not None else None,
        sides,
    )


def _with_counts(stage: BiasStage, counts: Any, where: str) -> BiasStage:
    """``stage`` with each group's counts from its counts file (``counts``), matched by facet and group."""
    facets = counts.get("facets") if isinstance(counts, dict) else None
    if not isinstance(facets, dict):
        raise ReportError(f"{where}: must be an object with 'facets'; got {counts!r:.80}. {_COUNTS_FIX}")
    out = []
    for facet in stage.facets:
        groups = facets.get(facet.name)
        if not isinstance(groups, list) or len(groups) != len(facet.groups):
            raise ReportError(
                f"{where}.facets.{facet.name}: must list the {len(facet.groups)} groups of analysis.json; got "
                f"{groups!r:.80}. {_COUNTS_FIX}"
            )
        merged = []
        for i, (group, raw) in enumerate(zip(facet.groups, groups, strict=True)):
            at = f"{where}.facets.{facet.name}[{i}]"
            if not isinstance(raw, dict) or raw.get("value_or_threshold") != group.value_or_threshold:
                raise ReportError(
                    f"{at}.value_or_threshold: must be {group.value_or_threshold!r}, as in analysis.json; got "
                    f"{raw.get('value_or_threshold') if isinstance(raw, dict) else raw!r:.80}. {_COUNTS_FIX}"
                )
            merged.append(dataclasses.replace(group, counts=_group_counts(raw, at)))
        out.append(dataclasses.replace(facet, groups=tuple(merged)))
    return dataclasses.replace(stage, facets=tuple(out))


_BIAS_FIX = "Give the analysis.json the job wrote, complete."
_COUNTS_FIX = "Give the counts file the job wrote, complete, or remove it (the report then shows no counts)."


def _bias_text(raw: Any, where: str, what: str) -> str:
    """A label or group value as text: a string as written, a number or boolean as JSON."""
    if raw is None or isinstance(raw, dict | list):
        raise ReportError(f"{where}: must be {what} (a string or a number); got {raw!r:.80}. {_BIAS_FIX}")
    return raw if isinstance(raw, str) else json.dumps(raw)


def _bias_stage(section: Any, stage: BiasStageName, where: str) -> BiasStage:
    if not isinstance(section, dict):
        raise ReportError(
            f"{where}: must be an object with 'label', 'facets' and 'label_value_or_threshold'; got "
            f"{section!r:.80}. {_BIAS_FIX}"
        )
    label = _bias_text(section.get("label"), f"{where}.label", "the label column")
    positive = _bias_text(
        section.get("label_value_or_threshold"),
        f"{where}.label_value_or_threshold",
        "the positive label values or threshold",
    )
    facets = section.get("facets")
    if not isinstance(facets, dict) or not facets:
        raise ReportError(
            f"{where}.facets: must be a non-empty object, one list of groups per facet; got {facets!r:.80}. {_BIAS_FIX}"
        )
    return BiasStage(
        stage,
        label,
        positive,
        tuple(BiasFacet(str(name), _bias_groups(groups, f"{where}.facets.{name}")) for name, groups in facets.items()),
    )


def _bias_groups(groups: Any, where: str) -> tuple[BiasGroup, ...]:
    if not isinstance(groups, list) or not groups:
        raise ReportError(f"{where}: must be a non-empty list, one entry per group; got {groups!r:.80}. {_BIAS_FIX}")
    out = []
    for i, group in enumerate(groups):
        at = f"{where}[{i}]"
        if not isinstance(group, dict):
            raise ReportError(f"{at}: must be a group entry (an object); got {group!r:.80}. {_BIAS_FIX}")
        value = _bias_text(group.get("value_or_threshold"), f"{at}.value_or_threshold", "the group's value")
        metrics = group.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            raise ReportError(f"{at}.metrics: must be a non-empty list of metrics; got {metrics!r:.80}. {_BIAS_FIX}")
        out.append(BiasGroup(value, tuple(_bias_metric(m, f"{at}.metrics[{j}]") for j, m in enumerate(metrics))))
    return tuple(out)


def _bias_metric(entry: Any, where: str) -> BiasMetric:
    if not isinstance(entry, dict):
        raise ReportError(f"{where}: must be a metric entry (an object); got {entry!r:.80}. {_BIAS_FIX}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ReportError(f"{where}.name: must be a metric code such as 'CI'; got {name!r:.80}. {_BIAS_FIX}")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ReportError(f"{where}.description: must be a string; got {description!r:.80}. {_BIAS_FIX}")
    error = entry.get("error")
    if error is not None and not isinstance(error, str):
        raise ReportError(f"{where}.error: must be a message (a string); got {error!r:.80}. {_BIAS_FIX}")
    raw = entry.get("value")
    value: float | None
    if raw is None:
        value = None
    elif isinstance(raw, str) and raw in _INFINITIES:
        value = _INFINITIES[raw]
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and not math.isnan(raw):
        value = float(raw)
    else:
        raise ReportError(
            f"{where}.value: must be a number, 'Infinity', '-Infinity' or null (with an 'error'); got "
            f"{raw!r:.80}. {_BIAS_FIX}"
        )
    return BiasMetric(name, description, value, error, _bias_interval(entry.get("confidence_interval"), where))


def _bias_bound(raw: Any, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw in _INFINITIES:
        return _INFINITIES[raw]
    if isinstance(raw, int | float) and not isinstance(raw, bool) and not math.isnan(raw):
        return float(raw)
    raise ReportError(f"{where}: must be a number, 'Infinity', '-Infinity' or null; got {raw!r:.80}. {_BIAS_FIX}")


def _bias_interval(raw: Any, where: str) -> tuple[float, float | None, float | None] | None:
    """``confidence_interval`` (openclarify's addition): ``{"level", "lower", "upper", "replicates"}``."""
    if raw is None:
        return None
    where = f"{where}.confidence_interval"
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: must be an object with level, lower and upper; got {raw!r:.80}. {_BIAS_FIX}")
    level = raw.get("level")
    if not isinstance(level, int | float) or isinstance(level, bool) or not 0 < level < 1:
        raise ReportError(f"{where}.level: must be a number between 0 and 1; got {level!r:.80}. {_BIAS_FIX}")
    lower = _bias_bound(raw.get("lower"), f"{where}.lower")
    return float(level), lower, _bias_bound(raw.get("upper"), f"{where}.upper")


def _float(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    return float(value)


def _jsonl_records(
    path: Path, n_labels: int, keep: Callable[[int], bool]
) -> Iterator[tuple[int, bool, ExplainedRecord | None]]:
    """``(row, failed, record)`` per line; ``record`` is parsed only for the rows ``keep`` wants."""
    with path.open("r", encoding="utf-8") as fh:
        for row, line in enumerate(fh):
            if not keep(row):
                # only a failed record has an "error" key; inside a JSON string the quotes are escaped
                yield row, '"error":' in line, None
                continue
            where = f"'{path}' line {row + 1}"
            try:
                doc = json.loads(line)
                features = []
                for feat in doc.get("explanations", []):
                    units = []
                    for a in feat.get("attributions", []):
                        values = tuple(_float(v) for v in a["attribution"])
                        if len(values) != n_labels:
                            raise ReportError(
                                f"{where}: an attribution has {len(values)} values but analysis.json has "
                                f"{n_labels} labels. Give the out.jsonl and analysis.json of the same job."
                            )
                        desc = a.get("description") or {}
                        start = desc.get("start_idx")
                        errors = a.get("stderr")
                        stderr = tuple(_float(v) for v in errors) if errors is not None else None
                        if stderr is not None and len(stderr) != n_labels:
                            raise ReportError(
                                f"{where}: a stderr has {len(stderr)} values but analysis.json has {n_labels} "
                                "labels. Give the out.jsonl and analysis.json of the same job."
                            )
                        units.append(
                            ExplainedUnit(
                                values,
                                desc.get("partial_text"),
                                int(start) if start is not None else None,
                                stderr,
                            )
                        )
                    features.append(
                        ExplainedFeature(str(feat["feature_name"]), str(feat.get("data_type", "")), tuple(units))
                    )
            except ReportError:
                raise
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ReportError(
                    f"{where}: not a Clarify local explanation ({type(exc).__name__}: {exc}); got {line[:80]!r}. "
                    "Give the out.jsonl the analysis wrote, complete."
                ) from exc
            error = doc.get("error")
            record = ExplainedRecord(row, tuple(features), doc.get("join_source_value"), error=error)
            yield row, error is not None, record


def _csv_records(
    path: Path, labels: Sequence[str], features: Sequence[str], keep: Callable[[int], bool]
) -> Iterator[tuple[int, bool, ExplainedRecord | None]]:
    """``(row, failed, record)`` per row; ``record`` is built only for the rows ``keep`` wants."""
    with path.open("r", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        expected = [f"{f}_{label}" for label in labels for f in features]
        errors = [f"{c}_se" for c in expected]  # openclarify's standard errors, after Clarify's columns
        join = len(header) in (len(expected) + 1, 2 * len(expected) + 1) and header[1 : 1 + len(expected)] == expected
        columns = header[1:] if join else header
        if columns != expected:
            # a folder from another tool may order columns differently: look each one up by name
            missing = [c for c in expected if c not in columns]
            if missing:
                raise ReportError(
                    f"'{path}': no column for {missing[:3]!r} (header {header[:6]!r}...). The columns must be "
                    "<feature>_<label> for every feature and label of analysis.json; give the out.csv of the "
                    "same job."
                )
        index = {c: i for i, c in enumerate(columns)}
        has_errors = all(c in index for c in errors)
        offset = 1 if join else 0
        for row, cells in enumerate(reader):
            if not keep(row):
                yield row, "" in cells[offset:], None
                continue
            try:
                values = [_float(cells[offset + index[c]]) for c in expected]
                se = [_float(cells[offset + index[c]]) for c in errors] if has_errors else None
            except (IndexError, ValueError) as exc:
                raise ReportError(
                    f"'{path}' line {row + 2}: expected {len(header)} numeric cells; got {cells[:6]!r}. "
                    "Give the out.csv the analysis wrote, complete."
                ) from exc
            n_feat = len(features)
            feats = tuple(
                ExplainedFeature(
                    f,
                    "",
                    (
                        ExplainedUnit(
                            tuple(values[k * n_feat + j] for k in range(len(labels))),
                            stderr=tuple(se[k * n_feat + j] for k in range(len(labels))) if se is not None else None,
                        ),
                    ),
                )
                for j, f in enumerate(features)
            )
            failed = any(math.isnan(v) for v in values)
            yield (
                row,
                failed,
                ExplainedRecord(
                    row,
                    () if failed else feats,
                    cells[0] if join else None,
                    error="the model gave no scores for this record; it is not explained" if failed else None,
                ),
            )


def read_output_folder(
    folder: str | Path,
    selection: RecordSelection | None = None,
    *,
    label: str | None = None,
) -> OutputFolder:
    """Read the outputs of an explainability or bias job and the local explanations of the selected records.

    Parameters
    ----------
    folder
        The job's output folder (the one holding ``analysis.json``).
    selection
        Which records to keep; default the first 10.
    label
        For ``top`` selections: the label whose |attributions| rank the records; default each record's
        predicted label (when the folder records predictions), else the first label.

    Raises
    ------
    ReportError
        The folder holds no ``analysis.json`` with SHAP, PDP or bias results, or a file in it is malformed
        (the message names the key path, e.g. ``post_training_bias_metrics.facets.Sex[0].metrics[2].value``).
    """
    root = Path(folder)
    selection = selection or RecordSelection.first()
    # a folder with a manifest: only the files its job published count (a stopped publish is refused)
    published = published_files(root)

    def present(relative: str) -> bool:
        return (root / relative).is_file() and (published is None or relative in published)

    analysis_path = root / ANALYSIS_JSON
    if not present(ANALYSIS_JSON):
        raise ReportError(
            f"output folder '{root}': has no {ANALYSIS_JSON}"
            + ("" if root.is_dir() else " (the folder does not exist)")
            + ". Give the folder an analysis wrote (openclarify analyze --output, or a Clarify job's S3 output)."
        )
    analysis = _load_json(analysis_path, "analysis.json")
    explanations, has_shap, has_pdp = _explanations(analysis, analysis_path)
    summaries = _summaries(explanations["kernel_shap"], analysis_path) if has_shap else ()
    pdp = _pdp_features(explanations["pdp"], analysis_path) if has_pdp else ()
    bias = _bias_stages(analysis, analysis_path)
    with_counts = []
    for stage in bias:  # openclarify's counts behind the metrics, when the folder has them
        name = BIAS_COUNTS_JSON[stage.stage]
        if present(name):
            stage = _with_counts(stage, _load_json(root / name, "bias counts"), f"bias counts '{root / name}'")
        with_counts.append(stage)
    bias = tuple(with_counts)
    labels = tuple(s.label for s in summaries)
    if label is not None and not has_shap:
        raise ReportError(
            f"label: this analysis has no SHAP results, so no record's attributions can be shown for a label; "
            f"got {label!r}. Leave the label out."
        )
    if label is not None and label not in labels:
        raise ReportError(f"label: not a label of this analysis; got {label!r}. The labels are {list(labels)!r}.")
    config = _load_json(root / CONFIG_JSON, "analysis_config.json") if present(CONFIG_JSON) else None
    summary = _load_json(root / RUN_SUMMARY_JSON, "run_summary.json") if present(RUN_SUMMARY_JSON) else None

    wanted = set(selection.ids)
    if selection.kind == "first":
        keep: Callable[[int], bool] = lambda row: row < selection.n  # noqa: E731
    elif selection.kind == "ids":
        keep = wanted.__contains__
    else:
        keep = lambda row: True  # noqa: E731
    rows: Iterator[tuple[int, bool, ExplainedRecord | None]] = iter(())
    local_file: str | None = None
    # local SHAP values are read with their analysis.json section (its labels and features); a PDP-only
    # analysis has none
    if has_shap and present(LOCAL_SHAP_JSONL):
        local_file = LOCAL_SHAP_JSONL
        rows = _jsonl_records(root / LOCAL_SHAP_JSONL, len(labels), keep)
    elif has_shap and present(LOCAL_SHAP_CSV):
        local_file = LOCAL_SHAP_CSV
        rows = _csv_records(root / LOCAL_SHAP_CSV, labels, list(summaries[0].global_shap_values), keep)
    predictions_path = root / PREDICTIONS_JSONL
    has_predictions = local_file is not None and present(PREDICTIONS_JSONL)

    n_records = n_failed = 0
    kept: list[ExplainedRecord] = []
    heap: list[tuple[float, int, ExplainedRecord]] = []
    with contextlib.ExitStack() as stack:
        preds = stack.enter_context(predictions_path.open("r", encoding="utf-8")) if has_predictions else None
        for row, failed, record in rows:
            n_records += 1
            n_failed += failed
            line = next(preds, None) if preds is not None else None
            if record is None:
                continue
            if line is not None:
                record = _with_prediction(record, line, predictions_path, row)
            if selection.kind != "top":
                kept.append(record)
            elif record.error is None:
                k = labels.index(label) if label is not None else _predicted_index(record, summaries)
                item = (record.abs_total(k), -record.row, record)
                if len(heap) < selection.n:
                    heapq.heappush(heap, item)
                elif item[:2] > heap[0][:2]:
                    heapq.heapreplace(heap, item)
    if selection.kind == "top":
        kept = sorted((r for _, _, r in heap), key=lambda r: r.row)
    found = {r.row for r in kept}
    missing = tuple(i for i in selection.ids if i not in found)
    return OutputFolder(
        path=root,
        labels=labels,
        summaries=summaries,
        records=tuple(kept),
        n_records=n_records,
        n_failed=n_failed,
        local_file=local_file,
        selection=selection,
        missing_ids=missing,
        config=config if isinstance(config, dict) else None,
        run_summary=summary if isinstance(summary, dict) else None,
        has_predictions=has_predictions,
        analysis=analysis,
        pdp=pdp,
        bias=bias,
    )


def _with_prediction(record: ExplainedRecord, line: str, path: Path, row: int) -> ExplainedRecord:
    try:
        doc = json.loads(line)
        pred = doc.get("prediction")
        prediction = tuple(_float(v) for v in pred) if isinstance(pred, list) else None
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise ReportError(
            f"'{path}' line {row + 1}: not a prediction record ({exc}); got {line[:80]!r}. "
            "Give the predictions.jsonl the analysis wrote, or remove it."
        ) from exc
    return dataclasses.replace(record, prediction=prediction, true_label=doc.get("label"))


def _predicted_index(record: ExplainedRecord, summaries: Sequence[LabelSummary]) -> int:
    """The label a record's explanation is shown for: the highest score, from the recorded prediction
    or, without one, from expected_value + Σφ (exact for tabular Kernel SHAP)."""
    scores, _ = record.scores([s.expected_value for s in summaries])
    if scores is None or len(scores) == 1:
        return 0
    return max(range(len(scores)), key=scores.__getitem__)
