"""Endpoint client, offline: request serialisation (clarify-spec §4.2), response parsing (§4.3), batching,
argument checks, and the boto3 ``InvokeEndpoint`` path through ``botocore.stub.Stubber``."""

from __future__ import annotations

import csv
import io
import json
import math
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from openclarify.config import PredictorConfig
from openclarify.errors import ConfigError, ModelError
from openclarify.models import EndpointPredictor
from openclarify.models._endpoint import plan_batches
from openclarify.wire import LabelSetError, RequestCodec, ResponseFormatError, ResponseParser


def body(records: pd.DataFrame, content_type: str = "text/csv", **predictor: object) -> bytes:
    codec = RequestCodec(PredictorConfig(**predictor), content_type, list(records.columns))  # type: ignore[arg-type]
    return codec.body(codec.encode(records))


def parse(payload: bytes, n_records: int, accept_type: str = "text/csv", **predictor: object) -> list[list[float]]:
    parser = ResponseParser(PredictorConfig(**predictor), accept_type)  # type: ignore[arg-type]
    return parser.parse(payload, n_records).tolist()


AB = pd.DataFrame({"A": [0, 3], "B": [1, 4]})  # the SDK docstring's records


# ---------------------------------------------------------------------------------------------------
# §4.2 request serialisation, every example verbatim


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param(pd.DataFrame([[1, 2, 3, 4]]), b"1,2,3,4", id="one-record"),
        pytest.param(pd.DataFrame([[1, 2, 3, 4], [5, 6, 7, 8]]), b"1,2,3,4\n5,6,7,8", id="two-records"),
        pytest.param(pd.DataFrame({"review": ["This is a good product"], "stars": [5]}), b'"This is a good product",5'),
    ],
)
def test_csv_examples(records, expected):
    assert body(records) == expected


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param(pd.DataFrame([[1, 2, 3, 4]]), b'{"data":{"features":[1,2,3,4]}}', id="one-record"),
        pytest.param(
            pd.DataFrame([[1, 2, 3, 4], [5, 6, 7, 8]]),
            b'{"data":{"features":[1,2,3,4]}}\n{"data":{"features":[5,6,7,8]}}',
            id="two-records",
        ),
    ],
)
def test_jsonlines_examples(records, expected):
    assert body(records, "application/jsonlines", content_template='{"data":{"features":$features}}') == expected


@pytest.mark.parametrize(
    ("content_template", "record_template", "expected"),
    [
        pytest.param('{"instances": $records}', "$features", b'{"instances": [[0, 1], [3, 4]]}', id="records-features"),
        pytest.param("$records", "$features_kvp", b'[{"A": 0, "B": 1}, {"A": 3, "B": 4}]', id="records-kvp"),
        pytest.param(
            "$records", '{"A": "${A}", "B": "${B}"}', b'[{"A": 0, "B": 1}, {"A": 3, "B": 4}]', id="records-names"
        ),
        pytest.param(
            '{"instances": $records, "feature_names": $feature_names}',
            "$features",
            b'{"instances": [[0, 1], [3, 4]], "feature_names": ["A", "B"]}',
            id="sdk-example-1",
        ),
        pytest.param(
            "$records",
            '{"features": $features, "names": $feature_names}',
            b'[{"features": [0, 1], "names": ["A", "B"]}, {"features": [3, 4], "names": ["A", "B"]}]',
            id="record-feature-names",
        ),
    ],
)
def test_json_examples(content_template, record_template, expected):
    assert body(AB, "application/json", content_template=content_template, record_template=record_template) == expected


def test_json_single_record_template_sends_one_record_per_request():
    codec = RequestCodec(
        PredictorConfig(content_template="$record", record_template="$features_kvp"), "application/json", ["A", "B"]
    )
    assert codec.one_record_per_request
    assert codec.body(codec.encode(AB)[:1]) == b'{"A": 0, "B": 1}'
    predictor = EndpointPredictor(
        "http://127.0.0.1:9",
        PredictorConfig(content_type="application/json", content_template="$record", record_template="$features_kvp"),
        ["A", "B"],
    )
    assert predictor.max_records == 1


def _bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


EDGE_FLOATS = [5.0, 0.1, -0.0, 1e-300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1 / 3, 123456789.125]


