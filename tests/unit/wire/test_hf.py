"""The Hugging Face inference toolkit's JSON contract: `{"inputs", "parameters"}` requests read by a text model's
server, answered as the toolkit's text-classification pipeline answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openclarify.wire import RequestError, decode_request, encode_scores

SCORES = np.array([[0.25, 0.75], [0.9, 0.1]])
NAMES = ("negative", "positive")


def _answer(body: object, accept: str = "application/json") -> object:
    payload = decode_request(json.dumps(body).encode(), "application/json", inputs=True)
    n = payload.n_records
    raw = encode_scores(SCORES[:n], accept, output_names=NAMES, huggingface=payload.huggingface)
    return raw.decode() if accept == "text/csv" else json.loads(raw)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"inputs": "a"}, [{"label": "positive", "score": 0.75}], id="one-text"),
        pytest.param(
            {"inputs": ["a", "b"]},
            [{"label": "positive", "score": 0.75}, {"label": "negative", "score": 0.9}],
            id="list-best-each",
        ),
        pytest.param(
            {"inputs": "a", "parameters": {"top_k": None}},
            [{"label": "positive", "score": 0.75}, {"label": "negative", "score": 0.25}],
            id="one-text-all-labels",
        ),
        pytest.param(
            {"inputs": ["a", "b"], "parameters": {"top_k": 1}},
            [[{"label": "positive", "score": 0.75}], [{"label": "negative", "score": 0.9}]],
            id="list-top-1-lists",
        ),
        pytest.param(
            {"inputs": ["a"], "parameters": {"return_all_scores": True}},
            [[{"label": "positive", "score": 0.75}, {"label": "negative", "score": 0.25}]],
            id="return-all-scores",
        ),
    ],
)
def test_answers_in_the_pipelines_shape(body, expected):
    assert _answer(body) == expected


def test_texts_become_one_column_records():
    payload = decode_request(b'{"inputs": ["x, y", "z"]}', "application/json", inputs=True)
    assert payload.rows == [["x, y"], ["z"]]


def test_csv_answer_has_a_header_and_one_row_per_entry():
    assert _answer({"inputs": ["a", "b"]}, "text/csv") == "label,score\npositive,0.75\nnegative,0.9\n"


def test_scores_read_back_bit_identical():
    scores = np.array([[1 / 3, 2 / 3]])
    payload = decode_request(b'{"inputs": "a"}', "application/json", inputs=True)
    (entry,) = json.loads(
        encode_scores(scores, "application/json", output_names=NAMES, huggingface=payload.huggingface)
    )
    assert entry["score"] == scores[0, 1]


def test_only_text_models_read_inputs_objects():
    payload = decode_request(b'{"inputs": "a"}', "application/json")  # a tabular model: one named feature
    assert payload.huggingface is None and payload.rows == [{"inputs": "a"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"inputs": 3}, r"'inputs' must be a text or a list of texts; got 3", id="number"),
        pytest.param({"inputs": []}, r"'inputs' must be a text or a list of texts; got \[\]", id="empty"),
        pytest.param({"inputs": ["a", 2]}, r"inputs\[1\] must be a text; got 2", id="not-text"),
        pytest.param({"inputs": "a", "parameters": []}, r"'parameters' must be an object", id="parameters-list"),
        pytest.param({"inputs": "a", "parameters": {"top_k": 0}}, r"top_k must be an integer >= 1 or null", id="k0"),
        pytest.param({"inputs": "a", "parameters": {"top_k": True}}, r"top_k must be an integer", id="k-bool"),
        pytest.param(
            {"inputs": "a", "parameters": {"padding": True}}, r"\['padding'\] are not supported", id="unknown"
        ),
        pytest.param({"inputs": "a", "parameters": {"truncation": False}}, r"always cut at the max length", id="trunc"),
    ],
)
def test_bad_requests_are_400_with_the_reason(body, message):
    with pytest.raises(RequestError, match=message) as err:
        decode_request(json.dumps(body).encode(), "application/json", inputs=True)
    assert err.value.status == 400
