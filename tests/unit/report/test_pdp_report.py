"""The partial dependence section: charts equal to analysis.json's explanations.pdp, in HTML, PDF, notebook."""

from __future__ import annotations

import base64
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from openclarify.report import (
    PdpChart,
    load_report,
    render_html,
    render_notebook,
)
from openclarify.report._colors import DISTRIBUTION_COLOR, LINE_COLORS
from support.html import elements
from support.notebook import checked_notebook

HERE = Path(__file__).resolve().parent
PDP_ONLY = HERE / "data" / "clarify_job_pdp"
SHAP_PDP = HERE / "data" / "clarify_job_shap_pdp"
TABULAR = HERE.parents[1] / "compat" / "data" / "clarify_job_tabular"
TEXT = HERE.parents[1] / "compat" / "data" / "clarify_job_text"
SVG = "{http://www.w3.org/2000/svg}"
PDP_ERROR = "Detected data type is not supported for PDP. PDP can only be computed for numerical or categorical columns"


def _entries(folder: Path) -> list[dict]:
    return json.loads((folder / "analysis.json").read_text())["explanations"]["pdp"]


def _svgs(html: str) -> list[str]:
    return [base64.b64decode(m).decode() for m in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]


def _points(svg: str) -> list[tuple[str, list[tuple[float, float]]]]:
    """(stroke colour, points) of every polyline."""
    out = []
    for e in ET.fromstring(svg).iter(f"{SVG}polyline"):
        pts = [tuple(float(c) for c in p.split(",")) for p in e.attrib["points"].split()]
        out.append((e.attrib["stroke"], pts))
    return out


def _bars(svg: str) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) of the distribution's bars."""
    root = ET.fromstring(svg)
    (group,) = [g for g in root.iter(f"{SVG}g") if g.attrib.get("fill") == DISTRIBUTION_COLOR]
    return [tuple(float(r.attrib[k]) for k in ("x", "y", "width", "height")) for r in group.iter(f"{SVG}rect")]


def _texts(svg: str) -> list[str]:
    return ["".join(e.itertext()) for e in ET.fromstring(svg).iter(f"{SVG}text")]


