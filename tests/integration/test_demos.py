"""The DBpedia and reviews demos (examples/*/run_demo.py) end to end, in a temporary work folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _demo(name: str, script: str = "run_demo.py"):
    spec = importlib.util.spec_from_file_location(f"demo_{name}_{script[:-3]}", EXAMPLES / name / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_text_report(out: Path, unit_name: str) -> list:
    """The demo's report.html against its output files: for every shown record, the units in text
    order with colours of the attributions' signs, the chart's values equal to out.jsonl's for the
    predicted label, the model's score and the true label."""
    from openclarify.report import RecordSelection, load_report, render_html

    assert all((out / f"report.{ext}").stat().st_size > 10_000 for ext in ("html", "pdf", "ipynb"))
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    report = load_report(out, records=RecordSelection.first(10))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html == render_html(report)
    lines = _jsonl(out / "explanations_shap" / "out.jsonl")
    predictions = _jsonl(out / "explanations_shap" / "predictions.jsonl")
    labels = report.records[0].labels
    assert len(report.records) == 10 and f"Showing 10 of {len(lines)} records" in html
    for record in report.records:
        units = lines[record.row]["explanations"][0]["attributions"]
        scores = predictions[record.row]["prediction"]
        k = max(range(len(scores)), key=scores.__getitem__)
        assert record.label == record.predicted_label == labels[k] and record.score == scores[k]
        assert record.true_label == predictions[record.row]["label"] and record.true_label in labels
        (feature,) = record.text_features
        assert [u.text for u in feature.units] == [u["description"]["partial_text"] for u in units]
        assert [u.value for u in feature.units] == [u["attribution"][k] for u in units]
        assert all(u.color.startswith("hsl(120," if u.value > 0 else "hsl(0,") for u in feature.units)
        assert record.chart is not None and list(record.chart.values) == [u["attribution"][k] for u in units]
        section = html.split(f'id="record-{record.row}"')[1].split("</section>")[0]
        assert f'data-label="{labels[k]}"' in html.split(f'id="record-{record.row}"')[1][:200]
        assert section.count('class="oc-unit"') == len(units)
    assert f"Top units of &#39;{unit_name}&#39;" in html
    return list(report.records)


def test_dbpedia_demo(tmp_path, capsys):
    facts = _demo("dbpedia").run(tmp_path)
    printed = capsys.readouterr().out
    assert "$ openclarify train --train" in printed and "$ openclarify analyze --config" in printed
    assert "$ openclarify serve --model" in printed and "X-Amzn-SageMaker-Enable-Explanations" in printed
    assert facts["online_equals_offline"] is True  # the river record served and explained online
    assert facts["test_accuracy"] > 0.9  # 0.949 with the demo's settings
    assert facts["n_explained"] == 42 == len(_jsonl(tmp_path / "clarify_output" / "explanations_shap" / "out.jsonl"))
    assert facts["river_prediction"] == "NaturalPlace"
    tokens = [t for t, _ in facts["river_tokens"]]
    assert sorted(tokens) == sorted("Klosterbeurener Bach is a river of Bavaria Germany .".split())
    assert tokens[0] == "river"
    assert facts["top_tokens"]["NaturalPlace"][0] == "river"
    records = _check_text_report(tmp_path / "clarify_output", "Text")
    river = records[0]
    assert river.row == 0 and river.predicted_label == river.true_label == "NaturalPlace"
    (feature,) = river.text_features
    assert max(feature.units, key=lambda u: u.value).text == "river"
    assert max(feature.units, key=lambda u: u.value).color == "hsl(120, 75%, 50%)"  # the strongest green
    assert facts["reports"] == [tmp_path / "clarify_output" / f"report.{e}" for e in ("html", "pdf", "ipynb")]


def test_reviews_demo(tmp_path, capsys):
    facts = _demo("reviews").run(tmp_path)
    printed = capsys.readouterr().out
    assert "sentence attributions for" in printed
    assert facts["accuracy"] > facts["majority_accuracy"] + 0.03  # 0.945 vs 0.880
    assert facts["balanced_accuracy"] > 0.75  # 0.840
    assert facts["recall_negative"] > 0.5  # 0.70
    lines = _jsonl(tmp_path / "clarify_output" / "explanations_shap" / "out.jsonl")
    assert facts["n_explained"] == len(lines) == 20
    assert min(facts["n_sentences"]) >= 3  # chosen for 4+ sentence ends; spaCy may join two
    for line in lines:
        (feature,) = line["explanations"]
        assert feature["feature_name"] == "Review Text" and feature["data_type"] == "free_text"
        assert all(len(u["attribution"]) == 2 for u in feature["attributions"])
    records = _check_text_report(tmp_path / "clarify_output", "Review Text")
    assert {r.true_label for r in records} <= {"negative", "positive"}
    assert all(len(r.text_features[0].units) >= 3 for r in records)  # sentences