def test_csv_floats_read_back_bit_for_bit(rng):
    values = np.concatenate([EDGE_FLOATS, rng.normal(size=200) * 10.0 ** rng.integers(-300, 300, size=200)])
    records = pd.DataFrame({"x": values, "y": values[::-1].copy()})
    lines = body(records).decode().split("\n")
    assert lines[0].startswith("5.0,")  # an integral float keeps its ".0"
    assert lines[2].startswith("-0.0,")
    back = [[float(cell) for cell in line.split(",")] for line in lines]
    assert [_bits(v) for v in np.ravel(back)] == [_bits(v) for v in records.to_numpy().ravel()]


def test_json_floats_read_back_bit_for_bit(rng):
    values = np.concatenate([EDGE_FLOATS, rng.normal(size=50) * 10.0 ** rng.integers(-300, 300, size=50)])
    lines = body(pd.DataFrame({"x": values}), "application/jsonlines", content_template="$features").split(b"\n")
    assert [_bits(json.loads(line)[0]) for line in lines] == [_bits(v) for v in values]


def test_missing_values():
    records = pd.DataFrame({"x": [1.5, np.nan], "t": ["a", None], "n": pd.array([1, None], dtype="Int64")})
    assert body(records) == b'1.5,"a",1\n,,'
    assert body(records, "application/jsonlines", content_template="$features") == b'[1.5,"a",1]\n[null,null,null]'
    # A record of one missing value is not a blank line (readers skip those).
    assert body(pd.DataFrame({"x": [np.nan, 2.0]})) == b'""\n2.0'


