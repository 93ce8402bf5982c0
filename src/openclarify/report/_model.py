"""What a report shows, built from an output folder: summary facts, bias metrics, global charts, partial
dependence, local records.

Every number here comes from the output files (``analysis.json``, the local explanations, and, when the
folder has them, ``run_summary.json`` and ``predictions.jsonl``); nothing is recomputed. The view
objects display themselves in Jupyter (``_repr_html_``) with the same HTML the report files use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..outputs import ExplainedRecord, LabelSummary, OutputFolder, RecordSelection, read_output_folder
from ._bias import BiasView, bias_methods, bias_summary_items, bias_view
from ._charts import BarChart
from ._colors import attribution_color, scale_attributions
from ._pdp import PdpView, pdp_labels, pdp_summary_items, pdp_view
from ._templates import render_fragment

__all__ = [
    "CaptumRecord",
    "GlobalView",
    "RecordView",
    "Report",
    "SummaryView",
    "UnitView",
    "load_report",
]

_TOP_BARS = 20  # bars in a global chart
PredictionSource = Literal["model", "exact", "estimate", "none"]


@dataclass(frozen=True, slots=True)
class UnitView:
    """One unit of a text as shown: ``text`` with ``gap`` (the whitespace before it in the original),
    its attribution ``value`` to the label shown, ``scaled`` to [-1, 1] within the record, and the
    ``color`` captum would give it."""

    text: str
    gap: str
    value: float
    scaled: float
    color: str
    start_idx: int | None


@dataclass(frozen=True, slots=True)
class TextFeatureView:
    name: str
    units: tuple[UnitView, ...]


@dataclass(frozen=True, slots=True)
class CaptumRecord:
    """The fields of captum's ``VisualizationDataRecord``, in its constructor's order.

    ``word_attributions`` are scaled so the largest |value| is 1 (what Clarify's notebook passes to
    captum); ``raw_input_ids`` are the units' texts. :meth:`to_captum` builds captum's own object.
    """

    word_attributions: tuple[float, ...]
    pred_prob: float
    pred_class: str
    true_class: str
    attr_class: str
    attr_score: float
    raw_input_ids: tuple[str, ...]
    convergence_score: float

    def to_captum(self) -> Any:
        """captum's ``VisualizationDataRecord`` for ``captum.attr.visualization.visualize_text``."""
        try:
            from captum.attr import visualization
        except ImportError as exc:
            from ..errors import MissingDependencyError

            raise MissingDependencyError(
                "to_captum needs the optional dependency 'captum'. Install it with: pip install captum."
            ) from exc
        return visualization.VisualizationDataRecord(
            list(self.word_attributions),
            self.pred_prob,
            self.pred_class,
            self.true_class,
            self.attr_class,
            self.attr_score,
            list(self.raw_input_ids),
            self.convergence_score,
        )


