"""The written report in a real browser (headless Chromium) and the PDF through poppler.

One `openclarify analyze` run on a tiny text dataset with hostile records (script tags, an ``onerror``
image, a ``</svg>`` token, dollar signs, Arabic and Chinese, one long text) writes report.html/.pdf/.ipynb;
the tests open that HTML at desktop and phone widths and check what the page does and shows: no errors,
no network, no script, the attributions of out.jsonl in text order with captum's colours, no horizontal
page scroll. Skips without Chromium/poppler; fails instead when OPENCLARIFY_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import base64
import colorsys
import contextlib
import csv
import io
import json
import re
import shutil
import subprocess
import warnings
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from openclarify.cli import main
from openclarify.errors import ApproximationWarning
from openclarify.outputs import MANIFEST_FILE, published_files
from openclarify.report import load_report, write_reports
from support.browser import HeadlessChromium, PageResult, browser_required, require_chromium

TITLE = '<b>Check</b> <script>window.__pwned = 3</script> & "q"'
LABELS = ["negative", "positive"]
LONG = " ".join(["The dress is good but the zip is bad and I do not love the colour."] * 20)
HOSTILE = [
    '<script>window.__pwned = 1; console.error("xss")</script> bad',
    '<img src=x onerror="window.__pwned=2"> great',
    "awful </svg><script>alert(1)</script> not good",
]
TEXTS = [
    "I love this dress, it is good!",
    *HOSTILE,
    "It costs $5 and $6 and is good",
    "هذا فستان جميل good 这件衣服很好 bad",
    LONG,
]
MODEL = '''
import numpy as np

WEIGHTS = {"good": 2.0, "love": 1.5, "great": 1.2, "bad": -1.75, "not": -0.6, "awful": -1.4}


def predict(df):
    """Bag of words -> two class probabilities (negative, positive)."""
    words = [[w.strip(".,!?;:<>()/=\\"").lower() for w in str(t).split()] for t in df["review"]]
    s = np.array([sum(WEIGHTS.get(w, 0.0) for w in ws) for ws in words])
    p = 1.0 / (1.0 + np.exp(-s))
    return np.stack([1.0 - p, p], axis=1)
'''
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# CI installs DejaVu fonts only, which lack CJK glyphs: the PDF says so (the HTML is not affected)
NO_CJK_FONT = r"report\.pdf: no installed font has \d+ of the report's characters"

# every record section: its row, label, texts and units (text, data-attribution, style, computed colour)
RECORDS_JS = """[...document.querySelectorAll('section.oc-record')].map(s => ({
  id: s.id, row: Number(s.dataset.row), label: s.dataset.label,
  texts: [...s.querySelectorAll('.oc-text')].map(d => d.textContent),
  units: [...s.querySelectorAll('.oc-unit')].map(u => {
    const hue = /^background-color: hsl\\((\\d+),/.exec(u.getAttribute('style'));
    const value = Number(u.dataset.attribution);
    return {text: u.textContent, attribution: u.dataset.attribution, style: u.getAttribute('style'),
            computed: getComputedStyle(u).backgroundColor, hue: hue ? Number(hue[1]) : null,
            sign_ok: hue !== null && (value > 0 ? Number(hue[1]) === 120 : Number(hue[1]) === 0)};
  }),
}))"""


def _tool(name: str) -> str:
    """A poppler-utils program; skips without it, fails under OPENCLARIFY_REQUIRE_BROWSER=1 like Chromium."""
    found = shutil.which(name)
    if found is None:
        reason = f"no {name}: install the Debian package `poppler-utils`"
        if browser_required():
            pytest.fail(f"OPENCLARIFY_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One analysis with methods.report: the output folder holding report.html, .pdf and .ipynb."""
    d = tmp_path_factory.mktemp("report_browser")
    (d / "model.py").write_text(MODEL, encoding="utf-8")
    with open(d / "data.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review", "sentiment"])
        writer.writerows([(t, i % 2) for i, t in enumerate(TEXTS)])
    config = {
        "dataset_type": "text/csv",
        "headers": ["review", "sentiment"],
        "label": "sentiment",
        "predictor": {"model_name": "bow", "instance_type": "ml.m5.xlarge", "initial_instance_count": 1,
                      "label_headers": LABELS},
        "methods": {
            "shap": {"baseline": [["<UNK>"]], "num_samples": 64, "seed": 0, "save_local_shap_values": True,
                     "text_config": {"granularity": "token", "language": "english"}},
            "report": {"name": "report", "title": TITLE},
        },
    }  # fmt: skip
    (d / "cfg.json").write_text(json.dumps(config), encoding="utf-8")
    out = d / "out"
    args = ["analyze", "--config", str(d / "cfg.json"), "--data", str(d / "data.csv"), "--output", str(out),
            "--model", f"{d / 'model.py'}:predict", "--quiet", "--report-records", "first:10"]  # fmt: skip
    stderr = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(stderr):
        # the CLI prints warnings (its own showwarning), so pytest.warns cannot see them: read its stderr
        warnings.simplefilter("always", ApproximationWarning)  # the long text: 64 samples for ~340 units
        warnings.filterwarnings("ignore", NO_CJK_FONT)
        assert main(args) == 0, stderr.getvalue()
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "openclarify: warning: 1 of 7 records have more text units than num_samples=64"
    ), lines
    for name in ("report.html", "report.pdf", "report.ipynb", "explanations_shap/out.jsonl"):
        assert (out / name).is_file(), name
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[HeadlessChromium]:
    with HeadlessChromium(require_chromium()) as b:
        yield b