def test_cells_by_dtype():
    records = pd.DataFrame(
        {
            "zero": [0.0, -0.0, 0.0],  # distinct values are formatted once: by bit pattern, not by ==
            "f32": np.array([0.1, 1.0, np.nan], dtype=np.float32),
            "flag": [True, False, True],
            "size": pd.Categorical(["S", "M,L", "S"]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "inf": [np.inf, -np.inf, 1.0],
        }
    )
    assert body(records).split(b"\n") == [
        b'0.0,0.10000000149011612,True,"S",1,inf',
        b'-0.0,1.0,False,"M,L",,-inf',
        b'0.0,,True,"S",3,1.0',
    ]
    assert body(records, "application/jsonlines", content_template="$features").split(b"\n") == [
        b'[0.0,0.10000000149011612,true,"S",1,Infinity]',
        b'[-0.0,1.0,false,"M,L",null,-Infinity]',
        b'[0.0,null,true,"S",3,1.0]',
    ]


TEXTS = [
    'He said "wow", then left',
    "line one\nline two",
    "windows\r\nline",
    " padded ",
    "",
    "5",
    "ünïcødé, 日本語",
    "$features and ${A}",
]


def test_csv_text_arrives_unchanged():
    records = pd.DataFrame({"text": TEXTS, "n": range(len(TEXTS))})
    rows = list(csv.reader(io.StringIO(body(records).decode(), newline="")))
    assert [row[0] for row in rows] == TEXTS
    assert [int(row[1]) for row in rows] == list(range(len(TEXTS)))


def test_json_text_arrives_unchanged_and_is_not_a_placeholder():
    records = pd.DataFrame({"A": TEXTS, "B": np.arange(len(TEXTS), dtype=np.int64)})
    payload = body(
        records, "application/json", content_template="$records", record_template='{"a": "${A}", "b": $features}'
    )
    assert [item["a"] for item in json.loads(payload)] == TEXTS
    assert json.loads(payload)[1] == {"a": TEXTS[1], "b": [TEXTS[1], 1]}


@pytest.mark.parametrize(
    ("content_type", "predictor", "path", "match"),
    [
        pytest.param("application/jsonlines", {}, "predictor.content_template", r"\$features", id="jsonl-no-template"),
        pytest.param(
            "application/json",
            {"content_template": "$records"},
            "predictor.record_template",
            "required",
            id="no-record",
        ),
        pytest.param(
            "application/json",
            {"content_template": '{"x": $features}', "record_template": "$features"},
            "predictor.content_template",
            r"\$records or \$record",
            id="json-no-records",
        ),
        pytest.param(
            "application/json",
            {"content_template": "[$record, $records]", "record_template": "$features"},
            "predictor.content_template",
            "not both",
            id="record-and-records",
        ),
        pytest.param(
            "application/json",
            {"content_template": "$records", "record_template": '{"c": "${C}"}'},
            "predictor.record_template",
            r"\$\{C\} names no feature",
            id="unknown-name",
        ),
        pytest.param(
            "application/jsonlines",
            {"content_template": {"a": "$features"}},
            "predictor.content_template",
            "one template string",
            id="template-object",
        ),
    ],
)
def test_template_errors(content_type, predictor, path, match):
    with pytest.raises(ConfigError, match=match) as info:
        RequestCodec(PredictorConfig(**predictor), content_type, ["A", "B"])
    assert info.value.path == path


# ---------------------------------------------------------------------------------------------------
# §4.3 response parsing, every example verbatim

AUTOPILOT = b"\"['cat','dog','fish']\",\"[0.1,0.6,0.3]\""
DOG = b"\"dog\",0.6,\"['cat','dog','fish']\",\"[0.1,0.6,0.3]\""


@pytest.mark.parametrize(
    ("payload", "n_records", "accept_type", "predictor", "expected"),
    [
        pytest.param(b"0.6,0.3", 2, "text/csv", {}, [[0.6], [0.3]], id="csv-one-line-n-records"),
        pytest.param(b"0.6\n0.3\n", 2, "text/csv", {}, [[0.6], [0.3]], id="csv-n-lines"),
        pytest.param(b"0.1,0.9\n0.7,0.3", 2, "text/csv", {}, [[0.1, 0.9], [0.7, 0.3]], id="csv-whole-row"),
        pytest.param(b"0.6,0.3", 1, "text/csv", {}, [[0.6, 0.3]], id="csv-one-record-vector"),
        pytest.param(b"1,0.6\n0,0.3", 2, "text/csv", {"probability": 1}, [[0.6], [0.3]], id="csv-probability"),
        pytest.param(b"1,0.6\n0,0.3", 2, "text/csv", {"label": 0}, [[1.0], [0.0]], id="csv-label"),
        pytest.param(AUTOPILOT, 1, "text/csv", {"label": 0, "probability": 1}, [[0.1, 0.6, 0.3]], id="autopilot"),
        pytest.param(DOG, 1, "text/csv", {"label": 0, "probability": 3}, [[0.1, 0.6, 0.3]], id="dog-probabilities"),
        pytest.param(DOG, 1, "text/csv", {"label": 2, "probability": 1}, [[0.6]], id="dog-probability"),
        pytest.param(
            b'{"score":0.6}\n{"score":0.3}', 2, "application/jsonlines", {"label": "score"}, [[0.6], [0.3]], id="jsonl"
        ),
        pytest.param(
            b'{"predicted_labels":["cat","dog"],"probabilities":[0.4,0.6]}',
            1,
            "application/jsonlines",
            {"label": "predicted_labels", "probability": "probabilities"},
            [[0.4, 0.6]],
            id="jsonl-probabilities",
        ),
        pytest.param(
            b"[0.4,0.6]\n[0.9,0.1]", 2, "application/jsonlines", {}, [[0.4, 0.6], [0.9, 0.1]], id="jsonl-whole"
        ),
        pytest.param(b"[0.6,0.3]", 2, "application/json", {"probability": "[*]"}, [[0.6], [0.3]], id="json-star"),
        pytest.param(b"[0.6,0.3]", 2, "application/json", {}, [[0.6], [0.3]], id="json-whole"),
        pytest.param(
            b'{"predictions":[{"label":1,"score":0.6},{"label":0,"score":0.3}]}',
            2,
            "application/json",
            {"probability": "predictions[*].score"},
            [[0.6], [0.3]],
            id="json-score",
        ),
        pytest.param(
            b'{"predictions":[{"label":1,"score":0.6},{"label":0,"score":0.3}]}',
            2,
            "application/json",
            {"label": "predictions[*].label"},
            [[1.0], [0.0]],
            id="json-label",
        ),
        pytest.param(b'{"score": 0.25}', 1, "application/json", {"label": "score"}, [[0.25]], id="json-one-record"),
        pytest.param(b'{"s": [0.2, 0.8]}', 1, "application/json", {"label": "s"}, [[0.2, 0.8]], id="json-one-vector"),
        pytest.param(b"[[0.2,0.8]]", 1, "application/json", {}, [[0.2, 0.8]], id="json-one-record-list"),
        pytest.param(
            b"[[0.2,0.8],[0.5,0.5]]", 2, "application/json", {"probability": 1}, [[0.8], [0.5]], id="json-int"
        ),
    ],
)
def test_response_examples(payload, n_records, accept_type, predictor, expected):
    assert parse(payload, n_records, accept_type, **predictor) == expected


def test_csv_scores_read_back_bit_for_bit(rng):
    scores = rng.normal(size=(50, 3)) * 10.0 ** rng.integers(-200, 200, size=(50, 3))
    payload = "\n".join(",".join(repr(float(v)) for v in row) for row in scores).encode()
    assert np.array_equal(
        ResponseParser(PredictorConfig(), "text/csv").parse(payload, 50).view(np.int64), scores.view(np.int64)
    )


@pytest.mark.parametrize(
    ("payload", "n_records", "accept_type", "predictor", "match"),
    [
        pytest.param(b"0.1\n0.2", 3, "text/csv", {}, "expected 3 CSV rows, one per record; got 2", id="csv-count"),
        pytest.param(b"0.1\ncat", 2, "text/csv", {}, "expected a number; got 'cat'", id="csv-text"),
        pytest.param(b"0.1,0.9\n0.5", 2, "text/csv", {}, "record 0 has 2 scores but record 1 has 1", id="widths"),
        pytest.param(b"0.1\nnan", 2, "text/csv", {}, "non-finite", id="nan"),
        pytest.param(b"1,0.6\n0", 2, "text/csv", {"probability": 1}, "is 1 but row 1", id="csv-short-row"),
        pytest.param(b'{"a":1}', 1, "application/jsonlines", {"label": "score"}, "finds nothing", id="jsonl-nothing"),
        pytest.param(
            b'{"score":0.1}', 2, "application/jsonlines", {"label": "score"}, "2 JSON lines", id="jsonl-count"
        ),
        pytest.param(b"{bad", 1, "application/jsonlines", {}, "line 0 is not JSON", id="jsonl-bad"),
        pytest.param(
            b'{"score":true}', 1, "application/jsonlines", {"label": "score"}, "a number; got True", id="bool"
        ),
        pytest.param(
            b"[0.6,0.3]", 3, "application/json", {}, "list of 3 items, one per record; got 2 items", id="json"
        ),
        pytest.param(b"\xff", 1, "application/json", {}, "not UTF-8", id="utf8"),
        pytest.param(b"[[]]", 1, "application/json", {}, "empty list", id="empty-vector"),
    ],
)
def test_unreadable_responses(payload, n_records, accept_type, predictor, match):
    with pytest.raises(ResponseFormatError, match=match):
        parse(payload, n_records, accept_type, **predictor)


@pytest.mark.parametrize(
    ("accept_type", "predictor", "path", "match"),
    [
        pytest.param("text/csv", {"probability": "score"}, "predictor.probability", "column index", id="csv-path"),
        pytest.param("application/json", {"label": "a[?"}, "predictor.label", "not a JMESPath", id="bad-jmespath"),
    ],
)
def test_selector_errors(accept_type, predictor, path, match):
    with pytest.raises(ConfigError, match=match) as info:
        ResponseParser(PredictorConfig(**predictor), accept_type)
    assert info.value.path == path


def test_csv_selector_given_as_digit_string():
    assert parse(b"1,0.6", 1, probability="1") == [[0.6]]


# ---------------------------------------------------------------------------------------------------
# label / probability answers: every record's scores put in one order by its own labels


def labelled(fmt: str, records: list[tuple[list[object], list[float]]]) -> bytes:
    """``records`` ((labels, probabilities) per record) as a server answers them in ``fmt``."""
    objects = [{"label": labels, "prob": probs} for labels, probs in records]
    if fmt == "jsonlines":
        return "\n".join(json.dumps(o) for o in objects).encode()
    if fmt == "json":
        return json.dumps({"predictions": objects}).encode()
    if fmt == "blazingtext":
        return json.dumps(objects).encode()
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([json.dumps(o["label"]), json.dumps(o["prob"])] for o in objects)
    return out.getvalue().encode()


LABELLED = {
    "jsonlines": ("application/jsonlines", {"label": "label", "probability": "prob"}),
    "json": ("application/json", {"label": "predictions[*].label", "probability": "predictions[*].prob"}),
    "blazingtext": ("application/json", {"label": "[*].label", "probability": "[*].prob"}),
    "csv": ("text/csv", {"label": 0, "probability": 1}),
}


def labelled_parser(fmt: str, **predictor: object) -> ResponseParser:
    accept_type, selectors = LABELLED[fmt]
    return ResponseParser(PredictorConfig(**selectors, **predictor), accept_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", list(LABELLED))
def test_labels_ordered_per_record_are_mapped_to_the_first_answers_order(fmt):
    # BlazingText's hosting lists each record's labels most probable first: the order changes per record.
    parser = labelled_parser(fmt)
    first = labelled(
        fmt,
        [
            (["__label__a", "__label__b", "__label__c"], [0.5, 0.3, 0.2]),
            (["__label__c", "__label__a", "__label__b"], [0.6, 0.3, 0.1]),
        ],
    )
    assert parser.parse(first, 2).tolist() == [[0.5, 0.3, 0.2], [0.3, 0.1, 0.6]]
    assert parser.label_names == ("a", "b", "c")
    # a later answer, one record: its labels in yet another order
    later = labelled(fmt, [(["__label__b", "__label__c", "__label__a"], [0.7, 0.2, 0.1])])
    assert parser.parse(later, 1).tolist() == [[0.1, 0.7, 0.2]]


@pytest.mark.parametrize("fmt", list(LABELLED))
def test_label_headers_fix_the_order_by_name(fmt):
    parser = labelled_parser(fmt, label_headers=("c", "a", "b"))
    answer = labelled(
        fmt, [(["__label__a", "__label__b", "__label__c"], [0.5, 0.3, 0.2]), (["c", "b", "a"], [0.6, 0.3, 0.1])]
    )
    assert parser.parse(answer, 2).tolist() == [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]
    assert parser.label_names == ("c", "a", "b")


def test_numeric_labels_are_names_too():
    parser = labelled_parser("jsonlines", label_headers=("0", "1"))
    assert parser.parse(labelled("jsonlines", [([1, 0], [0.9, 0.1]), ([0, 1], [0.2, 0.8])]), 2).tolist() == [
        [0.1, 0.9],
        [0.2, 0.8],
    ]


@pytest.mark.parametrize(
    ("answers", "headers", "record", "match"),
    [
        pytest.param(
            [[(["a", "b"], [0.6, 0.4]), (["a", "c"], [0.7, 0.3])]],
            None,
            1,
            r"^the labels of record 1 are not the labels \['a', 'b'\] of the first answer; got \['a', 'c'\]",
            id="top-k-other-set",
        ),
        pytest.param(
            [[(["__label__a"], [0.6])], [(["__label__b"], [0.7])]],
            None,
            0,
            r"not the labels \['a'\] of the first answer; got \['__label__b'\]",
            id="top-1-later-answer",
        ),
        pytest.param(
            [[(["b", "a"], [0.6, 0.4])]],
            ("a", "b", "c"),
            0,
            r"not the labels \['a', 'b', 'c'\] of predictor.label_headers; got \['b', 'a'\]",
            id="top-k-of-label-headers",
        ),
        pytest.param(
            [[(["a", "b"], [0.6, 0.4]), (["a", "a"], [0.7, 0.3])]], None, 1, r"got \['a', 'a'\]", id="duplicate"
        ),
        pytest.param(
            [[(["a", "b"], [0.6, 0.4]), (["a"], [0.7, 0.3])]], None, 1, r"got \['a'\] for 2 scores", id="short-list"
        ),
        pytest.param(
            [[(["a", "b"], [0.6, 0.4]), ("a", [0.7, 0.3])]], None, 1, r"got 'a' for 2 scores", id="not-a-list"
        ),
    ],
)
def test_answers_with_other_labels_are_refused(answers, headers, record, match):
    parser = labelled_parser("jsonlines", label_headers=headers)
    for answer in answers[:-1]:
        parser.parse(labelled("jsonlines", answer), len(answer))
    with pytest.raises(LabelSetError, match=match) as info:
        parser.parse(labelled("jsonlines", answers[-1]), len(answers[-1]))
    assert info.value.record == record


def test_label_headers_that_are_not_the_models_labels_are_a_config_error():
    parser = labelled_parser("jsonlines", label_headers=("neg", "pos"))
    with pytest.raises(
        ConfigError, match=r"the endpoint answers the labels \['0', '1'\].*; got \['neg', 'pos'\]\."
    ) as info:
        parser.parse(labelled("jsonlines", [(["__label__0", "__label__1"], [0.2, 0.8])]), 1)
    assert info.value.path == "predictor.label_headers"


@pytest.mark.parametrize(
    ("payload", "predictor"),
    [
        pytest.param(b'{"label": "cat", "prob": [0.2, 0.8]}\n{"label": "dog", "prob": [0.3, 0.7]}', {}, id="one-label"),
        pytest.param(
            b'{"label": ["a", "b", "c"], "prob": [0.2, 0.8]}\n{"label": ["c", "b", "a"], "prob": [0.3, 0.7]}',
            {},
            id="labels-not-per-score",
        ),
    ],
)
def test_labels_that_do_not_name_the_scores_are_not_used(payload, predictor):
    parser = ResponseParser(PredictorConfig(label="label", probability="prob", **predictor), "application/jsonlines")
    assert parser.parse(payload, 2).tolist() == [[0.2, 0.8], [0.3, 0.7]]
    assert parser.label_names is None


def test_concurrent_first_answers_agree_on_one_order(rng):
    names = ["a", "b", "c", "d", "e"]
    probs = rng.dirichlet(np.ones(5), size=(8, 20))
    bodies = []
    for k in range(8):
        records = []
        for row in probs[k]:
            order = rng.permutation(5)
            records.append(([names[j] for j in order], [float(row[j]) for j in order]))
        bodies.append(labelled("jsonlines", records))
    parser = labelled_parser("jsonlines")
    barrier = threading.Barrier(8)

    def run(k: int) -> np.ndarray:
        barrier.wait()
        return parser.parse(bodies[k], 20)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, range(8)))
    columns = [names.index(name) for name in parser.label_names]
    for k in range(8):
        assert results[k].tolist() == probs[k][:, columns].tolist()


