"""text/csv datasets: header sniffing, column roles and types, chunking, and error locations."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclarify.data import open_dataset
from openclarify.errors import DataError


def _open(path, **kwargs):
    return open_dataset(path, dataset_type="text/csv", **kwargs)


@pytest.mark.parametrize(
    ("content", "kwargs", "headers", "n_rows"),
    [
        pytest.param("a,b\n1,2\n3,4\n", {}, ("a", "b"), 2, id="text-row-over-numbers"),
        pytest.param("1,2\n3,4\n", {}, ("column_0", "column_1"), 2, id="all-numbers"),
        pytest.param("x,y\nu,v\n", {}, ("column_0", "column_1"), 2, id="all-text-is-data"),
        pytest.param("x,y\nu,v\n", {"label": "y"}, ("x", "y"), 1, id="label-name-in-first-row"),
        pytest.param("id,v\nu,w\n", {"joinsource_name_or_index": "id"}, ("id", "v"), 1, id="joinsource-name"),
        pytest.param("x,y\nu,w\n", {"excluded_columns": ["x"]}, ("x", "y"), 1, id="excluded-name"),
        pytest.param("a,2\n1,2\n", {}, ("column_0", "column_1"), 2, id="number-in-first-row"),
        pytest.param("a,b\n", {}, ("column_0", "column_1"), 1, id="single-row-is-data"),
        pytest.param(",a\n0,x\n1,y\n", {}, ("column_0", "a"), 2, id="unnamed-index-column"),
        pytest.param("a,b\nx,\ny,1\n", {}, ("a", "b"), 2, id="numeric-column-with-gaps"),
        pytest.param("a,b\n1,2\n", {"headers": ["a", "b"]}, ("a", "b"), 1, id="headers-equal-first-row"),
        pytest.param("a,b\n1,2\n", {"headers": ["p", "q"]}, ("p", "q"), 2, id="headers-differ-first-row-is-data"),
        pytest.param("1,2\n", {"headers": ["p", "q"]}, ("p", "q"), 1, id="headers-no-header-row"),
        pytest.param("\ufeffa,b\n1,2\n", {}, ("a", "b"), 1, id="utf8-bom"),
        pytest.param("a,b\n\n1,2\n   \n3,4\n", {}, ("a", "b"), 2, id="blank-lines-skipped"),
    ],
)
def test_header_row_detection(write, content, kwargs, headers, n_rows):
    dataset = _open(write(content), **kwargs)
    assert dataset.schema.headers == headers
    assert len(dataset.read_all().features) == n_rows


def test_label_by_name_and_by_index_give_the_same_dataset(write):
    path = write("Sex,Length,Rings\nM,0.4,15\nF,0.5,7\n")
    by_name, by_index = _open(path, label="Rings"), _open(path, label=2)
    assert by_name.schema == by_index.schema
    assert by_name.schema.feature_names == ("Sex", "Length")
    assert by_name.schema.label_name == "Rings"
    assert by_name.schema.categorical == (True, False)
    chunk = by_index.read_all()
    assert chunk.label.name == "Rings"
    assert chunk.label.tolist() == [15.0, 7.0]
    pd.testing.assert_frame_equal(chunk.features, by_name.read_all().features)


def test_roles_joinsource_excluded_and_predicted_label(write):
    path = write("id,a,b,skip,pred,y\n007,1,x,9,1,0\n008,2,y,9,0,1\n")
    dataset = _open(path, label="y", predicted_label=4, joinsource_name_or_index="id", excluded_columns=["skip"])
    assert dataset.schema.headers == ("id", "a", "b", "skip", "pred", "y")
    assert dataset.schema.feature_names == ("a", "b")
    assert dataset.schema.joinsource_name == "id"
    chunk = dataset.read_all()
    assert chunk.join_source.tolist() == ["007", "008"]  # identifiers keep their text
    assert chunk.join_source.name == "id"
    assert list(chunk.features.columns) == ["a", "b"]


def test_excluded_columns_by_index(write):
    dataset = _open(write("1,2,3,4\n5,6,7,8\n"), label=3, excluded_columns=[0, 2])
    assert dataset.schema.feature_names == ("column_1",)
    assert dataset.read_all().features["column_1"].tolist() == [2.0, 6.0]


def test_numeric_and_categorical_columns(write):
    # (infinite numbers are refused: test_non_finite.py)
    content = 'n,i,t,b,na,code\n1.5,1,"a, b",True,NA,NA\n,2,,False,nan,x\n-2.5e3,3,"x\ny",True,,y\n'
    dataset = _open(write(content))
    assert dataset.schema.categorical == (False, False, True, True, False, True)
    features = dataset.read_all().features
    assert features.dtypes.tolist() == [np.float64, np.float64, object, object, np.float64, object]
    np.testing.assert_array_equal(features["n"], [1.5, np.nan, -2500.0])
    assert features["i"].tolist() == [1.0, 2.0, 3.0]
    assert features["t"].tolist() == ["a, b", None, "x\ny"]  # empty categorical cell -> None
    assert features["b"].tolist() == ["True", "False", "True"]  # booleans are categorical text
    assert features["na"].isna().all()  # pandas' NA strings are missing numbers
    assert features["code"].tolist() == ["NA", "x", "y"]  # ... but text in a categorical column
    assert all(type(v) is str for v in features["t"].dropna())
    assert isinstance(features.index, pd.RangeIndex)


def _table_text(rows, header):
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # "\r\n" line ends, so fields holding "\r" get quoted
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buffer.getvalue()


_text = st.text(alphabet='ab ,"\n\r', max_size=4).map(lambda s: "t" + s)
_number = st.one_of(st.none(), st.integers(-1000, 1000), st.floats(-1e6, 1e6).map(lambda x: round(x, 3)))


@st.composite
def _tables(draw):
    kinds = draw(st.lists(st.booleans(), min_size=1, max_size=4))  # True: text column
    n_rows = draw(st.integers(1, 25))
    rows = [[draw(_text if text else _number) for text in kinds] for _ in range(n_rows)]
    if len(kinds) == 1:  # an empty record of a one-column file is a blank line, which is skipped
        rows = [row for row in rows if row[0] is not None] or [["t"] if kinds[0] else [1]]
    return kinds, rows


@given(_tables())
def test_chunks_agree_with_read_all_and_the_written_values(table):
    kinds, rows = table
    header = [f"c{j}" for j in range(len(kinds))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_text(_table_text(rows, header), encoding="utf-8", newline="")
        dataset = _open(path, headers=header)
        whole = dataset.read_all()
        expected = pd.DataFrame(
            {
                name: pd.Series([r[j] for r in rows], dtype=object)
                if kinds[j]
                else pd.Series([np.nan if r[j] is None else float(r[j]) for r in rows], dtype=np.float64)
                for j, name in enumerate(header)
            }
        )
        numeric = [name for name, text in zip(header, kinds, strict=True) if not text]
        pd.testing.assert_frame_equal(whole.features.drop(columns=numeric), expected.drop(columns=numeric))
        np.testing.assert_allclose(whole.features[numeric], expected[numeric], rtol=1e-15)
        for chunksize in (1, 3, 1000):
            chunks = list(dataset.chunks(chunksize))
            assert [c.start_row for c in chunks] == list(range(0, len(rows), chunksize))
            assert all(isinstance(c.features.index, pd.RangeIndex) for c in chunks)
            joined = pd.concat([c.features for c in chunks], ignore_index=True)
            pd.testing.assert_frame_equal(joined, whole.features)


def _deep(n_rows: int, bad_row: int, bad: str) -> str:
    lines = ["a,b,c"] + [f"{i},{i},x{i}" for i in range(n_rows)]
    lines[bad_row] = bad
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        pytest.param(
            "a,b,c\n1,2,3\n4,5\n6,7,8\n",
            {},
            r"line 3: expected 3 columns \(from the header row\); got 2\.",
            id="short-row",
        ),
        pytest.param(
            "a,b,c\n1,2,3\n4,5,6,7\n",
            {},
            r"line 3: expected 3 columns \(from the header row\); got 4\.",
            id="long-row",
        ),
        pytest.param(
            "1,2,3,4\n1,2,3\n",
            {},
            r"line 2: expected 4 columns \(from the first row\); got 3\.",
            id="no-header",
        ),
        pytest.param(
            "1,2\n",
            {"headers": ["a", "b", "c"]},
            r"line 1: expected 3 columns \(from 'headers'\); got 2\.",
            id="headers-too-long",
        ),
        pytest.param(
            'a,b\n"x\ny",1\n2\n',
            {},
            r"line 4: expected 2 columns \(from the header row\); got 1\.",
            id="after-quoted-newline",
        ),
        pytest.param(
            _deep(3000, 2500, "1,2"),
            {},
            r"data.csv' line 2501: expected 3 columns .*; got 2\.",
            id="short-row-past-the-peek",
        ),
        pytest.param(
            _deep(3000, 2500, "1,2,x,4"),
            {},
            r"line 2501: expected 3 columns .*; got 4\.",
            id="long-row-past-the-peek",
        ),
        pytest.param(
            _deep(3000, 2500, '1,2,"q\nq"\n3,4,"r\nr"\n5,6'),
            {},
            r"line 2505: expected 3 columns .*; got 2\.",
            id="short-row-after-multiline-records",
        ),
        pytest.param(
            _deep(3000, 2500, "abc,2,x"),
            {},
            r"line 2501, column 'a': expected a number \(the column is numeric in the first 1000 records\); "
            r"got 'abc'\.",
            id="text-in-numeric-column-past-the-peek",
        ),
        pytest.param("", {}, r"dataset '.*data.csv': is empty", id="empty-file"),
        pytest.param("\n\n", {}, r"is empty", id="blank-lines-only"),
        pytest.param("a,b\n", {"headers": ["a", "b"]}, r"has a header row but no records", id="header-only"),
        pytest.param("a,a\n1,2\n", {}, r"duplicate column names; got \['a'\]", id="duplicate-header"),
        pytest.param(
            "a,b\n1,2\n",
            {"label": "z"},
            r"label: no column of that name .*; got 'z'\. Use one of "
            r"the column names 'a', 'b' or a 0-based index from 0 to 1",
            id="unknown-label",
        ),
        pytest.param("a,b\n1,2\n", {"label": 2}, r"label: column index out of range; got 2", id="label-index"),
        pytest.param(
            "a,b\n1,2\n", {"label": True}, r"label: must be a column name or a 0-based index", id="label-bool"
        ),
        pytest.param(
            "a,b\n1,2\n",
            {"excluded_columns": ["a", "q"]},
            r"excluded_columns\[1\]: no column",
            id="unknown-excluded",
        ),
        pytest.param(
            "a,b\n1,2\n", {"excluded_columns": "a"}, r"excluded_columns: must be a list", id="excluded-string"
        ),
        pytest.param(
            "a,b\n1,2\n",
            {"label": "a", "excluded_columns": ["b"]},
            r"no feature column is left",
            id="no-features-left",
        ),
        pytest.param('a,b\n1,"2\n', {}, r"cannot be parsed as CSV|not valid CSV", id="unclosed-quote"),
    ],
)
def test_csv_errors(write, content, kwargs, message):
    with pytest.raises(DataError, match=message):
        _open(write(content), **kwargs).read_all()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"a,b\n1,2\n3,\xff\n", r"line 3 \(byte 10\): not valid UTF-8; got b'\\xff\\n'", id="peek"),
        pytest.param(
            ("a,b\n" + "1,x\n" * 50_000).encode() + b"2,\xe9t\xe9\n",
            r"line 50002 \(byte 200006\): not valid UTF-8; got b'\\xe9t\\xe9\\n'",
            id="past-the-peek",
        ),
        pytest.param(
            b"a,b\n" + b"1,\xc3\xa9\n" * 400_000 + b"\xc3",
            r"line 400002 \(byte 2000004\)",
            id="cut-at-the-end",
        ),
    ],
)
def test_non_utf8_bytes_are_located(write, content, message):
    with pytest.raises(DataError, match=message):
        _open(write(content)).read_all()


def test_a_text_column_may_have_an_empty_last_field(write):
    # pandas pads short rows with NaN, so rows ending with an empty field get re-checked: not an error.
    chunk = _open(write("a,b\n1,\n2,x\n3,\n")).read_all()
    assert chunk.features["b"].tolist() == [None, "x", None]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"dataset: no such file or directory; got '.*nope.csv'"):
        _open(tmp_path / "nope.csv")


def test_directory_of_csv_files_is_one_dataset(tmp_path, write):
    write("a,b\n1,x\n2,y\n", "d/part-0.csv")
    write("a,b\n3,z\n", "d/part-1.csv")
    write("4,w\n5,v\n", "d/sub/part-2.csv")  # no header row: data
    write("", "d/part-1b.csv")  # empty part files are skipped
    write("garbage", "d/_SUCCESS")
    write("garbage", "d/.part-0.csv.crc")
    dataset = _open(tmp_path / "d")
    assert dataset.schema.headers == ("a", "b")
    chunk = dataset.read_all()
    assert chunk.features["a"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert chunk.features["b"].tolist() == ["x", "y", "z", "w", "v"]
    assert [c.start_row for c in dataset.chunks(2)] == [0, 2, 3]  # a chunk never spans two files


def test_directory_error_names_the_file(tmp_path, write):
    write("a,b\n1,2\n", "d/part-0.csv")
    write("a,b\n1,2,3\n", "d/part-1.csv")
    with pytest.raises(DataError, match=r"part-1.csv' line 2: expected 2 columns"):
        _open(tmp_path / "d").read_all()


def test_dataset_is_reiterable(write):
    dataset = _open(write("a,b\n1,2\n3,4\n"))
    first = [c.features for c in dataset.chunks(1)]
    second = [c.features for c in dataset.chunks(1)]
    for x, y in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(x, y)


def test_the_predicted_label_column_is_read_and_is_not_a_feature(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,y,p,b\n1,1,0,x\n2,0,1,y\n3,1,,z\n")
    dataset = _open(path, label="y", predicted_label="p")
    assert dataset.schema.feature_names == ("a", "b") and dataset.schema.predicted_label_name == "p"
    assert [len(c.predicted_label) for c in dataset.chunks(2)] == [2, 1]
    whole = dataset.read_all().predicted_label
    assert whole.tolist()[:2] == [0.0, 1.0] and np.isnan(whole.tolist()[2])
