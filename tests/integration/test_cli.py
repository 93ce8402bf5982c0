"""The command line end to end: real files, real scikit-learn models, exit codes and messages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from openclarify.cli import EXIT_CONFIG, EXIT_DATA, EXIT_MODEL, EXIT_OUTPUT, main
from openclarify.outputs._staging import LOCK_FILE

ROOT = Path(__file__).resolve().parents[2]
ABALONE = ROOT / "data" / "abalone" / "abalone.csv"
FEATURES = ["Sex", "Length", "Diameter", "Height", "Whole_weight", "Shucked_weight", "Viscera_weight", "Shell_weight"]


@pytest.fixture(scope="module")
def abalone(tmp_path_factory):
    """A small abalone pipeline model, a 40-row test set and a config with a baseline file."""
    d = tmp_path_factory.mktemp("abalone")
    frame = pd.read_csv(ABALONE)
    train, test = frame.iloc[:600], frame.iloc[600:640]
    numeric = FEATURES[1:]
    model = Pipeline(
        [
            (
                "cols",
                ColumnTransformer(
                    [("num", "passthrough", numeric), ("sex", OneHotEncoder(handle_unknown="ignore"), ["Sex"])]
                ),
            ),
            ("rf", RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0, n_jobs=1)),
        ]
    ).fit(train[FEATURES], train["Rings"])
    joblib.dump(model, d / "model.joblib")
    test.to_csv(d / "test.csv", index=False)
    (d / "baseline.csv").write_text("M,0.545,0.425,0.14,0.7995,0.336,0.171,0.234\n")
    config = {
        "dataset_type": "text/csv",
        "label": "Rings",
        "predictor": {
            "model_name": "m",
            "instance_type": "ml.m5.xlarge",
            "initial_instance_count": 1,
            "content_type": "text/csv",
            "accept_type": "text/csv",
        },
        "methods": {
            "report": {"name": "report", "title": "Analysis Report"},
            "shap": {
                "baseline": "baseline.csv",
                "num_samples": 300,
                "agg_method": "mean_abs",
                "use_logit": False,
                "save_local_shap_values": True,
                "seed": 1,
            },
        },
    }
    (d / "config.json").write_text(json.dumps(config))
    return d, model, test


def _run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _abalone_args(d: Path, out: Path) -> list:
    return [
        "analyze",
        "--config",
        d / "config.json",
        "--data",
        d / "test.csv",
        "--model",
        d / "model.joblib",
        "--output",
        out,
    ]


def test_analyze_writes_clarify_files_that_add_up(abalone, tmp_path, capsys):
    d, model, test = abalone
    out = tmp_path / "out"
    code, _, err = _run(_abalone_args(d, out), capsys)
    assert code == 0, err
    assert "explained 40 records x 8 features x 1 outputs" in err
    assert "exact (all coalitions)" in err  # 2^8 - 2 = 254 <= 300
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == [
        "analysis.json",
        "analysis_config.json",
        "explanations_shap/baseline.csv",
        "explanations_shap/out.csv",
        "explanations_shap/predictions.jsonl",
        "report.html",
        "report.ipynb",
        "report.pdf",
        "run_summary.json",
    ]
    analysis = json.loads((out / "analysis.json").read_text())
    entry = analysis["explanations"]["kernel_shap"]["label0"]
    assert list(entry["global_shap_values"]) == FEATURES
    base = pd.DataFrame([["M", 0.545, 0.425, 0.14, 0.7995, 0.336, 0.171, 0.234]], columns=FEATURES)
    assert entry["expected_value"] == pytest.approx(model.predict(base)[0], abs=1e-12)
    local = pd.read_csv(out / "explanations_shap" / "out.csv")
    assert list(local.columns) == [f"{f}_label0" for f in FEATURES]
    assert len(local) == 40
    np.testing.assert_allclose(local.sum(axis=1) + entry["expected_value"], model.predict(test[FEATURES]), atol=1e-9)
    np.testing.assert_allclose(list(entry["global_shap_values"].values()), local.abs().mean(axis=0), rtol=1e-12)
    assert (out / "explanations_shap" / "baseline.csv").read_text() == "M,0.545,0.425,0.14,0.7995,0.336,0.171,0.234\n"


def test_python_module_entry_point_and_quiet(abalone, tmp_path):
    d, _, _ = abalone
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "openclarify", *_abalone_args(d, out), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "explained" not in done.stderr
    assert (out / "analysis.json").is_file()


def _write(d: Path, name: str, text: str) -> Path:
    path = d / name
    path.write_text(text)
    return path


BAD_CASES = [
    # (files to write, args override, exit code, message regex)
    pytest.param(
        {"config.json": '{"dataset_type": "text/csv",,}'},
        {},
        EXIT_CONFIG,
        r"config error: analysis config '.*config.json': not valid JSON \(line 1",
        id="malformed-json",
    ),
    pytest.param(
        {
            "config.json": json.dumps(
                {
                    "dataset_type": "text/csv",
                    "label": "y",
                    "predictor": {},
                    "methods": {"shap": {"num_samples": -3, "seed": "x"}},
                }
            )
        },
        {},
        EXIT_CONFIG,
        r"methods\.shap\.num_samples: .*-3.*\n.*methods\.shap\.seed",
        id="wrong-types",
    ),
    pytest.param(
        {
            "config.json": json.dumps(
                {"dataset_type": "text/csv", "label": "y", "predictor": {}, "methods": {"shap": {"num_sample": 10}}}
            )
        },
        {},
        EXIT_CONFIG,
        r"methods\.shap\.num_sample: .*num_samples",
        id="unknown-key",
    ),
    pytest.param(
        {
            "config.json": json.dumps(
                {
                    "dataset_type": "text/csv",
                    "label": "y",
                    "predictor": {},
                    "label_values_or_threshold": [1],
                    "facet": [{"name_or_index": "zz"}],
                    "methods": {"shap": {"baseline": [[0, 0]]}, "pre_training_bias": {"methods": "all"}},
                }
            )
        },
        {},
        EXIT_CONFIG,
        r"facet\[0\]\.name_or_index: no column 'zz' in the dataset; the columns are 'a', 'b'\.",
        id="bias-unknown-facet",
    ),
    pytest.param(
        {"data.csv": "a,b,y\n1,2,3\n4,5\n"}, {}, EXIT_DATA, r"line 3: expected 3 columns.*got 2", id="short-row"
    ),
    pytest.param({}, {"--data": "missing.csv"}, EXIT_DATA, r"missing\.csv", id="missing-data"),
    pytest.param(
        {"model.py": "def predict(df):\n    raise ValueError('bad input')\n"},
        {},
        EXIT_MODEL,
        r"model error: model 'model\.py:predict' raised ValueError .*bad input",
        id="model-raises",
    ),
    pytest.param(
        {"model.py": "def predict(df):\n    return [1.0]\n"},
        {},
        EXIT_MODEL,
        r"model error: .*expected one score or score vector for each of the",
        id="model-wrong-shape",
    ),
    pytest.param(
        {},
        {"--model": "nope.joblib"},
        EXIT_MODEL,
        r"model error: --model 'nope\.joblib': file not found",
        id="missing-model",
    ),
    pytest.param(
        {
            "config.json": json.dumps(
                {
                    "dataset_type": "text/csv",
                    "label": "y",
                    "predictor": {},
                    "methods": {"shap": {"baseline": [[0, 0, 0]]}},
                }
            )
        },
        {},
        EXIT_DATA,
        r"baseline.*expected 2 values",
        id="baseline-width",
    ),
]


@pytest.mark.parametrize(("files", "override", "exit_code", "pattern"), BAD_CASES)
def test_bad_input_one_line_exit_code_no_output(tmp_path, monkeypatch, capsys, files, override, exit_code, pattern):
    monkeypatch.chdir(tmp_path)
    defaults = {
        "config.json": json.dumps(
            {
                "dataset_type": "text/csv",
                "label": "y",
                "predictor": {"content_type": "text/csv"},
                "methods": {"shap": {"baseline": [[0, 0]], "save_local_shap_values": True}},
            }
        ),
        "data.csv": "a,b,y\n1,2,3\n4,5,6\n",
        "model.py": "def predict(df):\n    return df['a'] + df['b']\n",
    }
    for name, text in {**defaults, **files}.items():
        _write(tmp_path, name, text)
    args = {"--config": "config.json", "--data": "data.csv", "--model": "model.py:predict", "--output": "out"}
    args.update(override)
    code, out, err = _run(["analyze", *[x for kv in args.items() for x in kv]], capsys)
    assert code == exit_code, err
    assert "Traceback" not in err
    assert re.search(pattern, err), err
    assert not (tmp_path / "out").exists()


def test_debug_shows_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "config.json", "[1, 2]")
    code, _, err = _run(
        ["analyze", "--config", "config.json", "--data", "d.csv", "--model", "m.py:f", "--output", "out", "--debug"],
        capsys,
    )
    assert code == EXIT_CONFIG
    assert "Traceback" in err


def _job(tmp_path: Path, shap: dict, data: str, model: str) -> None:
    """Write config.json (CSV, label 'y'), data.csv and model.py into tmp_path."""
    config = {"dataset_type": "text/csv", "label": "y", "predictor": {}, "methods": {"shap": shap}}
    _write(tmp_path, "config.json", json.dumps(config))
    _write(tmp_path, "data.csv", data)
    _write(tmp_path, "model.py", model)


def _analyze(capsys, *extra: str, output: str = "out"):
    args = ["--config", "config.json", "--data", "data.csv", "--model", "model.py:predict", "--output", output]
    return _run(["analyze", *args, *extra], capsys)


def test_failure_after_output_dir_exists_leaves_old_files_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # an earlier job's folder
    _job(tmp_path, {"baseline": [[0, 0]]}, "a,b,y\n" + "".join(f"{i},{i},0\n" for i in range(100)), "")
    _write(tmp_path, "model.py", "def predict(df):\n    return df['a'] + df['b']\n")
    assert _analyze(capsys, "--quiet")[0] == 0
    # the lock file says who holds the folder (a pid and the second it started): every job rewrites it
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file() and p.name != LOCK_FILE}
    # fails on the second chunk: records are fine for a while, then the model breaks
    model = (
        "def predict(df):\n    if (df['a'] > 50).any():\n        raise RuntimeError('boom')\n"
        "    return df['a'] + df['b']\n"
    )
    _write(tmp_path, "model.py", model)
    code, _, err = _analyze(capsys, "--chunk-size", "64")
    assert code == EXIT_MODEL, err
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file() and p.name != LOCK_FILE}
    assert after == before  # the earlier job's files, byte for byte, and no staging left


@pytest.mark.filterwarnings("always::openclarify.errors.ApproximationWarning")
def test_warnings_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = "def predict(df):\n    return df['a'] * df['b'] + df['c']\n"
    _job(tmp_path, {"baseline": [[0, 0, 0]], "num_samples": 1}, "a,b,c,y\n1,2,3,0\n", model)
    code, _, err = _analyze(capsys)
    assert code == 0, err
    assert "openclarify: warning: num_samples=1 gives 0 coalitions for 3 players" in err
    assert "warnings.warn" not in err


def test_unwritable_output_is_an_output_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _job(tmp_path, {"baseline": [[0]]}, "a,y\n1,0\n", "def predict(df):\n    return df['a']\n")
    _write(tmp_path, "blocker", "a file where a folder should be")
    code, _, err = _analyze(capsys, output="blocker/out")
    assert code == EXIT_OUTPUT, err
    assert re.search(r"output error: output folder 'blocker/out': cannot be created or written", err), err


def test_analyze_report_shows_scores_true_labels_and_the_run(abalone, tmp_path, capsys):
    """methods.report: the report reads the files just written; the scores are the model's, the true
    labels the dataset's, the chart values out.csv's, and the run's facts are in the summary."""
    from openclarify.report import RecordSelection, load_report, render_html

    d, model, test = abalone
    out = tmp_path / "out"
    code, _, err = _run([*_abalone_args(d, out), "--report-records", "top:3"], capsys)
    assert code == 0, err
    report = load_report(out, records=RecordSelection.top(3))
    local = pd.read_csv(out / "explanations_shap" / "out.csv")
    predicted = model.predict(test[FEATURES])
    totals = local.abs().sum(axis=1).to_numpy()
    assert [r.row for r in report.records] == sorted(np.argsort(-totals, kind="stable")[:3].tolist())
    for record in report.records:
        assert record.prediction_source == "model"
        assert record.score == pytest.approx(predicted[record.row], abs=1e-12)
        assert record.true_label == test["Rings"].iloc[record.row]
        assert dict(record.tabular_features) == {
            f: pytest.approx(local[f"{f}_label0"].iloc[record.row], abs=0) for f in FEATURES
        }
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html == render_html(report)  # the file is that report
    summary = dict(report.summary.items)
    assert summary["Model"] == str(d / "model.joblib")
    assert summary["Dataset"] == f"{d / 'test.csv'} (text/csv)"
    assert summary["Records explained"] == "40" and summary["Coalitions per record"].startswith("254 (every")
    assert re.fullmatch(r"\d+ \(\d+ rows scored, \d+\.\d s in the model\)", summary["Model calls"])
    assert "Showing 3 of 40 records: the 3 records with the largest total |attribution|" in html