def _affine(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(a, b) with ys = a + b * xs, from the two extreme points; asserts the rest fit (to SVG's 0.01)."""
    i, j = xs.index(min(xs)), xs.index(max(xs))
    b = (ys[j] - ys[i]) / (xs[j] - xs[i])
    a = ys[i] - b * xs[i]
    for x, y in zip(xs, ys, strict=True):
        assert y == pytest.approx(a + b * x, abs=0.011)
    return a, b


def test_pdp_only_folder_renders_the_pdp_section_alone():
    report = load_report(PDP_ONLY)
    assert not report.has_shap and report.records == () and report.pdp is not None
    entries = _entries(PDP_ONLY)
    age, animal = report.pdp.charts
    assert (age.feature_name, age.categorical, age.feature_values) == (
        "Age",
        False,
        tuple(entries[0]["feature_values"]),
    )
    assert age.data_distribution == tuple(entries[0]["data_distribution"])
    assert age.model_predictions == tuple(tuple(p) for p in entries[0]["model_predictions"])
    assert (animal.categorical, animal.label_headers) == (True, ("cat_lover", "dog_lover"))
    ((name, data_type, error),) = [(n.feature_name, n.data_type, n.error) for n in report.pdp.notes]
    assert (name, data_type, error) == ("text_column", "free_text", PDP_ERROR)
    items = dict(report.summary.items)
    assert items["Method"] == "partial dependence (PDP)"
    assert items["PDP features"] == "Age, Animal (not computed: text_column)"
    assert items["PDP grid_resolution"] == "3" and items["Labels"] == "label0, cat_lover, dog_lover"
    assert "Coalitions per record" not in items and "Aggregation (agg_method)" not in items
    html = render_html(report)
    assert 'class="oc-pdp"' in html and "<h2>Partial dependence (PDP)</h2>" in html
    assert 'class="oc-global"' not in html and 'class="oc-local"' not in html  # no SHAP: no SHAP sections
    assert len(_svgs(html)) == 2


def test_shap_and_pdp_folder_shows_every_section_in_order():
    report = load_report(SHAP_PDP)
    plain = load_report(TABULAR)
    assert report.has_shap and report.pdp is not None and len(report.pdp.charts) == 2
    assert report.records == plain.records and report.global_view == plain.global_view
    assert dict(report.summary.items)["Method"] == "Kernel SHAP; partial dependence (PDP)"
    html = render_html(report)
    positions = [html.index(f'<section class="oc-{s}"') for s in ("summary", "global", "pdp", "local")]
    assert positions == sorted(positions)
    # the SHAP sections are the ones a SHAP-only report shows
    section = re.compile(r'<section class="oc-(?:global|local)">.*?</section>\n(?=<section|</div>)', re.S)
    assert section.findall(html) == section.findall(render_html(plain))


def test_numerical_polyline_and_bars_are_the_values():
    (age, _) = load_report(PDP_ONLY).pdp.charts
    entry = _entries(PDP_ONLY)[0]
    svg = age.svg()
    ((stroke, points),) = _points(svg)  # one label: one line
    assert stroke == LINE_COLORS[0]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert len(points) == len(entry["feature_values"])
    _, x_slope = _affine(entry["feature_values"], xs)  # x placed by value
    _, y_slope = _affine(entry["model_predictions"][0], ys)  # y by prediction, higher up
    assert x_slope > 0 and y_slope < 0
    bars = _bars(svg)
    assert len(bars) == 3
    ratios = [h / d for (_, _, _, h), d in zip(bars, entry["data_distribution"], strict=True)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-3)  # heights proportional to the distribution
    assert len({round(y + h, 2) for _, y, _, h in bars}) == 1  # on one baseline
    assert [x + w / 2 for x, _, w, _ in bars] == pytest.approx(xs, abs=0.011)  # under the line's points
    assert min(y for _, y, _, _ in bars) > max(ys)  # beneath the lines
    circles = [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in ET.fromstring(svg).iter(f"{SVG}circle")]
    assert circles == points


def test_categorical_chart_has_one_line_per_label_over_evenly_spaced_categories():
    (_, animal) = load_report(PDP_ONLY).pdp.charts
    entry = _entries(PDP_ONLY)[1]
    svg = animal.svg()
    lines = _points(svg)
    assert [stroke for stroke, _ in lines] == list(LINE_COLORS[:2])
    xs = [p[0] for p in lines[0][1]]
    assert xs == [p[0] for p in lines[1][1]]  # both labels over the same categories
    # one mapping of prediction to height for every line of the chart
    predictions = entry["model_predictions"][0] + entry["model_predictions"][1]
    _, slope = _affine(predictions, [p[1] for p in lines[0][1] + lines[1][1]])
    assert slope < 0
    texts = _texts(svg)
    assert {"Cat", "Dog", "cat_lover", "dog_lover", "data distribution", "Animal"} <= set(texts)
    bars = _bars(svg)
    assert bars[1][3] / bars[0][3] == pytest.approx(0.9 / 0.1, rel=1e-3)
    # categories evenly spaced, in file order, their names under them
    three = PdpChart("t", "feature", ("b", "a", "c"), (0.2, 0.3, 0.5), ((1.0, 3.0, 2.0),), ("l",), categorical=True)
    ((_, points),) = _points(three.svg())
    gaps = [q[0] - p[0] for p, q in zip(points, points[1:], strict=False)]
    assert gaps[0] == pytest.approx(gaps[1], abs=0.011) and gaps[0] > 0
    assert [t for t in _texts(three.svg()) if t in "abc"] == ["b", "a", "c"]


def test_legend_names_each_label_in_its_line_colour():
    chart = PdpChart(
        "t",
        "x",
        (1.0, 2.0),
        (0.5, 0.5),
        tuple((0.1 * k, 0.2 * k) for k in range(9)),
        tuple(f"class_{k}" for k in range(9)),
        categorical=False,
    )
    root = ET.fromstring(chart.svg())
    legend_lines = [e.attrib["stroke"] for e in root.iter(f"{SVG}line") if e.attrib.get("stroke-width") == "2"]
    assert legend_lines == [LINE_COLORS[k % len(LINE_COLORS)] for k in range(9)]
    assert [s for s, _ in _points(chart.svg())] == legend_lines
    texts = _texts(chart.svg())
    assert [t for t in texts if t.startswith("class_")] == [f"class_{k}" for k in range(9)]
    assert "data distribution" in texts
    width = float(root.attrib["width"])
    xs = [float(e.attrib["x"]) for e in root.iter(f"{SVG}text")]
    assert max(xs) < width  # the legend wraps onto more rows instead of running off the chart


def test_error_entry_is_a_short_note():
    html = render_html(load_report(SHAP_PDP))
    (note,) = re.findall(r'<p class="oc-note oc-pdp-error"[^>]*>(.*?)</p>', html)
    assert note == f"PDP not computed for 'text_column' (free_text): {PDP_ERROR}"
    assert all("text_column" not in svg for svg in _svgs(html))  # no chart for it


def test_values_table_holds_every_number():
    html = render_html(load_report(PDP_ONLY))
    entries = _entries(PDP_ONLY)
    tables = re.findall(r"<table>.*?</table>", html.split('class="oc-pdp"')[1], re.S)
    assert len(tables) == 2
    for table, entry in zip(tables, entries, strict=False):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
        assert len(rows) == len(entry["feature_values"])
        for i, row in enumerate(rows):
            values = [float(v) for v in re.findall(r'data-value="([^"]+)"', row)]
            expected = [entry["data_distribution"][i]] + [p[i] for p in entry["model_predictions"]]
            if entry["data_type"] == "numerical":
                expected.insert(0, entry["feature_values"][i])
            assert values == expected
    # the PDF's page leaves the tables out, as for the other charts
    from openclarify.report._html import render_page

    assert "<table>" not in render_page(load_report(PDP_ONLY), for_print=True)


def _hostile_pdp_folder(tmp_path: Path) -> Path:
    out = tmp_path / "hostile"
    out.mkdir()
    pdp = [
        {
            "feature_name": "<script>window.__pwned = 1</script>",
            "data_type": "categorical",
            "feature_values": ["</svg><script>alert(1)</script>", '<img src=x onerror="x()">', "costs $5 and $6"],
            "data_distribution": [0.2, 0.3, 0.5],
            "model_predictions": [[0.1, 0.2, 0.3]],
            "label_headers": ['<b>pos</b> & "q"'],
        },
        {"feature_name": "<i>notes</i>", "data_type": "free_text", "error": "<script>bad()</script> & more"},
    ]
    (out / "analysis.json").write_text(json.dumps({"version": "1.0", "explanations": {"pdp": pdp}}))
    return out


def test_text_from_the_data_is_escaped_everywhere(tmp_path):
    report = load_report(_hostile_pdp_folder(tmp_path))
    html = render_html(report)
    tags = elements(html)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "b", "i")]
    assert not [a for _, a in tags for k in a if k.startswith("on")]
    assert all(a["src"].startswith("data:image/svg+xml;base64,") for t, a in tags if t == "img")
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert (
        "PDP not computed for '&lt;i&gt;notes&lt;/i&gt;' (free_text): &lt;script&gt;bad()&lt;/script&gt; &amp; more"
        in html
    )
    assert "&lt;b&gt;pos&lt;/b&gt; &amp; &#34;q&#34;" in html  # a table header
    (svg,) = _svgs(html)
    root = ET.fromstring(svg)  # well-formed: nothing closed it early
    assert not [e for e in root.iter() if e.tag.endswith("script") or any(k.startswith("on") for k in e.attrib)]
    texts = _texts(svg)
    assert any(t.startswith("</svg><scr") and t.endswith("…") for t in texts)  # a long category, cut to fit
    assert "<td>&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>" in html  # whole in the table
    assert '<b>pos</b> & "q"' in texts and "costs $5 and $6" in texts
    assert "Partial dependence on '<script>window.__pwned = 1</script>'" in texts


