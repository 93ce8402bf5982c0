"""Bar charts of attributions and partial dependence charts, drawn straight to SVG.

A chart is a :class:`BarChart` (names and values: the numbers it shows, kept for tests and for the data
table beside it). :meth:`BarChart.svg` writes the SVG itself: a bar chart is a few rectangles, lines and
labels, and writing them costs about a millisecond where matplotlib took a tenth of a second per chart
(most of a report's time went there), and the SVG has a few elements per bar instead of a dozen, so
WeasyPrint draws the PDF's charts quickly too. Text from the data (tokens, feature names, labels) is
written as XML-escaped text, never markup and never mathtext (a review with two ``$`` signs stays as
written), and the viewer draws it with its own fonts, every script included. The SVG is embedded as a
``data:`` image, so nothing in it can run and its ids cannot clash with another chart's.
:meth:`BarChart.figure` draws the same chart with matplotlib, for a notebook that wants to restyle it.
A :class:`PdpChart` is drawn the same way: one line per label over the feature's values, the data
distribution as bars beneath, and a legend.
"""

from __future__ import annotations

import base64
import functools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import MissingDependencyError
from ._colors import DISTRIBUTION_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR, line_color

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BarChart", "PdpChart"]

_MAX_LABEL = 40  # characters of a bar's name shown on an axis; the data table has the whole name

# geometry in CSS pixels (the SVG's user units)
_FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
_INK = "#1d1d1f"
_AXIS = "#555555"
_LABEL_PX = 11  # axis and tick labels
_TITLE_PX = 12
_UNIT_PX = 9  # the units under a text's chart (many, rotated)
_H_WIDTH = 420  # a ranking: fits two to a row on an A4 page and in a desktop browser
_H_PITCH = 17  # per bar of a ranking
_V_PITCH = 21  # per unit of a text, left to right
_V_MIN_WIDTH, _V_MAX_WIDTH = 614, 1920
_V_PLOT = 150  # height of a text's bars
_V_MAX_TICKS = 90  # unit labels shown under a text's chart at most; the data table has them all
_P_PLOT = 140  # height of a partial dependence chart's lines
_P_BAND = 44  # height of the data distribution's bars beneath them
_P_LEGEND = 14  # per row of its legend
_P_MIN_CATEGORY = 36  # width a category's name gets at least (every few names are shown when they are many)
_P_TURNED = 110  # length of a category's name turned upright, at most; the data table has the whole name


#: Whiskers span the value ± this many standard errors (a 95% interval).
WHISKER = 1.96


