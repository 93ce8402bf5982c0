"""The explainer's own reading of requests: plain-number CSV records take a short way to the same frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openclarify.serving._explain import _numbers_frame, _record_key
from openclarify.serving._frame import records_frame
from openclarify.wire import decode_request

NAMES = ("a", "b", "c")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"1,2,3\n0.1,-0.0,1e-300\n", id="plain"),
        pytest.param(b"0.30000000000000004,.5,5.\n-1E5,+2,7e+3\n", id="forms"),
        pytest.param(
            repr(float(np.nextafter(1.0, 2.0))).encode() + b",3.141592653589793,2.718281828459045\n", id="repr"
        ),
    ],
)
def test_plain_numbers_give_the_frame_records_frame_gives(body):
    payload = decode_request(body, "text/csv", find_quoted=True)
    fast = _numbers_frame(payload, NAMES)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, records_frame(payload, feature_names=NAMES))
    assert fast.to_numpy().tobytes() == records_frame(payload, feature_names=NAMES).to_numpy().tobytes()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'1,"2",3\n', id="quoted"),
        pytest.param(b"1,,3\n", id="missing"),
        pytest.param(b"1,nan,3\n", id="nan"),
        pytest.param(b"1,1e999,3\n", id="overflow"),
        pytest.param(b"1,1_000,3\n", id="underscore"),
        pytest.param(b"1,2\n", id="narrow"),
        pytest.param(b"1,x,3\n", id="text"),
    ],
)
def test_anything_else_takes_records_frames_way(body):
    assert _numbers_frame(decode_request(body, "text/csv", find_quoted=True), NAMES) is None


def test_record_keys_tell_records_apart_exactly():
    frame = pd.DataFrame({"a": [0.1, 0.1 + 1e-17, np.nan], "b": ["x", "x", None]})
    keys = _record_key(frame)
    assert keys[0] == (0.1, "x") and keys[2] == (None, None)
    assert len(set(_record_key(pd.DataFrame({"a": [0.1, np.nextafter(0.1, 1.0)]})))) == 2


@pytest.mark.parametrize(
    ("message", "first_row", "said"),
    [
        pytest.param("dataset record 0 (numbered from 0), column 'a': x", 0, "record 1 of the request, column", id="0"),
        pytest.param("dataset record 9 (numbered from 0), column 'a': x", 7, "record 3 of the request, column", id="7"),
        pytest.param(
            "record 4 (numbered from 0), column 't': too big", 0, "record 5 of the request, column", id="text"
        ),
        pytest.param("batch row 2, column 'a': x", 5, "record 3 of the request, column", id="batch"),
        pytest.param("model: something else", 0, "model: something else", id="other"),
    ],
)
def test_estimator_record_numbers_are_said_as_the_requests(message, first_row, said):
    from openclarify.serving._explain import _request_numbers

    assert _request_numbers(message, first_row).startswith(said)
