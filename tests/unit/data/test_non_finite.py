"""Missing and infinite numbers, duplicate JSON keys, deep JSON and Parquet types: where each is caught.

Missing numbers (empty cells, ``nan``, ``NA``, JSON ``null``, Parquet nulls) are read as NaN, since some
models take them; infinite ones (``inf``, ``Infinity``, ``1e999``) are refused where they are read,
naming the line (or Parquet row) and column: a computed (K-means) baseline cannot average them and
scikit-learn refuses them even in estimators that take NaN.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openclarify.data import DatasetSchema, open_dataset, read_baseline
from openclarify.errors import DataError

_INF_FIX = "Write a finite number, or leave the value out (empty, null) for a missing one."


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        pytest.param("inf", "inf", id="inf"),
        pytest.param("-Infinity", "-inf", id="-Infinity"),
        pytest.param("1e999", "inf", id="1e999"),
        pytest.param("1" + "0" * 400, "inf", id="integer-beyond-float64"),
    ],
)
def test_infinite_csv_cells_are_refused_naming_the_line(write, cell, shown):
    rows = [f"{i},{i}.5,x" for i in range(3000)]
    rows[2500] = f'2500,"{cell}",x'
    path = write("a,b,c\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        open_dataset(path, dataset_type="text/csv").read_all()
    assert str(info.value) == (
        f"dataset {str(path)!r} line 2502, column 'b': infinite numbers are not supported; got {shown}. {_INF_FIX}"
    )


def test_missing_csv_cells_stay_missing(write):
    path = write("a,b\n1,\n2,nan\n3,NA\n4,5\n")
    features = open_dataset(path, dataset_type="text/csv").read_all().features
    assert np.isnan(features["b"].to_numpy()[:3]).all() and features["b"].iloc[3] == 5.0


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("Infinity", "inf", id="Infinity"),
        pytest.param("-1e999", "-inf", id="-1e999"),
        pytest.param('"inf"', "'inf'", id="string-inf"),
        pytest.param("1" + "0" * 400, "inf", id="integer-beyond-float64"),
    ],
)
def test_infinite_json_lines_values_are_refused_naming_the_line(write, value, shown):
    path = write('{"f": [1, 2]}\n{"f": [3, ' + value + "]}\n", "d.jsonl")
    with pytest.raises(DataError) as info:
        open_dataset(path, dataset_type="application/jsonlines", features="f").read_all()
    assert str(info.value) == (
        f"dataset {str(path)!r} line 2, column 'column_1': infinite numbers are not supported; got {shown}. {_INF_FIX}"
    )


def test_json_lines_null_and_nan_are_missing(write):
    path = write('{"f": [1, null]}\n{"f": [NaN, 2]}\n', "d.jsonl")
    features = open_dataset(path, dataset_type="application/jsonlines", features="f").read_all().features
    assert np.isnan(features.iloc[0, 1]) and np.isnan(features.iloc[1, 0])


def test_json_lines_duplicate_keys_are_refused(write):
    path = write('{"f": [1, 2]}\n{"f": [1, 2], "meta": {"id": 1, "id": 2}}\n', "d.jsonl")
    with pytest.raises(DataError) as info:
        open_dataset(path, dataset_type="application/jsonlines", features="f").read_all()
    assert str(info.value) == (
        f"dataset {str(path)!r} line 2: duplicate key in a JSON object; got 'id' 2 times. JSON keeps only the "
        "last one: remove the others."
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            '{"f": [1, 2], "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
            'nested too deeply for the JSON reader; got \'{"f": [1, 2], "x": [[[[[',
            id="deep",
        ),
        pytest.param('{"f": [1, ' + "9" * 5000 + "]}", "not valid JSON (Exceeds the limit (4300 digits)", id="digits"),
    ],
)
def test_json_lines_the_reader_cannot_take_are_data_errors(write, line, message):
    path = write('{"f": [1, 2]}\n' + line + "\n", "d.jsonl")
    with pytest.raises(DataError) as info:
        open_dataset(path, dataset_type="application/jsonlines", features="f").read_all()
    assert str(info.value).startswith(f"dataset {str(path)!r} line 2: {message}"), str(info.value)


def test_infinite_parquet_values_are_refused_naming_the_row(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": [1.0, 2.0, np.nan, -np.inf], "y": [0, 1, 0, 1]}).to_parquet(path)
    with pytest.raises(DataError) as info:
        open_dataset(path, dataset_type="application/x-parquet", label="y").read_all()
    assert str(info.value) == (
        f"dataset {str(path)!r} row 4, column 'a': infinite numbers are not supported; got -inf. {_INF_FIX}"
    )


def test_parquet_integers_beyond_2_53_are_read_as_floats_like_csv(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame(
        {"a": np.array([2**60 + 1, 5], dtype=np.int64), "u": np.array([2**64 - 1, 0], dtype=np.uint64)}
    ).to_parquet(path)
    features = open_dataset(path, dataset_type="application/x-parquet").read_all().features
    assert features["a"].tolist() == [float(2**60), 5.0]
    assert features["u"].tolist() == [float(2**64), 0.0]


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        pytest.param(pa.array([[1.0], [2.0]]), "list<element: double>", id="list"),
        pytest.param(pa.array([{"x": 1}, {"x": 2}]), "struct<x: int64>", id="struct"),
        pytest.param(pa.array([b"\x00", b"\x01"]), "binary", id="binary"),
    ],
)
def test_parquet_columns_that_are_neither_numbers_nor_text_are_refused(tmp_path, column, kind):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "odd": column}), path)
    with pytest.raises(DataError) as info:
        open_dataset(path, dataset_type="application/x-parquet")
    assert str(info.value) == (
        f"dataset {str(path)!r}, column 'odd': must hold numbers or text; got Parquet type {kind!r}. Convert the "
        "column to numbers or strings, or list it in 'excluded_columns'."
    )
    dataset = open_dataset(path, dataset_type="application/x-parquet", excluded_columns=["odd"])
    assert dataset.read_all().features["a"].tolist() == [1.0, 2.0]


def test_parquet_booleans_and_times_stay_text_as_in_csv(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"b": [True, False], "t": pa.array([0, 1], pa.timestamp("s"))}), path)
    features = open_dataset(path, dataset_type="application/x-parquet").read_all().features
    assert features["b"].tolist() == ["True", "False"]
    assert features["t"].tolist() == ["1970-01-01 00:00:00", "1970-01-01 00:00:01"]


SCHEMA = DatasetSchema(("a", "b"), ("a", "b"), None, None, (False, False))


@pytest.mark.parametrize(
    ("baseline", "where", "shown"),
    [
        pytest.param([[1, float("inf")]], "methods.shap.baseline row 1", "inf", id="config-row"),
        pytest.param([[1, 2], ["-inf", 2]], "methods.shap.baseline row 2", "'-inf'", id="config-string"),
    ],
)
def test_infinite_baseline_values_are_refused(baseline, where, shown):
    with pytest.raises(DataError) as info:
        read_baseline(baseline, SCHEMA, dataset_type="text/csv")
    column = "b" if where.endswith("row 1") else "a"
    assert str(info.value) == f"{where}, column {column!r}: infinite numbers are not supported; got {shown}. {_INF_FIX}"


def test_infinite_baseline_file_value_names_the_line(write):
    path = write("1,2\n3,inf\n", "b.csv")
    with pytest.raises(DataError) as info:
        read_baseline(path, SCHEMA, dataset_type="text/csv")
    assert str(info.value) == (
        f"methods.shap.baseline {str(path)!r} line 2, column 'b': infinite numbers are not supported; got 'inf'. "
        f"{_INF_FIX}"
    )


def test_missing_baseline_values_stay_missing():
    frame = read_baseline([[1, None], ["", 2]], SCHEMA, dataset_type="text/csv")
    assert np.isnan(frame.iloc[0, 1]) and np.isnan(frame.iloc[1, 0])


def test_json_lines_baseline_duplicate_keys(write):
    path = write(json.dumps({"f": [1, 2]})[:-1] + ', "f": [3, 4]}\n', "b.jsonl")
    with pytest.raises(DataError, match=r"line 1: duplicate key in a JSON object; got 'f' 2 times"):
        read_baseline(path, SCHEMA, dataset_type="application/jsonlines", features="f")


def test_a_damaged_parquet_row_group_is_a_data_error(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": np.arange(1000, dtype=float)}), path, row_group_size=500)
    offset = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    dataset = open_dataset(path, dataset_type="application/x-parquet")
    with pytest.raises(DataError, match=rf"^dataset {str(path)!r}: cannot read the records after row 500; got "):
        list(dataset.chunks(100))
