"""`analyze --backend dask`: the same files, byte for byte, as the local backend, on a real local cluster of
worker processes (the model loaded on each worker from its spec), for every golden case (tabular, JSON
Lines, multiclass, text) at several partition sizes, and for PDP and bias."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from openclarify.cli import main
from support.served import job_files

pytestmark = [pytest.mark.integration, pytest.mark.slow]

distributed = pytest.importorskip("distributed")

CASES = Path(__file__).resolve().parents[1] / "compat" / "cases"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scheduler():
    """One local cluster of two worker processes for the module (starting one costs seconds)."""
    import dask

    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _models_on_workers(address: str) -> list[str]:
    """The model specs the cluster's workers have loaded (the per-worker cache of work items' models)."""

    def loaded() -> list[str]:
        from openclarify.backends import _base

        return sorted(_base._models)

    with distributed.Client(address, set_as_default=False) as client:
        return sorted({key for keys in client.run(loaded).values() for key in keys})


def _analyze(config: Path, data: Path, model: str, out: Path, *extra: str) -> None:
    args = ["analyze", "--config", str(config), "--data", str(data), "--model", model, "--output", str(out)]
    assert main([*args, "--quiet", *extra]) == 0


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_every_golden_case_gives_the_same_bytes_on_the_cluster(case, tmp_path, scheduler):
    work = tmp_path / case
    shutil.copytree(CASES / case, work, ignore=shutil.ignore_patterns("expected"))
    data = next(p for p in work.iterdir() if p.name.startswith("dataset"))
    model = f"{work / 'model.py'}:predict"
    _analyze(work / "analysis_config.json", data, model, work / "local", "--chunk-size", "7")
    want = job_files(work / "local")
    for chunk in ("3", "7", "1000"):
        out = work / f"dask{chunk}"
        _analyze(work / "analysis_config.json", data, model, out, "--chunk-size", chunk, "--backend", "dask",
                 "--scheduler", scheduler)  # fmt: skip
        assert job_files(out) == want, chunk
        summary = json.loads((out / "run_summary.json").read_text())
        local = json.loads((work / "local" / "run_summary.json").read_text())
        assert summary["model_rows"] == local["model_rows"]
    # the work ran on the worker processes, each loading the model from its file
    assert any(key.startswith(f"file:{model}:") for key in _models_on_workers(scheduler))


def test_pdp_and_bias_give_the_same_bytes_on_the_cluster(tmp_path, scheduler):
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    features = ["Sex", "Length", "Diameter", "Height", "Whole_weight", "Shucked_weight", "Viscera_weight",
                "Shell_weight"]  # fmt: skip
    frame = pd.read_csv(ROOT / "data" / "abalone" / "abalone.csv")
    frame["old"] = (frame["Rings"] > 9).astype(int)
    model = Pipeline(
        [
            ("cols", ColumnTransformer([("num", "passthrough", features[1:]), ("sex", OneHotEncoder(), ["Sex"])])),
            ("lr", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame[features].iloc[:800], frame["old"].iloc[:800])
    joblib.dump(model, tmp_path / "model.joblib")
    frame[[*features, "old"]].iloc[800:1000].to_csv(tmp_path / "test.csv", index=False)
    config = {
        "dataset_type": "text/csv",
        "label": "old",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "Sex"}],
        "predictor": {"label_headers": ["0", "1"]},
        "methods": {
            "shap": {"baseline": [["M", 0.5, 0.4, 0.14, 0.8, 0.34, 0.17, 0.23]], "num_samples": 40, "seed": 3},
            "pdp": {"features": ["Length", "Sex"], "grid_resolution": 4},
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    model_path = str(tmp_path / "model.joblib")
    _analyze(tmp_path / "cfg.json", tmp_path / "test.csv", model_path, tmp_path / "local", "--chunk-size", "64")
    _analyze(tmp_path / "cfg.json", tmp_path / "test.csv", model_path, tmp_path / "dask", "--chunk-size", "16",
             "--backend", "dask", "--scheduler", scheduler)  # fmt: skip
    assert job_files(tmp_path / "dask") == job_files(tmp_path / "local")
    analysis = json.loads((tmp_path / "dask" / "analysis.json").read_text())
    assert {"pre_training_bias_metrics", "post_training_bias_metrics"} <= set(analysis)
    assert [e["feature_name"] for e in analysis["explanations"]["pdp"]] == ["Length", "Sex"]
