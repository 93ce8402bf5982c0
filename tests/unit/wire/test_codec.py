"""Wire formats: CSV / JSON Lines / JSON request decoding, content negotiation, response encoding."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from openclarify.wire import (
    RequestError,
    choose_accept,
    compile_features,
    decode_request,
    encode_csv_records,
    encode_scores,
    parse_content_type,
)

TRICKY_TEXTS = [
    "plain",
    "with, a comma",
    'with "quotes" inside',
    "a line\nbreak",
    "a crlf\r\nbreak",
    "  leading and trailing spaces  ",
    "",
    "ünïcödé ✓",
    'comma, quote " and\nnewline',
]


def csv_body(rows):
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


# --- text/csv ---------------------------------------------------------------------------------------


def test_csv_text_fields_arrive_unchanged():
    payload = decode_request(csv_body([[t] for t in TRICKY_TEXTS]), "text/csv")
    assert payload.rows == [[t] for t in TRICKY_TEXTS]
    assert payload.top_k == (None,) * len(TRICKY_TEXTS)
    assert not payload.blazingtext


def test_csv_many_columns_and_line_endings():
    body = b'1.5,"a, b",3\r\n-0.0,"x\ny",4\n\n7,z,8'
    assert decode_request(body, "text/csv").rows == [["1.5", "a, b", "3"], ["-0.0", "x\ny", "4"], ["7", "z", "8"]]


def test_csv_blank_lines_are_skipped_but_an_empty_quoted_field_is_a_record():
    payload = decode_request(b'\n""\n\nx\n', "text/csv")
    assert payload.rows == [[""], ["x"]]
    assert payload.quoted_columns == frozenset({0})


@pytest.mark.parametrize(
    ("body", "quoted"),
    [
        pytest.param(b"1,2\n3,4", frozenset(), id="none"),
        pytest.param(b'1,"a"\n"3",4\n', frozenset({0, 1}), id="both"),
        pytest.param(b'1,"a ""b""\r\nc",\r\n2,"",', frozenset({1}), id="escaped-and-crlf"),
        pytest.param(b'1,a"b\n', None, id="stray-quote"),
        pytest.param(b'"a"x,1\n', None, id="text-after-quote"),
    ],
)
def test_csv_quoted_columns(body, quoted):
    payload = decode_request(body, "text/csv")
    assert payload.csv
    assert payload.quoted_columns == quoted


def test_csv_quote_tracking_on_a_long_quoted_field():
    text = "word, " * 500_000 + '""quote""'
    payload = decode_request(f'"{text}",1\n'.encode(), "text/csv")
    assert payload.rows == [[text.replace('""', '"'), "1"]]
    assert payload.quoted_columns == frozenset({0})


def test_csv_floats_written_with_repr_round_trip(rng):
    values = rng.standard_normal(50) * 10.0 ** rng.integers(-300, 300, 50)
    payload = decode_request(csv_body([[repr(float(v))] for v in values]), "text/csv")
    back = np.array([float(r[0]) for r in payload.rows])
    assert back.tobytes() == values.tobytes()


def test_csv_byte_order_mark_and_charset():
    assert decode_request("\ufeffa,b\n".encode(), "text/csv").rows == [["a", "b"]]
    assert decode_request("é,1\n".encode("latin-1"), "text/csv", charset="latin-1").rows == [["é", "1"]]


@pytest.mark.parametrize(
    ("body", "media", "message"),
    [
        pytest.param(b"\xff\xfe,1\n", "text/csv", "not valid utf-8 at byte 0", id="csv-not-utf8"),
        pytest.param(b'{"features": [1, 2]\n', "application/jsonlines", "line 1: not valid JSON", id="jsonl-bad"),
        pytest.param(b'{"features": [[1], 2]}\n', "application/jsonlines", "flat list", id="jsonl-nested"),
        pytest.param(b'{"features": []}\n', "application/jsonlines", "has no values", id="jsonl-empty-record"),
        pytest.param(b'{"source": 3}\n', "application/jsonlines", "'source' must be a string", id="source-not-str"),
        pytest.param(b'{"source": "x", "k": 0}\n', "application/jsonlines", "k must be an integer >= 1", id="k-0"),
        pytest.param(b'[1, 2]\n{"a": 1}\n', "application/jsonlines", "mixes records", id="mixed-kinds"),
        pytest.param(b'{"instances": "x"}', "application/json", "'instances' must be a list", id="instances-str"),
        pytest.param(
            b'{"instances": ["x"], "configuration": {"k": true}}', "application/json", "k must be", id="k-bool"
        ),
        pytest.param(b'{"instances": ["x"], "configuration": 3}', "application/json", "must be an object", id="conf"),
        pytest.param(b"[1, 2", "application/json", "not valid JSON", id="json-bad"),
    ],
)
def test_malformed_bodies_are_400(body, media, message):
    with pytest.raises(RequestError, match=message) as info:
        decode_request(body, media)
    assert info.value.status == 400


# --- application/jsonlines --------------------------------------------------------------------------


def test_jsonlines_clarify_and_blazingtext_shapes():
    body = "\n".join(
        [
            json.dumps({"features": [1.5, "red", None]}),
            json.dumps({"features": [0.1, "blue", 3]}),
            "",
        ]
    ).encode()
    payload = decode_request(body, "application/jsonlines")
    assert payload.rows == [[1.5, "red", None], [0.1, "blue", 3]]

    bt = decode_request(b'{"source": "a, text\\n"}\n{"source": "b", "k": 2}\n', "application/jsonlines")
    assert bt.rows == [["a, text\n"], ["b"]]
    assert bt.top_k == (None, 2)


def test_jsonlines_named_features_and_lists_and_scalars():
    assert decode_request(b'{"a": 1, "b": "x"}\n', "application/jsonlines").rows == [{"a": 1, "b": "x"}]
    assert decode_request(b'[1, "x"]\n"just text"\n', "application/jsonlines").rows == [[1, "x"], ["just text"]]


def test_features_expression_picks_the_list():
    body = b'{"data": {"features": [1, 2]}}\n{"data": {"features": [3, 4]}}\n'
    payload = decode_request(body, "application/jsonlines", features=compile_features("data.features"))
    assert payload.rows == [[1, 2], [3, 4]]
    with pytest.raises(RequestError, match="finds nothing"):
        decode_request(b'{"other": 1}\n', "application/jsonlines", features=compile_features("data.features"))


def test_features_expression_must_compile():
    with pytest.raises(ValueError, match="not a valid JMESPath"):
        compile_features("data.[")


# --- application/json -------------------------------------------------------------------------------


def test_json_blazingtext_instances_with_k():
    body = json.dumps({"instances": ["the movie", "i did not like it ."], "configuration": {"k": 2}}).encode()
    payload = decode_request(body, "application/json")
    assert payload.rows == [["the movie"], ["i did not like it ."]]
    assert payload.top_k == (2, 2)
    assert payload.blazingtext


def test_json_instances_without_k_are_not_blazingtext_shaped():
    payload = decode_request(b'{"instances": [[1, 2], [3, 4]]}', "application/json")
    assert payload.rows == [[1, 2], [3, 4]]
    assert payload.top_k == (None, None)
    assert not payload.blazingtext


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        pytest.param(b"[[0, 1], [3, 4]]", [[0, 1], [3, 4]], id="records-list"),
        pytest.param(b'[{"A": 0, "B": 1}, {"A": 3, "B": 4}]', [{"A": 0, "B": 1}, {"A": 3, "B": 4}], id="kvp-list"),
        pytest.param(b'{"A": 0, "B": 1}', [{"A": 0, "B": 1}], id="one-kvp-record"),
        pytest.param(b'{"features": [5, "x"]}', [[5, "x"]], id="one-features-record"),
        pytest.param(b'{"instances": [{"features": [1]}, {"features": [2]}]}', [[1], [2]], id="instances-of-features"),
    ],
)
def test_json_clarify_templates(body, rows):
    assert decode_request(body, "application/json").rows == rows


# --- content negotiation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/csv", ("text/csv", "utf-8")),
        ("text/csv; charset=utf-8", ("text/csv", "utf-8")),
        ("Application/JSON; charset=UTF-8", ("application/json", "UTF-8")),
        ("application/x-jsonlines", ("application/jsonlines", "utf-8")),
        ('text/csv; charset="latin-1"', ("text/csv", "latin-1")),
    ],
)
def test_content_type(header, expected):
    assert parse_content_type(header) == expected


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        pytest.param(None, ("text/csv",), id="missing"),
        pytest.param("application/xml", ("text/csv",), id="unknown"),
        pytest.param("text/csv", ("application/json",), id="not-allowed"),
        pytest.param("text/csv; charset=klingon", ("text/csv",), id="charset"),
    ],
)
def test_unsupported_content_type_is_415(header, allowed):
    with pytest.raises(RequestError) as info:
        parse_content_type(header, allowed)
    assert info.value.status == 415


@pytest.mark.parametrize(
    ("header", "content_type", "expected"),
    [
        (None, "text/csv", "text/csv"),
        ("*/*", "application/jsonlines", "application/jsonlines"),
        ("application/jsonlines", "text/csv", "application/jsonlines"),
        ("application/json; charset=utf-8", "text/csv", "application/json"),
        ("text/html, application/json;q=0.5, text/csv;q=0.9", "application/json", "text/csv"),
        ("application/*", "text/csv", "application/json"),
        ("text/*", "application/json", "text/csv"),
    ],
)
def test_accept(header, content_type, expected):
    assert choose_accept(header, content_type) == expected


def test_unsupported_accept_is_406():
    with pytest.raises(RequestError, match="Accept: unsupported") as info:
        choose_accept("text/html, image/png", "text/csv")
    assert info.value.status == 406


# --- responses --------------------------------------------------------------------------------------

SCORES = np.array([[0.1, 0.7, 0.2], [1 / 3, 2 / 3, 1e-300]])


def test_csv_response_round_trips_bit_for_bit():
    body = encode_scores(SCORES, "text/csv", output_names=("a", "b", "c"))
    back = np.array([[float(v) for v in row] for row in csv.reader(io.StringIO(body.decode()))])
    assert back.tobytes() == SCORES.tobytes()
    assert body.decode().count("\n") == 2


def test_jsonlines_response_with_labels_is_the_full_vector_in_label_order():
    lines = encode_scores(SCORES, "application/jsonlines", output_names=("a", "b", "c")).decode().splitlines()
    objects = [json.loads(line) for line in lines]
    assert objects[0] == {"label": ["a", "b", "c"], "prob": [0.1, 0.7, 0.2]}
    assert np.array([o["prob"] for o in objects]).tobytes() == SCORES.tobytes()


def test_json_response_shapes():
    assert json.loads(encode_scores(SCORES[:, :1], "application/json")) == {
        "predictions": [{"score": 0.1}, {"score": 1 / 3}]
    }
    assert json.loads(encode_scores(SCORES[:1], "application/json")) == {"predictions": [{"scores": [0.1, 0.7, 0.2]}]}


def test_blazingtext_top_k_is_sorted_with_label_prefix():
    body = encode_scores(SCORES, "application/json", output_names=("a", "b", "c"), top_k=(2, 5), blazingtext=True)
    assert json.loads(body) == [
        {"label": ["__label__b", "__label__c"], "prob": [0.7, 0.2]},
        {"label": ["__label__b", "__label__a", "__label__c"], "prob": [2 / 3, 1 / 3, 1e-300]},
    ]
    # per-line k in JSON Lines: BlazingText's shape on that line only
    lines = encode_scores(SCORES, "application/jsonlines", output_names=("a", "b", "c"), top_k=(1, None))
    first, second = (json.loads(x) for x in lines.decode().splitlines())
    assert first == {"label": ["__label__b"], "prob": [0.7]}
    assert second["label"] == ["a", "b", "c"]


def test_ties_keep_label_order():
    body = encode_scores(np.array([[0.25, 0.5, 0.25]]), "application/json", output_names=("x", "y", "z"), top_k=(3,))
    assert json.loads(body)["predictions"][0]["label"] == ["__label__y", "__label__x", "__label__z"]


def test_csv_records_encoding_quotes_and_missing_values():
    body = encode_csv_records([["a, b", 1.5, None], ['q"uote\n', float("nan"), 3]])
    assert decode_request(body, "text/csv").rows == [["a, b", "1.5", ""], ['q"uote\n', "", "3"]]
