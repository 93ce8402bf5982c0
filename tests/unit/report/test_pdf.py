"""report.pdf: the system libraries it needs, what WeasyPrint reports, and a layout that packs pages.

The machine may or may not have HarfBuzz's subsetting library (``libharfbuzz-subset0``); the README
names only Pango. The fallback without it is forced here (in process, and in a fresh interpreter whose
dynamic loader cannot find the library), so both paths are tested on every machine.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from openclarify.errors import OpenClarifyWarning
from openclarify.report import load_report, render_report

pytest.importorskip("weasyprint")  # the [pdf] extra (make install has it)

from openclarify.report._pdf import font_subsetter, render_pdf  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "compat" / "data"
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def _pages(data: bytes) -> int:
    count = len(_PAGE.findall(data))
    for m in re.finditer(rb"stream\r?\n", data):
        try:
            count += len(_PAGE.findall(zlib.decompressobj().decompress(data[m.end() :])))
        except zlib.error:
            continue
    return count


def _in_fresh_python(code: str, *, fail_to_load: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter (warnings are errors) where every shared library whose name
    contains ``fail_to_load`` cannot be loaded, as on a machine without that Debian package."""
    prelude = f"""
        import cffi
        _dlopen = cffi.FFI.dlopen
        def dlopen(self, name, *args, **kwargs):
            if {fail_to_load!r} in str(name):
                raise OSError(f"cannot load library {{name!r}}: not installed")
            return _dlopen(self, name, *args, **kwargs)
        cffi.FFI.dlopen = dlopen
    """
    script = textwrap.dedent(prelude) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=300)


def test_fresh_machine_without_harfbuzz_subset_writes_the_pdf_quietly():
    result = _in_fresh_python(
        f"""
        import logging
        logging.basicConfig(level=logging.DEBUG)  # any record from WeasyPrint or fontTools would show
        from openclarify.report import load_report, render_report
        from openclarify.report._pdf import font_subsetter
        data = render_report(load_report({str(DATA / "clarify_job_text")!r}), "pdf")
        assert data.startswith(b"%PDF-"), data[:20]
        print(font_subsetter(), len(data))
        """,
        fail_to_load="harfbuzz-subset",
    )
    assert result.returncode == 0, result.stderr
    subsetter, size = result.stdout.split()
    assert subsetter == "fonttools"
    assert int(size) < 250_000  # fonts are subset (DejaVu Sans alone is 740 kB)
    shown = [line for line in result.stderr.splitlines() if not line.startswith("DEBUG:") and "INFO:" not in line]
    assert not [line for line in shown if "weasyprint" in line.lower() or "fonttools" in line.lower()], shown
    assert "HarfBuzz" not in result.stderr


def test_fresh_machine_without_pango_says_what_to_install():
    result = _in_fresh_python(
        f"""
        from openclarify.errors import MissingDependencyError
        from openclarify.report import load_report, write_reports
        try:
            write_reports(load_report({str(DATA / "clarify_job_tabular")!r}), {"/nonexistent"!r}, formats=["pdf"])
        except MissingDependencyError as exc:
            raise SystemExit(str(exc))
        """,
        fail_to_load="pango",
    )
    assert result.stdout == ""  # WeasyPrint's own banner stays out of the job's output
    assert "report.pdf needs the optional dependency 'weasyprint' and the Pango library" in result.stderr
    assert "apt-get install libpango-1.0-0 libpangoft2-1.0-0" in result.stderr


def test_fonttools_fallback_in_process_is_quiet_and_as_small(monkeypatch, caplog):
    import weasyprint.pdf.fonts

    report = load_report(DATA / "clarify_job_text")
    native = render_pdf(report) if font_subsetter() == "harfbuzz" else None
    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)  # what Font.subset checks
    with caplog.at_level(logging.DEBUG):
        data = render_pdf(report)
    assert data.startswith(b"%PDF-") and _pages(data) >= 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
    if native is not None:  # the same glyphs: about the same size
        assert 0.75 < len(data) / len(native) < 1.25


def test_glyphs_no_font_has_are_one_clear_warning():
    report = load_report(DATA / "clarify_job_tabular", title="Report \U0010fffd\U000f0001 \U0010fffd")
    with pytest.warns(OpenClarifyWarning) as caught:
        data = render_report(report, "pdf")
    assert data.startswith(b"%PDF-")
    (warning,) = caught
    assert str(warning.message).startswith(
        "report.pdf: no installed font has 2 of the report's characters, so the PDF shows them as empty boxes "
        "(the HTML report is not affected); got '\\U0010fffd\\U000f0001'. Install fonts that cover them"
    )


def test_other_weasyprint_problems_are_one_warning(monkeypatch, caplog):
    import openclarify.report._pdf as pdf_module

    broken = '<!DOCTYPE html><html><body><p>x</p><img src="data:image/png;base64,AAAA"></body></html>'
    monkeypatch.setattr(pdf_module, "render_page", lambda report, for_print: broken)
    with caplog.at_level(logging.DEBUG), pytest.warns(OpenClarifyWarning, match=r"WeasyPrint reported 1 problem") as w:
        render_pdf(load_report(DATA / "clarify_job_tabular"))
    assert len(w) == 1 and "Compare the PDF with the HTML report." in str(w[0].message)
    assert not [r for r in caplog.records if r.name.startswith("weasyprint") and r.levelno >= logging.WARNING]
    assert logging.getLogger("fontTools").level == logging.NOTSET  # the loggers are as they were


def test_pdf_page_leaves_out_only_the_hidden_value_tables():
    from openclarify.report._html import render_html, render_page

    report = load_report(DATA / "clarify_job_text")
    html, page = render_html(report), render_page(report, for_print=True)
    assert 'class="oc-values"' in html and 'class="oc-values"' not in page
    assert re.sub(r'\n?<details class="oc-values">.*?</details>', "", html, flags=re.S) == page


def _many_labels_folder(tmp_path: Path, n_labels: int = 14, n_records: int = 4, n_units: int = 60) -> Path:
    """A Clarify text job shaped like the DBpedia demo: 14 labels with 20 top units each, long texts."""
    out = tmp_path / "many_labels"
    (out / "explanations_shap").mkdir(parents=True)
    labels = [f"Class{k}" for k in range(n_labels)]
    section = {
        label: {
            "global_shap_values": {"Text": 0.1 + 0.01 * k},
            "expected_value": 1 / n_labels,
            "global_top_shap_text": {"Text": {f"word{k}_{i}": 0.5 / (i + 1) for i in range(20)}},
        }
        for k, label in enumerate(labels)
    }
    (out / "analysis.json").write_text(json.dumps({"version": "1.0", "explanations": {"kernel_shap": section}}))
    lines = []
    for r in range(n_records):
        units, start = [], 0
        for i in range(n_units):
            word = f"token{i}"
            values = [((i * 7 + r + k) % 11 - 5) / 50 for k in range(n_labels)]
            units.append({"attribution": values, "description": {"partial_text": word, "start_idx": start}})
            start += len(word) + 1
        lines.append(
            json.dumps({"explanations": [{"feature_name": "Text", "data_type": "free_text", "attributions": units}]})
        )
    (out / "explanations_shap" / "out.jsonl").write_text("\n".join(lines) + "\n")
    return out


def test_pdf_packs_charts_two_to_a_row_and_records_on_shared_pages(tmp_path):
    """14 top-unit charts took 14 pages, one each, and every record a page of its own: 1 + 14 + 4."""
    data = render_report(load_report(_many_labels_folder(tmp_path)), "pdf")
    assert _pages(data) <= 6  # summary and global chart, 14 charts six to a page, records two to a page
