"""Bar charts of attributions, drawn with matplotlib (imported here only, when a chart is drawn).

A chart is a :class:`BarChart` (names and values: the numbers it shows, kept for tests and for the data
table beside it) drawn to SVG. Text from the data (tokens, feature names) is drawn as text, never parsed
as mathtext (a review with two ``$`` signs stays as written), and matplotlib escapes it in the SVG. The
SVG is embedded as a ``data:`` image, so nothing in it can run and its element ids cannot clash with
another chart's.
"""

from __future__ import annotations

import base64
import functools
import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import MissingDependencyError
from ._colors import NEGATIVE_COLOR, POSITIVE_COLOR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BarChart"]

_MAX_LABEL = 40  # characters of a bar's name shown on an axis; the data table has the whole name


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

    def _size(self) -> tuple[float, float]:
        n = max(1, len(self.names))
        if self.orientation == "h":
            return 6.4, 0.9 + 0.26 * n
        return min(20.0, max(6.4, 0.22 * n)), 3.6

    def wide_px(self) -> int:
        """A chart of units in text order: its width in CSS pixels, shown in a horizontally scrolling
        box so its labels stay readable on a phone; 0 for a chart that scales to the page."""
        if self.orientation == "v":
            return int(self._size()[0] * 96)
        return 0

    def figure(self) -> Figure:
        """The chart as a matplotlib ``Figure`` (no pyplot state is touched)."""
        try:
            import matplotlib as mpl
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
            raise MissingDependencyError(
                "report charts need the dependency 'matplotlib'. Install it with: pip install matplotlib."
            ) from exc
        names = [_short(n) for n in self.names]
        colors = [POSITIVE_COLOR if v > 0 else NEGATIVE_COLOR for v in self.values]
        n = max(1, len(names))
        with mpl.rc_context(_RC):  # type: ignore[arg-type]
            if self.orientation == "h":
                width, height = self._size()
                fig = Figure(figsize=(width, height))
                # margins from the longest name: constrained layout costs more than the drawing
                longest = max((len(x) for x in names), default=1)
                left = min(0.55, (0.3 + 0.068 * longest) / width)
                fig.subplots_adjust(left=left, right=0.97, top=1 - 0.45 / height, bottom=0.5 / height)
                ax = fig.add_subplot()
                ax.barh(range(n)[: len(names)], self.values, color=colors, height=0.7)
                ax.set_yticks(range(len(names)), names)
                ax.invert_yaxis()
                ax.set_xlabel(self.xlabel)
                ax.axvline(0, color="#555555", linewidth=0.8)
            else:
                width, height = self._size()
                fig = Figure(figsize=(width, height))
                longest = min(_MAX_LABEL, max((len(x) for x in names), default=1))
                bottom = min(0.6, (0.25 + 0.055 * longest) / height)
                fig.subplots_adjust(left=0.7 / width, right=1 - 0.2 / width, top=1 - 0.35 / height, bottom=bottom)
                ax = fig.add_subplot()
                ax.bar(range(len(names)), self.values, color=colors, width=0.8)
                step = max(1, -(-len(names) // 90))  # at most ~90 tick labels
                ticks = list(range(0, len(names), step))
                ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=7)
                ax.set_ylabel(self.xlabel)
                ax.axhline(0, color="#555555", linewidth=0.8)
                ax.set_xlim(-0.6, len(names) - 0.4)
            ax.set_title(self.title, loc="left", fontsize=10)
            ax.spines[["top", "right"]].set_visible(False)
        return fig

    def svg(self) -> str:
        """The chart as an SVG document (text kept as text, deterministic output)."""
        return _svg(self)

    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg().encode("utf-8")).decode("ascii")


@functools.lru_cache(maxsize=512)
def _svg(chart: BarChart) -> str:
    # the HTML, the PDF and the notebook of one report show the same charts: draw each once
    import matplotlib as mpl

    with warnings.catch_warnings():
        # "Glyph ... missing from font(s)": matplotlib measures text with its own font, but the SVG keeps
        # the text as text and the viewer draws it with its fonts, every script included
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        fig = chart.figure()
        buf = io.StringIO()
        with mpl.rc_context(_RC):  # type: ignore[arg-type]
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()


_RC: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays text: the viewer's fonts draw every script, and it stays small
    "svg.hashsalt": "openclarify",  # the same chart gives the same bytes
    "text.parse_math": False,  # '$' in data is a dollar sign, not mathtext
    "text.usetex": False,
    "font.size": 9,
    "font.family": ["DejaVu Sans", "sans-serif"],
    "axes.titlesize": 10,
}


def _short(name: str) -> str:
    name = " ".join(name.split()) or repr(name)  # a whitespace unit is shown as its repr, e.g. '\n\n'
    return name if len(name) <= _MAX_LABEL else name[: _MAX_LABEL - 1] + "…"