# ---------------------------------------------------------------------------------------------------
# batching


def test_batches_by_count_and_bytes():
    def size(piece_bytes: int, count: int) -> int:
        return piece_bytes + count - 1

    assert plan_batches([10] * 7, max_records=3, max_payload_bytes=10**6, body_size=size) == [(0, 3), (3, 6), (6, 7)]
    # 10 + 1 + 10 = 21 bytes fit 21, a third record does not.
    assert plan_batches([10] * 5, max_records=100, max_payload_bytes=21, body_size=size) == [(0, 2), (2, 4), (4, 5)]
    # A record larger than the limit goes alone; its neighbours are not held back.
    assert plan_batches([5, 50, 5, 5], max_records=100, max_payload_bytes=20, body_size=size) == [
        (0, 1),
        (1, 2),
        (2, 4),
    ]
    assert plan_batches([], max_records=3, max_payload_bytes=10, body_size=size) == []


@pytest.mark.parametrize(
    ("content_type", "predictor"),
    [
        pytest.param("text/csv", {}, id="csv"),
        pytest.param("application/jsonlines", {"content_template": '{"features":$features}'}, id="jsonl"),
        pytest.param(
            "application/json",
            {"content_template": '{"instances": $records, "again": $records}', "record_template": "$features_kvp"},
            id="json-records-twice",
        ),
        pytest.param(
            "application/json", {"content_template": "[$record]", "record_template": "$features"}, id="record"
        ),
    ],
)
def test_body_size_is_exact(content_type, predictor, rng):
    records = pd.DataFrame({"A": rng.normal(size=9), "B": [f"t,{'x' * i}\n" for i in range(9)]})
    codec = RequestCodec(PredictorConfig(**predictor), content_type, ["A", "B"])
    pieces = codec.encode(records)
    for stop in range(1, 2 if codec.one_record_per_request else 10):
        batch = pieces[:stop]
        assert codec.body_size(sum(map(len, batch)), len(batch)) == len(codec.body(batch))