@dataclass(frozen=True, slots=True)
class RecordView:
    """One explained record as a report shows it.

    ``label`` is the label whose attributions are shown (the predicted one unless a label was chosen).
    ``prediction_source`` says where ``scores`` come from: ``"model"`` (recorded by the analysis),
    ``"exact"`` (expected_value + Σφ, which equals the model's score for tabular Kernel SHAP) or
    ``"estimate"`` (expected_value + Σφ for a text record, whose base value is its own; approximate);
    ``"none"`` when there is no score to show.
    """

    row: int
    kind: Literal["text", "tabular"]
    label: str
    labels: tuple[str, ...]
    scores: tuple[float, ...] | None
    prediction_source: PredictionSource
    predicted_label: str | None
    true_label: Any
    join_source_value: Any
    attribution_sum: float
    expected_value: float | None
    text_features: tuple[TextFeatureView, ...]
    tabular_features: tuple[tuple[str, float], ...]
    chart: BarChart | None
    error: str | None = None

    @property
    def score(self) -> float | None:
        """The score of the label shown."""
        return self.scores[self.labels.index(self.label)] if self.scores is not None else None

    @property
    def base_value(self) -> float | None:
        """f(x) − Σφ: what the attributions start from (the record's own base value for text)."""
        if self.scores is None:
            return self.expected_value
        return self.scores[self.labels.index(self.label)] - self.attribution_sum

    def _repr_html_(self) -> str:
        return render_fragment("record", record=self)

    def to_captum(self) -> CaptumRecord:
        """The record in captum's ``VisualizationDataRecord`` shape (text units, or tabular features)."""
        if self.text_features:
            units = [u for f in self.text_features for u in f.units]
            names = tuple(u.text for u in units)
            values = [u.value for u in units]
        else:
            names = tuple(n for n, _ in self.tabular_features)
            values = [v for _, v in self.tabular_features]
        score = self.score
        return CaptumRecord(
            word_attributions=tuple(scale_attributions(values)),
            pred_prob=float(score) if score is not None else math.nan,
            pred_class=self.predicted_label or "",
            true_class="" if self.true_label is None else str(self.true_label),
            attr_class=self.label,
            attr_score=self.attribution_sum,
            raw_input_ids=names,
            convergence_score=0.0,  # Kernel SHAP's efficiency holds exactly: no convergence gap
        )


@dataclass(frozen=True, slots=True)
class SummaryView:
    """The report's facts: ``items`` are ``(name, value)`` pairs in display order."""

    title: str
    items: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        return render_fragment("summary", summary=self)


@dataclass(frozen=True, slots=True)
class GlobalView:
    """Global charts: ``global_shap_values`` per label and, for text, the top units per label."""

    charts: tuple[BarChart, ...]
    text_charts: tuple[BarChart, ...] = ()

    def _repr_html_(self) -> str:
        return render_fragment("global", global_view=self)


@dataclass(frozen=True, slots=True)
class Report:
    """A report on an output folder: :attr:`summary`, :attr:`bias`, :attr:`global_view`, :attr:`pdp`,
    :attr:`records`.

    ``has_shap`` is False for an analysis without SHAP results (PDP or bias only): then the global and
    local sections are left out. ``pdp`` is None for an analysis without partial dependence results,
    ``bias`` for one without bias metrics.

    Make one with :func:`load_report`. It displays itself in Jupyter; :func:`render_html`,
    :func:`render_pdf` and :func:`render_notebook` turn it into files.
    """

    title: str
    folder: Path
    summary: SummaryView
    global_view: GlobalView
    records: tuple[RecordView, ...]
    selection: RecordSelection
    label: str | None
    n_records: int
    shown_note: str
    kind: Literal["text", "tabular"]
    language: str | None = None  # the text's HTML lang code
    pdp: PdpView | None = None
    has_shap: bool = True
    bias: BiasView | None = None
    outputs: OutputFolder | None = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        return render_fragment("report_body", report=self)

    def to_captum(self) -> list[CaptumRecord]:
        """Every shown record in captum's ``VisualizationDataRecord`` shape (see :meth:`RecordView.to_captum`)."""
        return [r.to_captum() for r in self.records if r.error is None]


def load_report(
    folder: str | Path,
    *,
    records: RecordSelection | Sequence[int] | None = None,
    label: str | None = None,
    title: str | None = None,
) -> Report:
    """Read an output folder (ours or a Clarify job's) and build its report.

    Parameters
    ----------
    folder
        The folder holding ``analysis.json`` and ``explanations_shap/`` (none for an analysis with
        partial dependence results or bias metrics only).
    records
        Which records to show: a :class:`RecordSelection` (first n, top n by |attribution|, given
        numbers) or a list of record numbers (from 0, input order). Default: the first 10.
    label
        The label whose attributions are shown for every record; default each record's predicted label.
    title
        Default: ``methods.report.title`` of the folder's ``analysis_config.json``, else "Analysis Report".

    Raises
    ------
    ReportError
    """
    if records is None:
        selection = RecordSelection.first()
    elif isinstance(records, RecordSelection):
        selection = records
    else:
        selection = RecordSelection.rows(list(records))
    found = read_output_folder(folder, selection, label=label)
    return build_report(found, label=label, title=title)