def test_notebook_shows_the_same_views(tmp_path, monkeypatch):
    names = {"global": "## Global explanations", "pdp": "## Partial dependence (PDP)", "local": "## Local"}
    for source, sections in ((PDP_ONLY, ["pdp"]), (SHAP_PDP, ["global", "pdp", "local"])):
        folder = tmp_path / source.name
        shutil.copytree(source, folder)
        code_cells = checked_notebook(folder, sections, names, monkeypatch)
        assert "report.pdp" in [c.source for c in code_cells]
        (pdp_cell,) = [c for c in code_cells if c.source == "report.pdp"]
        fragment = pdp_cell.outputs[0]["data"]["text/html"]
        assert fragment.startswith("<style>") and 'class="oc-pdp"' in fragment and "oc-pdp-error" in fragment


@pytest.mark.parametrize("folder", [TABULAR, TEXT])
def test_reports_without_pdp_have_no_pdp_section(folder):
    report = load_report(folder)
    assert report.pdp is None and report.has_shap
    for text in (render_html(report), render_notebook(report)):
        assert "oc-pdp" not in text and "Partial dependence" not in text and "report.pdp" not in text
    assert "partial dependence" not in dict(report.summary.items)["Method"]


def test_report_command_renders_a_clarify_pdp_job(tmp_path, capsys):
    from openclarify.cli import main

    for source in (PDP_ONLY, SHAP_PDP):
        folder = tmp_path / source.name
        shutil.copytree(source, folder)
        assert main(["report", str(folder), "--format", "html,ipynb"]) == 0
        err = capsys.readouterr().err
        assert f"wrote {folder / 'report.html'}" in err and f"wrote {folder / 'report.ipynb'}" in err
        html = (folder / "report.html").read_text()
        section = html.split('<section class="oc-pdp">')[1].split("</section>")[0]
        assert "<h2>Partial dependence (PDP)</h2>" in section and len(_svgs(section)) == 2
        assert ("oc-local" in html) == (source is SHAP_PDP)
    assert "partial dependence results and no SHAP values" in (tmp_path / PDP_ONLY.name / "report.html").read_text()


