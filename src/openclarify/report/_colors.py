"""Colours of attributions, as captum's ``visualize_text`` draws them.

Clarify's text notebook scales a record's attributions so that the largest |value| is 1 and hands them
to captum, whose ``_get_color`` shades positive values green (hue 120, lightness 100% down to 50%) and
negative ones red (hue 0, lightness 100% down to 60%). The same two steps are used here, so a report
and a captum rendering of the same record show the same colours.

Partial dependence charts draw one line per label in :data:`LINE_COLORS` (the Okabe-Ito palette,
distinguishable with the common colour-vision deficiencies; green and red stay the signs of
attributions) over the data distribution in :data:`DISTRIBUTION_COLOR`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "DISTRIBUTION_COLOR",
    "LINE_COLORS",
    "NEGATIVE_COLOR",
    "POSITIVE_COLOR",
    "attribution_color",
    "line_color",
    "scale_attributions",
]

# the strongest shades, attribution_color(1.0) and attribution_color(-1.0), as hex for the charts' bars
POSITIVE_COLOR = "#20df20"  # hsl(120, 75%, 50%)
NEGATIVE_COLOR = "#e64d4d"  # hsl(0, 75%, 60%)
# a partial dependence chart: label k's line, and the bars of the data distribution beneath
LINE_COLORS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#1d1d1f")
DISTRIBUTION_COLOR = "#c8c8c8"


def line_color(k: int) -> str:
    """The colour of label ``k``'s line (the palette repeats after seven labels)."""
    return LINE_COLORS[k % len(LINE_COLORS)]


def scale_attributions(values: Sequence[float]) -> list[float]:
    """Divide by the largest |value| (Clarify's ``normalize=True``); all zeros stay zeros."""
    top = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    if top == 0.0:
        return [0.0 for _ in values]
    return [v / top if math.isfinite(v) else 0.0 for v in values]


def attribution_color(scaled: float) -> str:
    """captum's ``_get_color``: a CSS ``hsl()`` colour for a value in [-1, 1] (clipped)."""
    a = max(-1.0, min(1.0, scaled))
    if a > 0:
        return f"hsl(120, 75%, {100 - int(50 * a)}%)"
    return f"hsl(0, 75%, {100 - int(-40 * a)}%)"
