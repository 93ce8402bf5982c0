"""open_dataset argument checks, and read_baseline in every format Clarify accepts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from openclarify.data import DatasetSchema, open_dataset, read_baseline
from openclarify.errors import DataError

SCHEMA = DatasetSchema(
    headers=("Sex", "Length", "Diameter", "Rings"),
    feature_names=("Sex", "Length", "Diameter"),
    label_name="Rings",
    joinsource_name=None,
    categorical=(True, False, False),
)
EXPECTED = pd.DataFrame({"Sex": pd.Series(["M", "F"], dtype=object), "Length": [0.5, 1.0], "Diameter": [np.nan, 2.0]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"dataset_type": "text/tsv"},
            r"dataset_type: must be one of 'text/csv', .*; got 'text/tsv'\.",
            id="unknown-type",
        ),
        pytest.param(
            {"dataset_type": "application/json"},
            r"dataset_type 'application/json': not supported yet; got 'application/json'\.",
            id="json-not-yet",
        ),
        pytest.param({"dataset_type": "application/x-image"}, r"not supported yet", id="image-not-yet"),
        pytest.param(
            {"dataset_type": "text/csv", "headers": "a,b"}, r"headers: must be a non-empty list", id="headers-string"
        ),
        pytest.param(
            {"dataset_type": "text/csv", "headers": ["a", "a"]},
            r"headers: must hold distinct strings",
            id="headers-duplicate",
        ),
    ],
)
def test_open_dataset_argument_errors(write, kwargs, message):
    with pytest.raises(DataError, match=message):
        open_dataset(write("a,b\n1,2\n"), **kwargs)


def test_dataset_type_is_checked_before_the_path(tmp_path):
    with pytest.raises(DataError, match="not supported yet"):
        open_dataset(tmp_path / "missing", dataset_type="application/json")


@pytest.mark.parametrize(
    ("baseline", "kwargs"),
    [
        pytest.param([["M", 0.5, None], ["F", 1, "2"]], {}, id="csv-rows"),
        pytest.param(np.array([["M", 0.5, np.nan], ["F", 1, 2]], dtype=object), {}, id="numpy-rows"),
        pytest.param(
            [{"features": ["M", 0.5, None]}, {"features": ["F", 1, 2]}],
            {"dataset_type": "application/jsonlines", "features": "features"},
            id="jsonlines-records",
        ),
        pytest.param(
            [{"f": {"x": ["M", 0.5, None]}}, ["F", 1, 2]],
            {"dataset_type": "application/jsonlines", "features": "f.x"},
            id="jsonlines-nested-and-plain-rows",
        ),
        pytest.param([("M", "0.5", ""), ("F", "1", "2")], {"dataset_type": "application/x-parquet"}, id="parquet"),
    ],
)
def test_inline_baselines(baseline, kwargs):
    kwargs.setdefault("dataset_type", "text/csv")
    got = read_baseline(baseline, SCHEMA, **kwargs)
    pd.testing.assert_frame_equal(got, EXPECTED)
    assert [type(v) for v in got["Sex"]] == [str, str]


def test_categorical_baseline_values_become_text():
    schema = DatasetSchema(("Rating", "Text"), ("Rating", "Text"), None, None, (False, True))
    got = read_baseline([[4, "[MASK]"], [5, 7]], schema, dataset_type="text/csv")
    assert got["Text"].tolist() == ["[MASK]", "7"]
    assert got["Rating"].dtype == np.float64


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("b.csv", "M,0.5,\nF,1,2\n", id="csv"),
        pytest.param("b.csv", "Sex,Length,Diameter\nM,0.5,\nF,1,2\n", id="csv-with-header-row"),
        pytest.param(
            "b.jsonl",
            json.dumps({"features": ["M", 0.5, None]}) + "\n" + json.dumps({"features": ["F", 1, 2]}),
            id="jsonlines",
        ),
    ],
)
def test_baseline_files(write, name, content):
    dataset_type = "application/jsonlines" if name.endswith("jsonl") else "text/csv"
    got = read_baseline(write(content, name), SCHEMA, dataset_type=dataset_type, features="features")
    pd.testing.assert_frame_equal(got, EXPECTED)
    pd.testing.assert_frame_equal(
        read_baseline(str(write(content, name)), SCHEMA, dataset_type=dataset_type, features="features"), EXPECTED
    )


def test_parquet_baseline_file(tmp_path):
    EXPECTED.to_parquet(tmp_path / "b.parquet")
    got = read_baseline(tmp_path / "b.parquet", SCHEMA, dataset_type="application/x-parquet")
    pd.testing.assert_frame_equal(got, EXPECTED)
    EXPECTED.assign(Length=["0.5", "x"]).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"baseline '.*bad.parquet' row 2, column 'Length': expected a number"):
        read_baseline(tmp_path / "bad.parquet", SCHEMA, dataset_type="application/x-parquet")


def test_baseline_matches_the_dataset_it_explains(write):
    dataset = open_dataset(
        write("Sex,Length,Diameter,Rings\nM,0.4,0.3,15\nI,0.2,0.1,7\n"), dataset_type="text/csv", label="Rings"
    )
    baseline = read_baseline([["F", 0.1, 0.2]], dataset.schema, dataset_type="text/csv")
    assert baseline.dtypes.tolist() == dataset.read_all().features.dtypes.tolist()


@pytest.mark.parametrize(
    ("baseline", "kwargs", "message"),
    [
        pytest.param(
            [["M", 1, 2], ["M", 1, 2, 3]],
            {},
            r"^methods\.shap\.baseline row 2: expected 3 values \(the model's input columns: Sex, Length, "
            r"Diameter\); got 4\. Give one value per model input",
            id="row-too-long",
        ),
        pytest.param([["M", 1]], {}, r"row 1: expected 3 values .*; got 2\.", id="row-too-short"),
        pytest.param(
            [["M", 1, 2], ["F", "long", 2]],
            {},
            r"^methods\.shap\.baseline row 2, column 'Length': expected a number \(the column is numeric\); "
            r"got 'long'\.",
            id="text-in-numeric-column",
        ),
        pytest.param([["M", True, 2]], {}, r"row 1, column 'Length': expected a number.*; got True", id="bool"),
        pytest.param([], {}, r"^methods\.shap\.baseline: has no rows; got \[\]", id="empty"),
        pytest.param(["M,1,2"], {}, r"row 1: expected a list of 3 values .*; got 'M,1,2'", id="row-string"),
        pytest.param(42, {}, r"methods\.shap\.baseline: must be a list of rows or a file path", id="not-rows"),
        pytest.param(
            [{"features": ["M", 1, 2]}],
            {},
            r"row 1: a JSON object needs the 'features' JMESPath",
            id="object-without-features",
        ),
        pytest.param(
            [{"features": ["M", 1]}],
            {"dataset_type": "application/jsonlines", "features": "features"},
            r"row 1: expected 3 values",
            id="jsonlines-short",
        ),
        pytest.param(
            [{"x": 1}],
            {"dataset_type": "application/jsonlines", "features": "features"},
            r"row 1: the 'features' expression 'features' must give a non-empty flat list; got None",
            id="jsonlines-missing-features",
        ),
        pytest.param("missing.csv", {}, r"methods\.shap\.baseline: no such file or directory", id="missing-file"),
        pytest.param([["M", 1, 2]], {"dataset_type": "application/json"}, r"not supported yet", id="json"),
    ],
)
def test_baseline_errors(baseline, kwargs, message):
    kwargs.setdefault("dataset_type", "text/csv")
    with pytest.raises(DataError, match=message):
        read_baseline(baseline, SCHEMA, **kwargs)


def test_baseline_file_errors_name_the_line(write):
    with pytest.raises(DataError, match=r"baseline '.*b.csv' line 2: expected 3 values"):
        read_baseline(write("M,1,2\nM,1\n", "b.csv"), SCHEMA, dataset_type="text/csv")
    with pytest.raises(DataError, match=r"baseline '.*b.csv' line 3, column 'Diameter': expected a number"):
        read_baseline(write("M,1,2\n\nM,1,x\n", "b.csv"), SCHEMA, dataset_type="text/csv")