# ---------------------------------------------------------------------------------------------------
# arguments


@pytest.mark.parametrize(
    ("kwargs", "path", "match"),
    [
        pytest.param({"max_records": 0}, "max_records", "integer >= 1; got 0", id="max_records"),
        pytest.param({"max_in_flight": 1.5}, "max_in_flight", "integer >= 1; got 1.5", id="max_in_flight"),
        pytest.param({"retries": -1}, "retries", "integer >= 0; got -1", id="retries"),
        pytest.param({"timeout": 0}, "timeout", "number > 0; got 0", id="timeout"),
        pytest.param({"backoff": math.nan}, "backoff", "number >= 0; got nan", id="backoff"),
        pytest.param({"on_record_failure": "skip"}, "on_record_failure", "'raise' or 'nan'", id="on_record_failure"),
        pytest.param({"max_extra_requests": -1}, "max_extra_requests", "integer >= 0; got -1", id="max_extra_requests"),
        pytest.param({"url": "127.0.0.1:8080"}, "endpoint_url", "http:// or https://", id="url"),
        pytest.param({"url": None}, "predictor.endpoint_name", "give an endpoint URL", id="no-target"),
        pytest.param(
            {"predictor": PredictorConfig(content_type="image/png")}, "predictor.content_type", "sends one of", id="png"
        ),
    ],
)
def test_argument_errors(kwargs, path, match):
    url = kwargs.pop("url", "http://127.0.0.1:8080")
    predictor = kwargs.pop("predictor", PredictorConfig())
    with pytest.raises(ConfigError, match=match) as info:
        EndpointPredictor(url, predictor, ["a"], **kwargs)
    assert info.value.path == path