def build_report(found: OutputFolder, *, label: str | None = None, title: str | None = None) -> Report:
    """The :class:`Report` of what :func:`~openclarify.outputs.read_output_folder` read."""
    config: dict[str, Any] = found.config or {}
    methods: dict[str, Any] = config["methods"] if isinstance(config.get("methods"), dict) else {}
    report_cfg = methods.get("report")
    shap_cfg: dict[str, Any] = methods["shap"] if isinstance(methods.get("shap"), dict) else {}
    pdp_cfg: dict[str, Any] = methods["pdp"] if isinstance(methods.get("pdp"), dict) else {}
    if title is None:
        title = (report_cfg or {}).get("title") if isinstance(report_cfg, dict) else None
        title = title if isinstance(title, str) and title.strip() else "Analysis Report"
    run = found.run_summary or {}
    text_cfg = shap_cfg.get("text_config") if isinstance(shap_cfg.get("text_config"), dict) else None
    kind: Literal["text", "tabular"] = "text" if found.is_text or text_cfg else "tabular"
    views = tuple(_record_view(r, found, label, kind) for r in found.records)
    shown = _shown_note(found, views)
    return Report(
        title=title,
        folder=found.path,
        summary=_summary(found, title, kind, shown, run, shap_cfg, text_cfg, config, pdp_cfg),
        global_view=_global_view(found.summaries) if found.has_shap else GlobalView(()),
        records=views,
        selection=found.selection,
        label=label,
        n_records=found.n_records,
        shown_note=shown,
        kind=kind,
        language=_lang_tag(text_cfg.get("language") if text_cfg else None),
        pdp=pdp_view(found.pdp),
        has_shap=found.has_shap,
        bias=bias_view(found.bias),
        outputs=found,
    )


def _lang_tag(language: Any) -> str | None:
    """The HTML ``lang`` of the config's language (``"english"`` -> ``en``); None for multi-language."""
    from ..config._languages import language_code

    code = language_code(str(language)) if language else None
    return code if code and code != "xx" else None


def _shown_note(found: OutputFolder, views: Sequence[RecordView]) -> str:
    if not found.has_shap:
        held = [what for what, has in (("partial dependence results", found.pdp), ("bias metrics", found.bias)) if has]
        return f"The folder holds {' and '.join(held)} and no SHAP values, so no record is shown."
    if found.local_file is None:
        return "The folder holds no local explanations (save_local_shap_values was false), so no record is shown."
    numbers = ", ".join(str(v.row) for v in views[:50]) + (", …" if len(views) > 50 else "")
    text = f"Showing {len(views)} of {found.n_records} records: {found.selection.describe()}" + (
        f" (record numbers {numbers}, from 0 in input order)." if views else "."
    )
    if found.missing_ids:
        text += f" Not in the outputs: records {', '.join(str(i) for i in found.missing_ids)}."
    return text


