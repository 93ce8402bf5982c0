"""Colours of attributions, as captum's ``visualize_text`` draws them.

Clarify's text notebook scales a record's attributions so that the largest |value| is 1 and hands them
to captum, whose ``_get_color`` shades positive values green (hue 120, lightness 100% down to 50%) and
negative ones red (hue 0, lightness 100% down to 60%). The same two steps are used here, so a report
and a captum rendering of the same record show the same colours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["NEGATIVE_COLOR", "POSITIVE_COLOR", "attribution_color", "scale_attributions"]

# the strongest shades, attribution_color(1.0) and attribution_color(-1.0), as hex for the charts' bars
POSITIVE_COLOR = "#20df20"  # hsl(120, 75%, 50%)
NEGATIVE_COLOR = "#e64d4d"  # hsl(0, 75%, 60%)


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