def test_defaults_follow_clarify():
    predictor = EndpointPredictor("http://127.0.0.1:8080/", PredictorConfig(), ["a"])
    assert (predictor.content_type, predictor.accept_type) == ("text/csv", "text/csv")
    assert predictor.where == "POST http://127.0.0.1:8080/invocations"
    jsonl = EndpointPredictor(
        "http://127.0.0.1:8080/invocations",
        PredictorConfig(content_template="$features"),
        ["a"],
        dataset_type="application/jsonlines",
    )
    assert (jsonl.content_type, jsonl.accept_type) == ("application/jsonlines", "application/jsonlines")
    assert jsonl.where == "POST http://127.0.0.1:8080/invocations"


def test_records_must_hold_the_features():
    predictor = EndpointPredictor("http://127.0.0.1:9", PredictorConfig(), ["a", "b"])
    with pytest.raises(ModelError, match=r"lack the feature columns \['b'\]"):
        predictor.predict(pd.DataFrame({"a": [1.0]}))
    assert predictor.predict(pd.DataFrame({"a": [], "b": []})).shape == (0, 0)


# ---------------------------------------------------------------------------------------------------
# boto3 InvokeEndpoint (Stubber only: no AWS call runs here)

boto3 = pytest.importorskip("boto3")
stub = pytest.importorskip("botocore.stub")
response_module = pytest.importorskip("botocore.response")


