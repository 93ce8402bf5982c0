"""The seed workflow "Clarify with a scikit-learn container", run locally.

1. Train ``Pipeline(ColumnTransformer(numeric passthrough, OneHotEncoder(Sex)), RandomForestRegressor)``
   on 80% of the UCI abalone data to predict Rings; save it with joblib.
2. Run ``openclarify analyze`` with ``analysis_config.json`` (baseline from ``baseline.csv``, the
   median abalone) on the held-out 20%.
3. Print the global feature importance and one local explanation from the files it wrote.
4. Measure bias with ``bias_config.json``: is an abalone "old" (more than 10 rings) as often in the labels,
   and in the model's predictions, whatever its sex (one sex against the others)? Print a few metrics.
5. Watch for drift as Model Monitor does: explain a later window of abalones whose most important
   measurement no longer varies (a broken scale), and ``openclarify monitor attribution`` against step 2's
   job flags it (the NDCG of the new feature ranking falls below 0.9).
6. The whole loop of the post as one workflow (``workflow.yaml``): ``openclarify workflow run`` trains,
   explains, gates (R^2 >= 0.5, the top feature is not Sex) and deploys (``openclarify serve``, ``/ping``
   checked, then stopped), each step's files in the run's folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "data" / "abalone" / "abalone.csv"
WORK = ROOT / "demo_output" / "abalone"


def train(work: Path) -> Path:
    frame = pd.read_csv(DATA)
    train_set, test_set = train_test_split(frame, test_size=0.2, random_state=0)
    features = [c for c in frame.columns if c != "Rings"]
    numeric = [c for c in features if c != "Sex"]
    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("numeric", "passthrough", numeric), ("sex", OneHotEncoder(handle_unknown="ignore"), ["Sex"])]
                ),
            ),
            ("forest", RandomForestRegressor(n_estimators=100, min_samples_leaf=5, random_state=0, n_jobs=1)),
        ]
    )
    model.fit(train_set[features], train_set["Rings"])
    r2 = model.score(test_set[features], test_set["Rings"])
    work.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, work / "model.joblib")
    test_set.to_csv(work / "test.csv", index=False)
    print(f"trained RandomForestRegressor on {len(train_set)} abalones; test R^2 = {r2:.3f} on {len(test_set)}")
    return work / "test.csv"


def shown(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=WORK, help="where the files go (default: %(default)s)")
    work = parser.parse_args(argv).work_dir.resolve()
    test_csv = train(work)
    out = work / "clarify_output"
    cmd = [
        sys.executable,
        "-m",
        "openclarify",
        "analyze",
        "--config",
        str(HERE / "analysis_config.json"),
        "--data",
        str(test_csv),
        "--model",
        str(work / "model.joblib"),
        "--output",
        str(out),
        "--threads",
        "2",
    ]
    print(
        f"$ openclarify analyze --config examples/abalone/analysis_config.json --data {shown(test_csv)} "
        f"--model {shown(work / 'model.joblib')} --output {shown(out)} --threads 2"
    )
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        return done.returncode

    analysis = json.loads((out / "analysis.json").read_text())["explanations"]["kernel_shap"]["label0"]
    print(f"\nexpected value (mean prediction on the baseline): {analysis['expected_value']:.3f} rings")
    print("global SHAP values (mean |SHAP|), largest first:")
    for name, value in sorted(analysis["global_shap_values"].items(), key=lambda kv: -kv[1]):
        print(
            f"  {name:<15} {value:7.3f}  {'#' * int(round(40 * value / max(analysis['global_shap_values'].values())))}"
        )

    local = pd.read_csv(out / "explanations_shap" / "out.csv")
    record = pd.read_csv(test_csv).iloc[0]
    phi = local.iloc[0]
    model = joblib.load(work / "model.joblib")
    prediction = float(model.predict(record.drop("Rings").to_frame().T.infer_objects())[0])
    print(
        f"\nlocal explanation of the first test abalone (true rings {int(record['Rings'])}, "
        f"predicted {prediction:.2f}):"
    )
    for column in sorted(phi.index, key=lambda c: -abs(phi[c])):
        name = column.removesuffix("_label0")
        print(f"  {name:<15} = {record[name]!s:<8} SHAP {phi[column]:+7.3f}")
    total = analysis["expected_value"] + phi.sum()
    print(
        f"  expected value {analysis['expected_value']:.3f} + sum of SHAP {phi.sum():+.3f} = {total:.3f} "
        f"(model: {prediction:.3f})"
    )
    reports = [out / f"report.{ext}" for ext in ("html", "pdf", "ipynb")]
    print(f"\nreport: {', '.join(shown(p) for p in reports if p.exists())}")
    code = bias(work, model)
    if code != 0:
        return code
    top = max(analysis["global_shap_values"], key=lambda name: analysis["global_shap_values"][name])
    code = drift(work, out, top)
    if code != 0:
        return code
    return pipeline(work)


def bias(work: Path, model: Pipeline) -> int:
    """Pre- and post-training bias of "old" (more than 10 rings) by sex, the predictions made above."""
    test = pd.read_csv(work / "test.csv")
    features = [c for c in test.columns if c != "Rings"]
    test["Old"] = (test["Rings"] > 10).astype(int)
    test["PredictedOld"] = (model.predict(test[features]) > 10).astype(int)
    test.to_csv(work / "test_bias.csv", index=False)
    out = work / "bias_output"
    config = HERE / "bias_config.json"
    print(
        f"\n$ openclarify analyze --config {shown(config)} --data {shown(work / 'test_bias.csv')} "
        f"--output {shown(out)} --bias-ci 0.95"
    )
    args = ["analyze", "--config", str(config), "--data", str(work / "test_bias.csv"), "--output", str(out)]
    done = subprocess.run([sys.executable, "-m", "openclarify", *args, "--bias-ci", "0.95"], check=False)
    if done.returncode != 0:
        return done.returncode
    analysis = json.loads((out / "analysis.json").read_text())
    for key, codes in (("pre_training_bias_metrics", ("CI", "DPL")), ("post_training_bias_metrics", ("DPPL", "DI"))):
        print(f"{key.split('_bias')[0].replace('_', '-')} bias of label 'Old' by Sex (one sex against the others):")
        for group in analysis[key]["facets"]["Sex"]:
            values = {m["name"]: m for m in group["metrics"]}
            shown_values = ", ".join(
                f"{c} {values[c]['value']:+.3f} [{values[c]['confidence_interval']['lower']:+.3f}, "
                f"{values[c]['confidence_interval']['upper']:+.3f}]"
                for c in codes
            )
            print(f"  Sex = {group['value_or_threshold']}: {shown_values}")
    print(f"bias report: {shown(out / 'report.html')}")
    return 0


def drift(work: Path, baseline: Path, top: str) -> int:
    """Explain 200 later abalones whose ``top`` feature reads a constant, and check attribution drift."""
    window = pd.read_csv(work / "test.csv").iloc[:200].copy()
    window[top] = window[top].median()  # a broken scale: the feature the model leans on says nothing now
    window.to_csv(work / "window.csv", index=False)
    current = work / "window_output"
    violations = work / "drift_violations"
    steps = [
        ["analyze", "--config", shown(HERE / "analysis_config.json"), "--data", shown(work / "window.csv"),
         "--model", shown(work / "model.joblib"), "--output", shown(current), "--threads", "2"],
        ["monitor", "attribution", "--baseline", shown(baseline), "--current", shown(current), "--output",
         shown(violations)],
    ]  # fmt: skip
    print(f"\na later window of 200 abalones whose {top} reads {window[top].iloc[0]} for all of them:")
    for args in steps:
        print(f"$ openclarify {' '.join(args)}", flush=True)
        done = subprocess.run([sys.executable, "-m", "openclarify", *args], cwd=ROOT, check=False)
        if done.returncode != 0:
            return done.returncode
    found = json.loads((violations / "constraint_violations.json").read_text())["violations"]
    print(f"drift: {len(found)} violation(s): " + "; ".join(v["description"] for v in found))
    return 0


def pipeline(work: Path) -> int:
    """Run ``workflow.yaml``: train -> explain -> gate -> deploy, its runs under ``work``."""
    args = ["workflow", "run", shown(HERE / "workflow.yaml"), "--runs", shown(work / "workflow_runs")]
    print(f"\nthe whole loop as one workflow:\n$ openclarify {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "openclarify", *args], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