@dataclass(frozen=True, slots=True)
class BarChart:
    """A bar chart of attributions.

    ``orientation="h"``: one bar per row, the first name at the top (rankings: global values, top
    tokens, a tabular record's features). ``"v"``: bars left to right in the given order (the units of
    a text, in text order).
    """

    title: str
    names: tuple[str, ...]
    values: tuple[float, ...]
    xlabel: str = "SHAP value"
    orientation: Literal["h", "v"] = "h"
    #: each value's standard error: drawn as whiskers over the 95% interval (value ± 1.96 errors)
    errors: tuple[float, ...] | None = None

    def pairs(self) -> list[tuple[str, float]]:
        return list(zip(self.names, self.values, strict=True))

    def rows(self) -> list[tuple[str, float, float | None]]:
        """``(name, value, standard error or None)`` per bar."""
        errors = self.errors if self.errors is not None else (None,) * len(self.values)
        return list(zip(self.names, self.values, errors, strict=True))

    def _extent(self) -> tuple[float, ...]:
        """Every value the axis must show: the values, and the ends of their whiskers."""
        if self.errors is None:
            return self.values
        ends = [v + s * WHISKER for v, e in zip(self.values, self.errors, strict=True) for s in (-e, e)]
        return (*self.values, *(x for x in ends if math.isfinite(x)))

    def wide_px(self) -> int:
        """A chart of units in text order: its width in CSS pixels, shown in a horizontally scrolling
        box so its labels stay readable on a phone; 0 for a chart that scales to the page."""
        if self.orientation == "v":
            return _v_width(len(self.names))
        return 0

    def svg(self) -> str:
        """The chart as an SVG document (text kept as text, the same bytes for the same chart)."""
        return _svg(self)

    def data_uri(self) -> str:
        return _data_uri(self)

    def figure(self) -> Figure:
        """The chart drawn with matplotlib, as a ``Figure`` (no pyplot state is touched)."""
        try:
            import matplotlib as mpl
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
            raise MissingDependencyError(
                "BarChart.figure needs the dependency 'matplotlib'. Install it with: pip install matplotlib."
            ) from exc
        names = [_short(n) for n in self.names]
        colors = [POSITIVE_COLOR if v > 0 else NEGATIVE_COLOR for v in self.values]
        rc: Any = {"text.parse_math": False, "text.usetex": False, "font.size": 9}  # '$' in data is a dollar
        with mpl.rc_context(rc):
            if self.orientation == "h":
                fig = Figure(figsize=(_H_WIDTH / 96, (_H_PITCH * max(1, len(names)) + 70) / 96), layout="constrained")
                ax = fig.add_subplot()
                xerr = [WHISKER * e for e in self.errors] if self.errors is not None else None
                ax.barh(range(len(names)), self.values, color=colors, height=0.7, xerr=xerr, ecolor=_INK, capsize=2)
                ax.set_yticks(range(len(names)), names)
                ax.invert_yaxis()
                ax.set_xlabel(self.xlabel)
                ax.axvline(0, color=_AXIS, linewidth=0.8)
            else:
                fig = Figure(figsize=(self.wide_px() / 96, 3.2), layout="constrained")
                ax = fig.add_subplot()
                yerr = [WHISKER * e for e in self.errors] if self.errors is not None else None
                ax.bar(range(len(names)), self.values, color=colors, width=0.8, yerr=yerr, ecolor=_INK, capsize=2)
                ticks = list(range(0, len(names), _v_tick_step(len(names))))
                ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=7)
                ax.set_ylabel(self.xlabel)
                ax.axhline(0, color=_AXIS, linewidth=0.8)
                ax.set_xlim(-0.6, len(names) - 0.4)
            ax.set_title(self.title, loc="left", fontsize=10)
            ax.spines[["top", "right"]].set_visible(False)
        return fig


@dataclass(frozen=True, slots=True)
class PdpChart:
    """A partial dependence chart of one feature (an entry of ``explanations.pdp``).

    One line per label: ``model_predictions[k][i]`` (the model's mean prediction for label
    ``label_headers[k]``) over ``feature_values[i]``, placed by value for a numerical feature and as
    evenly spaced categories, in file order, for a categorical one. Beneath, ``data_distribution[i]``
    (the fraction of records in bucket or value ``i``) as bars whose heights are proportional to it.
    """

    title: str
    feature_name: str
    feature_values: tuple[float, ...] | tuple[str, ...]
    data_distribution: tuple[float, ...]
    model_predictions: tuple[tuple[float, ...], ...]  # (n_outputs, n_values)
    label_headers: tuple[str, ...]
    categorical: bool
    ylabel: str = "Model prediction"

    def rows(self) -> list[tuple[float | str, float, tuple[float, ...]]]:
        """``(value, data_distribution, predictions per label)`` per feature value, in file order."""
        values: Sequence[float | str] = self.feature_values
        return [
            (v, d, tuple(p[i] for p in self.model_predictions))
            for i, (v, d) in enumerate(zip(values, self.data_distribution, strict=True))
        ]

    def svg(self) -> str:
        """The chart as an SVG document (text kept as text, the same bytes for the same chart)."""
        return _pdp_svg(self)

    def data_uri(self) -> str:
        return _pdp_data_uri(self)

    def figure(self) -> Figure:
        """The chart drawn with matplotlib, as a ``Figure`` (no pyplot state is touched)."""
        try:
            import matplotlib as mpl
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
            raise MissingDependencyError(
                "PdpChart.figure needs the dependency 'matplotlib'. Install it with: pip install matplotlib."
            ) from exc
        xs = _pdp_positions(self)
        rc: Any = {"text.parse_math": False, "text.usetex": False, "font.size": 9}  # '$' in data is a dollar
        with mpl.rc_context(rc):
            fig = Figure(figsize=(_H_WIDTH / 96, 3.4), layout="constrained")
            ax, band = fig.subplots(2, 1, sharex=True, height_ratios=(_P_PLOT, _P_BAND))
            order = sorted(range(len(xs)), key=xs.__getitem__)
            for k, (label, predictions) in enumerate(zip(self.label_headers, self.model_predictions, strict=True)):
                ax.plot(
                    [xs[i] for i in order],
                    [predictions[i] for i in order],
                    color=line_color(k),
                    marker="o",
                    markersize=3,
                    label=_short(label),
                )
            ax.set_ylabel(self.ylabel)
            ax.set_title(self.title, loc="left", fontsize=10)
            ax.legend(fontsize=8, frameon=False)
            band.bar(xs, self.data_distribution, width=0.8 * _pdp_pitch(self, xs), color=DISTRIBUTION_COLOR)
            band.set_ylabel("records")
            band.set_xlabel(_short(self.feature_name))
            if self.categorical:
                band.set_xticks(xs, [_short(str(v)) for v in self.feature_values])
            for axes in (ax, band):
                axes.spines[["top", "right"]].set_visible(False)
        return fig


