"""``methods.shap.estimator: "gp"`` from the config to the files: standard errors in ``out.csv``'s
``<feature>_<label>_se`` columns and beside each ``attribution`` in ``out.jsonl``, the estimator in
``run_summary.json``, Clarify's columns unchanged, and the config checked."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from openclarify.cli import EXIT_CONFIG, main
from openclarify.config import parse_analysis_config
from openclarify.errors import ConfigError
from support.abalone import FEATURES, abalone_classifier

WORDS = """
import numpy as np

WEIGHTS = {"good": 2.0, "love": 1.5, "bad": -1.75, "not": -0.5}


def score(frame):
    out = []
    for text in frame["Review Text"]:
        words = [w.strip(".!,").lower() for w in text.split()]
        s = sum(WEIGHTS.get(w, 0.0) for w in words)
        s += 0.8 * ("not" in words) * ("good" in words) * ("bad" in words)  # a three-way interaction
        out.append(s)
    return 1 / (1 + np.exp(-np.array(out)))
"""


def _config(**shap):
    return {
        "dataset_type": "text/csv",
        "label": "old",
        "predictor": {"model_name": "m", "instance_type": "ml.m5.xlarge", "initial_instance_count": 1},
        "methods": {"shap": {"num_samples": 60, "seed": 3, "save_local_shap_values": True, **shap}},
    }


def _run(folder, **shap):
    folder.mkdir(exist_ok=True)
    abalone_classifier(folder)
    config = _config(baseline=[["M", 0.5, 0.4, 0.14, 0.8, 0.35, 0.18, 0.24]], **shap)
    (folder / "cfg.json").write_text(json.dumps(config))
    code = main(["analyze", "--config", str(folder / "cfg.json"), "--data", str(folder / "test.csv"), "--model",
                 str(folder / "model.joblib"), "--output", str(folder / "out"), "--quiet"])  # fmt: skip
    return code, folder / "out"


VALUES = [f"{n}_{label}" for label in ("0", "1") for n in FEATURES]  # the classifier's two scores


def test_out_csv_gets_standard_error_columns_after_clarifys(tmp_path):
    code, out = _run(tmp_path, estimator="gp", save_local_shap_stderr=True)
    assert code == 0
    with (out / "explanations_shap" / "out.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == VALUES + [f"{c}_se" for c in VALUES]
    values = np.array(rows[1:], dtype=float)
    phi, se = values[:, : len(VALUES)], values[:, len(VALUES) :]
    assert len(values) == 200 and (se >= 0).all() and (se > 0).any()
    # the two scores add up to one, so their values are opposite and their errors the same
    np.testing.assert_allclose(phi[:, :8], -phi[:, 8:], atol=1e-9)
    np.testing.assert_allclose(se[:, :8], se[:, 8:], rtol=1e-6, atol=1e-12)
    assert json.loads((out / "run_summary.json").read_text())["estimator"] == "gp"


def test_without_the_option_out_csv_is_clarifys_and_an_exact_budget_has_zero_errors(tmp_path):
    code, out = _run(tmp_path / "a", estimator="gp")
    assert code == 0
    assert (out / "explanations_shap" / "out.csv").read_text().splitlines()[0] == ",".join(VALUES)
    code, out = _run(tmp_path / "b", estimator="gp", save_local_shap_stderr=True, num_samples=254)
    assert code == 0
    values = np.loadtxt(out / "explanations_shap" / "out.csv", delimiter=",", skiprows=1)
    assert not values[:, len(VALUES) :].any()  # every coalition: exact values, no error


def _reviews_job(tmp_path, reviews, **shap):
    """The word model's gp job on ``reviews`` (token granularity, ``save_local_shap_stderr``); its exit code."""
    (tmp_path / "model.py").write_text(WORDS)
    (tmp_path / "reviews.csv").write_text("\n".join(reviews) + "\n")
    config = {
        "dataset_type": "text/csv",
        "headers": ["Review Text"],
        "predictor": {"model_name": "m", "instance_type": "ml.m5.xlarge", "initial_instance_count": 1},
        "methods": {"shap": {"baseline": [["<UNK>"]], "seed": 1, "save_local_shap_values": True,
                             "estimator": "gp", "save_local_shap_stderr": True,
                             "text_config": {"granularity": "token", "language": "english"}, **shap}},
    }  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    args = ["analyze", "--config", str(tmp_path / "cfg.json"), "--data", str(tmp_path / "reviews.csv"),
            "--output", str(tmp_path / "out"), "--model", f"{tmp_path / 'model.py'}:score", "--quiet"]  # fmt: skip
    return main(args)


