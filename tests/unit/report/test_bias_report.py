"""The bias section: one table per stage, facet and group, equal to analysis.json's bias metrics."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from openclarify.report import BIAS_METRIC_NOTES, load_report, render_html, render_notebook
from support.html import elements
from support.notebook import checked_notebook

HERE = Path(__file__).resolve().parent
BIAS_ONLY = HERE / "data" / "clarify_job_bias"
SHAP_BIAS = HERE / "data" / "clarify_job_shap_bias"
TABULAR = HERE.parents[1] / "compat" / "data" / "clarify_job_tabular"
PDP_ONLY = HERE / "data" / "clarify_job_pdp"
NO_GROUP = "Group variable is empty or not provided"
HEAD = "<thead><tr><th>Metric</th><th>Description</th><th>Value</th><th>What it means / ideal value</th></tr></thead>"


def _section(html: str) -> str:
    return html.split('<section class="oc-bias">')[1].split("</section>")[0]


def test_bias_only_folder_renders_the_bias_section_alone():
    report = load_report(BIAS_ONLY)
    assert not report.has_shap and report.records == () and report.pdp is None and report.bias is not None
    pre, post = report.bias.stages
    assert (pre.stage, pre.title, post.stage, post.title) == (
        "pre_training",
        "Pre-training bias metrics",
        "post_training",
        "Post-training bias metrics",
    )
    assert [(t.facet, t.group) for t in pre.tables] == [("Sex", "0"), ("Race", "White"), ("Race", "Black")]
    assert [(t.facet, t.group) for t in post.tables] == [("Sex", "0")]
    assert [(r.name, r.text, r.data_value, r.error) for r in post.tables[0].rows] == [
        ("AD", "-0.1516", "-0.15156641604010024", None),
        ("CDDPL", NO_GROUP, "", NO_GROUP),
        ("DCR", "0", "0.0", None),
        ("DI", "∞", "Infinity", None),
        ("DPPL", "0.2199", "0.2199248120300752", None),
        ("TE", "-∞", "-Infinity", None),
    ]
    items = dict(report.summary.items)
    assert items["Method"] == "pre-training bias metrics; post-training bias metrics"
    assert items["Bias label"] == "Target (positive label value or threshold 1)"
    assert items["Facets"] == "Sex, Race" and "Labels" not in items and "Coalitions per record" not in items
    assert "The folder holds bias metrics and no SHAP values, so no record is shown." in report.summary.notes

    html = render_html(report)
    assert "<h2>Bias metrics</h2>" in html and "<h3>Pre-training bias metrics</h3>" in html
    for absent in ('class="oc-global"', 'class="oc-local"', 'class="oc-pdp"', "<img", "Global explanations"):
        assert absent not in html  # no SHAP or PDP: no empty headings, no charts
    section = _section(html)
    assert section.index("Pre-training bias metrics") < section.index("Post-training bias metrics")
    assert section.count(HEAD) == 4
    assert "<dt>Label</dt><dd>Target</dd>\n<dt>Positive label value or threshold</dt><dd>1</dd>" in section
    assert (
        '<table class="oc-bias-table" data-facet="Race" data-group="Black">\n'
        "<caption>Facet Race, sensitive group Black</caption>"
    ) in section
    assert (
        '<tr data-metric="CI"><td>CI</td><td>Class Imbalance (CI)</td>'
        '<td class="oc-num" data-value="0.36936936936936937">0.3694</td>'
        '<td class="oc-meaning">Difference in group sizes, (n_a − n_d)/(n_a + n_d); positive: the group is the '
        "smaller one. Ideal 0, range [-1, 1].</td></tr>"
    ) in section
    assert (
        '<tr data-metric="DI"><td>DI</td><td>Disparate Impact (DI)</td>'
        '<td class="oc-num" data-value="Infinity">∞</td>'
        '<td class="oc-meaning">Positive-prediction rate of the group divided by the other rows&#39;; below 1: the '
        "group is predicted positive less often. Ideal 1, range [0, ∞).</td></tr>"
    ) in section
    assert '<td class="oc-num" data-value="-Infinity">-∞</td>' in section
    assert (
        '<tr data-metric="CDDPL"><td>CDDPL</td><td>Conditional Demographic Disparity in Predicted Labels (CDDPL)</td>'
        f'<td class="oc-error">{NO_GROUP}</td>'
    ) in section
    assert '<td class="oc-num" data-value="0.125">0.125</td>' in section


def test_every_value_of_the_file_is_in_its_table():
    html = render_html(load_report(BIAS_ONLY))
    analysis = json.loads((BIAS_ONLY / "analysis.json").read_text())
    tables = re.findall(
        r'<table class="oc-bias-table" data-facet="([^"]+)" data-group="([^"]+)">(.*?)</table>', html, re.S
    )
    expected = []
    for key in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        for facet, groups in analysis[key]["facets"].items():
            for group in groups:
                values = [m["value"] if m["value"] is not None else m["error"] for m in group["metrics"]]
                expected.append((facet, group["value_or_threshold"], [m["name"] for m in group["metrics"]], values))
    shown = []
    for facet, group, table in tables:
        names = re.findall(r'<tr data-metric="([^"]+)">', table)
        cells = re.findall(r'<td class="oc-(?:num" data-value="([^"]*)"|error")>([^<]*)</td>', table)
        values: list[object] = []
        for data_value, text in cells:
            if not data_value:
                values.append(text)
            elif data_value in ("Infinity", "-Infinity"):
                values.append(data_value)
            else:
                values.append(float(data_value))
        shown.append((facet, group, names, values))
    assert shown == expected


def test_every_metric_of_clarify_has_a_meaning_and_an_ideal_value():
    pre = {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL"}
    post = {"DPPL", "DI", "DCA", "DCR", "RD", "SD", "DAR", "DRR", "AD", "CDDPL", "TE", "FT", "GE"}
    assert set(BIAS_METRIC_NOTES) == pre | post
    assert all(meaning and ideal.startswith(("0, range", "1, range")) for meaning, ideal in BIAS_METRIC_NOTES.values())
    assert BIAS_METRIC_NOTES["DI"][1] == "1, range [0, ∞)" and BIAS_METRIC_NOTES["CI"][1] == "0, range [-1, 1]"


def test_shap_and_bias_folder_shows_both():
    report = load_report(SHAP_BIAS)
    plain = load_report(TABULAR)
    assert report.has_shap and report.bias is not None and report.records == plain.records
    assert [s.stage for s in report.bias.stages] == ["post_training"]
    items = dict(report.summary.items)
    assert items["Method"] == "Kernel SHAP; post-training bias metrics" and items["Labels"] == "label0"
    html = render_html(report)
    positions = [html.index(f'<section class="oc-{s}"') for s in ("summary", "bias", "global", "local")]
    assert positions == sorted(positions)
    assert "<h3>Pre-training bias metrics</h3>" not in html and "<h3>Post-training bias metrics</h3>" in html
    section = re.compile(r'<section class="oc-(?:global|local)">.*?</section>\n(?=<section|</div>)', re.S)
    assert section.findall(html) == section.findall(render_html(plain))  # the SHAP sections as before


@pytest.mark.parametrize("folder", [TABULAR, PDP_ONLY])
def test_reports_without_bias_have_no_bias_section(folder):
    report = load_report(folder)
    assert report.bias is None
    for text in (render_html(report), render_notebook(report)):
        assert 'class="oc-bias' not in text and "Bias metrics" not in text and "report.bias" not in text
    assert "bias" not in dict(report.summary.items)["Method"]


def test_the_pdf_page_keeps_the_tables():
    from openclarify.report._html import render_page

    page = render_page(load_report(BIAS_ONLY), for_print=True)
    assert page.count('<table class="oc-bias-table"') == 4 and '<td class="oc-num" data-value="Infinity">∞</td>' in page


def test_text_from_the_data_is_escaped(tmp_path):
    out = tmp_path / "hostile"
    out.mkdir()
    metric = {"name": "<b>CI</b>", "description": "<script>window.__pwned = 1</script>", "value": None}
    metric["error"] = '<img src=x onerror="x()"> & more'
    section = {
        "label": "<i>Target</i>",
        "facets": {'<script>alert("f")</script>': [{"value_or_threshold": '"><b>g</b>', "metrics": [metric]}]},
        "label_value_or_threshold": "<u>1</u>",
    }
    (out / "analysis.json").write_text(json.dumps({"version": "1.0", "pre_training_bias_metrics": section}))
    html = render_html(load_report(out))
    tags = elements(html)
    assert not [t for t, _ in tags if t in ("script", "img", "b", "i", "u")]
    assert not [a for _, a in tags for k in a if k.startswith("on")]
    assert '<td class="oc-error">&lt;img src=x onerror=&#34;x()&#34;&gt; &amp; more</td>' in html
    assert "<caption>Facet &lt;script&gt;alert(&#34;f&#34;)&lt;/script&gt;, sensitive group &#34;&gt;&lt;b&gt;g" in html
    assert "<td>&lt;script&gt;window.__pwned = 1&lt;/script&gt;</td>" in html
    assert '<td class="oc-meaning"></td>' in html  # an unknown metric: nothing made up


def test_notebook_shows_the_same_views(tmp_path, monkeypatch):
    names = {"bias": "## Bias metrics", "global": "## Global explanations", "local": "## Local"}
    for source, sections in ((BIAS_ONLY, ["bias"]), (SHAP_BIAS, ["bias", "global", "local"])):
        folder = tmp_path / source.name
        shutil.copytree(source, folder)
        code_cells = checked_notebook(folder, sections, names, monkeypatch)
        (bias_cell,) = [c for c in code_cells if c.source == "report.bias"]
        fragment = bias_cell.outputs[0]["data"]["text/html"]
        assert fragment.startswith("<style>") and 'class="oc-bias"' in fragment
        assert '<td class="oc-num" data-value="Infinity">∞</td>' in fragment and NO_GROUP in fragment


def test_report_command_renders_a_bias_only_job(tmp_path, capsys):
    from openclarify.cli import main

    folder = tmp_path / BIAS_ONLY.name
    shutil.copytree(BIAS_ONLY, folder)
    assert main(["report", str(folder), "--format", "html,ipynb"]) == 0
    err = capsys.readouterr().err
    assert f"wrote {folder / 'report.html'}" in err and f"wrote {folder / 'report.ipynb'}" in err
    html = (folder / "report.html").read_text()
    assert "<h2>Bias metrics</h2>" in html and html.count('<table class="oc-bias-table"') == 4


def test_pdf_of_a_bias_job():
    pytest.importorskip("weasyprint")
    from openclarify.errors import MissingDependencyError
    from openclarify.report import render_pdf

    for folder in (BIAS_ONLY, SHAP_BIAS):
        try:
            data = render_pdf(load_report(folder))
        except MissingDependencyError as exc:  # WeasyPrint without Pango
            pytest.skip(str(exc))
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")


def test_bias_reports_in_a_browser_load_clean_and_fit_a_phone(tmp_path):
    from support.browser import HeadlessChromium, require_chromium

    with HeadlessChromium(require_chromium()) as browser:
        for source in (BIAS_ONLY, SHAP_BIAS):
            html = tmp_path / f"{source.name}.html"
            html.write_text(render_html(load_report(source)), encoding="utf-8")
            for width, mobile in ((1280, False), (390, True)):
                page = browser.open(html, width=width, height=844, mobile=mobile)
                assert page.errors == [] and page.console == []
                layout = browser.evaluate("""(() => {
                  const tables = [...document.querySelectorAll('.oc-bias-table')];
                  return {page: document.documentElement.scrollWidth,
                          boxes: tables.map(t => t.parentElement.getBoundingClientRect().right)};
                })()""")
                assert layout["page"] <= width
                assert layout["boxes"] and all(0 < right <= width for right in layout["boxes"])