def _pdp_positions(chart: PdpChart) -> list[float]:
    """Where each feature value sits on the x axis: its value, or its category's number."""
    if chart.categorical:
        return [float(i) for i in range(len(chart.feature_values))]
    return [float(v) for v in chart.feature_values]


def _pdp_pitch(chart: PdpChart, xs: Sequence[float]) -> float:
    """The distance between neighbouring values on the x axis (a numerical feature's bucket width)."""
    if chart.categorical:
        return 1.0
    gaps = [b - a for a, b in zip(sorted(xs), sorted(xs)[1:], strict=False) if b - a > 0]
    if gaps:
        return min(gaps)
    return 0.1 * abs(xs[0]) or 1.0


@functools.lru_cache(maxsize=256)
def _pdp_svg(chart: PdpChart) -> str:
    return _draw_pdp(chart)


@functools.lru_cache(maxsize=256)
def _pdp_data_uri(chart: PdpChart) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(_pdp_svg(chart).encode("utf-8")).decode("ascii")


def _draw_pdp(chart: PdpChart) -> str:
    """The title, the legend (one entry per label, then the distribution), one polyline per label with
    a dot at each value, the distribution's bars beneath, and the feature's axis at the bottom."""
    width = float(_H_WIDTH)
    left, right = 58.0, 16.0
    plot_w = width - left - right
    legend = _pdp_legend(chart, width)
    top = 28.0 + _P_LEGEND * (max(row for _, _, row, _, _ in legend) + 1) + 8.0
    plot_bottom = top + _P_PLOT
    band_top = plot_bottom + 8.0
    band_bottom = band_top + _P_BAND

    xs = _pdp_positions(chart)
    pitch = _pdp_pitch(chart, xs)
    x_lo, x_hi = min(xs) - pitch / 2, max(xs) + pitch / 2
    x_scale = plot_w / (x_hi - x_lo)
    categories, turned = _pdp_categories(chart, pitch * x_scale) if chart.categorical else ([], False)
    # the feature's axis: tick labels, then the feature's name; names turned upright take their length
    labels_height = max((_text_width(t, _UNIT_PX) for _, t in categories), default=0.0) + 6.0 if turned else 15.0
    height = band_bottom + labels_height + 25.0

    def x_of(v: float) -> float:
        return left + (v - x_lo) * x_scale

    y_lo, y_hi, y_ticks, y_decimals = _span_axis([p for ps in chart.model_predictions for p in ps], 4)
    y_scale = _P_PLOT / (y_hi - y_lo)

    def y_of(v: float) -> float:
        return plot_bottom - (v - y_lo) * y_scale

    d_hi = 1.05 * max(chart.data_distribution, default=0.0) or 1.0
    d_ticks, d_decimals = _ticks(0.0, d_hi, 2)
    d_scale = _P_BAND / d_hi

    out = _open(width, height, chart.title)
    for label, color, row, x, kind in legend:
        y = 28.0 + _P_LEGEND * row + 0.5 * _P_LEGEND
        if kind == "line":
            out.append(
                f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x + 14)}" y2="{_num(y)}" stroke="{color}" '
                'stroke-width="2"/>'
            )
        else:
            out.append(f'<rect x="{_num(x + 3)}" y="{_num(y - 4)}" width="8" height="8" fill="{color}"/>')
        out.append(
            f'<text x="{_num(x + 18)}" y="{_num(y + 0.36 * _LABEL_PX)}" font-size="{_LABEL_PX}">{_escape(label)}</text>'
        )
    # the distribution: a bar per value, height proportional to its fraction of the records
    bar_w = 0.8 * pitch * x_scale
    out.append(f'<g stroke="none" fill="{DISTRIBUTION_COLOR}">')
    for x, d in zip(xs, chart.data_distribution, strict=True):
        if d > 0.0:
            h = d * d_scale
            out.append(
                f'<rect x="{_num(x_of(x) - bar_w / 2)}" y="{_num(band_bottom - h)}" width="{_num(bar_w)}" '
                f'height="{_num(h)}"/>'
            )
    out.append("</g>")
    # the lines, drawn in the order of the x axis
    order = sorted(range(len(xs)), key=xs.__getitem__)
    for k, predictions in enumerate(chart.model_predictions):
        color = line_color(k)
        points = " ".join(f"{_num(x_of(xs[i]))},{_num(y_of(predictions[i]))}" for i in order)
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.6" stroke-linejoin="round"/>'
        )
        out.append(f'<g fill="{color}" stroke="none">')
        for i in order:
            out.append(f'<circle cx="{_num(x_of(xs[i]))}" cy="{_num(y_of(predictions[i]))}" r="2.2"/>')
        out.append("</g>")
    # axes: the predictions' on the left, the distribution's below it, the feature's at the bottom
    out.append(_line(left, top, left, plot_bottom, _INK))
    out.append(_line(left, plot_bottom, width - right, plot_bottom, _INK))
    out.append(_line(left, band_top, left, band_bottom, _INK))
    out.append(_line(left, band_bottom, width - right, band_bottom, _INK))
    out.append(f'<g font-size="{_LABEL_PX}" text-anchor="end">')
    for t in y_ticks:
        y = y_of(t)
        out.append(_line(left - 3.5, y, left, y, _INK))
        out.append(_text(left - 6, y + 0.36 * _LABEL_PX, _tick(t, y_decimals)))
    for t in d_ticks:
        y = band_bottom - t * d_scale
        out.append(_line(left - 3.5, y, left, y, _INK))
        out.append(_text(left - 6, y + 0.36 * _UNIT_PX, _tick(100 * t, max(0, d_decimals - 2)) + "%"))
    out.append("</g>")
    out.append(f'<g font-size="{_LABEL_PX}" text-anchor="middle">')
    out.append(_text(14, top + _P_PLOT / 2, chart.ylabel, turn=-90))
    band_middle = _num(band_top + _P_BAND / 2)
    out.append(
        f'<text x="14" y="{band_middle}" font-size="{_UNIT_PX}" transform="rotate(-90 14 {band_middle})">records</text>'
    )
    if chart.categorical and not turned:
        for i, name in categories:
            x = x_of(xs[i])
            out.append(_line(x, band_bottom, x, band_bottom + 3.5, _INK))
            out.append(_text(x, band_bottom + 15, name))
    elif not chart.categorical:
        ticks, decimals = _ticks(x_lo, x_hi, 5)
        for t in ticks:
            x = x_of(t)
            out.append(_line(x, band_bottom, x, band_bottom + 3.5, _INK))
            out.append(_text(x, band_bottom + 15, _tick(t, decimals)))
    out.append(_text((left + width - right) / 2, height - 6, _fit(_short(chart.feature_name), plot_w, _LABEL_PX)))
    out.append("</g>")
    if turned:  # many categories, or long names: upright, every few, as under a text's chart
        out.append(f'<g font-size="{_UNIT_PX}">')
        for i, name in categories:
            x = x_of(xs[i])
            out.append(_line(x, band_bottom, x, band_bottom + 3.0, _INK))
            out.append(_text(x - 0.36 * _UNIT_PX, band_bottom + 6, name, turn=90))
        out.append("</g>")
    out.append("</svg>\n")
    return "".join(out)


