"""The live explanation page of `openclarify serve --explainer-config` in a real browser (headless Chromium).

Two real servers on 127.0.0.1, one per model: a tiny fastText classifier (three labels, token units) and
the abalone scikit-learn pipeline (eight features). The tests type and click as a person would, then
compare what the page shows with the JSON that ``POST /invocations`` answers for the same record: the
units and their values, captum's colours as the browser paints them, the bars, Σφ; a bad number shows the
server's message; the label switch; the permalink; a phone's width; a server that went away. Skips
without Chromium; fails instead when OPENCLARIFY_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import colorsys
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openclarify.serving import ServeConfig, background_server, create_app
from support.abalone import FEATURES, abalone_classifier
from support.browser import HeadlessChromium, PageResult, require_chromium
from support.fasttext_model import tiny_fasttext
from support.served import wait_until_ready

LABELS = ["food", "music", "sports"]  # the tiny fastText model's, sorted
BASELINE = ["M", 0.5, 0.4, 0.13, 0.8, 0.35, 0.18, 0.24]  # the abalone explainer's baseline (and the page's example)
HOSTILE = "<img src=x onerror=window.__pwned=1>"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# the page's state: data-done counts the explanations it finished (answered or failed)
DONE_JS = """new Promise((resolve, reject) => {
  const start = Date.now();
  (function poll() {
    const app = document.getElementById('app');
    if (app && Number(app.dataset.done) >= %d && app.dataset.state !== 'busy') return resolve(app.dataset.state);
    if (Date.now() - start > 20000) return reject(new Error('page still ' + (app && app.dataset.state)));
    setTimeout(poll, 10);
  })();
})"""
UNITS_JS = """[...document.querySelectorAll('#texts .unit')].map(u => ({
  text: u.textContent, attribution: u.dataset.attribution, title: u.title,
  color: getComputedStyle(u).backgroundColor}))"""
BARS_JS = """[...document.querySelectorAll('#chart .oc-bar')].map(b => ({
  name: b.dataset.name, attribution: b.dataset.attribution, width: b.getBoundingClientRect().width,
  color: getComputedStyle(b).backgroundColor}))"""
FACTS_JS = """({expected: document.getElementById('expected').textContent,
  sum: document.getElementById('sum').textContent, fx: document.getElementById('fx').textContent,
  label: document.getElementById('label').value,
  labels: [...document.getElementById('label').options].map(o => o.value),
  choice: !document.getElementById('label-choice').hidden,
  result: !document.getElementById('result').hidden, alert: document.getElementById('alert').textContent,
  alertShown: !document.getElementById('alert').hidden, state: document.getElementById('app').dataset.state,
  button: document.getElementById('explain').disabled, search: location.search})"""


def _explainer(folder: Path, name: str, shap: dict[str, Any], inference: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {"ShapConfig": {"Seed": 0, **shap}}
    if inference:
        document["InferenceConfig"] = inference
    path = folder / name
    path.write_text(json.dumps({"ClarifyExplainerConfig": document}), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def browser() -> Iterator[HeadlessChromium]:
    with HeadlessChromium(require_chromium()) as b:
        yield b


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> ServeConfig:
    folder = tmp_path_factory.mktemp("live-text")
    model = tiny_fasttext(folder / "model")
    shap = {"ShapBaselineConfig": {"ShapBaseline": '"<UNK>"'}, "TextConfig": {"Granularity": "token", "Language": "en"}}
    return ServeConfig(model=str(model), explainer_config=_explainer(folder, "explainer.json", shap))


@pytest.fixture(scope="module")
def text_server(text_model: ServeConfig) -> Iterator[str]:
    with background_server(create_app(text_model)) as url:
        wait_until_ready(url)
        yield url


@pytest.fixture(scope="module")
def tabular_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("live-tabular")
    abalone_classifier(folder)
    baseline = ",".join(f'"{v}"' if isinstance(v, str) else str(v) for v in BASELINE)
    explainer = _explainer(
        folder, "explainer.json", {"ShapBaselineConfig": {"ShapBaseline": baseline}}, {"FeatureHeaders": FEATURES}
    )
    with background_server(create_app(ServeConfig(model=str(folder), explainer_config=explainer))) as url:
        wait_until_ready(url)
        yield url


def _csv(values: list[Any]) -> str:
    """One record as the page writes it: numbers as they are, every other value quoted."""
    return ",".join(str(v) if isinstance(v, float) else '"' + str(v).replace('"', '""') + '"' for v in values) + "\n"


def _invoke(url: str, record: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url + "/invocations",
        data=record.encode("utf-8"),
        headers={
            "Content-Type": "text/csv",
            "Accept": "text/csv",
            "X-Amzn-SageMaker-Enable-Explanations": "`true`",
            "X-OpenClarify-Details": "true",
        },  # fmt: skip
    )
    with NO_PROXY.open(request, timeout=30) as reply:
        assert reply.status == 200 and reply.headers.get_content_type() == "application/json"
        return json.load(reply)  # type: ignore[no-any-return]


def _values(answer: dict[str, Any], k: int) -> list[float]:
    """Label ``k``'s attribution of every unit (text) or feature (tabular), in the answer's order."""
    (record,) = answer["explanations"]["kernel_shap"]
    return [a["attribution"][k] for feature in record for a in feature["attributions"]]


def _open(browser: HeadlessChromium, url: str, **kwargs: Any) -> PageResult:
    page = browser.open(url, **kwargs)
    browser.evaluate(DONE_JS % 1)  # the example (or the permalink's record) is explained on load
    return page


def _assert_clean(page: PageResult, server: str) -> None:
    assert page.errors == []
    assert [t for t, _ in page.console] == []
    assert page.network_requests, "no request at all"
    assert [u for u in page.network_requests if not u.startswith(server + "/")] == []


def _type(browser: HeadlessChromium, field: str, text: str) -> None:
    """Focus the field, select what it holds and type ``text`` over it (CDP's insertText: input events)."""
    browser.evaluate(f"(() => {{ const f = document.getElementById({json.dumps(field)}); f.focus(); f.select(); }})()")
    browser.send("Input.insertText", {"text": text})


def _explain(browser: HeadlessChromium, *, keys: bool = False) -> str:
    """Click Explain (or press Ctrl+Enter in the focused field) and wait for the answer; the page's state."""
    done = int(browser.evaluate("Number(document.getElementById('app').dataset.done)"))
    if keys:
        for kind in ("rawKeyDown", "keyUp"):
            browser.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter", "modifiers": 2,
                                                    "windowsVirtualKeyCode": 13})  # fmt: skip
    else:
        browser.evaluate("document.getElementById('explain').click()")
    return str(browser.evaluate(DONE_JS % (done + 1)))


