"""`openclarify monitor`: drift between real explained windows of the abalone data, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from openclarify.cli import main
from support.abalone import abalone_classifier

CONFIG = {
    "dataset_type": "text/csv",
    "label": "old",
    "label_values_or_threshold": [1],
    "facet": [{"name_or_index": "Sex", "value_or_threshold": ["F"]}],
    "predictor": {"model_name": "abalone", "content_type": "text/csv"},
    "methods": {
        "shap": {
            "baseline": [["M", 0.5, 0.4, 0.13, 0.8, 0.35, 0.18, 0.24]],
            "num_samples": 100,
            "seed": 3,
            "save_local_shap_values": True,
        },
        "pre_training_bias": {"methods": "all"},
    },
}


@pytest.fixture(scope="module")
def windows(tmp_path_factory) -> dict[str, Path]:
    """Three explained windows: a baseline, a later one like it, and one shifted on purpose."""
    work = tmp_path_factory.mktemp("monitor")
    abalone_classifier(work)
    test = pd.read_csv(work / "test.csv")
    shifted = test.iloc[100:].copy()
    # the whole weight no longer varies (a broken scale): the feature the model leans on says nothing now,
    # and the females were all labelled old
    shifted["Whole_weight"] = 0.8
    shifted.loc[shifted["Sex"] == "F", "old"] = 1
    parts = {"baseline": test.iloc[:100], "same": test.iloc[100:], "shifted": shifted}
    (work / "cfg.json").write_text(json.dumps(CONFIG))
    out = {}
    for name, frame in parts.items():
        frame.to_csv(work / f"{name}.csv", index=False)
        args = ["analyze", "--config", str(work / "cfg.json"), "--data", str(work / f"{name}.csv")]
        assert main([*args, "--model", str(work / "model.joblib"), "--output", str(work / name), "--quiet"]) == 0
        out[name] = work / name
    return out


def test_a_window_like_the_baseline_passes(windows, tmp_path, capsys):
    args = ["monitor", "attribution", "--baseline", str(windows["baseline"] / "analysis.json")]
    assert main([*args, "--current", str(windows["same"]), "--output", str(tmp_path), "--fail-on-violation"]) == 0
    assert json.loads((tmp_path / "constraint_violations.json").read_text()) == {"version": "1.0", "violations": []}
    report = json.loads((tmp_path / "drift_report.json").read_text())
    assert all(label["ndcg"] >= 0.9 for label in report["labels"])
    assert "NDCG" in capsys.readouterr().err


def test_the_shifted_window_is_flagged_with_the_features_that_moved(windows, tmp_path, capsys):
    args = ["monitor", "attribution", "--baseline", str(windows["baseline"]), "--current", str(windows["shifted"])]
    assert main([*args, "--output", str(tmp_path)]) == 0  # violations are reported; the exit code stays 0
    assert main([*args, "--fail-on-violation"]) == 6
    violations = json.loads((tmp_path / "constraint_violations.json").read_text())["violations"]
    assert {v["label"] for v in violations} == {"0", "1"}
    assert all(v["constraint_check_type"] == "feature_attribution_drift_check" for v in violations)
    report = json.loads((tmp_path / "drift_report.json").read_text())
    weight = next(f for f in report["labels"][1]["features"] if f["feature"] == "Whole_weight")
    assert weight["baseline_rank"] == 1 and abs(weight["current_value"]) < 1e-4 and weight["current_rank"] == 8
    # the interval of the shifted window's NDCG lies below the threshold too: alerting on it still alerts
    interval = [*args, "--confidence", "0.95", "--replicates", "200", "--alert-on", "interval", "--fail-on-violation"]
    assert main(interval) == 6
    assert "interval" in capsys.readouterr().err


def test_bias_drift_flags_the_relabelled_sex(windows, tmp_path):
    args = ["monitor", "bias", "--baseline", str(windows["baseline"]), "--output", str(tmp_path)]
    assert main([*args, "--current", str(windows["same"] / "analysis.json")]) == 0
    assert main([*args, "--current", str(windows["shifted"]), "--fail-on-violation"]) == 6
    violations = json.loads((tmp_path / "constraint_violations.json").read_text())["violations"]
    assert violations and all(v["facet"] == "Sex" and v["facet_value"] == "F" for v in violations)
    assert "DPL" in {v["metric_name"] for v in violations}


def test_user_errors_are_one_line(windows, tmp_path, capsys):
    args = ["monitor", "attribution", "--baseline", str(tmp_path / "none"), "--current", str(windows["same"])]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no analysis.json" in err
    (tmp_path / "file").write_text("x")
    args = ["monitor", "bias", "--baseline", str(windows["baseline"]), "--current", str(windows["same"])]
    assert main([*args, "--output", str(tmp_path / "file")]) == 5