def _pdp_categories(chart: PdpChart, pitch_px: float) -> tuple[list[tuple[int, str]], bool]:
    """The categories named under the chart, ``(index, name)``, and whether the names are turned
    upright: across when every shown name fits its room (every few names when there are many), else
    upright, every few so that they do not overlap, each cut to ``_P_TURNED`` pixels."""
    names = [_short(str(v)) for v in chart.feature_values]
    step = max(1, math.ceil(_P_MIN_CATEGORY / pitch_px))
    room = pitch_px * step - 4.0
    across = [(i, names[i]) for i in range(0, len(names), step)]
    if all(_text_width(name, _LABEL_PX) <= room for _, name in across):
        return across, False
    step = max(1, math.ceil(1.4 * _UNIT_PX / pitch_px))
    return [(i, _fit(names[i], _P_TURNED, _UNIT_PX)) for i in range(0, len(names), step)], True


def _pdp_legend(chart: PdpChart, width: float) -> list[tuple[str, str, int, float, str]]:
    """``(text, colour, row, x, kind)`` per legend entry: a line per label, then the distribution's
    swatch; entries wrap onto more rows when they do not fit across."""
    entries = [(_short(h), line_color(k), "line") for k, h in enumerate(chart.label_headers)]
    entries.append(("data distribution", DISTRIBUTION_COLOR, "bar"))
    out: list[tuple[str, str, int, float, str]] = []
    row, x = 0, 8.0
    for text, color, kind in entries:
        text = _fit(text, width - 16.0 - 18.0, _LABEL_PX)
        needed = 18.0 + _text_width(text, _LABEL_PX) + 12.0
        if x > 8.0 and x + needed > width - 8.0:
            row, x = row + 1, 8.0
        out.append((text, color, row, x, kind))
        x += needed
    return out


