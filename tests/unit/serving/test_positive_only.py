"""`serve --positive-only`: only a two-label model has one positive probability to answer."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from openclarify.errors import ModelError
from openclarify.serving import load_served_model


def _saved(tmp_path, model, y):
    x = np.arange(24, dtype=float).reshape(12, 2)
    joblib.dump(model.fit(x, y), tmp_path / "model.joblib")
    return str(tmp_path / "model.joblib")


def test_a_two_label_model_answers_its_second_label(tmp_path):
    served = load_served_model(_saved(tmp_path, LogisticRegression(), [0, 1] * 6), positive_only=True)
    assert served.positive_only and served.output_names == ("1",)


@pytest.mark.parametrize(
    ("model", "y", "got"),
    [
        pytest.param(LogisticRegression(), [0, 1, 2] * 4, r"got 3 labels \['0', '1', '2'\]", id="three-labels"),
        pytest.param(LinearRegression(), np.arange(12.0), "got unnamed scores", id="regressor"),
    ],
)
def test_other_models_are_refused_at_load(tmp_path, model, y, got):
    with pytest.raises(ModelError, match=rf"^--positive-only: only a model with two labels .*; {got}\. Leave"):
        load_served_model(_saved(tmp_path, model, y), positive_only=True)
