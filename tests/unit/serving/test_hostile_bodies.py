"""Hostile request bodies and encodings: a bad payload is 400 / 415 with a one-line JSON error, never 500.

Odd charsets (Python codecs that are not text encodings), JSON nested past the recursion limit, numbers
past Python's integer-digit limit or the float64 range, lone surrogates, records that say nothing; then
a fuzz over bodies built from the pieces that broke the decoders, in process and on a real socket.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclarify.models import CallablePredictor
from openclarify.serving import (
    RequestError,
    ServeConfig,
    ServedModel,
    background_server,
    create_app,
    decode_request,
    parse_content_type,
    records_frame,
)

RANGE_HINT = "Send numbers within the float64 range (about ±1.8e308)."
INF_FIX = "Write a finite number, or leave the value out (empty, null) for a missing one."


def zeros(records: pd.DataFrame) -> np.ndarray:
    """Scores every record 0, whatever its columns: a failure can only come from the server."""
    return np.zeros(len(records))


@contextmanager
def serving(fn=zeros, names=None):
    model = ServedModel(CallablePredictor(fn), names, frozenset(), None)
    app = create_app(ServeConfig(), model=model)
    with background_server(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def client():
    with serving() as c:
        yield c


def post(client, body: bytes, content_type: str) -> httpx.Response:
    return client.post("/invocations", content=body, headers={"content-type": content_type})


DEEP = b"[" * 100_000 + b"]" * 100_000
DIGITS_5000 = b"1" * 5000
LONG_INT_SHOWN = "'" + "1" * 20 + "...' (5000 characters)"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        *(
            pytest.param(
                b"1\n",
                f"text/csv; charset={codec}",
                415,
                f"Content-Type: unsupported charset (not a text encoding); got {codec!r}. Send UTF-8.",
                id=f"charset-{codec}",
            )
            for codec in ("rot13", "zlib", "base64", "hex", "uu", "bz2", "quopri")
        ),
        *(
            pytest.param(
                b"1\n",
                f"text/csv; charset={codec}",
                415,
                f"Content-Type: unsupported charset (a Python codec, not a character set); got {codec!r}. "
                "Send UTF-8.",
                id=f"charset-{codec}",
            )
            for codec in ("undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape")
        ),
        pytest.param(
            b"1\n", "text/csv; charset=klingon", 415, "Content-Type: unknown charset; got 'klingon'. Send UTF-8.",
            id="charset-unknown",
        ),
        pytest.param(
            b"1\n", "text/csv; charset=", 415, "Content-Type: unknown charset; got ''. Send UTF-8.",
            id="charset-empty",
        ),
        pytest.param(
            b"+2AA-\n",
            "text/csv; charset=utf-7",
            400,
            "body: not valid utf-7 at character 0 (a lone surrogate); got '\\ud800'. Send the text as UTF-8.",
            id="utf7-lone-surrogate",
        ),
        pytest.param(
            DEEP,
            "application/json",
            400,
            "application/json body: arrays or objects nested too deeply; got 100000 levels. "
            "Send each record as a flat list of values.",
            id="json-nested-100000",
        ),
        pytest.param(
            b'{"features": ' + b"[" * 5000 + b"]" * 5000 + b"}\n",
            "application/jsonlines",
            400,
            "application/jsonlines body line 1: arrays or objects nested too deeply; got 5001 levels. "
            "Send each record as a flat list of values.",
            id="jsonl-nested-5000",
        ),
        pytest.param(
            b"[" + DIGITS_5000 + b"]",
            "application/json",
            400,
            f"application/json body: a number outside the float64 range; got {LONG_INT_SHOWN}. {RANGE_HINT}",
            id="json-int-5000-digits",
        ),
        pytest.param(
            b"[" + b"1" * 400 + b"]",
            "application/json",
            400,
            "application/json body: a number outside the float64 range; got '" + "1" * 20 + "...' (400 characters). "
            + RANGE_HINT,
            id="json-int-400-digits",
        ),
        pytest.param(
            b'{"features": [1e400]}\n',
            "application/jsonlines",
            400,
            f"application/jsonlines body line 1: a number outside the float64 range; got '1e400'. {RANGE_HINT}",
            id="jsonl-float-overflow",
        ),
        pytest.param(
            b"[-1" + b"0" * 250 + b"e99]",
            "application/json",
            400,
            "application/json body: a number outside the float64 range; got '-1" + "0" * 18 + "...' (255 characters). "
            + RANGE_HINT,
            id="json-float-overflow-long-mantissa",
        ),
        pytest.param(
            b"1e400\n",
            "text/csv",
            400,
            f"record 1, column 'column_0': a number outside the float64 range; got '1e400'. {RANGE_HINT}",
            id="csv-float-overflow",
        ),
        pytest.param(
            b"2\nNA\n" + DIGITS_5000 + b"\n",
            "text/csv",
            400,
            f"record 3, column 'column_0': a number outside the float64 range; got {LONG_INT_SHOWN}. {RANGE_HINT}",
            id="csv-int-5000-digits",
        ),
        pytest.param(
            b'["ok", "\\ud800"]',
            "application/json",
            400,
            "application/json body: a string holds a lone surrogate; got '\\ud800'. Pair each \\uD800-\\uDBFF "
            "escape with a \\uDC00-\\uDFFF one, or send the character itself as UTF-8.",
            id="json-lone-surrogate",
        ),
        pytest.param(
            b'{"source": "x\\udc00y"}\n',
            "application/jsonlines",
            400,
            "application/jsonlines body line 1: a string holds a lone surrogate; got 'x\\udc00y'. Pair each "
            "\\uD800-\\uDBFF escape with a \\uDC00-\\uDFFF one, or send the character itself as UTF-8.",
            id="jsonl-lone-surrogate",
        ),
        pytest.param(
            b'{"\\ud800": 1}',
            "application/json",
            400,
            "application/json body: a string holds a lone surrogate; got '\\ud800'. Pair each \\uD800-\\uDBFF "
            "escape with a \\uDC00-\\uDFFF one, or send the character itself as UTF-8.",
            id="json-lone-surrogate-key",
        ),
        pytest.param(
            b"{}", "application/json", 400, "application/json body: a record has no values; got {}.",
            id="json-empty-kvp",
        ),
        pytest.param(
            b'[{"a": 1}, {"a": 2, "b": 3}]',
            "application/json",
            400,
            "record 2: unknown feature names ['b']; the features are ['a'] (from the first record).",
            id="kvp-extra-name",
        ),
    ],
)  # fmt: skip
def test_hostile_bodies_are_refused_with_one_line(client, body, content_type, status, message):
    r = post(client, body, content_type)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": message}
    assert post(client, b"1\n", "text/csv").text == "0.0\n"  # the worker is still there


def test_unknown_names_in_any_record_are_refused_with_the_model_names():
    with serving(names=("a", "b")) as c:
        r = post(c, b'[{"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3}]', "application/json")
    assert r.status_code == 400
    assert r.json() == {"error": "record 2: unknown feature names ['c']; the model's features are ['a', 'b']."}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        pytest.param(b"[[1, Infinity]]", "application/json", "record 1, column 'column_1': infinite numbers are not "
                     f"supported; got inf. {INF_FIX}", id="json-Infinity"),
        pytest.param(b"2\n-Infinity\n", "text/csv", "record 2, column 'column_0': infinite numbers are not "
                     f"supported; got '-Infinity'. {INF_FIX}", id="csv-Infinity"),
        pytest.param(b"1,inf\n", "text/csv", "record 1, column 'column_1': infinite numbers are not supported; got "
                     f"'inf'. {INF_FIX}", id="csv-inf"),
        pytest.param(b"NA\n+INF\n", "text/csv", "record 2, column 'column_0': infinite numbers are not supported; "
                     f"got '+INF'. {INF_FIX}", id="csv-inf-with-missing"),
        pytest.param(b"1e400\nNA\n", "text/csv", "record 1, column 'column_0': a number outside the float64 range; "
                     f"got '1e400'. {RANGE_HINT}", id="csv-overflow-with-missing"),
    ],
)  # fmt: skip
def test_infinite_numbers_are_refused_as_the_data_layer_refuses_them(client, body, content_type, message):
    r = post(client, body, content_type)
    assert (r.status_code, r.json()) == (400, {"error": message})


def test_nan_literals_and_tiny_numbers_are_values():
    """NaN (JSON's non-standard literal) reads as missing, as null does; a number below the range rounds to 0."""
    frame = records_frame(decode_request(b"[[NaN, null, 1e308, 5e-324, 1e-400]]", "application/json"))
    assert np.isnan(frame.iloc[0, :2].to_numpy(dtype=float)).all()
    assert frame.iloc[0].tolist()[2:] == [1e308, 5e-324, 0.0]
    csv_frame = records_frame(decode_request(b"nan,NA,\n", "text/csv"))
    assert np.isnan(csv_frame.iloc[0].to_numpy(dtype=float)).all()


def test_infinity_in_a_text_column_is_text():
    frame = records_frame(decode_request(b'[["inf", Infinity]]', "application/json"), text_columns=True)
    assert frame.iloc[0].tolist() == ["inf", "inf"]


def test_surrogate_pairs_and_line_separators_inside_strings_are_kept():
    """A valid pair is one character; U+2028 and U+0085 inside a JSON string are not line breaks."""
    payload = decode_request('{"source": "\\ud83d\\ude00 a\u2028b\x85c"}\n'.encode(), "application/jsonlines")
    assert payload.rows == [["\U0001f600 a\u2028b\x85c"]]
    assert decode_request(b'["\\\\ud800"]', "application/json").rows == [["\\ud800"]]  # an escaped backslash


def test_an_error_message_with_a_lone_surrogate_is_still_json():
    def fail(records: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("bad \ud800 value")

    with serving(fail) as c:
        r = post(c, b"1\n", "text/csv")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert re.search(r"raised RuntimeError.*bad \\ud800 value", r.json()["error"]), r.text


# --- fuzz ---------------------------------------------------------------------------------------------

PIECES = [
    "[", "]", "{", "}", '"', ",", ":", " ", "\n", "\r", "\u2028", "\x85", "\x00", "\ufeff",
    "1", "-", "0", "e", "E", "+", ".", "9" * 400, "1e400", "e999", "NaN", "Infinity", "inf", "null", "true",
    "\\u", "d800", "dc00", "\\ud800", "\\ud83d\\ude00", "\\", '"features"', '"source"', '"instances"',
    '"configuration"', '"k"', "\U0001f600", "é",
]  # fmt: skip
CHARSETS = [None, "utf-8", "latin-1", "utf-16", "utf-7", "ascii", "cp1252", "rot13", "idna", "nope", ""]
MEDIA = ["text/csv", "application/jsonlines", "application/json"]

texts = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
    st.integers(0, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(0, 3000).map(lambda n: '{"features": ' + "[" * n + "1" + "]" * n + "}"),
)
bodies = st.one_of(
    texts.map(str.encode),
    st.tuples(texts, st.sampled_from(["utf-16", "utf-7", "latin-1"])).map(lambda tc: tc[0].encode(tc[1], "replace")),
    st.binary(max_size=64),
)


def header(media: str, charset: str | None) -> str:
    return media if charset is None else f"{media}; charset={charset}"


def statuses(body: bytes, content_type: str) -> int:
    """What the server's decoding answers for a body: 200, or the status of the RequestError."""
    try:
        media, charset = parse_content_type(content_type)
        payload = decode_request(body, media, charset=charset)
        records_frame(payload)
    except RequestError as exc:
        json.dumps({"error": str(exc)}).encode("utf-8")  # the message itself can be sent
        return exc.status
    return 200


@given(body=bodies, media=st.sampled_from(MEDIA), charset=st.sampled_from(CHARSETS))
def test_decoding_fuzz_raises_only_request_errors(body, media, charset):
    assert statuses(body, header(media, charset)) in (200, 400, 415)


@given(body=bodies, media=st.sampled_from(MEDIA), charset=st.sampled_from(CHARSETS))
def test_server_fuzz_never_answers_500_for_a_bad_payload(client, body, media, charset):
    r = post(client, body, header(media, charset))
    assert r.status_code in (200, 400, 415), r.text
    if r.status_code != 200:
        error = r.json()["error"]
        assert "\n" not in error and not error.startswith("unexpected")