@pytest.fixture
def runtime():
    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    with stub.Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def answer(payload: bytes) -> dict[str, object]:
    return {"Body": response_module.StreamingBody(io.BytesIO(payload), len(payload)), "ContentType": "text/csv"}


RECORDS = pd.DataFrame({"x": [1.5, 2.0, -0.25], "t": ["a,b", 'say "hi"', "two\nlines"]})


def test_boto3_csv(runtime):
    client, stubber = runtime
    expected = {
        "EndpointName": "my-endpoint",
        "Body": b'1.5,"a,b"\n2.0,"say ""hi"""\n-0.25,"two\nlines"',
        "ContentType": "text/csv",
        "Accept": "text/csv",
        "CustomAttributes": "trace=1",
        "TargetModel": "model-a.tar.gz",
    }
    stubber.add_response("invoke_endpoint", answer(b"0.1,0.9\n0.2,0.8\n0.3,0.7\n"), expected)
    config = PredictorConfig(endpoint_name="my-endpoint", custom_attributes="trace=1", target_model="model-a.tar.gz")
    predictor = EndpointPredictor(None, config, ["x", "t"], client=client)
    assert predictor.where == "InvokeEndpoint 'my-endpoint'"
    assert predictor.predict(RECORDS).tolist() == [[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]]
    assert predictor.stats.requests == 1


def test_boto3_jsonlines_with_retry_and_fallback(runtime, caplog):
    client, stubber = runtime
    config = PredictorConfig(
        content_type="application/jsonlines", content_template='{"features":$features}', probability="score"
    )
    predictor = EndpointPredictor(
        None, config, ["x", "t"], endpoint_name="ep", client=client, backoff=0, retries=1, max_in_flight=1
    )
    params = {"EndpointName": "ep", "ContentType": "application/jsonlines", "Accept": "application/jsonlines"}
    batch = b'{"features":[1.5,"a,b"]}\n{"features":[2.0,"say \\"hi\\""]}\n{"features":[-0.25,"two\\nlines"]}'
    # The model fails with 500 twice (a retry, then the batch is split), and answers record by record.
    for _ in range(2):
        stubber.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received server error (500) from primary",
            http_status_code=424,
            modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "boom"},
            expected_params={**params, "Body": batch},
        )
    for line, score in zip(batch.split(b"\n"), (0.25, 0.5, 0.75), strict=True):
        stubber.add_response("invoke_endpoint", answer(b'{"score": %r}\n' % score), {**params, "Body": line})
    assert predictor.predict(RECORDS).tolist() == [[0.25], [0.5], [0.75]]
    assert "Fallback to per-record prediction because of model error." in caplog.text
    assert "InvokeEndpoint 'ep' returned 500 for content_type 'application/jsonlines': ModelError: boom" in caplog.text
    stats = predictor.stats
    assert (stats.requests, stats.retries, stats.fallbacks) == (5, 1, 1)


def test_boto3_validation_error_fails_fast(runtime):
    client, stubber = runtime
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationError",
        service_message="Endpoint ep of account 1 not found.",
        http_status_code=400,
    )
    predictor = EndpointPredictor(None, PredictorConfig(), ["x", "t"], endpoint_name="ep", client=client)
    with pytest.raises(
        ModelError, match="InvokeEndpoint 'ep' returned 400 for content_type 'text/csv': ValidationError"
    ):
        predictor.predict(RECORDS)