def _summary(
    found: OutputFolder,
    title: str,
    kind: str,
    shown: str,
    run: dict[str, Any],
    shap_cfg: dict[str, Any],
    text_cfg: dict[str, Any] | None,
    config: dict[str, Any],
    pdp_cfg: dict[str, Any],
) -> SummaryView:
    items: list[tuple[str, str]] = []
    predictor: dict[str, Any] = config["predictor"] if isinstance(config.get("predictor"), dict) else {}
    dataset = run.get("dataset") or config.get("dataset_uri")
    dataset_type = run.get("dataset_type") or config.get("dataset_type")
    items.append(("Dataset", f"{dataset or 'not recorded'}" + (f" ({dataset_type})" if dataset_type else "")))
    model = run.get("model") or predictor.get("endpoint_name") or predictor.get("model_name")
    items.append(("Model", str(model) if model else "not recorded"))
    methods = []
    if found.has_shap:
        method = "Kernel SHAP"
        if text_cfg:
            method += f", text at {text_cfg.get('granularity')} granularity, language {text_cfg.get('language')}"
        methods.append(method)
    if found.pdp:
        methods.append("partial dependence (PDP)")
    methods.extend(bias_methods(found.bias))
    items.append(("Method", "; ".join(methods)))
    if found.has_shap:
        _shap_items(items, found, run, shap_cfg)
    if found.pdp:
        items.extend(pdp_summary_items(found.pdp, pdp_cfg))
    if found.bias:
        items.extend(bias_summary_items(found.bias))
    if run.get("seconds") is not None:
        items.append(("Time taken", f"{float(run['seconds']):.1f} s"))
    if run.get("model_calls") is not None:
        calls = f"{run['model_calls']}"
        if run.get("model_rows") is not None:
            calls += f" ({run['model_rows']} rows scored"
            calls += (
                f", {float(run['model_seconds']):.1f} s in the model)" if run.get("model_seconds") is not None else ")"
            )
        items.append(("Model calls", calls))
    if found.has_shap or found.pdp:  # the model's outputs (a bias-only analysis names its label above)
        items.append(("Labels", ", ".join(found.labels if found.has_shap else pdp_labels(found.pdp))))
    notes = [shown]
    if run.get("tool"):
        notes.append(f"Written by {run['tool']}.")
    if not found.run_summary:
        notes.append(
            "The folder has no run_summary.json (a Clarify job's outputs): time and model calls are not known."
        )
    return SummaryView(title, tuple(items), tuple(notes))


def _shap_items(
    items: list[tuple[str, str]], found: OutputFolder, run: dict[str, Any], shap_cfg: dict[str, Any]
) -> None:
    """The summary's facts about the SHAP analysis, appended to ``items``."""
    num_samples = run.get("num_samples", shap_cfg.get("num_samples"))
    if num_samples is not None:
        exact = " (every coalition: exact Shapley values)" if run.get("exact") else ""
        items.append(("Coalitions per record", f"{num_samples}{exact}"))
    items.append(("Aggregation (agg_method)", str(shap_cfg.get("agg_method", "mean_abs"))))
    items.append(("use_logit", str(bool(shap_cfg.get("use_logit", False))).lower()))
    seed = run.get("seed", shap_cfg.get("seed"))
    if seed is not None:
        items.append(("Seed", str(seed)))
    if run.get("n_baseline_rows") is not None:
        items.append(("Baseline rows", str(run["n_baseline_rows"])))
    if run.get("text_columns"):
        items.append(("Text columns", ", ".join(map(str, run["text_columns"]))))
    n = run.get("n_rows", found.n_records)
    failed = found.n_failed or int((found.analysis.get("failed_records") or {}).get("count", 0) or 0)
    items.append(("Records explained", f"{n - failed}" + (f" ({failed} failed; see failed_records)" if failed else "")))


def _global_view(summaries: Sequence[LabelSummary]) -> GlobalView:
    charts: list[BarChart] = []
    features = list(summaries[0].global_shap_values)
    if len(features) == 1 and len(summaries) > 1:
        name = features[0]
        charts.append(
            BarChart(
                f"Global SHAP value of '{name}' per label",
                tuple(s.label for s in summaries),
                tuple(s.global_shap_values[name] for s in summaries),
            )
        )
    else:
        for s in summaries:
            ranked = sorted(s.global_shap_values.items(), key=lambda kv: -abs(kv[1]))[:_TOP_BARS]
            charts.append(
                BarChart(
                    f"Global SHAP values, label {s.label}",
                    tuple(k for k, _ in ranked),
                    tuple(v for _, v in ranked),
                )
            )
    text_charts: list[BarChart] = []
    for s in summaries:
        for feature, units in s.global_top_shap_text.items():
            ranked = sorted(units.items(), key=lambda kv: -kv[1])[:_TOP_BARS]
            if ranked:
                text_charts.append(
                    BarChart(
                        f"Top units of '{feature}', label {s.label}",
                        tuple(k for k, _ in ranked),
                        tuple(v for _, v in ranked),
                    )
                )
    return GlobalView(tuple(charts), tuple(text_charts))