@functools.lru_cache(maxsize=256)
def _svg(chart: BarChart) -> str:
    # the HTML, the PDF and the notebook of one report show the same charts: write each once
    return _draw_h(chart) if chart.orientation == "h" else _draw_v(chart)


@functools.lru_cache(maxsize=256)
def _data_uri(chart: BarChart) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(_svg(chart).encode("utf-8")).decode("ascii")


def _draw_h(chart: BarChart) -> str:
    """One bar per row, names on the left, the first at the top; the value axis below."""
    width = _H_WIDTH
    top, bottom, right = 28.0, 40.0, 16.0
    room = 0.55 * width - 12.0  # names get at most 55% of the width; longer ones are cut with "…"
    names = [_fit(_short(x), room, _LABEL_PX) for x in chart.names]
    n = max(1, len(names))
    longest = max((_text_width(x, _LABEL_PX) for x in names), default=0.0)
    left = max(36.0, longest + 12.0)
    height = top + _H_PITCH * n + bottom
    plot_bottom = top + _H_PITCH * n
    lo, hi, ticks, decimals = _axis(chart._extent(), 5)
    scale = (width - left - right) / (hi - lo)

    def x_of(v: float) -> float:
        return left + (v - lo) * scale

    out = _open(width, height, chart.title)
    out.append('<g stroke="none">')
    for i, v in enumerate(chart.values):
        if math.isfinite(v) and v != 0.0:
            x0, x1 = sorted((x_of(0.0), x_of(v)))
            y = top + _H_PITCH * i + 0.15 * _H_PITCH
            out.append(_rect(x0, y, x1 - x0, 0.7 * _H_PITCH, v))
    out.append("</g>")
    for i, (v, e) in enumerate(zip(chart.values, chart.errors or (), strict=False)):
        if math.isfinite(v) and math.isfinite(e) and e > 0.0:
            y = top + _H_PITCH * (i + 0.5)
            a, b = x_of(v - WHISKER * e), x_of(v + WHISKER * e)
            out.append(_line(a, y, b, y, _INK))
            out.append(_line(a, y - 3.0, a, y + 3.0, _INK))
            out.append(_line(b, y - 3.0, b, y + 3.0, _INK))
    out.append(_line(x_of(0.0), top, x_of(0.0), plot_bottom, _AXIS))
    out.append(_line(left, top, left, plot_bottom, _INK))
    out.append(_line(left, plot_bottom, width - right, plot_bottom, _INK))
    out.append(f'<g font-size="{_LABEL_PX}" text-anchor="middle">')
    for t in ticks:
        x = x_of(t)
        out.append(_line(x, plot_bottom, x, plot_bottom + 3.5, _INK))
        out.append(_text(x, plot_bottom + 15, _tick(t, decimals)))
    out.append(_text((left + width - right) / 2, height - 6, chart.xlabel))
    out.append("</g>")
    out.append(f'<g font-size="{_LABEL_PX}" text-anchor="end">')
    for i, name in enumerate(names):
        out.append(_text(left - 5, top + _H_PITCH * (i + 0.5) + 0.36 * _LABEL_PX, name))
    out.append("</g></svg>\n")
    return "".join(out)