def test_out_jsonl_gets_a_stderr_beside_each_attribution(tmp_path):
    reviews = ['"not good, not bad. I love it!"', '"Bad. Good? Not really good."']
    assert _reviews_job(tmp_path, reviews, num_samples=40) == 0
    for line in (tmp_path / "out" / "explanations_shap" / "out.jsonl").read_text().splitlines():
        (feature,) = json.loads(line)["explanations"]
        for a in feature["attributions"]:
            assert list(a) == ["attribution", "stderr", "description"]
            assert len(a["stderr"]) == len(a["attribution"]) == 1 and a["stderr"][0] >= 0


def test_the_config_names_the_estimators_and_what_the_standard_errors_need(tmp_path, capsys):
    with pytest.raises(ConfigError) as info:
        parse_analysis_config(_config(estimator="leverage"))
    assert any(p == "methods.shap.estimator" and "kernel" in m and "gp" in m for p, m in info.value.errors)
    with pytest.raises(ConfigError) as info:
        parse_analysis_config(_config(save_local_shap_stderr=True))
    assert any(p == "methods.shap.save_local_shap_stderr" and 'needs estimator "gp"' in m
               for p, m in info.value.errors)  # fmt: skip
    assert parse_analysis_config(_config()).methods.shap.estimator == "kernel"
    code, _ = _run(tmp_path / "c", save_local_shap_stderr=True)
    assert code == EXIT_CONFIG and "save_local_shap_stderr" in capsys.readouterr().err


