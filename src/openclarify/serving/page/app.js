// The live explanation page of `openclarify serve`: a client of POST /invocations like any other.
//
// It reads GET /explainer to build a form for one record, posts the record as CSV with explanations
// enabled, and draws SageMaker Clarify's online-explainability answer: the prediction per label,
// E + Σφ = f(x), the text shaded unit by unit (captum's visualize_text colours, as the report) and
// bars sorted by |φ|. Every DOM node is built with createElement and textContent: no data is ever
// parsed as HTML, so the Content-Security-Policy can forbid inline script and style.
"use strict";

(() => {
  const HEADERS = {
    "Content-Type": "text/csv",
    "Accept": "text/csv",
    "X-Amzn-SageMaker-Enable-Explanations": "`true`",
    "X-OpenClarify-Details": "true",
  };
  const TOP_BARS = 20; // bars drawn; the others are counted below the chart
  const DIGITS = 12; // significant digits of E, Σφ and f(x)

  const app = document.getElementById("app");
  const form = document.getElementById("record");
  const fields = document.getElementById("fields");
  const button = document.getElementById("explain");
  const statusLine = document.getElementById("status");
  const alertBox = document.getElementById("alert");
  const result = document.getElementById("result");
  const labelChoice = document.getElementById("label-choice");
  const labelSelect = document.getElementById("label");
  const scoresBody = document.querySelector("#scores tbody");
  const texts = document.getElementById("texts");
  const legend = document.getElementById("legend");
  const chart = document.getElementById("chart");
  const more = document.getElementById("more");
  const unexplained = document.getElementById("unexplained");
  const permalink = document.getElementById("permalink");

  const state = {
    info: null, // GET /explainer
    inputs: [], // one input (or textarea) per feature, in feature_headers order
    shown: null, // {answer, values}: the last explanation and the values it was asked for
    label: null, // the label chosen by the person (or the permalink); null: the highest score
    busy: false,
    done: 0,
  };

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function setState(name) {
    app.dataset.state = name;
  }

  function showAlert(message) {
    alertBox.textContent = message;
    alertBox.hidden = false;
  }

  function clearAlert() {
    alertBox.textContent = "";
    alertBox.hidden = true;
  }

  // numbers: the shortest round-trip form for data attributes; DIGITS significant digits for reading
  function exact(value) {
    return Number.isFinite(value) ? String(value) : "NaN";
  }

  function rounded(value, digits, signed) {
    if (!Number.isFinite(value)) return "n/a";
    if (value === 0) return "0";
    const text = String(Number(value.toPrecision(digits)));
    return signed && value > 0 ? "+" + text : text;
  }

  function shown(value, signed) {
    return rounded(value, DIGITS, signed);
  }

  function short(value, signed) {
    return rounded(value, 4, signed);
  }

  // captum's _get_color (the report's attribution_color): value already scaled to [-1, 1]
  function attributionColor(scaled) {
    const a = Math.max(-1, Math.min(1, scaled));
    if (a > 0) return `hsl(120, 75%, ${100 - Math.trunc(50 * a)}%)`;
    return `hsl(0, 75%, ${100 - Math.trunc(-40 * a)}%)`;
  }

  // Clarify's normalize=True (the report's scale_attributions): divide by the largest |value|
  function scaleAttributions(values) {
    const top = Math.max(0, ...values.filter(Number.isFinite).map(Math.abs));
    return values.map((v) => (top === 0 || !Number.isFinite(v) ? 0 : v / top));
  }

  // ---- the record: form, CSV, permalink -------------------------------------------------------------

  function featureTypes(info) {
    const n = info.feature_headers.length;
    const types = Array.isArray(info.feature_types) ? info.feature_types : [];
    return Array.from({length: n}, (_, i) => types[i] || (info.text ? "text" : "categorical"));
  }

  function initialValues(info) {
    const query = new URLSearchParams(window.location.search);
    const headers = info.feature_headers;
    const example = Array.isArray(info.example) ? info.example : [];
    const values = headers.map((header, i) => {
      for (const key of [`f${i}`, header, ...(info.text && headers.length === 1 ? ["text"] : [])]) {
        if (query.has(key)) return query.get(key);
      }
      const v = example[i];
      return v === null || v === undefined ? "" : String(v);
    });
    if (query.has("label")) state.label = query.get("label");
    return values;
  }

  function buildForm(info, values) {
    const types = featureTypes(info);
    fields.replaceChildren();
    fields.classList.toggle("oc-fields-text", Boolean(info.text));
    state.inputs = info.feature_headers.map((header, i) => {
      const id = `f${i}`;
      const type = types[i];
      let input;
      if (type === "text") {
        input = el("textarea", {id, name: id, rows: 5, dir: "auto", lang: info.language || null, spellcheck: "true"});
      } else {
        input = el("input", {id, name: id, type: "text", autocomplete: "off", spellcheck: "false",
                             inputmode: type === "numerical" ? "decimal" : null});
      }
      input.value = values[i];
      const kind = type === "numerical" ? "number" : type;
      const wrap = el("div", {class: `oc-field oc-field-${type}`},
                      el("label", {for: id}, header, " ", el("span", {class: "oc-kind"}, kind)), input);
      fields.append(wrap);
      return input;
    });
  }

  function csvField(value, type) {
    // numbers as typed; anything CSV would split (a comma, a quote, a line break) is quoted, and then
    // the server says it is not a number
    if (type === "numerical" && !/[",\r\n]/.test(value)) return value.trim();
    return `"${value.replace(/"/g, '""')}"`;
  }

  function csvRecord(values, types) {
    return values.map((v, i) => csvField(v, types[i])).join(",") + "\n";
  }

  function updatePermalink(values) {
    const query = new URLSearchParams();
    if (state.info.text && values.length === 1) {
      query.set("text", values[0]);
    } else {
      values.forEach((v, i) => query.set(`f${i}`, v));
    }
    if (state.label !== null) query.set("label", state.label);
    const url = `${window.location.pathname}?${query.toString()}`;
    window.history.replaceState(null, "", url);
    permalink.href = url;
  }

  // ---- asking the server ----------------------------------------------------------------------------

  async function errorMessage(response) {
    const body = await response.text().catch(() => "");
    let message = body.trim().slice(0, 300);
    try {
      const parsed = JSON.parse(body);
      if (parsed && typeof parsed.error === "string") message = parsed.error;
    } catch (_) {
      // not JSON: the first characters of the body
    }
    return `The server answered ${response.status}${response.statusText ? " " + response.statusText : ""}: ${message || "(no message)"}`;
  }

  async function explain() {
    if (state.busy || state.info === null) return;
    const values = state.inputs.map((input) => input.value);
    const types = featureTypes(state.info);
    state.busy = true;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    result.classList.add("oc-stale");
    statusLine.textContent = "Explaining…";
    setState("busy");
    clearAlert();
    const started = performance.now();
    try {
      let response;
      try {
        response = await fetch("invocations", {method: "POST", headers: HEADERS, body: csvRecord(values, types),
                                               cache: "no-store"});
      } catch (error) {
        throw new Error(`Cannot reach the server (${error.message}). Is openclarify serve still running? ` +
                        "Press Explain to try again.");
      }
      if (!response.ok) throw new Error(await errorMessage(response));
      let answer;
      try {
        answer = await response.json();
      } catch (_) {
        throw new Error("The server's answer is not JSON: is this an openclarify serve --explainer-config endpoint?");
      }
      state.shown = {answer, values};
      render();
      updatePermalink(values);
      statusLine.textContent = `Explained in ${Math.round(performance.now() - started)} ms.`;
      setState("done");
    } catch (error) {
      state.shown = null;
      result.hidden = true; // the previous result belongs to another record
      showAlert(error.message);
      statusLine.textContent = "";
      setState("error");
    } finally {
      state.busy = false;
      button.disabled = false;
      form.removeAttribute("aria-busy");
      result.classList.remove("oc-stale");
      state.done += 1;
      app.dataset.done = String(state.done);
    }
  }

  // ---- the answer -----------------------------------------------------------------------------------

  function predictionScores(predictions) {
    // the model's own answer, when the details are missing: the first line of text/csv numbers
    if (!predictions || typeof predictions.data !== "string") return null;
    const line = predictions.data.split(/\r?\n/)[0];
    const scores = line.split(",").map(Number);
    return scores.length && scores.every(Number.isFinite) ? scores : null;
  }

  // every unit of the record: a tabular feature, or one unit of a text feature
  function recordUnits(explanation, headers) {
    const units = [];
    const textFeatures = explanation.filter((f) => f && f.feature_type === "text").length;
    explanation.forEach((feature, position) => {
      if (!feature) return;
      const found = headers.indexOf(feature.feature_header);
      const i = found >= 0 ? found : position; // the input it came from
      const name = String(feature.feature_header ?? headers[i] ?? `feature ${i}`);
      const attributions = Array.isArray(feature.attributions) ? feature.attributions : [];
      if (feature.feature_type === "text") {
        for (const a of attributions) {
          const part = String(a.description?.partial_text ?? "");
          units.push({feature: name, featureIndex: i, text: part, start: a.description?.start_idx,
                      values: a.attribution, isText: true,
                      name: textFeatures > 1 ? `${name}: ${part}` : part});
        }
      } else {
        const labels = Math.max(0, ...attributions.map((a) => a.attribution.length));
        const values = Array.from({length: labels}, (_, k) => attributions.reduce((s, a) => s + a.attribution[k], 0));
        units.push({feature: name, featureIndex: i, text: name, values, isText: false, name});
      }
    });
    return units;
  }

  function chooseLabel(labels, scores) {
    if (state.label !== null && labels.includes(state.label)) return labels.indexOf(state.label);
    if (scores === null || scores.length !== labels.length) return 0;
    return scores.reduce((best, s, k) => (s > scores[best] ? k : best), 0);
  }

  function render() {
    const {answer, values} = state.shown;
    const info = state.info;
    const details = answer.openclarify || {};
    const explanation = answer.explanations?.kernel_shap?.[0] ?? null;
    const units = explanation ? recordUnits(explanation, info.feature_headers) : [];
    const scores = details.explained_scores?.[0] ?? predictionScores(answer.predictions);
    const n = scores ? scores.length : Math.max(1, ...units.map((u) => u.values.length));
    const given = answer.label_headers ?? info.label_headers;
    const labels = Array.isArray(given) && given.length === n ? given.map(String)
      : Array.from({length: n}, (_, k) => `label ${k}`);
    const k = chooseLabel(labels, scores);

    labelSelect.replaceChildren(...labels.map((label, j) => el("option", {value: label}, label)));
    labelSelect.selectedIndex = k;
    labelChoice.hidden = labels.length < 2;

    const best = scores ? scores.reduce((b, s, j) => (s > scores[b] ? j : b), 0) : -1;
    scoresBody.replaceChildren(...labels.map((label, j) => el("tr", {class: j === best ? "oc-top" : null},
      el("th", {scope: "row"}, label),
      el("td", {class: "oc-num", "data-value": scores ? exact(scores[j]) : null}, scores ? short(scores[j]) : "n/a"))));

    const expected = details.expected_value?.[0] ?? info.expected_value ?? null;
    const phi = units.map((u) => Number(u.values[k]));
    const sum = phi.reduce((s, v) => s + v, 0);
    const e = expected ? Number(expected[k]) : NaN;
    const fx = scores ? Number(scores[k]) : e + sum;
    setNumber("expected", e, false);
    setNumber("sum", explanation ? sum : NaN, true);
    setNumber("fx", fx, false);
    const exactFlag = details.exact?.[0];
    const samples = details.num_samples?.[0] ?? info.num_samples;
    document.getElementById("estimate").textContent = exactFlag === true
      ? `exact: every coalition of the ${units.length} ${units.some((u) => u.isText) ? "units" : "features"} was evaluated`
      : `Kernel SHAP from ${samples ?? "?"} samples`;

    unexplained.hidden = explanation !== null;
    renderTexts(units, k, values);
    renderChart(units, k);
    document.getElementById("chart-title").textContent = `Attributions to ${labels[k]}, largest |φ| first`;
    result.hidden = false;
  }

  function setNumber(id, value, signed) {
    const node = document.getElementById(id);
    node.textContent = shown(value, signed);
    node.dataset.value = exact(value);
  }

  // the text as written, each unit shaded; offsets are code points (Python's), not UTF-16 units
  function renderTexts(units, k, values) {
    texts.replaceChildren();
    const textUnits = units.filter((u) => u.isText);
    legend.hidden = textUnits.length === 0;
    if (textUnits.length === 0) return;
    const scaled = scaleAttributions(textUnits.map((u) => Number(u.values[k])));
    textUnits.forEach((u, j) => { u.scaled = scaled[j]; });
    const byFeature = new Map();
    for (const u of textUnits) {
      if (!byFeature.has(u.featureIndex)) byFeature.set(u.featureIndex, []);
      byFeature.get(u.featureIndex).push(u);
    }
    for (const [i, list] of byFeature) {
      const original = Array.from(values[i] ?? "");
      const box = el("div", {class: "oc-text", dir: "auto", lang: state.info.language || null});
      let end = 0;
      const ordered = list.every((u) => Number.isInteger(u.start))
        ? [...list].sort((a, b) => a.start - b.start) : list;
      for (const u of ordered) {
        const length = Array.from(u.text).length;
        let piece = u.text;
        if (Number.isInteger(u.start) && u.start >= end && u.start + length <= original.length &&
            original.slice(u.start, u.start + length).join("") === u.text) {
          if (u.start > end) box.append(original.slice(end, u.start).join(""));
          piece = original.slice(u.start, u.start + length).join("");
          end = u.start + length;
        } else if (box.childNodes.length) {
          box.append(" "); // offsets that do not fit the text: the units alone, a space apart
        }
        const value = Number(u.values[k]);
        const span = el("span", {class: "unit", title: shown(value, true), "data-attribution": exact(value)}, piece);
        span.style.backgroundColor = attributionColor(u.scaled);
        box.append(span);
      }
      if (end > 0 && end < original.length) box.append(original.slice(end).join(""));
      if (byFeature.size > 1 || units.some((u) => !u.isText)) {
        texts.append(el("div", {class: "oc-feature-name"}, list[0].feature));
      }
      texts.append(box);
    }
  }

  // bars of φ for label k, sorted by |φ|, around a zero line: positive right (green), negative left (red)
  function renderChart(units, k) {
    const items = units.map((u) => ({name: u.name, value: Number(u.values[k])}));
    items.sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
    const drawn = items.slice(0, TOP_BARS);
    const top = Math.max(0, ...drawn.filter((d) => Number.isFinite(d.value)).map((d) => Math.abs(d.value)));
    chart.replaceChildren(...drawn.map(({name, value}) => {
      const negative = el("div", {class: "oc-half oc-half-negative"});
      const positive = el("div", {class: "oc-half oc-half-positive"});
      const bar = el("div", {class: `oc-bar ${value > 0 ? "oc-positive" : "oc-negative"}`,
                             "data-attribution": exact(value), "data-name": name});
      bar.style.width = `${top > 0 && Number.isFinite(value) ? (100 * Math.abs(value)) / top : 0}%`;
      (value > 0 ? positive : negative).append(bar);
      const title = `${name}: ${shown(value, true)}`;
      return el("div", {class: "oc-bar-row", role: "listitem"},
                el("span", {class: "oc-bar-name", dir: "auto", title}, name),
                el("div", {class: "oc-track", title}, negative, positive),
                el("span", {class: "oc-bar-value"}, short(value, true)));
    }));
    const hidden = items.length - drawn.length;
    const what = units.some((u) => u.isText) ? "units" : "features";
    more.hidden = hidden <= 0;
    more.textContent = hidden > 0 ? `The ${drawn.length} largest |φ| of ${items.length} ${what}; ${hidden} more ${what} are smaller.` : "";
    if (units.length === 0) chart.append(el("p", {class: "oc-note"}, "No attributions."));
  }

  // ---- start ----------------------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    explain();
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      explain();
    }
  });
  labelSelect.addEventListener("change", () => {
    state.label = labelSelect.value;
    if (state.shown !== null) {
      render();
      updatePermalink(state.shown.values);
    }
  });

  async function start() {
    setState("loading");
    let info;
    try {
      const response = await fetch("explainer", {headers: {Accept: "application/json"}, cache: "no-store"});
      if (response.status === 404) {
        throw new Error("This server explains nothing: start it with openclarify serve --explainer-config explainer.json.");
      }
      if (!response.ok) throw new Error(await errorMessage(response));
      info = await response.json();
      if (!info || !Array.isArray(info.feature_headers) || info.feature_headers.length === 0) {
        throw new Error("The server's GET /explainer names no feature_headers.");
      }
    } catch (error) {
      statusLine.textContent = "";
      showAlert(error.message.startsWith("The server") || error.message.startsWith("This server") ? error.message
        : `Cannot read the endpoint's description (GET /explainer): ${error.message}`);
      setState("error");
      return;
    }
    state.info = info;
    const values = initialValues(info);
    buildForm(info, values);
    button.disabled = false;
    statusLine.textContent = "";
    setState("ready");
    // the example record (or the permalink's) is explained at once, so the page opens on an explanation
    if (values.some((v) => v !== "")) await explain();
  }

  start();
})();