def test_reviews_transformer_demo_on_a_small_budget(tmp_path, capsys):
    """The transformer demo's wiring on a budget that fits the suite (one layer, 300 reviews); `make demo`
    runs it with all six layers on 4,000 (test balanced accuracy 0.92 there)."""
    small = [
        "--num-layers",
        "1",
        "--reviews",
        "300",
        "--validation",
        "100",
        "--test",
        "200",
    ]
    facts = _demo("reviews", "run_transformer_demo.py").run(tmp_path, small)
    printed = capsys.readouterr().out
    assert "--algorithm huggingface" in printed and "sentence attributions for" in printed
    assert facts["model_facts"]["format"] == "huggingface" and facts["model_facts"]["max_length"] == 128
    lines = _jsonl(tmp_path / "clarify_output" / "explanations_shap" / "out.jsonl")
    assert facts["n_explained"] == len(lines) == 10
    for line in lines:
        (feature,) = line["explanations"]
        assert feature["data_type"] == "free_text" and all(len(u["attribution"]) == 2 for u in feature["attributions"])
    records = _check_text_report(tmp_path / "clarify_output", "Review Text")
    assert all(len(r.text_features[0].units) >= 2 for r in records)  # sentences of reviews over 500 characters
    # a second run reuses the fine-tuned model
    _demo("reviews", "run_transformer_demo.py").run(tmp_path, small)
    assert "reusing the model" in capsys.readouterr().out


def test_abalone_demo(tmp_path, capsys):
    """The tabular demo's report: one bar per feature with out.csv's values, the model's prediction; then
    its bias step."""
    import pandas as pd

    from openclarify.report import load_report

    assert _demo("abalone").main(["--work-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    # the drift check flags the window whose most important feature no longer varies
    assert "$ openclarify monitor attribution --baseline" in printed
    (violation,) = json.loads((tmp_path / "drift_violations" / "constraint_violations.json").read_text())["violations"]
    assert violation["label"] == "label0" and violation["constraint_check_type"] == "feature_attribution_drift_check"
    # the workflow: trained, explained, gated and deployed (the server answered /ping, then stopped)
    (run,) = [p for p in (tmp_path / "workflow_runs").iterdir() if (p / "state.json").is_file()]
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "succeeded" and state["steps"]["deploy"]["stopped"] is True
    out = tmp_path / "clarify_output"
    assert f"report: {out / 'report.html'}, {out / 'report.pdf'}, {out / 'report.ipynb'}" in printed
    report = load_report(out)
    local = pd.read_csv(out / "explanations_shap" / "out.csv")
    test = pd.read_csv(tmp_path / "test.csv")
    analysis = json.loads((out / "analysis.json").read_text())["explanations"]["kernel_shap"]["label0"]
    (chart,) = report.global_view.charts
    assert dict(zip(chart.names, chart.values, strict=True)) == analysis["global_shap_values"]
    for record in report.records:
        row = local.iloc[record.row]
        assert dict(record.tabular_features) == {c.removesuffix("_label0"): row[c] for c in local.columns}
        assert record.chart is not None and sorted(record.chart.values) == sorted(row.tolist())
        assert record.true_label == test["Rings"].iloc[record.row]
        assert record.score == pytest.approx(analysis["expected_value"] + row.sum(), abs=1e-9)
    # the bias step: Clarify's sections for 'Old' by Sex, the numbers of test_bias.csv
    assert "pre-training bias of label 'Old' by Sex" in printed and "post-training bias" in printed
    data = pd.read_csv(tmp_path / "test_bias.csv")
    bias = json.loads((tmp_path / "bias_output" / "analysis.json").read_text())
    post = bias["post_training_bias_metrics"]["facets"]["Sex"]
    assert [g["value_or_threshold"] for g in post] == list(pd.unique(data["Sex"]))
    for group in post:
        d = data["Sex"] == group["value_or_threshold"]
        dppl = next(m for m in group["metrics"] if m["name"] == "DPPL")
        expected = data["PredictedOld"][~d].mean() - data["PredictedOld"][d].mean()
        assert abs(dppl["value"] - expected) < 1e-12
        assert dppl["confidence_interval"]["lower"] <= dppl["value"] <= dppl["confidence_interval"]["upper"]
    assert (tmp_path / "bias_output" / "report.html").stat().st_size > 10_000