def _draw_v(chart: BarChart) -> str:
    """Bars left to right (a text's units in text order), every few names rotated underneath."""
    names = [_short(n) for n in chart.names]
    n = max(1, len(names))
    width = float(_v_width(len(names)))
    top, left, right = 28.0, 58.0, 14.0
    pitch = (width - left - right) / n
    step = _v_tick_step(len(names))
    shown = range(0, len(names), step)
    longest = max((_text_width(names[i], _UNIT_PX) for i in shown), default=0.0)
    plot_bottom = top + _V_PLOT
    height = plot_bottom + min(240.0, longest + 10.0) + 6.0
    lo, hi, ticks, decimals = _axis(chart._extent(), 4)
    scale = _V_PLOT / (hi - lo)

    def y_of(v: float) -> float:
        return plot_bottom - (v - lo) * scale

    out = _open(width, height, chart.title)
    out.append('<g stroke="none">')
    for i, v in enumerate(chart.values):
        if math.isfinite(v) and v != 0.0:
            y0, y1 = sorted((y_of(0.0), y_of(v)))
            out.append(_rect(left + pitch * (i + 0.1), y0, 0.8 * pitch, y1 - y0, v))
    out.append("</g>")
    for i, (v, e) in enumerate(zip(chart.values, chart.errors or (), strict=False)):
        if math.isfinite(v) and math.isfinite(e) and e > 0.0:
            x = left + pitch * (i + 0.5)
            a, b = y_of(v - WHISKER * e), y_of(v + WHISKER * e)
            out.append(_line(x, a, x, b, _INK))
            out.append(_line(x - 2.0, a, x + 2.0, a, _INK))
            out.append(_line(x - 2.0, b, x + 2.0, b, _INK))
    out.append(_line(left, y_of(0.0), width - right, y_of(0.0), _AXIS))
    out.append(_line(left, top, left, plot_bottom, _INK))
    out.append(_line(left, plot_bottom, width - right, plot_bottom, _INK))
    out.append(f'<g font-size="{_LABEL_PX}" text-anchor="end">')
    for t in ticks:
        y = y_of(t)
        out.append(_line(left - 3.5, y, left, y, _INK))
        out.append(_text(left - 6, y + 0.36 * _LABEL_PX, _tick(t, decimals)))
    out.append("</g>")
    out.append(f'<g font-size="{_LABEL_PX}" text-anchor="middle">')
    out.append(_text(14, top + _V_PLOT / 2, chart.xlabel, turn=-90))
    out.append("</g>")
    out.append(f'<g font-size="{_UNIT_PX}">')
    for i in shown:
        x = left + pitch * (i + 0.5)
        out.append(_line(x, plot_bottom, x, plot_bottom + 3.0, _INK))
        out.append(_text(x - 0.36 * _UNIT_PX, plot_bottom + 6, names[i], turn=90))
    out.append("</g></svg>\n")
    return "".join(out)


def _v_width(n: int) -> int:
    return int(min(_V_MAX_WIDTH, max(_V_MIN_WIDTH, _V_PITCH * n + 72)))


