"""The report's bias section, built from ``analysis.json``'s ``pre_training_bias_metrics`` and
``post_training_bias_metrics``.

One table per stage, facet and sensitive group: each metric's code, Clarify's description, its value as
the file holds it (``∞`` for ``"Infinity"``, Clarify's error message for a metric that was not computed)
and what the metric measures, with its ideal value and range (bias-drift-spec §3, clarify-spec §6).
Nothing is recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..outputs import BiasGroup, BiasMetric, BiasStage, BiasStageName
from ._templates import render_fragment

__all__ = [
    "BIAS_METRIC_NOTES",
    "BiasRow",
    "BiasStageView",
    "BiasTable",
    "BiasView",
    "bias_methods",
    "bias_summary_items",
    "bias_view",
]

# what each metric compares, then its ideal value and range: "d" is the sensitive group (the rows the
# facet's value_or_threshold selects), "a" every other row (bias-drift-spec §3)
BIAS_METRIC_NOTES: dict[str, tuple[str, str]] = {
    # pre-training: the labels of the dataset
    "CI": (
        "Difference in group sizes, (n_a − n_d)/(n_a + n_d); positive: the group is the smaller one.",
        "0, range [-1, 1]",
    ),
    "DPL": (
        "Positive-label rate of the other rows minus the group's; positive: the group has fewer positive labels.",
        "0, range [-1, 1]",
    ),
    "KL": (
        "How far the group's label distribution is from the other rows' (Kullback-Leibler, natural log).",
        "0, range [0, ∞)",
    ),
    "JS": (
        "Symmetric divergence between the label distributions of the group and the other rows.",
        "0, range [0, ln 2]",
    ),
    "LP": (
        "Euclidean (L2) distance between the label distributions of the group and the other rows.",
        "0, range [0, √2]",
    ),
    "TVD": ("Half the L1 distance between the label distributions of the group and the other rows.", "0, range [0, 1]"),
    "KS": ("Largest difference between the label distributions of the group and the other rows.", "0, range [0, 1]"),
    "CDDL": (
        "Demographic disparity of the labels within each subgroup of group_variable, averaged; positive: "
        "the group has a larger share of the negative labels than of the positive ones.",
        "0, range [-1, 1]",
    ),
    # post-training: the model's predicted labels
    "DPPL": (
        "Positive-prediction rate of the other rows minus the group's; positive: the group is predicted "
        "positive less often.",
        "0, range [-1, 1]",
    ),
    "DI": (
        "Positive-prediction rate of the group divided by the other rows'; below 1: the group is predicted "
        "positive less often.",
        "1, range [0, ∞)",
    ),
    "DCA": ("Observed ÷ predicted positives, other rows minus the group.", "0, range (-∞, ∞)"),
    "DCR": ("Observed ÷ predicted negatives, the group minus the other rows.", "0, range (-∞, ∞)"),
    "RD": (
        "Recall of the other rows minus the group's; positive: the model finds fewer of the group's positives.",
        "0, range [-1, 1]",
    ),
    "SD": ("Specificity of the group minus the other rows'.", "0, range [-1, 1]"),
    "DAR": ("Precision of the other rows minus the group's.", "0, range [-1, 1]"),
    "DRR": ("Negative predictive value of the group minus the other rows'.", "0, range [-1, 1]"),
    "AD": (
        "Accuracy of the other rows minus the group's; positive: the model is less accurate for the group.",
        "0, range [-1, 1]",
    ),
    "CDDPL": ("CDDL computed on the predicted labels.", "0, range [-1, 1]"),
    "TE": ("False negatives ÷ false positives, the group minus the other rows.", "0, range (-∞, ∞)"),
    "FT": (
        "Favourable minus unfavourable flips of the group's predictions when judged like their nearest "
        "neighbours among the other rows, per row of the group.",
        "0, range [-1, 1]",
    ),
    "GE": (
        "Generalized entropy (α = 2) of the prediction errors over every row; the same for every facet.",
        "0, range [0, ∞)",
    ),
}

_STAGES: dict[BiasStageName, tuple[str, str]] = {
    "pre_training": (
        "Pre-training bias metrics",
        "Computed from the dataset's labels, before any model: how the sensitive group's labels differ from "
        "the other rows'.",
    ),
    "post_training": (
        "Post-training bias metrics",
        "Computed from the model's predicted labels: how the model treats the sensitive group compared with "
        "the other rows.",
    ),
}


@dataclass(frozen=True, slots=True)
class BiasRow:
    """One metric as a table shows it: ``text`` is the value formatted (``∞`` for infinity), or the
    metric's error message when it was not computed; ``data_value`` every digit of the value (``Infinity``,
    ``-Infinity``), empty without one; ``meaning`` what the metric measures and its ideal value."""

    name: str
    description: str
    value: float | None
    text: str
    data_value: str
    error: str | None
    meaning: str
    interval: str = ""  # the bootstrap interval, e.g. "95% interval: 0.12 to 0.31", when the job made one


@dataclass(frozen=True, slots=True)
class BiasCountRow:
    """One line of the counts behind a group's metrics: what is counted, in the group and in the others."""

    what: str
    group: str
    others: str


