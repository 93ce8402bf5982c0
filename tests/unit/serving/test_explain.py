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
