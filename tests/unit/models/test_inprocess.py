"""In-process model loading: joblib files, file.py:function, and the score checks."""

from __future__ import annotations

import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from openclarify.errors import ModelError
from openclarify.models import CallablePredictor, SklearnPredictor, check_scores, load_model

RECORDS = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})


def test_joblib_regressor_fitted_on_frame_gets_frame(tmp_path):
    model = LinearRegression().fit(RECORDS, [1.0, 2.0, 4.0])
    joblib.dump(model, tmp_path / "m.joblib")
    predictor = load_model(tmp_path / "m.joblib")
    assert isinstance(predictor, SklearnPredictor) and predictor.as_frame
    np.testing.assert_allclose(predictor.predict(RECORDS)[:, 0], model.predict(RECORDS))


def test_joblib_classifier_explains_probabilities(tmp_path):
    model = LogisticRegression().fit(RECORDS.to_numpy(), [0, 1, 1])
    joblib.dump(model, tmp_path / "m.pkl")
    predictor = load_model(str(tmp_path / "m.pkl"))
    scores = predictor.predict(RECORDS)
    assert scores.shape == (3, 2)
    np.testing.assert_allclose(scores, model.predict_proba(RECORDS.to_numpy()))
    assert predictor.output_names == ("0", "1")


def test_python_function(tmp_path):
    (tmp_path / "model.py").write_text("def score(df):\n    return df['a'] * 2 + df['b']\n")
    predictor = load_model(f"{tmp_path / 'model.py'}:score")
    np.testing.assert_allclose(predictor.predict(RECORDS)[:, 0], [1.0, 2.0, 5.0])


@pytest.mark.parametrize(
    ("files", "spec", "pattern"),
    [
        pytest.param({}, "missing.joblib", "file not found", id="missing-joblib"),
        pytest.param({}, "missing.py:f", "file not found", id="missing-py"),
        pytest.param({"m.py": "def f(df):\n    return 1\n"}, "m.py:g", "no function 'g'.*'f'", id="no-function"),
        pytest.param({"m.py": "raise RuntimeError('boom')\n"}, "m.py:f", "RuntimeError: boom", id="import-fails"),
        pytest.param({"m.py": "x = 1\n"}, "m.py", "name the function", id="no-colon"),
        pytest.param({"m.onnx": "x"}, "m.onnx", "unsupported model file", id="onnx"),
        pytest.param({"m.bin": "x"}, "m.bin", "not a fastText supervised model", id="bin"),
        pytest.param({"m.joblib": "not a pickle"}, "m.joblib", "joblib could not load", id="corrupt"),
    ],
)
def test_load_errors(tmp_path, monkeypatch, files, spec, pattern):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ModelError, match=pattern):
        load_model(spec)


def test_joblib_without_predict(tmp_path):
    joblib.dump({"not": "a model"}, tmp_path / "d.joblib")
    with pytest.raises(ModelError, match="no predict method"):
        load_model(tmp_path / "d.joblib")


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        pytest.param([1.0, 2.0], "each of the 3 records", id="too-few"),
        pytest.param(np.zeros((3, 2, 2)), r"shape \(3, 2, 2\)", id="3d"),
        pytest.param(["a", "b", "c"], "not numbers", id="strings"),
        pytest.param([1.0, np.nan, 2.0], "non-finite score for 1 of 3", id="nan"),
        pytest.param(np.zeros((3, 0)), r"shape \(3, 0\)", id="no-outputs"),
    ],
)
def test_check_scores_errors(raw, pattern):
    with pytest.raises(ModelError, match=pattern):
        check_scores(raw, 3, source="model 'm'")


def test_model_exception_becomes_model_error():
    def broken(df):
        raise KeyError("Sex")

    with pytest.raises(ModelError, match="model 'm' raised KeyError on a batch of 3 records"):
        CallablePredictor(broken, name="m").predict(RECORDS)


def test_classifier_outputs_are_named_by_its_classes():
    y = ["cat", "dog", "fish"]
    plain = LogisticRegression().fit(RECORDS, y)
    assert SklearnPredictor(plain).label_headers == ("cat", "dog", "fish")
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(RECORDS.to_numpy(), [0, 1, 1])
    assert SklearnPredictor(pipeline).label_headers == ("0", "1")
    assert SklearnPredictor(LinearRegression().fit(RECORDS, [1.0, 2.0, 4.0])).label_headers is None


def test_python_model_imports_a_module_beside_it(tmp_path):
    folder = tmp_path / "model_dir"
    folder.mkdir()
    (folder / "scaling_helper.py").write_text("FACTOR = 3.0\n")
    (folder / "late_helper.py").write_text("OFFSET = 100.0\n")
    (folder / "helper_pkg").mkdir()
    (folder / "helper_pkg" / "__init__.py").write_text("")
    (folder / "helper_pkg" / "weights.py").write_text("W = 2.0\n")
    (folder / "json.py").write_text("raise RuntimeError('a helper named like a standard module is not imported')\n")
    (folder / "model.py").write_text(
        "import scaling_helper\n"
        "from helper_pkg.weights import W\n"
        "def score(df):\n"
        "    import json\n"
        "    import late_helper\n"
        "    assert json.dumps([1]) == '[1]'\n"
        "    return df['a'] * scaling_helper.FACTOR * W + late_helper.OFFSET\n"
    )
    path_before = list(sys.path)
    predictor = load_model(f"{folder / 'model.py'}:score")
    np.testing.assert_allclose(predictor.predict(RECORDS)[:, 0], [100.0, 106.0, 112.0])
    assert sys.path == path_before
    load_model(f"{folder / 'model.py'}:score")  # loading it again adds no second finder
    finders = [f for f in sys.meta_path if getattr(f, "folder", None) == str(folder.resolve())]
    assert len(finders) == 1 and sys.meta_path[-1] is finders[0]
