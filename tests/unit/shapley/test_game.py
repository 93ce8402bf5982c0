"""The tabular game: masked records go to the model in calls bounded by rows and by characters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openclarify.shapley import _game, kernel_shap


def _model(calls):
    def score(df: pd.DataFrame) -> np.ndarray:
        calls.append((len(df), int(df["note"].str.len().max())))
        return df["x"].to_numpy() + (df["note"].str.len().to_numpy() > 100)

    return score


def test_a_huge_string_cell_makes_small_calls_with_the_same_values(monkeypatch):
    """A cell of millions of characters is repeated in every masked record: calls hold about
    MAX_BATCH_CHARS characters (at least one record), not max_batch_rows copies of it."""
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0], "note": ["a" * 300, "short", "b" * 250], "y": [0.5, 0.25, 1.0]})
    B = pd.DataFrame({"x": [0.0], "note": ["base"], "y": [0.0]})
    whole_calls: list[tuple[int, int]] = []
    whole = kernel_shap(_model(whole_calls), X, B, seed=1)
    monkeypatch.setattr(_game, "MAX_BATCH_CHARS", 1000)
    small_calls: list[tuple[int, int]] = []
    small = kernel_shap(_model(small_calls), X, B, seed=1)
    assert np.array_equal(small.phi, whole.phi) and np.array_equal(small.base_value, whole.base_value)
    longest = 300 + 4  # the records' longest note and the baseline's
    masked = small_calls[2:]  # after the baseline and the explained records
    assert masked and all(rows <= max(1, 1000 // longest) for rows, _ in masked), masked
    assert max(rows for rows, _ in whole_calls[2:]) > 3  # the default bound does not split these calls


@pytest.mark.parametrize("values", [np.array([1.0, 2.0]), np.array(["ab", None, "abcd"], dtype=object)])
def test_longest_string(values):
    assert _game._longest(values) == (0 if values.dtype.kind == "f" else 4)