def _rgb(css: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", css)
    assert m, css
    r, g, b = (int(x) for x in m.groups())
    return r, g, b


def _captum_rgb(value: float, top: float) -> tuple[int, int, int]:
    """captum's _get_color of value/top as sRGB, written independently of the page's script."""
    a = max(-1.0, min(1.0, value / top)) if top else 0.0
    hue, lightness = (120, 100 - int(50 * a)) if a > 0 else (0, 100 - int(-40 * a))
    r, g, b = colorsys.hls_to_rgb(hue / 360, lightness / 100, 0.75)
    return round(r * 255), round(g * 255), round(b * 255)


def _check_units(browser: HeadlessChromium, answer: dict[str, Any], k: int, text: str) -> list[dict[str, Any]]:
    """The page's units are the answer's, in order, with label k's values and captum's colours."""
    units = browser.evaluate(UNITS_JS)
    ((feature,),) = answer["explanations"]["kernel_shap"]
    attributions = feature["attributions"]
    values = [a["attribution"][k] for a in attributions]
    assert len(units) == len(attributions) > 3
    assert [u["text"] for u in units] == [a["description"]["partial_text"] for a in attributions]
    assert [float(u["attribution"]) for u in units] == values  # every digit
    assert browser.evaluate("document.getElementById('texts').textContent") == text  # units and gaps
    top = max(abs(v) for v in values)
    for unit, value in zip(units, values, strict=True):
        got, want = _rgb(unit["color"]), _captum_rgb(value, top)
        assert all(abs(a - b) <= 1 for a, b in zip(got, want, strict=True)), (unit, want)
        r, g, b = got
        if want == (255, 255, 255):  # too small to shade (lightness 100%)
            assert got == (255, 255, 255), unit
        elif value > 0:  # hue 120
            assert g > r and g > b and r == b, unit
        else:  # hue 0
            assert r > g and g == b, unit
    return units  # type: ignore[no-any-return]


def _close(shown: str, value: float) -> bool:
    """A number the page prints with 12 significant digits equals ``value`` to that precision."""
    return math.isclose(float(shown), value, rel_tol=1e-9, abs_tol=1e-15)


# ---- the text model ------------------------------------------------------------------------------------


def test_page_loads_clean_from_the_server_alone(browser: HeadlessChromium, text_server: str) -> None:
    page = _open(browser, text_server + "/")
    _assert_clean(page, text_server)
    assert {text_server + p for p in ("/", "/page/app.js", "/page/app.css", "/explainer", "/invocations")} <= set(
        page.network_requests
    )
    facts = browser.evaluate(FACTS_JS)
    assert facts["state"] == "done" and facts["result"] and not facts["alertShown"] and not facts["button"]
    assert facts["labels"] == LABELS and facts["choice"]
    assert browser.evaluate("[document.querySelectorAll('textarea').length, document.scripts.length]") == [1, 1]
    with NO_PROXY.open(text_server + "/", timeout=10) as reply:
        csp = reply.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; script-src 'self'; style-src 'self';")


def test_typed_text_is_shaded_unit_by_unit_as_the_answer_says(browser: HeadlessChromium, text_server: str) -> None:
    _open(browser, text_server + "/")
    text = f'the big goal, a new match {HOSTILE} "of" the team\nand the pizza'
    _type(browser, "f0", text)
    assert _explain(browser) == "done"
    answer = _invoke(text_server, _csv([text]))
    scores = answer["openclarify"]["explained_scores"][0]
    k = max(range(len(scores)), key=scores.__getitem__)
    facts = browser.evaluate(FACTS_JS)
    assert facts["label"] == LABELS[k] == "sports"  # the highest score is shown first
    units = _check_units(browser, answer, k, text)
    values = _values(answer, k)
    shaded = {"green" if v > 0 else "red" for v in values if abs(v) > 0.02 * max(map(abs, values))}
    assert shaded == {"green", "red"}  # the text has units for and against the label
    assert all(u["title"] for u in units)
    # E + Σφ = f(x) for that label, as printed
    assert _close(facts["expected"], answer["openclarify"]["expected_value"][0][k])
    assert _close(facts["sum"], math.fsum(_values(answer, k)))
    assert _close(facts["fx"], scores[k])
    # the hostile unit is text, never markup; the bars are the units, largest |φ| first
    assert browser.evaluate("[typeof window.__pwned, document.querySelectorAll('#result img').length]") == [
        "undefined", 0
    ]  # fmt: skip
    bars = browser.evaluate(BARS_JS)
    assert len(bars) == min(20, len(values))
    assert [abs(float(b["attribution"])) for b in bars] == sorted(map(abs, values), reverse=True)[: len(bars)]
    assert {_rgb(b["color"]) for b in bars} <= {(32, 223, 32), (230, 77, 77)}
    assert bars[0]["width"] > 2 * bars[-1]["width"]
    # the permalink holds the text; opening it shows the same record again
    search = urllib.parse.parse_qs(facts["search"].lstrip("?"))
    assert search == {"text": [text]}
    _open(browser, text_server + "/" + facts["search"])
    assert browser.evaluate("document.getElementById('f0').value") == text
    assert browser.evaluate(UNITS_JS) == units


def test_label_switch_reshades_with_that_labels_values(browser: HeadlessChromium, text_server: str) -> None:
    _open(browser, text_server + "/")
    text = "a new song of the band on tour with the team"
    _type(browser, "f0", text)
    assert _explain(browser, keys=True) == "done"  # Ctrl+Enter in the textarea
    answer = _invoke(text_server, _csv([text]))
    assert browser.evaluate(FACTS_JS)["label"] == "music"
    before = _check_units(browser, answer, LABELS.index("music"), text)
    posts = "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/invocations')).length"
    requests = browser.evaluate(posts)
    browser.evaluate("""(() => { const s = document.getElementById('label'); s.value = 'food';
      s.dispatchEvent(new Event('change')); })()""")
    k = LABELS.index("food")
    after = _check_units(browser, answer, k, text)
    assert [u["attribution"] for u in after] != [u["attribution"] for u in before]
    assert [u["color"] for u in after] != [u["color"] for u in before]
    facts = browser.evaluate(FACTS_JS)
    assert _close(facts["sum"], math.fsum(_values(answer, k)))
    assert _close(facts["fx"], answer["openclarify"]["explained_scores"][0][k])
    assert browser.evaluate(posts) == requests == 2  # the load's and Ctrl+Enter's: the switch asks nothing
    assert urllib.parse.parse_qs(facts["search"].lstrip("?")) == {"text": [text], "label": ["food"]}
    _open(browser, text_server + "/" + facts["search"])  # the permalink keeps the label
    assert browser.evaluate(FACTS_JS)["label"] == "food"
    assert browser.evaluate(UNITS_JS) == after


def test_a_long_text_fits_a_phone(browser: HeadlessChromium, text_server: str) -> None:
    words = ["goal", "match", "team", "song", "album", "pizza", "bread", "the", "a", "new", "big", "old"]
    text = " ".join(words[i % len(words)] for i in range(30)) + " " + "x" * 90
    link = text_server + "/?" + urllib.parse.urlencode({"text": text})
    page = _open(browser, link, width=375, height=800, mobile=True)
    _assert_clean(page, text_server)
    layout = browser.evaluate("""({page: document.documentElement.scrollWidth, inner: window.innerWidth,
      units: document.querySelectorAll('#texts .unit').length, bars: document.querySelectorAll('.oc-bar').length,
      more: document.getElementById('more').textContent,
      right: Math.max(...[...document.querySelectorAll('#app *')].map(e => e.getBoundingClientRect().right))})""")
    assert layout["inner"] == 375
    assert layout["page"] <= 375 and layout["right"] <= 375
    assert layout["units"] == 31 and layout["bars"] == 20
    assert layout["more"].startswith("The 20 largest |φ| of 31 units; 11 more units")


def test_a_server_gone_away_is_a_clear_message(browser: HeadlessChromium, text_model: ServeConfig) -> None:
    with background_server(create_app(text_model)) as url:
        wait_until_ready(url)
        _open(browser, url + "/")
    _type(browser, "f0", "the team")
    assert _explain(browser) == "error"
    facts = browser.evaluate(FACTS_JS)
    assert facts["alertShown"] and facts["alert"].startswith("Cannot reach the server")
    assert not facts["result"] and not facts["button"]


# ---- the tabular model ---------------------------------------------------------------------------------


def test_editing_a_number_changes_the_bars(browser: HeadlessChromium, tabular_server: str) -> None:
    page = _open(browser, tabular_server + "/")
    _assert_clean(page, tabular_server)
    inputs = browser.evaluate("""[...document.querySelectorAll('#fields input')].map(i =>
      [i.id, i.labels[0].firstChild.textContent.trim(), i.value, i.getAttribute('inputmode')])""")
    assert [i[1] for i in inputs] == FEATURES
    assert [i[2] for i in inputs] == [str(v) for v in BASELINE]  # the example
    assert [i[3] for i in inputs] == [None] + ["decimal"] * 7
    before = browser.evaluate(BARS_JS)
    assert len(before) == len(FEATURES)
    assert all(abs(float(b["attribution"])) < 1e-12 for b in before)  # the baseline itself: nothing to explain

    record = [*BASELINE]
    record[1], record[7] = 0.71, 0.05  # Length, Shell_weight
    _type(browser, "f1", "0.71")
    _type(browser, "f7", " 0.05")  # as typed, spaces and all
    assert _explain(browser) == "done"
    answer = _invoke(tabular_server, _csv(record))
    scores = answer["openclarify"]["explained_scores"][0]
    k = max(range(2), key=scores.__getitem__)
    facts = browser.evaluate(FACTS_JS)
    assert facts["labels"] == ["0", "1"] and facts["label"] == str(k)
    bars = browser.evaluate(BARS_JS)
    assert len(bars) == len(FEATURES)
    assert [b["attribution"] for b in bars] != [b["attribution"] for b in before]
    by_name = dict(zip(FEATURES, _values(answer, k), strict=True))
    assert {b["name"]: float(b["attribution"]) for b in bars} == by_name
    assert [b["name"] for b in bars] == sorted(FEATURES, key=lambda n: -abs(by_name[n]))
    assert abs(by_name["Length"]) > 1e-3 and abs(by_name["Shell_weight"]) > 1e-3
    assert _close(facts["sum"], math.fsum(by_name.values()))
    assert _close(facts["expected"], answer["openclarify"]["expected_value"][0][k])
    assert _close(facts["fx"], scores[k])
    assert browser.evaluate("document.querySelectorAll('#texts .unit').length") == 0
    assert urllib.parse.parse_qs(facts["search"].lstrip("?"))["f1"] == ["0.71"]


def test_a_bad_number_shows_the_servers_message_and_the_page_recovers(
    browser: HeadlessChromium, tabular_server: str
) -> None:
    _open(browser, tabular_server + "/")
    _type(browser, "f2", "abc")
    assert _explain(browser) == "error"
    record = _csv(BASELINE).replace("0.4", "abc", 1)
    with pytest.raises(urllib.error.HTTPError) as refused:
        _invoke(tabular_server, record)
    assert refused.value.code == 400
    message = json.loads(refused.value.read())["error"]
    assert "'Diameter'" in message and "'abc'" in message
    facts = browser.evaluate(FACTS_JS)
    assert facts["alertShown"] and message in facts["alert"] and "400" in facts["alert"]
    assert not facts["result"]  # the previous record's explanation is not left on show
    assert not facts["button"]
    _type(browser, "f2", "1,5")  # a comma is quoted, not a ninth column: the same message for the value
    assert _explain(browser) == "error"
    alert = browser.evaluate(FACTS_JS)["alert"]
    assert "'Diameter'" in alert and "'1,5'" in alert, alert
    _type(browser, "f2", "0.45")
    assert _explain(browser) == "done"
    facts = browser.evaluate(FACTS_JS)
    assert not facts["alertShown"] and facts["alert"] == "" and facts["result"]
    assert len(browser.evaluate(BARS_JS)) == len(FEATURES)


def test_the_form_fits_a_phone(browser: HeadlessChromium, tabular_server: str) -> None:
    page = _open(browser, tabular_server + "/", width=375, height=800, mobile=True)
    _assert_clean(page, tabular_server)
    layout = browser.evaluate("""({page: document.documentElement.scrollWidth, inner: window.innerWidth,
      inputs: [...document.querySelectorAll('#fields input')].map(i => {
        const r = i.getBoundingClientRect(); return [r.left, r.right]; }),
      form: document.getElementById('fields').getBoundingClientRect().width,
      rows: [...document.querySelectorAll('.oc-bar-row')].map(r => [...r.children].map(c => {
        const b = c.getBoundingClientRect(); return [b.left, b.right]; }))})""")
    assert layout["inner"] == 375 and layout["page"] <= 375
    assert len(layout["inputs"]) == len(FEATURES)
    for left, right in layout["inputs"]:  # one column: every input as wide as the form
        assert right <= 375 and right - left >= layout["form"] - 1
    assert len(layout["rows"]) == len(FEATURES)
    for name, track, value in layout["rows"]:  # name | bar | value, side by side, on the screen
        assert 0 <= name[0] < name[1] <= track[0] < track[1] <= value[0] < value[1] <= 375
        assert track[1] - track[0] >= 64