def test_the_report_reads_the_errors_back_and_draws_whiskers(tmp_path):
    from openclarify.outputs import RecordSelection, read_output_folder
    from openclarify.report._charts import WHISKER, BarChart

    code, out = _run(tmp_path, estimator="gp", save_local_shap_stderr=True)
    assert code == 0
    values = np.loadtxt(out / "explanations_shap" / "out.csv", delimiter=",", skiprows=1)
    (record,) = read_output_folder(out, RecordSelection.rows([3])).records
    for j, feature in enumerate(record.features):
        (unit,) = feature.units
        assert unit.attribution == (values[3, j], values[3, 8 + j])
        assert unit.stderr == (values[3, 16 + j], values[3, 24 + j])
    chart = BarChart("r", ("a", "b", "c"), (1.0, -0.5, 0.0), errors=(0.1, 0.2, 0.0))
    plain = BarChart("r", ("a", "b", "c"), (1.0, -0.5, 0.0))
    # three strokes per whisker (the span and two caps), none for a zero error
    assert chart.svg().count("<line") - plain.svg().count("<line") == 6
    assert chart.rows() == [("a", 1.0, 0.1), ("b", -0.5, 0.2), ("c", 0.0, 0.0)] and WHISKER == 1.96
    figure = chart.figure()
    errorbars = [c for c in figure.axes[0].containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(errorbars[0].lines[2][0].get_segments()) == 3  # one span per bar


def test_a_join_source_column_and_the_error_columns_read_together(tmp_path):
    from openclarify.outputs import RecordSelection, read_output_folder

    folder = tmp_path / "j"
    folder.mkdir()
    abalone_classifier(folder)
    import pandas as pd

    frame = pd.read_csv(folder / "test.csv")
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    frame.to_csv(folder / "test.csv", index=False)
    config = _config(baseline=[["M", 0.5, 0.4, 0.14, 0.8, 0.35, 0.18, 0.24]], estimator="gp",
                     save_local_shap_stderr=True, num_samples=40)  # fmt: skip
    config["joinsource_name_or_index"] = "id"
    config["methods"]["report"] = {"name": "report"}
    (folder / "cfg.json").write_text(json.dumps(config))
    code = main(["analyze", "--config", str(folder / "cfg.json"), "--data", str(folder / "test.csv"), "--model",
                 str(folder / "model.joblib"), "--output", str(folder / "out"), "--quiet"])  # fmt: skip
    assert code == 0
    header = (folder / "out" / "explanations_shap" / "out.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "id" and header[1:] == VALUES + [f"{c}_se" for c in VALUES]
    (record,) = read_output_folder(folder / "out", RecordSelection.rows([5])).records
    assert record.join_source_value == "r5" and record.features[0].units[0].stderr is not None
    assert "± standard error" in (folder / "out" / "report.html").read_text()


def test_target_error_from_the_config_or_the_flag_and_what_the_summary_says(tmp_path, capsys):
    code, out = _run(tmp_path / "cfg", estimator="gp", target_error=0.002, num_samples=200)
    assert code == 0
    summary = json.loads((out / "run_summary.json").read_text())["target_error"]
    assert summary["target"] == 0.002 and summary["records_met"] + summary["records_not_met"]["count"] == 200
    assert 0 < summary["mean_num_samples"] <= 200
    # the flag sets it (and the estimator) in the job's own copy of the config
    folder = tmp_path / "flag"
    folder.mkdir()
    abalone_classifier(folder)
    config = _config(baseline=[["M", 0.5, 0.4, 0.14, 0.8, 0.35, 0.18, 0.24]], num_samples=200)
    (folder / "cfg.json").write_text(json.dumps(config))
    args = ["analyze", "--config", str(folder / "cfg.json"), "--data", str(folder / "test.csv"), "--model",
            str(folder / "model.joblib"), "--output", str(folder / "out"), "--quiet",
            "--target-error", "0.002"]  # fmt: skip
    assert main(args) == 0
    copied = json.loads((folder / "out" / "analysis_config.json").read_text())["methods"]["shap"]
    assert copied["estimator"] == "gp" and copied["target_error"] == 0.002
    assert json.loads((folder / "out" / "run_summary.json").read_text())["target_error"] == summary
    with pytest.raises(ConfigError) as info:
        parse_analysis_config(_config(target_error=0.01))
    assert any(p == "methods.shap.target_error" and 'needs estimator "gp"' in m for p, m in info.value.errors)
    with pytest.raises(ConfigError) as info:
        parse_analysis_config(_config(estimator="gp", target_error=-1))
    assert any(p == "methods.shap.target_error" and "must be a number > 0" in m for p, m in info.value.errors)


def test_target_error_for_records_with_text(tmp_path):
    reviews = ['"not good, not bad. I love it, it is good!"', '"Bad."', '"Good? Not really good, I love bad."']
    assert _reviews_job(tmp_path, reviews, num_samples=1000, target_error=0.003) == 0
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())["target_error"]
    assert summary["target"] == 0.003 and summary["records_met"] == 3 and summary["records_not_met"]["count"] == 0
    # the long reviews stop before 1000 coalitions; "Bad." (2 tokens) is exact with its 2
    assert 2 < summary["mean_num_samples"] < (1000 + 2 + 1000) / 3
    lines = (tmp_path / "out" / "explanations_shap" / "out.jsonl").read_text().splitlines()
    stderrs = [a["stderr"][0] for line in lines for f in json.loads(line)["explanations"] for a in f["attributions"]]
    assert stderrs and max(stderrs) <= 0.003
