"""methods.pdp end to end on real files and real scikit-learn models: the values equal scikit-learn's
brute-force partial dependence on the same grid, the layout is Clarify's, bad features are refused."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.inspection import partial_dependence
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from openclarify import ConfigError, parse_analysis_config, run_analysis
from openclarify.models import ROW_MULTIPLE, CallablePredictor, load_model

FEATURES = ["a", "b", "colour", "c"]


def _data(rng, n=257):
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.uniform(-3, 5, size=n),
            "colour": rng.choice(["red", "green", "blue", "teal"], size=n).astype(object),
            "c": rng.integers(0, 7, size=n).astype(float),
        }
    )


def _config(pdp, shap=None, **extra):
    methods = {"pdp": pdp}
    if shap is not None:
        methods["shap"] = shap
    return parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "predictor": {"content_type": "text/csv"},
            "methods": methods,
            **extra,
        }
    )


def _expected_grid(x, n):
    low, high = float(np.min(x)), float(np.max(x))
    width = (high - low) / n
    return np.array([low + (i + 0.5) * width for i in range(n)])


@pytest.fixture
def regression(tmp_path, rng):
    frame = _data(rng)
    y = (
        frame["a"] * frame["b"]
        + frame["colour"].map({"red": 1.0, "green": 0.0, "blue": -1.0, "teal": 2.0})
        + frame["c"]
    )
    pre = ColumnTransformer([("cat", OneHotEncoder(), ["colour"])], remainder="passthrough")
    model = make_pipeline(pre, RandomForestRegressor(n_estimators=15, max_depth=5, random_state=0)).fit(frame, y)
    joblib.dump(model, tmp_path / "model.joblib")
    frame.assign(y=y).to_csv(tmp_path / "d.csv", index=False)
    return tmp_path, frame, model


@pytest.mark.parametrize("chunksize", [1000, 50])
@pytest.mark.parametrize("max_batch_rows", [16384, 100, 7])
def test_numerical_and_categorical_equal_sklearn_brute(regression, chunksize, max_batch_rows):
    d, frame, model = regression
    res = run_analysis(
        _config({"features": ["b", "colour", 0], "grid_resolution": 9}),
        model=load_model(str(d / "model.joblib")),
        output_dir=d / "out",
        data=d / "d.csv",
        chunksize=chunksize,
        max_batch_rows=max_batch_rows,
    )
    pdp = json.loads((d / "out" / "analysis.json").read_text())["explanations"]["pdp"]
    assert res.sections is not None and res.sections["pdp"] == pdp
    assert [e["feature_name"] for e in pdp] == ["b", "colour", "a"]
    for entry in pdp:
        name = entry["feature_name"]
        assert list(entry) == [
            "feature_name",
            "data_type",
            "feature_values",
            "data_distribution",
            "model_predictions",
            "label_headers",
        ]
        assert entry["label_headers"] == ["label0"]
        if name == "colour":
            assert entry["data_type"] == "categorical"
            # every value, in the order it first appears in the data
            assert entry["feature_values"] == list(dict.fromkeys(frame["colour"]))
            grid = np.array(entry["feature_values"], dtype=object)
            counts = [int((frame["colour"] == v).sum()) for v in entry["feature_values"]]
        else:
            assert entry["data_type"] == "numerical"
            grid = _expected_grid(frame[name], 9)
            np.testing.assert_allclose(entry["feature_values"], grid, rtol=0, atol=1e-12)
            low, high = frame[name].min(), frame[name].max()
            edges = np.clip(np.floor((frame[name] - low) / (high - low) * 9).astype(int), 0, 8)
            counts = np.bincount(edges, minlength=9).tolist()
        assert entry["data_distribution"] == [c / len(frame) for c in counts]
        assert sum(entry["data_distribution"]) == pytest.approx(1.0)
        want = partial_dependence(
            model, frame[FEATURES], [name], custom_values={name: grid}, method="brute", kind="average"
        )["average"][0]
        np.testing.assert_allclose(entry["model_predictions"][0], want, rtol=0, atol=1e-12)


def test_classifier_probabilities_per_label(tmp_path, rng):
    frame = _data(rng).drop(columns=["colour"])
    y = (frame["a"] + frame["b"] > 1).astype(int)
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(frame, y)
    joblib.dump(model, tmp_path / "model.joblib")
    frame.assign(y=y).to_csv(tmp_path / "d.csv", index=False)
    run_analysis(
        _config(
            {"features": ["a"], "grid_resolution": 5},
            predictor={"content_type": "text/csv", "label_headers": ["no", "yes"]},
        ),
        model=load_model(str(tmp_path / "model.joblib")),
        output_dir=tmp_path / "out",
        data=tmp_path / "d.csv",
    )
    (entry,) = json.loads((tmp_path / "out" / "analysis.json").read_text())["explanations"]["pdp"]
    assert entry["label_headers"] == ["no", "yes"]
    grid = np.array(entry["feature_values"])
    want = partial_dependence(model, frame, ["a"], custom_values={"a": grid}, method="brute")["average"][0]
    assert len(entry["model_predictions"]) == 2
    np.testing.assert_allclose(entry["model_predictions"][1], want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.add(*entry["model_predictions"]), 1.0, atol=1e-12)


def test_calls_are_batched_across_grid_points_and_records(regression):
    d, frame, model = regression
    calls = []

    def predict(df):
        calls.append(len(df))
        return model.predict(df)

    run_analysis(
        _config({"features": ["a", "colour"], "grid_resolution": 20}),
        model=CallablePredictor(predict, name="m"),
        output_dir=d / "out",
        data=d / "d.csv",
        max_batch_rows=1000,
    )
    rows = len(frame) * (20 + 4)
    assert max(calls) <= 1000
    # the first call names the outputs; the rest hold many records at several grid points each (never
    # one call per grid point): whole blocks of the 257 records, 3 per call of at most 1000 rows
    asked = [771] * 6 + [514] + [771, 257]  # a: 20 grid points; colour: 4 values
    assert sum(asked) == rows
    assert calls[1:] == [-(-n // ROW_MULTIPLE) * ROW_MULTIPLE for n in asked]  # filled to a multiple of 16


def test_top_k_features_from_shap(regression):
    d, _, model = regression
    res = run_analysis(
        _config(
            {"grid_resolution": 4, "top_k_features": 2},
            {"baseline": [[0.0, 0.0, "red", 0.0]], "num_samples": 30, "seed": 1},
        ),
        model=load_model(str(d / "model.joblib")),
        output_dir=d / "out",
        data=d / "d.csv",
    )
    top = np.argsort(-res.global_shap_values[:, 0], kind="stable")[:2]
    pdp = json.loads((d / "out" / "analysis.json").read_text())["explanations"]["pdp"]
    assert [e["feature_name"] for e in pdp] == [res.feature_names[j] for j in top]
    summary = json.loads((d / "out" / "run_summary.json").read_text())
    assert summary["pdp_features"] == [e["feature_name"] for e in pdp]


def test_text_feature_from_shap_top_k_gets_an_error_entry(tmp_path, rng):
    n = 40
    words = ["good", "bad", "fine", "awful", "great"]
    frame = pd.DataFrame(
        {
            "text": [" ".join(rng.choice(words, size=5)) for _ in range(n)],
            "x": rng.normal(size=n),
        }
    )
    frame.assign(y=0).to_csv(tmp_path / "d.csv", index=False)

    def predict(df):
        return df["text"].str.count("good").to_numpy(dtype=float) + df["x"].to_numpy(dtype=float)

    with pytest.warns(Warning, match="free_text|not supported for PDP"):
        run_analysis(
            _config(
                {"grid_resolution": 3, "top_k_features": 2},
                {"num_samples": 20, "seed": 0, "text_config": {"granularity": "token", "language": "english"}},
            ),
            model=CallablePredictor(predict, name="m"),
            output_dir=tmp_path / "out",
            data=tmp_path / "d.csv",
        )
    pdp = json.loads((tmp_path / "out" / "analysis.json").read_text())["explanations"]["pdp"]
    by_name = {e["feature_name"]: e for e in pdp}
    assert by_name["text"] == {
        "feature_name": "text",
        "data_type": "free_text",
        "error": "Detected data type is not supported for PDP. PDP can only be computed for numerical or "
        "categorical columns",
    }
    assert by_name["x"]["data_type"] == "numerical" and len(by_name["x"]["feature_values"]) == 3


@pytest.mark.parametrize(
    ("features", "path", "message"),
    [
        (["nope"], "methods.pdp.features[0]", "not a model input feature; got 'nope'"),
        (["a", 9], "methods.pdp.features[1]", "index out of range; got 9"),
    ],
)
def test_bad_features_are_refused_with_the_key_path(regression, features, path, message):
    d, _, model = regression
    with pytest.raises(ConfigError) as info:
        run_analysis(
            _config({"features": features, "grid_resolution": 3}),
            model=load_model(str(d / "model.joblib")),
            output_dir=d / "out",
            data=d / "d.csv",
        )
    assert info.value.path == path and message in str(info.value)
    assert not (d / "out" / "analysis.json").exists()


def test_requested_text_column_is_refused(tmp_path):
    frame = pd.DataFrame({"text": ["a long text here"] * 5, "x": [1.0, 2, 3, 4, 5], "y": 0})
    frame.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ConfigError) as info:
        run_analysis(
            _config({"features": ["x", "text"], "grid_resolution": 3}),
            model=CallablePredictor(lambda df: df["x"].to_numpy(dtype=float), name="m"),
            output_dir=tmp_path / "out",
            data=tmp_path / "d.csv",
        )
    assert info.value.path == "methods.pdp.features[1]" and "free text" in str(info.value)


def test_pdp_without_features_or_shap_is_refused(regression):
    d, _, model = regression
    with pytest.raises(ConfigError) as info:
        run_analysis(
            _config({"grid_resolution": 3}),
            model=load_model(str(d / "model.joblib")),
            output_dir=d / "out",
            data=d / "d.csv",
        )
    assert "methods.pdp" in str(info.value)


def test_a_categorical_feature_with_too_many_values_gets_an_error_entry(regression, monkeypatch):
    from openclarify.analyses.pdp import _analysis

    d, _, model = regression
    monkeypatch.setattr(_analysis, "MAX_CATEGORIES", 3)  # the data has 4 colours
    with pytest.warns(Warning, match="more than 3 distinct values"):
        run_analysis(
            _config({"features": ["colour", "a"], "grid_resolution": 3}),
            model=load_model(str(d / "model.joblib")),
            output_dir=d / "out",
            data=d / "d.csv",
        )
    colour, a = json.loads((d / "out" / "analysis.json").read_text())["explanations"]["pdp"]
    assert colour["data_type"] == "categorical" and "more than 3 distinct values" in colour["error"]
    assert "feature_values" not in colour and len(a["feature_values"]) == 3