def _record_view(
    record: ExplainedRecord, found: OutputFolder, label: str | None, kind: Literal["text", "tabular"]
) -> RecordView:
    labels = found.labels
    summaries = found.summaries
    scores, from_model = record.scores([s.expected_value for s in summaries])
    source: PredictionSource = (
        "none" if scores is None else "model" if from_model else "exact" if kind == "tabular" else "estimate"
    )
    predicted = labels[max(range(len(labels)), key=scores.__getitem__)] if scores is not None else None
    shown = label or predicted or labels[0]
    k = labels.index(shown)
    text_features: list[TextFeatureView] = []
    tabular: list[tuple[str, float]] = []
    chart_names: list[str] = []
    chart_values: list[float] = []
    chart_errors: list[float] = []  # kept while every unit has a standard error
    n_text = sum(1 for f in record.features if f.data_type == "free_text")
    all_values = [u.attribution[k] for f in record.features if f.data_type == "free_text" for u in f.units]
    scaled_all = iter(scale_attributions(all_values))
    for feature in record.features:
        if feature.data_type == "free_text":
            units: list[UnitView] = []
            end = 0
            for u in feature.units:
                text = u.partial_text or ""
                if u.start_idx is not None:
                    gap = " " * max(0, u.start_idx - end) if units else ""
                    end = max(end, u.start_idx + len(text))
                else:
                    gap = " " if units else ""
                scaled = next(scaled_all)
                units.append(UnitView(text, gap, u.attribution[k], scaled, attribution_color(scaled), u.start_idx))
                chart_names.append(f"{feature.feature_name}: {text}" if n_text > 1 else text)
                chart_values.append(u.attribution[k])
                chart_errors.append(u.stderr[k] if u.stderr is not None else math.nan)
            text_features.append(TextFeatureView(feature.feature_name, tuple(units)))
        else:
            value = feature.total(k)
            tabular.append((feature.feature_name, value))
            chart_names.append(feature.feature_name)
            chart_values.append(value)
            # a feature's error: its units' errors added in quadrature (a tabular feature has one unit)
            unit_errors = [u.stderr[k] if u.stderr is not None else math.nan for u in feature.units]
            chart_errors.append(math.sqrt(math.fsum(e * e for e in unit_errors)))
    chart: BarChart | None = None
    errors = tuple(chart_errors) if chart_errors and all(math.isfinite(e) for e in chart_errors) else None
    if record.error is None and chart_names:
        if text_features:
            chart = BarChart(
                f"Record {record.row}: attribution of each unit to {shown}, in text order",
                tuple(chart_names),
                tuple(chart_values),
                orientation="v",
                errors=errors,
            )
        else:
            order = sorted(range(len(chart_names)), key=lambda i: -abs(chart_values[i]))
            chart = BarChart(
                f"Record {record.row}: feature attributions to {shown}",
                tuple(chart_names[i] for i in order),
                tuple(chart_values[i] for i in order),
                errors=tuple(errors[i] for i in order) if errors is not None else None,
            )
    return RecordView(
        row=record.row,
        kind=kind,
        label=shown,
        labels=labels,
        scores=scores,
        prediction_source=source,
        predicted_label=predicted,
        true_label=record.true_label,
        join_source_value=record.join_source_value,
        attribution_sum=math.fsum(chart_values),
        expected_value=summaries[k].expected_value,
        text_features=tuple(text_features),
        tabular_features=tuple(tabular),
        chart=chart,
        error=record.error,
    )
