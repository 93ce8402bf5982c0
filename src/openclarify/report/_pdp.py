"""The report's partial dependence section, built from ``analysis.json``'s ``explanations.pdp``.

One :class:`~openclarify.report.PdpChart` per feature PDP was computed for (its lines and bars are the
numbers of the file, nothing is recomputed), and a note for each feature it was not computed for (the
entry's ``error``, e.g. a ``free_text`` column).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..outputs import PdpFeature
from ._charts import PdpChart
from ._templates import render_fragment

__all__ = ["PdpNote", "PdpView", "pdp_labels", "pdp_summary_items", "pdp_view"]


@dataclass(frozen=True, slots=True)
class PdpNote:
    """A feature PDP was not computed for, and why (the entry's ``error``)."""

    feature_name: str
    data_type: str
    error: str


@dataclass(frozen=True, slots=True)
class PdpView:
    """The partial dependence section: ``charts`` in ``analysis.json``'s order, then ``notes`` for the
    features without results."""

    charts: tuple[PdpChart, ...]
    notes: tuple[PdpNote, ...] = ()

    def _repr_html_(self) -> str:
        return render_fragment("pdp", pdp=self)


def pdp_view(features: Sequence[PdpFeature]) -> PdpView | None:
    """The section of ``explanations.pdp``; None when the analysis has no PDP results."""
    if not features:
        return None
    charts = tuple(
        PdpChart(
            f"Partial dependence on '{f.feature_name}'",
            f.feature_name,
            f.feature_values,
            f.data_distribution,
            f.model_predictions,
            f.label_headers,
            categorical=f.is_categorical,
        )
        for f in features
        if f.error is None
    )
    notes = tuple(PdpNote(f.feature_name, f.data_type, f.error) for f in features if f.error is not None)
    return PdpView(charts, notes)


def pdp_summary_items(features: Sequence[PdpFeature], pdp_cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary's facts about PDP: the features, and the config's grid_resolution when recorded."""
    computed = [f.feature_name for f in features if f.error is None]
    failed = [f.feature_name for f in features if f.error is not None]
    text = ", ".join(computed) if computed else "none"
    if failed:
        text += f" (not computed: {', '.join(failed)})"
    items = [("PDP features", text)]
    if pdp_cfg.get("grid_resolution") is not None:
        items.append(("PDP grid_resolution", str(pdp_cfg["grid_resolution"])))
    return items


def pdp_labels(features: Sequence[PdpFeature]) -> tuple[str, ...]:
    """Every label the PDP entries have predictions for, in order of first appearance."""
    return tuple(dict.fromkeys(h for f in features for h in f.label_headers))