def test_report_command_on_a_clarify_folder(tmp_path, capsys):
    import shutil

    folder = tmp_path / "job"
    shutil.copytree(ROOT / "tests" / "compat" / "data" / "clarify_job_text", folder)
    code, _, err = _run(["report", folder, "--records", "0,5", "--format", "html,ipynb", "--title", "Reviews"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        "analysis.json",
        "analysis_config.json",
        "report.html",
        "report.ipynb",
    ]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<title>Reviews</title>" in html and 'id="record-0"' in html and 'id="record-5"' in html
    assert html.count('class="oc-record"') == 2
    assert f"wrote {folder / 'report.html'}" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--records", "first:0"], 2, "must be 'first:N', 'top:N' (N >= 1) or record numbers"),
        (["--records", "a,b"], 2, "must be 'first:N', 'top:N' (N >= 1) or record numbers"),
        (["--format", "docx"], 2, "must list some of html, pdf, ipynb; got 'docx'"),
        (["--label", "label9"], EXIT_DATA, "label: not a label of this analysis; got 'label9'. The labels are"),
    ],
)
def test_report_command_rejects_bad_options(tmp_path, capsys, args, code, message):
    folder = ROOT / "tests" / "compat" / "data" / "clarify_job_tabular"
    got, _, err = _run(["report", folder, "--output", tmp_path, *args], capsys)
    assert got == code and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_report_command_on_a_folder_without_outputs(tmp_path, capsys):
    code, _, err = _run(["report", tmp_path / "nothing"], capsys)
    assert code == EXIT_DATA
    assert f"output folder '{tmp_path / 'nothing'}': has no analysis.json (the folder does not exist)" in err
    assert "Traceback" not in err


@pytest.mark.filterwarnings("always::openclarify.OpenClarifyWarning")
def test_a_report_failure_never_costs_the_analysis(abalone, tmp_path, capsys, monkeypatch):
    """No PDF renderer: analysis files, report.html and report.ipynb are written; a warning says why."""
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    d, _, _ = abalone
    out = tmp_path / "out"
    code, _, err = _run(_abalone_args(d, out), capsys)
    assert code == 0, err
    assert "methods.report: report.pdf was not written: report.pdf needs the optional dependency 'weasyprint'" in err
    names = {p.name for p in out.iterdir()}
    assert {"analysis.json", "report.html", "report.ipynb"} <= names and "report.pdf" not in names
