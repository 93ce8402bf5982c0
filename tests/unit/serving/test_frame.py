"""Records to the model's DataFrame: the data layer's column typing, exact floats, names and widths."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from openclarify.data._columns import Layout, where_fixed
from openclarify.serving import Payload, RequestError, decode_request, records_frame


def payload(rows):
    """Rows of strings as from an unquoted CSV body; anything else as from JSON."""
    csv = all(isinstance(v, str) for row in rows if isinstance(row, list) for v in row)
    return Payload(rows, (None,) * len(rows), csv=csv and bool(rows), quoted_columns=frozenset())


def test_numeric_columns_are_float64_and_bit_identical(rng):
    values = np.concatenate([rng.standard_normal(200), [5e-324, -0.0, 1.7976931348623157e308, 123.0]])
    body = "".join(f"{v!r},{v!r}\n" for v in values.tolist()).encode()
    frame = records_frame(decode_request(body, "text/csv"))
    assert list(frame.columns) == ["column_0", "column_1"]
    assert frame.dtypes.tolist() == [np.float64, np.float64]
    assert frame["column_0"].to_numpy().tobytes() == values.tobytes()


def test_text_columns_keep_their_values_and_empty_is_missing():
    rows = [["  spaced  ", "1.5"], ["a, b\nc", "NA"], ["", "2"]]
    frame = records_frame(payload(rows), feature_names=("text", "x"))
    assert frame["text"].tolist() == ["  spaced  ", "a, b\nc", None]
    assert frame["x"].dtype == np.float64
    np.testing.assert_array_equal(frame["x"].to_numpy(), [1.5, np.nan, 2.0])


def test_typing_matches_the_data_layer():
    """The same strings typed by the analysis data layer (Layout.split) and by the server give equal frames."""
    rows = [["M", "0.455", "nan", "7"], ["F", "", "1e-3", "x"], ["I", "0.35", "NULL", "9"]]
    frame = records_frame(payload(rows), feature_names=("sex", "length", "weight", "mixed"))
    layout = Layout(("sex", "length", "weight", "mixed"), (True, False, False, True), (0, 1, 2, 3))
    expected = layout.split(list(zip(*rows, strict=True)), where_fixed("dataset"), "")[0]
    pd.testing.assert_frame_equal(frame, expected)


def test_json_values_keep_their_types():
    frame = records_frame(payload([[1, "red", True, None, "02134"], [2.5, "blue", False, 3, "1"]]))
    assert frame.dtypes.tolist() == [np.float64, object, object, np.float64, object]
    assert frame["column_2"].tolist() == ["True", "False"]  # booleans are not numbers (data layer rule)
    assert frame["column_4"].tolist() == ["02134", "1"]  # a JSON string is text


def test_quoted_csv_fields_are_text_and_unquoted_numbers_are_numeric():
    body = b'"02134",02134,"a"\n"1",1,\n'
    frame = records_frame(decode_request(body, "text/csv"))
    assert frame["column_0"].tolist() == ["02134", "1"]
    assert frame["column_1"].tolist() == [2134.0, 1.0]
    assert frame["column_2"].tolist() == ["a", None]  # text column, empty is missing


def test_unquoted_text_and_stray_quotes_are_typed_by_content():
    frame = records_frame(decode_request(b'the team won,3\nsay "hi",4\n', "text/csv"))
    assert frame["column_0"].tolist() == ["the team won", 'say "hi"']  # a stray quote: the excel dialect
    assert frame["column_1"].dtype == np.float64


def test_text_columns_are_forced():
    rows = [["5", "1"], ["4", "2"]]
    frame = records_frame(payload(rows), feature_names=("rating", "x"), text_columns=frozenset({"rating"}))
    assert frame["rating"].tolist() == ["5", "4"]
    assert frame["x"].dtype == np.float64
    all_text = records_frame(payload(rows), text_columns=True)
    assert all_text.dtypes.tolist() == [object, object]


def test_named_records_follow_the_model_order():
    frame = records_frame(payload([{"b": 2, "a": 1}, {"a": 3, "b": 4}]), feature_names=("a", "b"))
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1.0, 3.0]
    # without model names: the first record's key order
    assert list(records_frame(payload([{"b": 2, "a": 1}])).columns) == ["b", "a"]


@pytest.mark.parametrize(
    ("rows", "names", "message"),
    [
        pytest.param(
            [["1", "2"], ["3"]], None, r"record 2: expected 2 values \(the first record\); got 1", id="ragged"
        ),
        pytest.param([["1", "2"]], ("a", "b", "c"), r"expected 3 values \(the model's features\); got 2", id="width"),
        pytest.param([{"a": 1, "z": 2}], ("a", "b"), "unknown feature names", id="unknown-name"),
        pytest.param([{"a": 1, "b": 2}, {"a": 1}], ("a", "b"), "record 2: no value for feature 'b'", id="missing"),
        pytest.param([], None, "has no records", id="empty"),
    ],
)
def test_bad_records_are_400(rows, names, message):
    with pytest.raises(RequestError, match=message) as info:
        records_frame(payload(rows), feature_names=names)
    assert info.value.status == 400


def test_same_frame_as_pandas_reading_the_dataset(rng):
    """A CSV dataset read by pandas, re-sent with repr() floats, comes back as the same frame."""
    data = pd.DataFrame({"x": rng.standard_normal(30), "cat": rng.choice(["a", "b,c", 'd"e'], 30)})
    text = data.to_csv(index=False, header=False)
    original = pd.read_csv(io.StringIO(text), header=None, names=["x", "cat"], dtype={"x": np.float64, "cat": object})
    body = "".join(f'{x!r},"{c.replace(chr(34), chr(34) * 2)}"\n' for x, c in original.itertuples(index=False))
    frame = records_frame(decode_request(body.encode(), "text/csv"), feature_names=("x", "cat"))
    assert frame["x"].to_numpy().tobytes() == original["x"].to_numpy().tobytes()
    assert frame["cat"].tolist() == original["cat"].tolist()
