"""Bar charts of attributions, drawn straight to SVG.

A chart is a :class:`BarChart` (names and values: the numbers it shows, kept for tests and for the data
table beside it). :meth:`BarChart.svg` writes the SVG itself: a bar chart is a few rectangles, lines and
labels, and writing them costs about a millisecond where matplotlib took a tenth of a second per chart
(most of a report's time went there), and the SVG has a few elements per bar instead of a dozen, so
WeasyPrint draws the PDF's charts quickly too. Text from the data (tokens, feature names, labels) is
written as XML-escaped text, never markup and never mathtext (a review with two ``$`` signs stays as
written), and the viewer draws it with its own fonts, every script included. The SVG is embedded as a
``data:`` image, so nothing in it can run and its ids cannot clash with another chart's.
:meth:`BarChart.figure` draws the same chart with matplotlib, for a notebook that wants to restyle it.
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
from ._colors import NEGATIVE_COLOR, POSITIVE_COLOR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BarChart"]

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

    def pairs(self) -> list[tuple[str, float]]:
        return list(zip(self.names, self.values, strict=True))

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
                ax.barh(range(len(names)), self.values, color=colors, height=0.7)
                ax.set_yticks(range(len(names)), names)
                ax.invert_yaxis()
                ax.set_xlabel(self.xlabel)
                ax.axvline(0, color=_AXIS, linewidth=0.8)
            else:
                fig = Figure(figsize=(self.wide_px() / 96, 3.2), layout="constrained")
                ax = fig.add_subplot()
                ax.bar(range(len(names)), self.values, color=colors, width=0.8)
                ticks = list(range(0, len(names), _v_tick_step(len(names))))
                ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=7)
                ax.set_ylabel(self.xlabel)
                ax.axhline(0, color=_AXIS, linewidth=0.8)
                ax.set_xlim(-0.6, len(names) - 0.4)
            ax.set_title(self.title, loc="left", fontsize=10)
            ax.spines[["top", "right"]].set_visible(False)
        return fig


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
    lo, hi, ticks, decimals = _axis(chart.values, 5)
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
    lo, hi, ticks, decimals = _axis(chart.values, 4)
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
    raw = (hi - lo) / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9)
    ticks = [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    decimals = 0
    while decimals < 12 and abs(round(step, decimals) - step) > 1e-9 * step:
        decimals += 1
    return lo, hi, ticks, decimals


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
