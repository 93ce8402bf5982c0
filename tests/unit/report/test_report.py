"""Reports: colours as captum draws them, content equal to the output files, escaping, notebook, files."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from openclarify.errors import MissingDependencyError, ReportError
from openclarify.report import (
    BarChart,
    attribution_color,
    load_report,
    render_html,
    render_notebook,
    scale_attributions,
    write_reports,
)
from support.html import elements

DATA = Path(__file__).resolve().parents[2] / "compat" / "data"
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned=2">',
    "</svg><script>alert(1)</script>",
    "costs $5 and $6",
    "a & b \" ' `",
]


def _svgs(html: str) -> list[str]:
    return [base64.b64decode(m).decode() for m in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]


@pytest.mark.parametrize(
    ("value", "color"),
    [
        (1.0, "hsl(120, 75%, 50%)"),
        (0.5, "hsl(120, 75%, 75%)"),
        (0.01, "hsl(120, 75%, 100%)"),
        (0.0, "hsl(0, 75%, 100%)"),
        (-0.5, "hsl(0, 75%, 80%)"),
        (-1.0, "hsl(0, 75%, 60%)"),
        (3.0, "hsl(120, 75%, 50%)"),
        (-3.0, "hsl(0, 75%, 60%)"),
    ],
)
def test_colors_are_captums(value, color):
    assert attribution_color(value) == color


def test_colors_match_captum_itself():
    pytest.importorskip("captum")
    from captum.attr import visualization

    for value in (-1.0, -0.73, -0.2, 0.0, 0.05, 0.5, 0.99, 1.0):
        assert attribution_color(value) == visualization._get_color(value)


def test_chart_bars_are_the_strongest_shades():
    import colorsys

    from openclarify.report._colors import NEGATIVE_COLOR, POSITIVE_COLOR

    for hue, lightness, color in ((120, 0.5, POSITIVE_COLOR), (0, 0.6, NEGATIVE_COLOR)):
        r, g, b = colorsys.hls_to_rgb(hue / 360, lightness, 0.75)
        rgb = (int(round(255 * c, 9) + 0.5) for c in (r, g, b))  # half up, as browsers round
        assert color == "#{:02x}{:02x}{:02x}".format(*rgb)


def test_scaling_divides_by_the_largest_magnitude():
    assert scale_attributions([0.2, -0.4, 0.1]) == [0.5, -1.0, 0.25]
    assert scale_attributions([0.0, 0.0]) == [0.0, 0.0]
    assert scale_attributions([]) == []


def test_clarify_text_job_report_matches_its_files():
    report = load_report(DATA / "clarify_job_text", records=[0, 3])
    lines = (DATA / "clarify_job_text" / "explanations_shap" / "out.jsonl").read_text().splitlines()
    analysis = json.loads((DATA / "clarify_job_text" / "analysis.json").read_text())["explanations"]["kernel_shap"]
    assert [r.row for r in report.records] == [0, 3] and report.kind == "text" and report.language == "en"
    for record in report.records:
        units = json.loads(lines[record.row])["explanations"][0]["attributions"]
        (feature,) = record.text_features
        assert [u.text for u in feature.units] == [u["description"]["partial_text"] for u in units]
        assert [u.value for u in feature.units] == [u["attribution"][0] for u in units]
        top = max(abs(u["attribution"][0]) for u in units)
        for view, unit in zip(feature.units, units, strict=True):
            assert view.scaled == pytest.approx(unit["attribution"][0] / top, abs=1e-15)
            assert view.color.startswith("hsl(120," if unit["attribution"][0] > 0 else "hsl(0,")
        # gaps: each unit starts where out.jsonl says, in the text rebuilt from gaps and units
        rebuilt, starts = "", []
        for view in feature.units:
            rebuilt += view.gap
            starts.append(len(rebuilt))
            rebuilt += view.text
        assert starts == [u["description"]["start_idx"] for u in units]
        assert record.chart is not None and record.chart.orientation == "v"
        assert list(record.chart.values) == [u["attribution"][0] for u in units]
        assert record.attribution_sum == pytest.approx(sum(u["attribution"][0] for u in units), abs=1e-15)
        # no scores in a Clarify folder: expected_value + Σφ, said to be an estimate
        assert record.prediction_source == "estimate"
        assert record.score == pytest.approx(analysis["label0"]["expected_value"] + record.attribution_sum)
    (chart,) = report.global_view.charts
    assert chart.names == ("Review Text",)
    assert chart.values == (analysis["label0"]["global_shap_values"]["Review Text"],)
    (text_chart,) = report.global_view.text_charts
    assert list(text_chart.values) == list(analysis["label0"]["global_top_shap_text"]["Review Text"].values())[:20]
    html = render_html(report)
    assert "The folder has no run_summary.json" in html
    assert "Showing 2 of 6 records: records 0, 3" in html
    assert "estimated as expected_value + Σφ" in html
    assert html.count('<div class="oc-text" dir="auto" lang="en">') == 2


def test_clarify_tabular_job_report_is_exact():
    report = load_report(DATA / "clarify_job_tabular")
    assert report.kind == "tabular" and len(report.records) == 5
    record = report.records[2]
    assert record.tabular_features == (("Age", 0.1022), ("Workclass", 0.0118), ("fnlwgt", 0.0254))
    assert record.prediction_source == "exact"  # tabular Kernel SHAP: expected_value + Σφ = f(x)
    assert record.score == pytest.approx(0.0006380207487381995 + 0.1394)
    assert record.chart is not None and record.chart.names == ("Age", "fnlwgt", "Workclass")  # by |value|
    (chart,) = report.global_view.charts
    assert chart.names == ("Age", "fnlwgt", "Workclass")
    assert chart.values == (0.03655626472022009, 0.021385894167534045, 0.017905832546722414)
    html = render_html(report)
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', html.split('class="oc-local"')[0])]
    assert values[:3] == list(chart.values)


def _hostile_folder(tmp_path: Path) -> Path:
    out = tmp_path / "hostile"
    (out / "explanations_shap").mkdir(parents=True)
    labels = ["<b>pos</b>", "neg"]
    section = {
        lab: {
            "global_shap_values": {"<i>Review</i>": 0.5},
            "expected_value": 0.5,
            "global_top_shap_text": {"<i>Review</i>": {t: 0.1 * (i + 1) for i, t in enumerate(HOSTILE)}},
        }
        for lab in labels
    }
    (out / "analysis.json").write_text(json.dumps({"version": "1.0", "explanations": {"kernel_shap": section}}))
    units, start = [], 0
    for i, text in enumerate(HOSTILE):
        units.append({"attribution": [0.1 * (i - 2), -0.1], "description": {"partial_text": text, "start_idx": start}})
        start += len(text) + 1
    record = {"explanations": [{"feature_name": "<i>Review</i>", "data_type": "free_text", "attributions": units}]}
    record["join_source_value"] = "<script>id</script>"
    (out / "explanations_shap" / "out.jsonl").write_text(json.dumps(record) + "\n")
    (out / "explanations_shap" / "predictions.jsonl").write_text(
        json.dumps({"prediction": [0.7, 0.3], "label": "<script>x</script>"}) + "\n"
    )
    config = {"dataset_type": "text/csv", "methods": {"report": {"name": "report", "title": "<script>t</script>"}}}
    (out / "analysis_config.json").write_text(json.dumps(config))
    return out


def test_text_from_the_data_is_escaped_everywhere(tmp_path):
    report = load_report(_hostile_folder(tmp_path))
    html = render_html(report)
    tags = elements(html)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "b", "i")]
    assert not [a for _, a in tags for k in a if k.startswith("on")]
    assert all(a["src"].startswith("data:image/svg+xml;base64,") for t, a in tags if t == "img")
    for text in HOSTILE:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
        assert escaped.replace("'", "&#39;") in html
    assert "&lt;script&gt;t&lt;/script&gt;" in html  # the title
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert f'http-equiv="Content-Security-Policy" content="{csp}"' in html
    # the charts: data drawn as SVG text, escaped, '$' not read as mathtext
    svgs = _svgs(html)
    assert svgs
    for svg in svgs:
        root = ET.fromstring(svg)
        assert not [e for e in root.iter() if e.tag.endswith("script") or any(k.startswith("on") for k in e.attrib)]
    texts = {"".join(e.itertext()) for svg in svgs for e in ET.fromstring(svg).iter() if e.tag.endswith("text")}
    assert "costs $5 and $6" in texts and "</svg><script>alert(1)</script>" in texts


def test_notebook_reloads_the_outputs_and_draws_the_same(tmp_path, monkeypatch):
    import nbformat

    folder = tmp_path / "job"
    shutil.copytree(DATA / "clarify_job_text", folder)
    report = load_report(folder, records=[1, 4])
    nb = nbformat.reads(render_notebook(report), as_version=4)
    nbformat.validate(nb)
    monkeypatch.chdir(folder)  # Jupyter runs a notebook in its folder
    namespace: dict[str, object] = {}
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code_cells) == 2 + len(report.records)
    for cell in code_cells:
        *body, last = cell.source.strip().splitlines()
        exec("\n".join(body), namespace)  # noqa: S102 - the notebook's own code
        shown = eval(last.split("#")[0], namespace)  # noqa: S307
        assert shown._repr_html_() == cell.outputs[0]["data"]["text/html"]
    assert "report.records[1]  # record 4" in code_cells[-1].source


def test_repr_html_and_captum_records():
    report = load_report(DATA / "clarify_job_text", records=[0])
    record = report.records[0]
    for view in (report, report.summary, report.global_view, record):
        fragment = view._repr_html_()
        assert fragment.startswith("<style>") and 'class="oc-report"' in fragment
    assert 'id="record-0"' in record._repr_html_()
    (captum_record,) = report.to_captum()
    units = record.text_features[0].units
    assert captum_record.raw_input_ids == tuple(u.text for u in units)
    assert captum_record.word_attributions == tuple(u.scaled for u in units)
    assert max(abs(v) for v in captum_record.word_attributions) == 1.0
    assert captum_record.attr_class == "label0" and captum_record.attr_score == record.attribution_sum
    assert captum_record.pred_prob == record.score


def test_captum_visualize_text_accepts_the_records():
    pytest.importorskip("captum")
    pytest.importorskip("IPython")
    from captum.attr import visualization

    records = [r.to_captum() for r in load_report(DATA / "clarify_job_text", records=[0, 1]).to_captum()]
    assert all(isinstance(r, visualization.VisualizationDataRecord) for r in records)
    html = visualization.visualize_text(records).data
    assert "i love this dress!" in html and html.count("<mark") >= 2


def test_write_reports_names_and_missing_pdf_renderer(tmp_path, monkeypatch):
    report = load_report(DATA / "clarify_job_tabular")
    with pytest.raises(ReportError, match="must be a plain file name; got '../x'"):
        write_reports(report, tmp_path, name="../x")
    for name in (".hidden", "a\\b", "x" * 201):  # the rule of methods.report.name
        with pytest.raises(ReportError, match="must be a plain file name"):
            write_reports(report, tmp_path, name=name)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'openclarify\[pdf\]'"):
        write_reports(report, tmp_path, name="r")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.ipynb"]  # the others are written


def test_pdf_is_a_pdf(tmp_path):
    pytest.importorskip("weasyprint")
    (path,) = write_reports(load_report(DATA / "clarify_job_tabular"), tmp_path, formats=["pdf"])
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary file left


def test_bar_chart_is_deterministic_and_keeps_every_value():
    chart = BarChart("t", ("a", "b $x$"), (0.5, -0.25))
    assert chart.svg() == BarChart("t", ("a", "b $x$"), (0.5, -0.25)).svg()
    assert chart.pairs() == [("a", 0.5), ("b $x$", -0.25)]
    assert "b $x$" in chart.svg()


def test_report_command_says_what_each_file_cost_and_writes_the_rest_without_weasyprint(tmp_path, capsys, monkeypatch):
    from openclarify.cli import main

    folder = tmp_path / "job"
    shutil.copytree(DATA / "clarify_job_tabular", folder)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint -> ImportError
    code = main(["report", str(folder), "--format", "html,pdf,ipynb"])
    err = capsys.readouterr().err
    assert code != 0 and "report.pdf needs the optional dependency 'weasyprint'" in err
    for name in ("report.html", "report.ipynb"):
        assert re.search(rf"openclarify: wrote {re.escape(str(folder / name))} in \d+\.\d s", err), err
    assert not (folder / "report.pdf").exists()
