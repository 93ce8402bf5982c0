"""The computed baseline: K-means / K-prototypes summary of the dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openclarify.errors import DataError
from openclarify.shapley import summarize_baseline


def _blobs(rng, centres, n=60):
    return np.vstack([c + 0.05 * rng.normal(size=(n, len(c))) for c in centres])


def test_numeric_clusters_are_found_automatically(rng):
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    data = pd.DataFrame(_blobs(rng, centres), columns=["x", "y"])
    base = summarize_baseline(data, [False, False], seed=0)
    assert len(base) == 3
    got = sorted(map(tuple, base.to_numpy().round(0)))
    assert got == sorted(map(tuple, centres))
    for row in base.to_numpy():
        assert np.abs(centres - row).sum(axis=1).min() < 0.05
    assert list(base.dtypes) == [np.float64, np.float64]


def test_num_clusters_is_honoured_and_one_gives_the_mean(rng):
    data = pd.DataFrame(_blobs(rng, np.array([[0.0], [5.0]])), columns=["x"])
    assert len(summarize_baseline(data, [False], num_clusters=4, seed=0)) == 4
    one = summarize_baseline(data, [False], num_clusters=1, seed=0)
    assert one["x"].iloc[0] == pytest.approx(data["x"].mean())


def test_categorical_columns_get_modes(rng):
    num = _blobs(rng, np.array([[0.0], [10.0]]), n=50)
    cat = np.where(num[:, 0] > 5, "big", "small")
    cat[::10] = "odd"
    data = pd.DataFrame({"size": num[:, 0], "kind": cat.astype(object)})
    base = summarize_baseline(data, [False, True], num_clusters=2, seed=0).sort_values("size")
    assert base["kind"].tolist() == ["small", "big"]
    np.testing.assert_allclose(base["size"], [data["size"][:50].mean(), data["size"][50:].mean()], atol=1e-9)


def test_constant_data_gives_one_row():
    data = pd.DataFrame({"x": [1.0] * 20, "c": ["a"] * 20})
    base = summarize_baseline(data, [False, True], seed=0)
    assert base.to_dict("records") == [{"x": 1.0, "c": "a"}]


def test_empty_data_is_a_data_error():
    with pytest.raises(DataError, match="empty dataset"):
        summarize_baseline(pd.DataFrame({"x": []}), [False])


def test_a_numerical_column_with_no_value_is_a_data_error():
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0], "empty": [np.nan, np.nan, np.nan], "c": ["a", None, "b"]})
    with pytest.raises(DataError, match=r"numerical columns \['empty'\] have no value in the 3 records sampled"):
        summarize_baseline(data, [False, False, True])


def test_missing_values_do_not_break_the_clustering():
    data = pd.DataFrame(
        {"x": [1.0, np.nan, 3.0, 10.0, 11.0, np.nan], "c": pd.Series(["a", None, "a", "b", None, "b"], dtype=object)}
    )
    base = summarize_baseline(data, [False, True], num_clusters=2, seed=0)
    assert len(base) == 2
    assert base["x"].notna().all()
    assert set(base["c"]) <= {"a", "b"}
    auto = summarize_baseline(data, [False, True], seed=0)
    assert 1 <= len(auto) <= 5
