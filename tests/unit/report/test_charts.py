"""Charts written straight to SVG: well-formed whatever the data, bars where the values say, cheap."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from openclarify.report import BarChart
from openclarify.report._colors import NEGATIVE_COLOR, POSITIVE_COLOR

SVG = "{http://www.w3.org/2000/svg}"


def _parse(chart: BarChart) -> ET.Element:
    return ET.fromstring(chart.svg())


def _texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text")]


def _bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if e.get("fill") in (POSITIVE_COLOR, NEGATIVE_COLOR)]


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(("</svg><script>alert(1)</script>", "a & b \" '", "costs $5 and $6"), id="markup"),
        pytest.param(("\x00\x01 bell\x07", "lone \ud800 surrogate", "\ufffe"), id="not-xml"),
        pytest.param(("هذا فستان جميل", "这件衣服很好", "e\u0301"), id="scripts"),
        pytest.param(("\n\n", "\t", "x" * 200), id="whitespace-and-long"),
    ],
)
@pytest.mark.parametrize("orientation", ["h", "v"])
def test_svg_is_well_formed_and_keeps_the_text(names, orientation):
    chart = BarChart("Title <i>" + names[0], names, (0.5, -0.25, 0.0), orientation=orientation)
    root = _parse(chart)  # parses: markup escaped, characters XML cannot hold replaced
    assert root.tag == f"{SVG}svg"
    assert not [e for e in root.iter() if e.tag.endswith(("script", "foreignObject"))]
    assert not [a for e in root.iter() for a in e.attrib if a.startswith("on")]
    texts = _texts(root)
    assert texts[0].startswith("Title <i>")  # as text, not markup
    if names[0].startswith("</svg>"):
        assert "</svg><script>alert(1)</script>" in texts and "costs $5 and $6" in texts
    if names[0].startswith("\x00"):
        assert "\ufffd\ufffd bell\ufffd" in texts and "lone \ufffd surrogate" in texts
    chart.svg().encode("utf-8")  # no lone surrogate left


def test_ranking_bars_follow_the_values_top_down():
    chart = BarChart("t", ("a", "b", "c", "d"), (0.5, -0.25, 0.125, 0.0))
    root = _parse(chart)
    bars = _bars(root)
    assert len(bars) == 3  # a zero value draws no bar
    assert [b.get("fill") for b in bars] == [POSITIVE_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR]
    ys = [float(b.get("y", "nan")) for b in bars]
    assert ys == sorted(ys)  # the first name at the top
    widths = [float(b.get("width", "nan")) for b in bars]
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.02) == pytest.approx(4 * widths[2], rel=0.02)
    x_zero = float(bars[0].get("x", "nan"))
    assert float(bars[1].get("x", "nan")) + widths[1] == pytest.approx(x_zero, abs=0.01)  # negative: left of 0
    labels = _texts(root)
    assert labels[-4:] == ["a", "b", "c", "d"]
    assert labels[1:-5] == ["\u22120.2", "0.0", "0.2", "0.4"]  # axis -0.29..0.54: 0.2 apart, zero among them


def test_text_order_chart_is_wide_and_labels_at_most_90_units():
    n = 400
    chart = BarChart("t", tuple(f"u{i}" for i in range(n)), tuple(math.sin(i) for i in range(n)), orientation="v")
    root = _parse(chart)
    assert chart.wide_px() == int(float(root.get("width", "0"))) == 1920
    bars = _bars(root)
    xs = [float(b.get("x", "nan")) for b in bars]
    assert len(bars) == n - 1 and xs == sorted(xs)  # left to right, in text order (sin(0) = 0: no bar)
    unit_labels = [t for t in _texts(root) if t.startswith("u")]
    assert unit_labels == [f"u{i}" for i in range(0, n, 5)]  # every 5th: 80 labels
    assert BarChart("t", ("a",), (1.0,)).wide_px() == 0  # a ranking scales to the page


def test_non_finite_and_all_zero_values_draw_no_bar():
    for values in ((math.nan, math.inf), (0.0, 0.0)):
        root = _parse(BarChart("t", ("a", "b"), values))
        assert _bars(root) == []


def test_long_names_are_cut_to_the_margin_and_the_title_fits():
    chart = BarChart("T" * 200, ("W" * 40, "short"), (1.0, 0.5))
    root = _parse(chart)
    texts = root.findall(f".//{SVG}text")
    assert float(texts[0].get("font-size", "12")) < 12  # the title shrinks to one line
    names = [t.text or "" for t in texts[-2:]]
    assert names[0].endswith("…") and len(names[0]) < 40 and names[1] == "short"


def test_charts_are_drawn_without_matplotlib():
    """Charts are written as SVG directly (about 0.5 ms each; matplotlib took about 0.1 s a chart, which was
    most of a report's time: bench/reports.py measures it), so drawing them never imports matplotlib."""
    script = (
        "import sys\n"
        "from openclarify.report._charts import BarChart\n"
        "for o in ('h', 'v'):\n"
        "    BarChart('c', tuple(f'u{i}' for i in range(60)), tuple(i / 7 - 4 for i in range(60)), orientation=o)"
        ".data_uri()\n"
        "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules if m.startswith('matplotlib'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_figure_draws_the_same_chart_with_matplotlib():
    pytest.importorskip("matplotlib")
    fig = BarChart("t", ("a", "b $x$"), (0.5, -0.25)).figure()
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b $x$"]
    assert ax.get_title(loc="left") == "t"