def _out_lines(folder: Path) -> list[dict[str, Any]]:
    text = (folder / "explanations_shap" / "out.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _rgb(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def _count(image: Image.Image, test: Any) -> int:
    return sum(n for n, color in _colors(image) if test(color))


def _colors(image: Image.Image) -> list[tuple[int, tuple[int, int, int]]]:
    """(pixel count, colour) of every colour in an RGB image."""
    return image.getcolors(maxcolors=image.width * image.height)  # type: ignore[return-value]


def _greenish(c: tuple[int, int, int]) -> bool:
    return c[1] > 150 and c[1] - max(c[0], c[2]) > 40


def _reddish(c: tuple[int, int, int]) -> bool:
    return c[0] > 150 and c[0] - max(c[1], c[2]) > 40


def _dark(c: tuple[int, int, int]) -> bool:
    return max(c) < 80


def _assert_clean(page: PageResult, path: Path) -> None:
    assert page.errors == []
    assert [t for t, _ in page.console] == []  # no script: nothing logs at all
    own = path.resolve().as_uri()
    assert page.network_requests[0] == own
    assert [u for u in page.network_requests if u != own and not u.startswith("data:")] == []


def _captum_style(value: float, top: float) -> str:
    """captum's _get_color of value/top, written independently of openclarify.report._colors."""
    a = max(-1.0, min(1.0, value / top)) if top else 0.0
    if a > 0:
        return f"background-color: hsl(120, 75%, {100 - int(50 * a)}%)"
    return f"background-color: hsl(0, 75%, {100 - int(-40 * a)}%)"


def _hsl_to_rgb(style: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"background-color: hsl\((\d+), (\d+)%, (\d+)%\)", style)
    assert m, style
    h, s, lum = (int(g) for g in m.groups())
    r, g, b = colorsys.hls_to_rgb(h / 360, lum / 100, s / 100)
    return round(r * 255), round(g * 255), round(b * 255)


def _check_records(browser: HeadlessChromium, folder: Path, texts: list[str]) -> list[dict[str, Any]]:
    """Every shown record: units in text order as out.jsonl has them, values and colours as captum's."""
    shown = browser.evaluate(RECORDS_JS)
    lines = _out_lines(folder)
    assert [s["row"] for s in shown] == list(range(len(texts)))  # first:10 of 7: every record, in order
    for section in shown:
        row, k = section["row"], LABELS.index(section["label"])
        assert section["id"] == f"record-{row}"
        attributions = lines[row]["explanations"][0]["attributions"]
        units = section["units"]
        assert [u["text"] for u in units] == [a["description"]["partial_text"] for a in attributions]
        assert "".join(u["text"] for u in units) == "".join(a["description"]["partial_text"] for a in attributions)
        assert section["texts"] == [texts[row]]  # units plus gaps give back the text as written
        values = [a["attribution"][k] for a in attributions]
        assert [float(u["attribution"]) for u in units] == values  # every digit
        assert all(u["sign_ok"] for u in units), [(u["text"], u["attribution"], u["style"]) for u in units]
        assert [u["hue"] for u in units] == [120 if v > 0 else 0 for v in values]
        top = max(abs(v) for v in values)
        assert [u["style"] for u in units] == [_captum_style(v, top) for v in values]
        for u in units:  # the style is valid CSS and is what the browser paints
            m = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", u["computed"])
            assert m, u["computed"]
            got, want = tuple(int(g) for g in m.groups()), _hsl_to_rgb(u["style"])
            assert all(abs(a - b) <= 1 for a, b in zip(got, want, strict=True)), (u, want)
    return shown  # type: ignore[no-any-return]


def test_desktop_page_loads_clean_and_shows_coloured_units(browser: HeadlessChromium, output: Path) -> None:
    html = output / "report.html"
    page = browser.open(html, width=1280, height=900)
    _assert_clean(page, html)
    width, height = _png_size(page.screenshot_png)
    assert width == 1280 and height > 1000
    image = _rgb(page.screenshot_png)
    assert image.size == (width, height)
    assert _count(image, _greenish) > 500
    assert _count(image, _reddish) > 500
    assert _count(image, _dark) > 2000  # text
    # the strongest units of a record are painted in captum's full colours, under the text
    strongest = browser.evaluate("""['hsl(120, 75%, 50%)', 'hsl(0, 75%, 60%)'].map(c => {
      const u = [...document.querySelectorAll('.oc-unit')].find(e => e.getAttribute('style').endsWith(c));
      const r = u.getClientRects()[0];
      return [u.textContent, r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];
    })""")
    for (text, left, top, w, h), want in zip(strongest, [(32, 223, 32), (230, 77, 77)], strict=True):
        assert w > 5 and h > 5, text
        box = image.crop((int(left) + 1, int(top) + 1, int(left + w) - 1, int(top + h) - 1))
        _, background = max(_colors(box))
        assert all(abs(a - b) <= 3 for a, b in zip(background, want, strict=True)), (text, background, want)


def test_hostile_text_is_shown_as_text_and_never_runs(browser: HeadlessChromium, output: Path) -> None:
    html = output / "report.html"
    page = browser.open(html, width=1280, height=900)
    _assert_clean(page, html)
    facts = browser.evaluate("""({
      pwned: typeof window.__pwned,
      scripts: document.scripts.length,
      handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))
                  .filter(n => n.startsWith('on')),
      imgs: [...document.images].map(i => [i.getAttribute('src').slice(0, 26), i.hasAttribute('onerror')]),
      svgs: document.querySelectorAll('svg, iframe, object, embed, script, link, base').length,
      csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]').content,
      title: document.title,
      h1: [document.querySelector('h1').textContent, document.querySelector('h1').children.length],
      text: document.body.innerText,
    })""")
    assert facts["pwned"] == "undefined"
    assert facts["scripts"] == 0
    assert facts["handlers"] == []
    assert facts["svgs"] == 0  # charts are <img> of data: URLs, not inline SVG
    assert len(facts["imgs"]) >= 8  # global charts plus one per record
    assert all(src == "data:image/svg+xml;base64," and not onerror for src, onerror in facts["imgs"]), facts["imgs"]
    assert facts["csp"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert facts["title"] == TITLE and facts["h1"] == [TITLE, 0]
    for text in [*HOSTILE, "It costs $5 and $6 and is good", "هذا فستان جميل", "这件衣服很好"]:
        assert text in facts["text"], text
    assert "<script>window.__pwned = 1;" in facts["text"] and "onerror=" in facts["text"]
    # the charts' SVGs are well-formed (the '</svg>' token is escaped in them) and hold no script
    source = html.read_text(encoding="utf-8")
    uris = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', source)
    assert len(uris) == len(facts["imgs"])
    tick_labels: list[str] = []
    for uri in uris:
        root = ET.fromstring(base64.b64decode(uri))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        for element in root.iter():
            assert element.tag.rsplit("}", 1)[-1] not in ("script", "foreignObject"), element.tag
            assert not [a for a in element.attrib if a.rsplit("}", 1)[-1].startswith("on")], element.attrib
            tick_labels.append(element.text or "")
    assert "/svg><script" in tick_labels  # tokens drawn as text
    assert tick_labels.count("$") >= 2  # the record's "$" units, as written (no mathtext)


def test_units_follow_out_jsonl_in_text_order_with_captum_colours(browser: HeadlessChromium, output: Path) -> None:
    html = output / "report.html"
    _assert_clean(browser.open(html, width=1280, height=900), html)
    shown = _check_records(browser, output, TEXTS)
    assert [s["label"] for s in shown] == ["positive", "negative", "positive", "negative", "positive",
                                           "positive", "positive"]  # fmt: skip
    hues = {u["hue"] for s in shown for u in s["units"]}
    assert hues == {0, 120}


def test_phone_has_no_horizontal_page_scroll(browser: HeadlessChromium, output: Path) -> None:
    html = output / "report.html"
    page = browser.open(html, width=390, height=844, mobile=True)
    _assert_clean(page, html)
    assert _png_size(page.screenshot_png)[0] == 390
    layout = browser.evaluate("""(() => {
      const box = document.querySelector('#record-6 .oc-scroll');
      const img = box.querySelector('img.oc-wide');
      return {page: document.documentElement.scrollWidth, inner: window.innerWidth,
              boxes: document.querySelectorAll('.oc-scroll').length,
              box: [box.clientWidth, box.scrollWidth, getComputedStyle(box).overflowX],
              img: [img.getBoundingClientRect().width, Number(img.getAttribute('width'))]};
    })()""")
    assert layout["inner"] == 390
    assert layout["page"] <= 390
    assert layout["boxes"] == 7  # every record's unit chart keeps its size and scrolls on a phone
    client, scroll, overflow = layout["box"]
    assert overflow == "auto" and client <= 390 and scroll > client  # the wide chart scrolls in its box
    shown_width, width_attr = layout["img"]
    assert shown_width == width_attr > 1000  # drawn at full width, not squeezed


def test_pdf_pages_render_and_hold_the_text(output: Path, tmp_path: Path) -> None:
    pdftoppm, pdfinfo, pdftotext = _tool("pdftoppm"), _tool("pdfinfo"), _tool("pdftotext")
    pdf = output / "report.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True).stdout
    (pages,) = (int(line.split(":", 1)[1]) for line in info.splitlines() if line.startswith("Pages:"))
    # page objects counted in the file itself, in plain objects and in (Flate) object streams
    page_object = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
    counted = len(page_object.findall(data))
    streams = []
    for m in re.finditer(rb"stream\r?\n", data):
        try:
            streams.append(zlib.decompressobj().decompress(data[m.end() :]))
        except zlib.error:
            continue
    counted += sum(len(page_object.findall(s)) for s in streams)
    assert counted == pages >= 2
    assert not any(b"/JavaScript" in s or b"/JS " in s for s in [data, *streams])
    subprocess.run([pdftoppm, "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == pages
    for png in pngs:
        assert _png_size(png.read_bytes()) == (331, 468)  # A4 at 40 dpi
    first = _rgb(pngs[0].read_bytes())
    assert _count(first, _dark) > 200
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())  # the title may wrap
    assert flat.startswith(TITLE + " Summary ")
    for line in [*HOSTILE, "It costs $5 and $6 and is good"]:
        assert line in text.splitlines(), line  # each record's text, escaped, as one line
    assert "<script>window.__pwned = 1;" in text


def test_clarify_folder_without_our_files_renders_clean(
    browser: HeadlessChromium, output: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "clarify"
    shutil.copytree(output, folder)
    for name in ("run_summary.json", "explanations_shap/predictions.jsonl", "analysis_config.json", MANIFEST_FILE):
        (folder / name).unlink()  # a Clarify job writes none of these
    for old in folder.glob("report.*"):
        old.unlink()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", NO_CJK_FONT)
        written = write_reports(load_report(folder), folder)
    assert written == [folder / "report.html", folder / "report.pdf", folder / "report.ipynb"]
    html = folder / "report.html"
    page = browser.open(html, width=1280, height=900)
    _assert_clean(page, html)
    _check_records(browser, folder, TEXTS)
    facts = browser.evaluate("[document.title, document.body.innerText, document.scripts.length]")
    title, text, scripts = facts
    assert title == "Analysis Report" and scripts == 0
    assert "The folder has no run_summary.json" in text
    assert "estimated as expected_value + Σφ" in text
    assert _count(_rgb(page.screenshot_png), _greenish) > 500


def test_a_report_rewritten_into_a_published_folder_joins_its_manifest(output: Path, tmp_path: Path) -> None:
    """`openclarify report` into a job's folder: the folder still reads back, and lists the new files."""
    folder = tmp_path / "job"
    shutil.copytree(output, folder)
    written = write_reports(load_report(folder, records=[0]), folder, name="one", formats=["html", "ipynb"])
    write_reports(load_report(folder, records=[1, 2]), folder, formats=["html"])  # another size than the job's
    listed = published_files(folder)
    assert listed is not None and {"one.html", "one.ipynb", "report.html"} <= listed
    assert [p.name for p in written] == ["one.html", "one.ipynb"]
    assert [r.row for r in load_report(folder).records] == list(range(len(TEXTS)))  # reads back
