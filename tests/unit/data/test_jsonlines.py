"""application/jsonlines datasets: JMESPath columns, names, types and line-numbered errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from openclarify.data import open_dataset
from openclarify.errors import DataError


def _lines(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _open(path, **kwargs):
    kwargs.setdefault("features", "features")
    return open_dataset(path, dataset_type="application/jsonlines", **kwargs)


def test_features_and_label_by_jmespath_with_headers(write):
    path = write(_lines({"features": [1, 2.5, "a"], "label": 0}, {"features": [3, None, "b"], "label": 1}), "d.jsonl")
    dataset = _open(path, label="label", headers=["x", "y", "z", "target"])
    assert dataset.schema.headers == ("x", "y", "z", "target")
    assert dataset.schema.feature_names == ("x", "y", "z")
    assert dataset.schema.label_name == "target"
    assert dataset.schema.categorical == (False, False, True)
    chunk = dataset.read_all()
    assert chunk.features.dtypes.tolist() == [np.float64, np.float64, object]
    np.testing.assert_array_equal(chunk.features["y"], [2.5, np.nan])
    assert chunk.label.tolist() == [0.0, 1.0]
    assert chunk.label.name == "target"


def test_nested_paths_joinsource_and_default_names(write):
    records = [
        {"data": {"f": [1, True]}, "meta": {"id": 7, "y": "cat"}},
        {"data": {"f": [2, False]}, "meta": {"id": 8, "y": "dog"}},
    ]
    dataset = _open(write(_lines(*records)), features="data.f", label="meta.y", joinsource_name_or_index="meta.id")
    assert dataset.schema.feature_names == ("column_0", "column_1")
    assert dataset.schema.headers == ("column_0", "column_1", "meta.y")
    assert dataset.schema.label_name == "meta.y"
    assert dataset.schema.joinsource_name == "meta.id"
    assert dataset.schema.categorical == (False, True)  # booleans are categorical
    chunk = dataset.read_all()
    assert chunk.features["column_1"].tolist() == ["True", "False"]
    assert chunk.label.tolist() == ["cat", "dog"]
    assert chunk.join_source.tolist() == ["7", "8"]


def test_predicted_label_beside_the_join_source(write):
    records = [{"f": [1.5], "id": 7, "y": 1, "p": 0}, {"f": [2.5], "id": 8, "y": 0, "p": "1"}]
    dataset = _open(
        write(_lines(*records)), features="f", label="y", joinsource_name_or_index="id", predicted_label="p"
    )
    assert dataset.schema.predicted_label_name == "p"
    chunk = dataset.read_all()
    assert chunk.join_source.tolist() == ["7", "8"]  # still text, wherever the predicted label sits
    assert chunk.predicted_label is not None and chunk.predicted_label.tolist() == [0.0, 1.0]
    assert chunk.features.columns.tolist() == ["column_0"]


def test_excluded_features_by_name_and_index(write):
    path = write(_lines({"features": [1, 2, 3]}, {"features": [4, 5, 6]}))
    dataset = _open(path, headers=["a", "b", "c"], excluded_columns=["a", 2])
    assert dataset.schema.feature_names == ("b",)
    assert dataset.read_all().features["b"].tolist() == [2.0, 5.0]


def test_chunks_agree_with_read_all(write):
    records = [{"features": [i, f"t{i % 3}"], "label": i % 2} for i in range(7)]
    dataset = _open(write(_lines(*records) + "\n"), label="label")  # blank lines are skipped
    whole = dataset.read_all()
    assert len(whole.features) == 7
    for chunksize in (1, 3, 1000):
        chunks = list(dataset.chunks(chunksize))
        assert [c.start_row for c in chunks] == list(range(0, 7, chunksize))
        pd.testing.assert_frame_equal(pd.concat([c.features for c in chunks], ignore_index=True), whole.features)
        pd.testing.assert_series_equal(pd.concat([c.label for c in chunks], ignore_index=True), whole.label)


_GOOD = _lines({"features": [1, 2]}, {"features": [3, 4]})


@pytest.mark.parametrize(
    ("content", "kwargs", "error", "message"),
    [
        pytest.param(_GOOD + '{"features": [1, 2\n', {}, DataError, r"line 3: not valid JSON", id="bad-json"),
        pytest.param(
            _GOOD + _lines({"features": [1]}),
            {},
            DataError,
            r"line 3: the 'features' expression 'features' must give 2 values in a flat list; got \[1\]",
            id="wrong-length",
        ),
        pytest.param(_GOOD + _lines({"x": 1}), {}, DataError, r"line 3: .* flat list; got None", id="features-missing"),
        pytest.param(
            _lines({"features": [[1, 2]]}),
            {},
            DataError,
            r"line 1: .*flat list; got \[\[1, 2\]\]",
            id="nested-list",
        ),
        pytest.param(
            _GOOD * 500 + _lines({"features": ["x", 2]}),  # past the 1000 records that fix the types
            {},
            DataError,
            r"line 1001, column 'column_0': expected a number \(the column is numeric\); got 'x'",
            id="text-in-numeric-column-past-the-peek",
        ),
        pytest.param(_GOOD, {"features": None}, DataError, r"features: required for dataset_type", id="no-features"),
        pytest.param(_GOOD, {"label": 3}, DataError, r"label: must be a JMESPath expression", id="int-label"),
        pytest.param(_GOOD, {"features": "[[["}, DataError, r"features: not a valid JMESPath", id="bad-jmespath"),
        pytest.param(_GOOD, {"headers": ["a"]}, DataError, r"headers: must name the 2 features", id="short-headers"),
        pytest.param(
            _GOOD,
            {"excluded_columns": [0, 1]},
            DataError,
            r"excluded_columns: excludes every feature",
            id="all-excluded",
        ),
        pytest.param("", {}, DataError, r"is empty", id="empty-file"),
        pytest.param(
            b'{"features": [1, 2]}\n{"features": ["\xff", 2]}\n',
            {},
            DataError,
            r"line 2 \(byte 36\): not valid UTF-8",
            id="non-utf8",
        ),
    ],
)
def test_jsonlines_errors(write, content, kwargs, error, message):
    with pytest.raises(error, match=message):
        _open(write(content, "d.jsonl"), **kwargs).read_all()
