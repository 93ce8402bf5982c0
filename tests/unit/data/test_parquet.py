"""application/x-parquet datasets: names and types from the file, batches, several files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openclarify.data import open_dataset
from openclarify.errors import DataError


def _frame(offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{offset + i}" for i in range(5)],
            "age": pd.array([30 + offset, 40, None, 50, 60], dtype="Int64"),
            "score": [0.5, 1.5, np.nan, 2.5, 3.5],
            "colour": ["red", None, "blue", "red", "green"],
            "member": [True, False, True, True, False],
            "y": [0, 1, 0, 1, 1],
        }
    )


def _open(path, **kwargs):
    return open_dataset(path, dataset_type="application/x-parquet", **kwargs)


def test_parquet_round_trip(tmp_path):
    _frame().to_parquet(tmp_path / "d.parquet")
    dataset = _open(tmp_path / "d.parquet", label="y", joinsource_name_or_index="id")
    assert dataset.schema.headers == ("id", "age", "score", "colour", "member", "y")
    assert dataset.schema.feature_names == ("age", "score", "colour", "member")
    assert dataset.schema.categorical == (False, False, True, True)
    chunk = dataset.read_all()
    assert chunk.features.dtypes.tolist() == [np.float64, np.float64, object, object]
    np.testing.assert_array_equal(chunk.features["age"], [30, 40, np.nan, 50, 60])
    assert chunk.features["colour"].tolist() == ["red", None, "blue", "red", "green"]
    assert chunk.features["member"].tolist() == ["True", "False", "True", "True", "False"]
    assert chunk.label.tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert chunk.join_source.tolist() == [f"r{i}" for i in range(5)]
    for chunksize in (1, 3, 1000):
        parts = list(dataset.chunks(chunksize))
        assert [p.start_row for p in parts] == list(range(0, 5, chunksize))
        pd.testing.assert_frame_equal(pd.concat([p.features for p in parts], ignore_index=True), chunk.features)


def test_headers_rename_the_columns(tmp_path):
    _frame().to_parquet(tmp_path / "d.parquet")
    dataset = _open(tmp_path / "d.parquet", headers=["k", "a", "s", "c", "m", "t"], label="t", excluded_columns=[0])
    assert dataset.schema.feature_names == ("a", "s", "c", "m")


def test_directory_of_parquet_files(tmp_path):
    (tmp_path / "d").mkdir()
    _frame(0).to_parquet(tmp_path / "d" / "part-0.parquet")
    _frame(5).to_parquet(tmp_path / "d" / "part-1.parquet")
    chunk = _open(tmp_path / "d", label="y", joinsource_name_or_index="id").read_all()
    assert chunk.join_source.tolist() == [f"r{i}" for i in range(10)]


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        pytest.param(
            lambda p: _frame().to_parquet(p),
            {"headers": ["a", "b"]},
            r"headers: the Parquet file has 6 columns",
            id="headers-count",
        ),
        pytest.param(
            lambda p: _frame().to_parquet(p),
            {"label": "nope"},
            r"label: no column of that name",
            id="unknown-label",
        ),
        pytest.param(lambda p: p.write_text("a,b\n1,2\n"), {}, r"not a readable Parquet file", id="not-parquet"),
        pytest.param(lambda p: _frame().iloc[:0].to_parquet(p), {}, r"is empty; got 0 rows", id="no-rows"),
    ],
)
def test_parquet_errors(tmp_path, make, kwargs, message):
    make(tmp_path / "d.parquet")
    with pytest.raises(DataError, match=message):
        _open(tmp_path / "d.parquet", **kwargs)


def test_files_with_different_columns_are_rejected(tmp_path):
    (tmp_path / "d").mkdir()
    _frame().to_parquet(tmp_path / "d" / "a.parquet")
    _frame().assign(age=["x"] * 5).to_parquet(tmp_path / "d" / "b.parquet")
    with pytest.raises(DataError, match=r"b.parquet': columns differ from those of"):
        _open(tmp_path / "d")