def test_boto3_throttling_is_retried(runtime):
    client, stubber = runtime
    stubber.add_client_error("invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("invoke_endpoint", answer(b"1\n2\n3\n"))
    predictor = EndpointPredictor(None, PredictorConfig(), ["x", "t"], endpoint_name="ep", client=client, backoff=0)
    assert predictor.predict(RECORDS).tolist() == [[1.0], [2.0], [3.0]]
    assert predictor.stats.retries == 1


def test_boto3_client_has_botocore_retries_off(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    predictor = EndpointPredictor(None, PredictorConfig(endpoint_name="ep"), ["x"], timeout=7, max_in_flight=3)
    config = predictor._transport._client.meta.config  # type: ignore[attr-defined]
    assert config.retries["total_max_attempts"] == 1
    assert (config.read_timeout, config.connect_timeout, config.max_pool_connections) == (7, 7, 3)
    predictor.close()


def answer_cut_short(payload: bytes, claimed: int) -> dict[str, object]:
    return {"Body": response_module.StreamingBody(io.BytesIO(payload), claimed), "ContentType": "text/csv"}


def test_boto3_body_shorter_than_its_content_length_is_retried(runtime):
    client, stubber = runtime
    stubber.add_response("invoke_endpoint", answer_cut_short(b"1\n2\n3\n"[:3], 6))
    stubber.add_response("invoke_endpoint", answer(b"1\n2\n3\n"))
    predictor = EndpointPredictor(None, PredictorConfig(), ["x", "t"], endpoint_name="ep", client=client, backoff=0)
    assert predictor.predict(RECORDS).tolist() == [[1.0], [2.0], [3.0]]
    assert (predictor.stats.retries, predictor.stats.fallbacks) == (1, 0)


@pytest.fixture
def no_aws_settings(monkeypatch, tmp_path):
    """No AWS region, profile or credentials from the environment or the AWS files; no instance metadata."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session made by an earlier test keeps its settings


def test_endpoint_name_without_a_region_is_a_config_error(no_aws_settings):
    with pytest.raises(ConfigError) as info:
        EndpointPredictor(None, PredictorConfig(endpoint_name="my-endpoint"), ["x"])
    assert info.value.path == "predictor.endpoint_name"
    assert str(info.value) == (
        "predictor.endpoint_name: no AWS region to find the SageMaker endpoint in; got 'my-endpoint' with neither "
        "AWS_REGION nor AWS_DEFAULT_REGION set and no region in the AWS config file. Set AWS_REGION or "
        "AWS_DEFAULT_REGION (export AWS_REGION=us-east-1), or call a model server with --endpoint-url instead."
    )


def test_region_that_is_not_a_region_name_is_a_config_error(no_aws_settings, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us east 1")
    with pytest.raises(ConfigError) as info:
        EndpointPredictor(None, PredictorConfig(endpoint_name="ep"), ["x"])
    assert str(info.value) == (
        "predictor.endpoint_name: cannot call the SageMaker endpoint 'ep': the AWS region is not a region name; "
        "got 'us east 1'. Set AWS_REGION or AWS_DEFAULT_REGION to a region such as us-east-1."
    )


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_either_region_variable_is_enough(no_aws_settings, monkeypatch, variable):
    monkeypatch.setenv(variable, "eu-west-3")
    predictor = EndpointPredictor(None, PredictorConfig(endpoint_name="ep"), ["x"])
    assert predictor._transport._client.meta.region_name == "eu-west-3"  # type: ignore[attr-defined]
    predictor.close()


def test_no_aws_credentials_is_a_model_error(no_aws_settings, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    predictor = EndpointPredictor(None, PredictorConfig(endpoint_name="ep"), ["x"], timeout=1)
    with pytest.raises(ModelError) as info:
        predictor.predict(pd.DataFrame({"x": [1.0]}))
    assert str(info.value) == (
        "InvokeEndpoint 'ep': no AWS credentials found; got none from the environment, the AWS config files or "
        "instance metadata. Configure credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE), "
        "or call a model server with --endpoint-url instead."
    )
    assert predictor.stats.requests == 0  # nothing was sent
    predictor.close()


@pytest.mark.parametrize(
    ("payload", "accept_type"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", "application/jsonlines"),
        (b'"' + b"[" * 100_000 + b']"\n', "text/csv"),
    ],
    ids=["json", "jsonlines", "csv-cell"],
)
def test_an_answer_nested_too_deep_is_a_format_error(payload, accept_type):
    with pytest.raises(ResponseFormatError):
        parse(payload, 1, accept_type)
