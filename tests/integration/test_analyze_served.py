"""`analyze --endpoint-url` against `openclarify serve` on a real loopback socket: the same files (SHAP and
partial dependence), byte for byte, as the in-process run with the same seed, for the abalone pipeline
and a 14-class DBpedia fastText model (CSV requests, JSON Lines answers with `label` / `prob`, as the
BlazingText seed configures it)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from openclarify.cli import main
from openclarify.serving import ServeConfig, background_server, create_app
from openclarify.training import prepare_dbpedia, train_text_classifier
from support.served import job_files, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["Sex", "Length", "Diameter", "Height", "Whole_weight", "Shucked_weight", "Viscera_weight", "Shell_weight"]


def _analyze(work: Path, out: str, *model: str) -> int:
    args = ["analyze", "--config", str(work / "cfg.json"), "--data", str(work / "test.csv")]
    return main([*args, "--output", str(work / out), "--quiet", *model])


def test_abalone_pipeline_through_the_server(tmp_path):
    frame = pd.read_csv(ROOT / "data" / "abalone" / "abalone.csv")
    train, test = frame.iloc[:800], frame.iloc[800:860]
    numeric = FEATURES[1:]
    model = Pipeline(
        [
            ("cols", ColumnTransformer([("num", "passthrough", numeric), ("sex", OneHotEncoder(), ["Sex"])])),
            ("rf", RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0, n_jobs=1)),
        ]
    ).fit(train[FEATURES], train["Rings"])
    joblib.dump(model, tmp_path / "model.joblib")
    test.to_csv(tmp_path / "test.csv", index=False)
    config = {
        "dataset_type": "text/csv",
        "label": "Rings",
        "predictor": {"model_name": "abalone", "content_type": "text/csv", "accept_type": "text/csv"},
        "methods": {
            "shap": {
                "baseline": [["M", 0.545, 0.425, 0.14, 0.7995, 0.336, 0.171, 0.234]],
                "num_samples": 60,
                "seed": 5,
                "save_local_shap_values": True,
            },
            "pdp": {"features": ["Length", "Sex"], "grid_resolution": 5},
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    assert _analyze(tmp_path, "local", "--model", str(tmp_path / "model.joblib")) == 0
    pdp = json.loads((tmp_path / "local" / "analysis.json").read_text())["explanations"]["pdp"]
    assert [(e["feature_name"], len(e["feature_values"])) for e in pdp] == [("Length", 5), ("Sex", 3)]
    with background_server(create_app(ServeConfig(model=str(tmp_path / "model.joblib")))) as url:
        wait_until_ready(url)
        assert _analyze(tmp_path, "remote", "--endpoint-url", url) == 0
    assert job_files(tmp_path / "remote") == job_files(tmp_path / "local")


def test_bias_metrics_through_the_server(tmp_path):
    """Post-training bias with the model behind the server: the same analysis.json, byte for byte, as in
    process (the predicted labels come from the served classifier's answers)."""
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_csv(ROOT / "data" / "abalone" / "abalone.csv")
    frame["old"] = (frame["Rings"] > 9).astype(int)
    train, test = frame.iloc[:800], frame.iloc[800:1000]
    numeric = FEATURES[1:]
    model = Pipeline(
        [
            ("cols", ColumnTransformer([("num", "passthrough", numeric), ("sex", OneHotEncoder(), ["Sex"])])),
            ("lr", LogisticRegression(max_iter=500)),
        ]
    ).fit(train[FEATURES], train["old"])
    joblib.dump(model, tmp_path / "model.joblib")
    test[[*FEATURES, "old"]].to_csv(tmp_path / "test.csv", index=False)
    config = {
        "dataset_type": "text/csv",
        "label": "old",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "Sex"}, {"name_or_index": "Length", "value_or_threshold": [0.5]}],
        # the server answers with the two classes' probabilities, unnamed: label_headers names them
        "predictor": {
            "model_name": "abalone",
            "content_type": "text/csv",
            "accept_type": "text/csv",
            "label_headers": ["0", "1"],
        },
        "methods": {"pre_training_bias": {"methods": "all"}, "post_training_bias": {"methods": "all"}},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    assert _analyze(tmp_path, "local", "--model", str(tmp_path / "model.joblib")) == 0
    with background_server(create_app(ServeConfig(model=str(tmp_path / "model.joblib")))) as url:
        wait_until_ready(url)
        assert _analyze(tmp_path, "remote", "--endpoint-url", url) == 0
    assert job_files(tmp_path / "remote") == job_files(tmp_path / "local")
    post = json.loads((tmp_path / "local" / "analysis.json").read_text())["post_training_bias_metrics"]
    assert [g["value_or_threshold"] for g in post["facets"]["Sex"]] == list(pd.unique(test["Sex"]))
    yhat = model.predict(test[FEATURES]) == 1
    d = (test["Sex"] == post["facets"]["Sex"][0]["value_or_threshold"]).to_numpy()
    got = {m["name"]: m["value"] for m in post["facets"]["Sex"][0]["metrics"]}
    assert got["DPPL"] == pytest.approx(yhat[~d].mean() - yhat[d].mean(), abs=1e-12)
    assert isinstance(got["FT"], float)  # the other features are numbers: the flip test is computed


@pytest.fixture(scope="module")
def dbpedia_model(tmp_path_factory):
    work = tmp_path_factory.mktemp("dbpedia")
    data = ROOT / "data" / "dbpedia"
    with (data / "train.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[::4]  # 3,150 abstracts, 14 classes
    with (work / "train.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    prepare_dbpedia(work / "train.csv", data / "classes.txt", work / "train.txt")
    hp = {"epochs": 5, "learning_rate": 0.5, "vector_dim": 10, "min_count": 2, "buckets": 100_000}
    train_text_classifier(work / "train.txt", work / "model", hyperparameters=hp, threads=1, seed=0,
                          text_normalization="lower-tokenize")  # fmt: skip
    return work / "model"


def test_dbpedia_fasttext_through_the_server(tmp_path, dbpedia_model):
    with (ROOT / "data" / "dbpedia" / "test.csv").open(encoding="utf-8", newline="") as fh:
        test = [row[2] for row in csv.reader(fh)][::140]
    pd.DataFrame({"Text": test}).to_csv(tmp_path / "test.csv", index=False, header=False)
    config = {
        "dataset_type": "text/csv",
        "headers": ["Text"],
        "predictor": {
            "model_name": "blazingtext",
            "content_type": "text/csv",
            "accept_type": "application/jsonlines",
            "label": "label",
            "probability": "prob",
        },
        "methods": {
            "shap": {
                "baseline": [["<UNK>"]],
                "num_samples": 400,
                "seed": 11,
                "save_local_shap_values": True,
                "text_config": {"granularity": "token", "language": "english"},
            }
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    assert _analyze(tmp_path, "local", "--model", str(dbpedia_model)) == 0
    with background_server(create_app(ServeConfig(model=str(dbpedia_model)))) as url:
        wait_until_ready(url)
        assert _analyze(tmp_path, "remote", "--endpoint-url", url) == 0
    local = job_files(tmp_path / "local")
    assert job_files(tmp_path / "remote") == local
    section = json.loads(local["analysis.json"])["explanations"]["kernel_shap"]
    assert len(section) == 14 and "NaturalPlace" in section  # outputs named by the class labels
    assert len(local["explanations_shap/out.jsonl"].decode().splitlines()) == len(test) == 10
