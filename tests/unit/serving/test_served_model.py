"""The served model: SageMaker's /opt/ml/model folder layout, column names from the model or the options."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from openclarify.errors import ModelError
from openclarify.serving import load_served_model, resolve_model


def test_a_folder_with_model_joblib(tmp_path):
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})
    joblib.dump(LinearRegression().fit(frame, [0.0, 1.0, 2.0]), tmp_path / "model.joblib")
    assert resolve_model(str(tmp_path)) == str(tmp_path / "model.joblib")
    served = load_served_model(str(tmp_path))
    assert served.feature_names == ("a", "b")
    assert served.output_names is None
    assert served.text_columns == frozenset()
    with pytest.raises(ModelError, match=r"--feature-names: the model was fitted on the columns \['a', 'b'\]"):
        load_served_model(str(tmp_path), feature_names=["x", "y"])
    with pytest.raises(ModelError, match="--text-columns: not among the model's columns"):
        load_served_model(str(tmp_path), text_columns=["z"])


def test_a_folder_with_model_py(tmp_path):
    (tmp_path / "model.py").write_text("def predict(df):\n    return df.iloc[:, 0] * 2\n")
    assert resolve_model(str(tmp_path)) == f"{tmp_path / 'model.py'}:predict"
    served = load_served_model(str(tmp_path), feature_names=["x"], text_columns=["x"])
    assert served.feature_names == ("x",)
    assert served.text_columns == frozenset({"x"})
    np.testing.assert_array_equal(served.predictor.predict(pd.DataFrame({"x": [1.0, 2.0]})), [[2.0], [4.0]])


def test_file_function_spec_is_kept(tmp_path):
    (tmp_path / "m.py").write_text("def f(df):\n    return [0.0] * len(df)\n")
    assert resolve_model(f"{tmp_path / 'm.py'}:f") == f"{tmp_path / 'm.py'}:f"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: str(p / "missing.joblib"), "no such file or folder", id="missing"),
        pytest.param(
            lambda p: (p / "x.txt").write_text("x") and str(p), r"holds no model.bin.*got \['x.txt'\]", id="empty"
        ),
    ],
)
def test_unusable_specs(tmp_path, make, message):
    with pytest.raises(ModelError, match=message):
        resolve_model(make(tmp_path))
