"""The attribution and bias drift checks on analysis.json files as Clarify and Model Monitor write them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from openclarify.errors import ConfigError, ReportError
from openclarify.monitoring import attribution_drift, bias_drift, drift_report, read_job, write_violations


def _shap_job(folder: Path, labels: dict[str, dict[str, float]], local: dict[str, np.ndarray] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    section = {k: {"global_shap_values": v, "expected_value": 0.5} for k, v in labels.items()}
    (folder / "analysis.json").write_text(json.dumps({"version": "1.0", "explanations": {"kernel_shap": section}}))
    if local is not None:  # out.csv: <feature>_<label> columns, one row per record
        names = list(next(iter(labels.values())))
        header = [f"{n}_{k}" for k in labels for n in names]
        rows = np.hstack([local[k] for k in labels])
        (folder / "explanations_shap").mkdir(exist_ok=True)
        lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in rows]
        (folder / "explanations_shap" / "out.csv").write_text("\n".join(lines) + "\n")
    return folder / "analysis.json"


def test_two_labels_are_checked_apart_and_written_as_model_monitor_does(tmp_path):
    base = _shap_job(tmp_path / "base", {"cat": {"a": 0.7, "b": 0.5, "c": 0.05}, "dog": {"a": 0.3, "b": 0.2, "c": 0.1}})
    now = _shap_job(tmp_path / "now", {"cat": {"a": 0.1, "b": 0.2, "c": 0.7}, "dog": {"a": 0.6, "b": 0.4, "c": 0.1}})
    result = attribution_drift(read_job(base), read_job(now))
    cat, dog = result.labels
    assert cat.ndcg == pytest.approx(0.687639624122622, abs=1e-15) and cat.violation
    assert dog.ndcg == 1.0 and not dog.violation
    assert [(m.name, m.baseline_rank, m.current_rank, m.moved) for m in cat.features] == [
        ("a", 1, 3, -2), ("c", 3, 1, 2), ("b", 2, 2, 0)
    ]  # fmt: skip
    written = write_violations(tmp_path / "out", result.violations, drift_report(result))
    document = json.loads(Path(written[0]).read_text())
    assert document == {
        "version": "1.0",
        "violations": [
            {
                "label": "cat",
                "metric_name": "shap",
                "constraint_check_type": "feature_attribution_drift_check",
                "description": f"Feature attribution drift {cat.ndcg!r} exceeds threshold 0.9",
            }
        ],
    }
    report = json.loads(Path(written[1]).read_text())
    assert report["labels"][0]["features"][0] == {
        "feature": "a", "baseline_value": 0.7, "current_value": 0.1, "baseline_rank": 1, "current_rank": 3, "moved": -2
    }  # fmt: skip


@pytest.mark.parametrize(
    ("base", "now", "ndcg", "note"),
    [
        pytest.param({"a": 1.0}, {"a": 0.0}, 1.0, "one feature", id="one-feature"),
        pytest.param({"a": 0.0, "b": 0.0}, {"a": 0.0, "b": 0.0}, 1.0, "all zero", id="all-zero-both"),
        pytest.param({"a": 0.0, "b": 0.0}, {"a": 0.1, "b": 0.0}, 0.0, "all zero", id="all-zero-baseline"),
        pytest.param({"a": -0.9, "b": 0.1}, {"a": 0.1, "b": -0.8}, None, "by magnitude", id="negative"),
        pytest.param({"a": 0.9, "b": 0.1}, {"a": 0.9}, 1.0, "missing from the current job count 0", id="missing"),
        pytest.param({"a": 0.9, "b": 0.1}, {"a": 0.9, "b": 0.1, "z": 5.0}, 1.0, "only the current job has",
                     id="extra"),
    ],
)  # fmt: skip
def test_what_aws_leaves_silent_is_decided_and_said(tmp_path, base, now, ndcg, note):
    result = attribution_drift(
        read_job(_shap_job(tmp_path / "base", {"label0": base})), read_job(_shap_job(tmp_path / "now", {"label0": now}))
    )
    (label,) = result.labels
    if ndcg is not None:
        assert label.ndcg == ndcg
    else:  # ranked by |value|: b now leads, as a led before
        assert label.ndcg == pytest.approx((0.1 + 0.9 / np.log2(3)) / (0.9 + 0.1 / np.log2(3)))
    assert any(note in n for n in label.notes)


def test_a_label_missing_now_is_a_violation(tmp_path):
    base = _shap_job(tmp_path / "base", {"a": {"x": 1.0, "y": 0.5}, "b": {"x": 1.0, "y": 0.5}})
    now = _shap_job(tmp_path / "now", {"a": {"x": 1.0, "y": 0.5}})
    result = attribution_drift(read_job(base), read_job(now))
    assert [(d.label, d.violation) for d in result.labels] == [("a", False), ("b", True)]
    assert result.violations[0]["description"] == "Label b is missing from the current analysis"


def test_the_interval_resamples_the_current_records_and_can_hold_back_an_alert(tmp_path):
    rng = np.random.default_rng(0)
    # the current window: x and y almost tied (noisy), so a point NDCG below the threshold is not certain
    local = np.column_stack([rng.normal(0, 1.0, 400), rng.normal(0, 1.02, 400), rng.normal(0, 0.1, 400)])
    labels = {"label0": dict(zip("xyz", np.mean(np.abs(local), axis=0).tolist(), strict=True))}
    now = _shap_job(tmp_path / "now", labels, {"label0": local})
    base = _shap_job(tmp_path / "base", {"label0": {"x": 1.0, "y": 0.05, "z": 0.0}})
    point = attribution_drift(read_job(base), read_job(now), threshold=0.99)
    held = attribution_drift(read_job(base), read_job(now), threshold=0.99, confidence=0.95, alert_on="interval")
    (p,), (h,) = point.labels, held.labels
    assert p.ndcg == h.ndcg
    level, lower, upper = h.interval
    assert level == 0.95 and lower <= h.ndcg < upper == 1.0 and held.records == 400
    assert p.violation and not h.violation  # below the threshold, but the resamples often put x first again
    assert any("not alerted" in n for n in h.notes)
    again = attribution_drift(read_job(base), read_job(now), threshold=0.99, confidence=0.95, alert_on="interval")
    assert again.labels[0].interval == h.interval  # the seed fixes the replicates


def test_bad_arguments_and_jobs_are_refused(tmp_path):
    job = read_job(_shap_job(tmp_path / "a", {"label0": {"x": 1.0, "y": 0.5}}))
    with pytest.raises(ConfigError, match="threshold: must be a number from 0 to 1"):
        attribution_drift(job, job, threshold=1.5)
    with pytest.raises(ConfigError, match="needs its level"):
        attribution_drift(job, job, alert_on="interval")
    with pytest.raises(ReportError, match="local values"):
        attribution_drift(job, job, confidence=0.9)
    with pytest.raises(ReportError, match="no such file"):
        read_job(tmp_path / "missing" / "analysis.json")
    with pytest.raises(ReportError, match="no bias metrics|no pre_training_bias_metrics"):
        bias_drift(job, job)


def _bias_job(folder: Path, values: dict[str, object], intervals: dict[str, list[float]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    metrics = []
    for name, value in values.items():
        entry = {"name": name, "description": f"{name} metric", "value": value}
        if value is None:
            entry["error"] = "Group variable is empty or not provided"
        if intervals and name in intervals:
            entry["confidence_interval"] = {"level": 0.95, "lower": intervals[name][0], "upper": intervals[name][1]}
        metrics.append(entry)
    stage = {"label": "Target", "facets": {"Sex": [{"value_or_threshold": "0", "metrics": metrics}]},
             "label_value_or_threshold": "1"}  # fmt: skip
    (folder / "analysis.json").write_text(json.dumps({"version": "1.0", "post_training_bias_metrics": stage}))
    return folder / "analysis.json"


def test_bias_drift_as_the_aws_examples_say(tmp_path):
    base = _bias_job(
        tmp_path / "base",
        {"DPPL": 0.2, "DCR": 0.027874251497005953, "TE": 2.92, "DI": 0.5, "AD": 0.1, "CDDPL": None, "RD": 0.1},
    )
    now = _bias_job(
        tmp_path / "now",
        {"DPPL": -0.3, "DCR": -0.0765, "TE": "Infinity", "DI": 1.9, "AD": 0.05, "CDDPL": 0.3, "RD": -0.1},
    )
    result = bias_drift(read_job(base), read_job(now))
    verdicts = {m.metric: m.violation for m in result.metrics}
    # DPPL 0.2 -> -0.3 and DCR 0.0279 -> -0.0765: worse; TE -> Infinity: worse; DI 0.5 -> 1.9: |ln 1.9| < |ln 0.5|
    assert verdicts == {"DPPL": True, "DCR": True, "TE": True, "DI": False, "AD": False, "CDDPL": False, "RD": False}
    assert result.violations[0] == {
        "facet": "Sex",
        "facet_value": "0",
        "metric_name": "DPPL",
        "constraint_check_type": "bias_drift_check",
        "description": "Metric value -0.3 doesn't meet the baseline constraint requirement 0.2",
    }
    assert (
        result.violations[2]["description"]
        == "Metric value Infinity doesn't meet the baseline constraint requirement 2.92"
    )


def test_bias_intervals_can_hold_back_an_alert(tmp_path):
    base = _bias_job(tmp_path / "base", {"DPPL": 0.2, "AD": 0.1})
    now = _bias_job(tmp_path / "now", {"DPPL": 0.25, "AD": 0.4}, {"DPPL": [0.05, 0.45], "AD": [0.3, 0.5]})
    point = {m.metric: m.violation for m in bias_drift(read_job(base), read_job(now)).metrics}
    held = {m.metric: m.violation for m in bias_drift(read_job(base), read_job(now), alert_on="interval").metrics}
    assert point == {"DPPL": True, "AD": True}
    assert held == {"DPPL": False, "AD": True}  # DPPL's interval reaches 0.2 and below; AD's all lies past 0.1