def _v_tick_step(n: int) -> int:
    return max(1, -(-n // _V_MAX_TICKS))


def _open(width: float, height: float, title: str) -> list[str]:
    """The document's start: size, fonts, a white background (charts stay readable on a dark notebook
    theme) and the title, made smaller when it would not fit on one line."""
    w, h = _num(width), _num(height)
    room = width - 16.0
    needed = _text_width(title, _TITLE_PX)
    size = _TITLE_PX if needed <= room else max(7.0, _TITLE_PX * room / needed)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="{_FONT}" fill="{_INK}">',
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
        f'<text x="8" y="17" font-size="{_num(size)}">{_escape(title)}</text>',
    ]


def _rect(x: float, y: float, w: float, h: float, value: float) -> str:
    color = POSITIVE_COLOR if value > 0 else NEGATIVE_COLOR
    return f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="{color}"/>'


def _line(x1: float, y1: float, x2: float, y2: float, color: str) -> str:
    return (
        f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" stroke="{color}" stroke-width="0.8"/>'
    )


def _text(x: float, y: float, text: str, *, turn: int = 0) -> str:
    rotate = f' transform="rotate({turn} {_num(x)} {_num(y)})"' if turn else ""
    return f'<text x="{_num(x)}" y="{_num(y)}"{rotate}>{_escape(text)}</text>'


def _num(v: float) -> str:
    """A coordinate with two decimals at most (deterministic, compact)."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _escape(text: str) -> str:
    """XML character data: markup characters escaped, and characters XML cannot hold (controls, lone
    surrogates) replaced by U+FFFD."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif (code < 0x20 and ch not in "\t\n\r") or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def _axis(values: Sequence[float], target: int) -> tuple[float, float, list[float], int]:
    """The value axis: its limits (zero always inside; 5% margin on the side away from zero, as
    matplotlib pads bars), ticks at a 1-2-2.5-5 step, and the decimals that show the step."""
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = min([0.0, *finite]), max([0.0, *finite])
    if hi - lo == 0.0:
        lo, hi = -1.0, 1.0
    span = hi - lo
    lo, hi = (lo - 0.05 * span if lo < 0 else lo), (hi + 0.05 * span if hi > 0 else hi)
    ticks, decimals = _ticks(lo, hi, target)
    return lo, hi, ticks, decimals


def _span_axis(values: Sequence[float], target: int) -> tuple[float, float, list[float], int]:
    """An axis over the values alone (zero need not be inside: predictions between 0.67 and 0.73 fill
    the plot), 5% margin on both sides."""
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = min(finite, default=0.0), max(finite, default=0.0)
    if hi - lo == 0.0:
        pad = 0.05 * abs(lo) or 0.05
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
    ticks, decimals = _ticks(lo, hi, target)
    return lo, hi, ticks, decimals


def _ticks(lo: float, hi: float, target: int) -> tuple[list[float], int]:
    """Ticks in [lo, hi] at a 1-2-2.5-5 step giving about ``target`` intervals, and the decimals that
    show the step."""
    raw = (hi - lo) / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9)
    ticks = [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    decimals = 0
    while decimals < 12 and abs(round(step, decimals) - step) > 1e-9 * step:
        decimals += 1
    return ticks, decimals


def _tick(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if float(text) == 0.0:
        return f"{0.0:.{decimals}f}"
    return text.replace("-", "\u2212")  # a typographic minus, as matplotlib writes it


def _text_width(text: str, px: float) -> float:
    """An estimate of the drawn width of ``text``: the viewer's font is not known, so the margins
    are sized from typical DejaVu Sans advances (CJK and other wide characters count one em)."""
    em = 0.0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.0
        elif ch in " .,:;'!|()[]{}ijlrtfI":
            em += 0.36
        elif ch in "mwMW@%":
            em += 0.9
        elif ch.isupper():
            em += 0.72
        else:
            em += 0.62
    return em * px


def _fit(text: str, room: float, px: float) -> str:
    """``text`` cut with "…" so that its estimated width fits in ``room``."""
    if _text_width(text, px) <= room:
        return text
    while len(text) > 1 and _text_width(text + "…", px) > room:
        text = text[:-1]
    return text.rstrip() + "…"


def _short(name: str) -> str:
    name = " ".join(name.split()) or repr(name)  # a whitespace unit is shown as its repr, e.g. '\n\n'
    return name if len(name) <= _MAX_LABEL else name[: _MAX_LABEL - 1] + "…"