def test_pdf_of_a_pdp_job():
    pytest.importorskip("weasyprint")
    from openclarify.errors import MissingDependencyError
    from openclarify.report import render_pdf

    try:
        data = render_pdf(load_report(PDP_ONLY))
    except MissingDependencyError as exc:  # WeasyPrint without Pango
        pytest.skip(str(exc))
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")


def test_charts_of_odd_grids_stay_finite_and_deterministic():
    single = PdpChart("t", "x", (5.0,), (1.0,), ((0.3,),), ("l",), categorical=False)
    flat = PdpChart("t", "x", (0.0, 1.0, 2.0), (0.0, 0.0, 0.0), ((0.5, 0.5, 0.5),), ("l",), categorical=False)
    unsorted = PdpChart("t", "x", (3.0, 1.0, 2.0), (0.2, 0.3, 0.5), ((3.0, 1.0, 2.0),), ("l",), categorical=False)
    many = PdpChart(
        "t",
        "x",
        tuple(f"category number {i} with a long name" for i in range(200)),
        tuple(0.005 for _ in range(200)),
        (tuple(float(i) for i in range(200)),),
        ("l",),
        categorical=True,
    )
    for chart in (single, flat, unsorted, many):
        svg = chart.svg()
        assert svg == PdpChart(*(getattr(chart, f) for f in PdpChart.__dataclass_fields__)).svg()
        root = ET.fromstring(svg)
        width, height = float(root.attrib["width"]), float(root.attrib["height"])
        for _, points in _points(svg):
            assert all(0 <= x <= width and 0 <= y <= height for x, y in points)
    assert _bars(flat.svg()) == []  # no records: no bars
    ((_, points),) = _points(unsorted.svg())
    assert [p[0] for p in points] == sorted(p[0] for p in points)  # drawn along the axis
    _affine([1.0, 2.0, 3.0], [p[1] for p in points])  # the predictions follow their values
    shown = [t for t in _texts(many.svg()) if t.startswith("categ")]
    assert 0 < len(shown) < 200  # every few names, each cut to fit


def test_matplotlib_figure_draws_the_same_lines():
    pytest.importorskip("matplotlib")
    (_, animal) = load_report(PDP_ONLY).pdp.charts
    fig = animal.figure()
    ax, band = fig.axes
    assert [tuple(line.get_ydata()) for line in ax.get_lines()] == list(animal.model_predictions)
    assert [line.get_label() for line in ax.get_lines()] == ["cat_lover", "dog_lover"]
    assert [p.get_height() for p in band.patches] == list(animal.data_distribution)


def test_pdp_reports_in_a_browser_load_clean_and_fit_a_phone(tmp_path):
    from support.browser import HeadlessChromium, require_chromium

    folders = [PDP_ONLY, SHAP_PDP, _hostile_pdp_folder(tmp_path)]
    with HeadlessChromium(require_chromium()) as browser:
        for source in folders:
            html = tmp_path / f"{source.name}.html"
            html.write_text(render_html(load_report(source)), encoding="utf-8")
            for width, mobile in ((1280, False), (390, True)):
                page = browser.open(html, width=width, height=844, mobile=mobile)
                assert page.errors == [] and page.console == []
                own = html.resolve().as_uri()
                assert [u for u in page.network_requests if u != own and not u.startswith("data:")] == []
                layout = browser.evaluate("""(() => {
                  const imgs = [...document.querySelectorAll('.oc-pdp img')];
                  return {page: document.documentElement.scrollWidth, pwned: window.__pwned || 0,
                          drawn: imgs.map(i => i.complete && i.naturalWidth > 0),
                          widths: imgs.map(i => i.getBoundingClientRect().width),
                          notes: document.querySelectorAll('.oc-pdp-error').length};
                })()""")
                assert layout["page"] <= width and layout["pwned"] == 0
                assert layout["drawn"] and all(layout["drawn"]) and layout["notes"] == 1
                assert all(0 < w <= width for w in layout["widths"])