@dataclass(frozen=True, slots=True)
class BiasTable:
    """The metrics of one sensitive group (``group``, the facet's ``value_or_threshold``) of ``facet``, and
    the counts behind them when the folder has them."""

    facet: str
    group: str
    rows: tuple[BiasRow, ...]
    counts: tuple[BiasCountRow, ...] = ()


@dataclass(frozen=True, slots=True)
class BiasStageView:
    """One stage (pre- or post-training): its label facts and one table per facet and group."""

    stage: BiasStageName
    title: str
    note: str
    label: str
    label_value_or_threshold: str
    tables: tuple[BiasTable, ...]


@dataclass(frozen=True, slots=True)
class BiasView:
    """The bias section: the stages in reading order (pre-training, then post-training)."""

    stages: tuple[BiasStageView, ...]

    def _repr_html_(self) -> str:
        return render_fragment("bias", bias=self)


def bias_view(stages: Sequence[BiasStage]) -> BiasView | None:
    """The section of the bias metrics; None when the analysis has none."""
    if not stages:
        return None
    order = {name: i for i, name in enumerate(_STAGES)}
    views = []
    for stage in sorted(stages, key=lambda s: order[s.stage]):
        title, note = _STAGES[stage.stage]
        tables = tuple(
            BiasTable(facet.name, group.value_or_threshold, tuple(_row(m) for m in group.metrics), _counts(group))
            for facet in stage.facets
            for group in facet.groups
        )
        views.append(BiasStageView(stage.stage, title, note, stage.label, stage.label_value_or_threshold, tables))
    return BiasView(tuple(views))


def _share(part: int, whole: int) -> str:
    return f"{part:,} ({part / whole:.1%})" if whole else f"{part:,}"


def _counts(group: BiasGroup) -> tuple[BiasCountRow, ...]:
    """The records, positive labels and predictions, and confusion matrix of the group and the others."""
    c = group.counts
    if c is None:
        return ()
    (n_d, n_a) = c.records
    rows = [
        BiasCountRow("Records", f"{n_d:,}", f"{n_a:,}"),
        BiasCountRow("Positive labels", _share(c.positive_labels[0], n_d), _share(c.positive_labels[1], n_a)),
    ]
    if c.positive_predictions is not None:
        rows.append(
            BiasCountRow(
                "Positive predictions", _share(c.positive_predictions[0], n_d), _share(c.positive_predictions[1], n_a)
            )
        )
    if c.confusion is not None:
        for k, name in enumerate(("True positives", "False positives", "False negatives", "True negatives")):
            rows.append(BiasCountRow(name, f"{c.confusion[0][k]:,}", f"{c.confusion[1][k]:,}"))
    return tuple(rows)


def _row(metric: BiasMetric) -> BiasRow:
    value = metric.value
    if value is None:
        text, data_value = metric.error or "not computed", ""
    elif math.isinf(value):
        text, data_value = ("∞", "Infinity") if value > 0 else ("-∞", "-Infinity")
    else:
        text, data_value = f"{value:.4g}", repr(value)
    meaning, ideal = BIAS_METRIC_NOTES.get(metric.name, ("", ""))
    return BiasRow(
        metric.name,
        metric.description,
        value,
        text,
        data_value,
        metric.error if value is None else None,
        f"{meaning} Ideal {ideal}." if ideal else meaning,
        _interval_text(metric.interval),
    )


def _bound(value: float | None) -> str:
    if value is None:
        return "?"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.4g}"


def _interval_text(interval: tuple[float, float | None, float | None] | None) -> str:
    if interval is None:
        return ""
    level, lower, upper = interval
    if lower is None and upper is None:
        return f"{level:.0%} interval: undefined in every replicate"
    return f"{level:.0%} interval: {_bound(lower)} to {_bound(upper)}"


def bias_summary_items(stages: Sequence[BiasStage]) -> list[tuple[str, str]]:
    """The summary's facts about the bias metrics: the label and its positive values, and the facets."""
    labels = dict.fromkeys((s.label, s.label_value_or_threshold) for s in stages)
    facets = dict.fromkeys(f.name for s in stages for f in s.facets)
    return [
        ("Bias label", "; ".join(f"{label} (positive label value or threshold {value})" for label, value in labels)),
        ("Facets", ", ".join(facets)),
    ]


def bias_methods(stages: Sequence[BiasStage]) -> list[str]:
    """The summary's method names of the bias stages present."""
    return [_STAGES[s.stage][0].replace("P", "p", 1) for s in stages]
