"""The format proxy's two halves: records re-encoded for the upstream, answers mapped back to fixed label order."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pandas as pd
import pytest

from openclarify.models import CallablePredictor
from openclarify.serving import (
    ProxyConfig,
    ServeConfig,
    ServedModel,
    background_server,
    create_app,
    create_proxy_app,
    decode_request,
    read_predictions,
)
from openclarify.wire import upstream_body

BT_ANSWER = json.dumps(
    [
        {"label": ["__label__b", "__label__a"], "prob": [0.75, 0.25]},
        {"label": ["__label__a"], "prob": [1.0]},
    ]
).encode()


def test_blazingtext_answers_go_to_fixed_label_order():
    scores, names = read_predictions(BT_ANSWER, "application/json", 2, ("a", "b", "c"))
    assert names == ("a", "b", "c")
    np.testing.assert_array_equal(scores, [[0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])
    # without labels: the labels answered, sorted
    scores, names = read_predictions(BT_ANSWER, "application/json", 2, None)
    assert names == ("a", "b")


@pytest.mark.parametrize(
    ("body", "media", "expected"),
    [
        pytest.param(b"0.5,0.25\n1.5,2\n", "text/csv", [[0.5, 0.25], [1.5, 2.0]], id="csv"),
        pytest.param(b'{"score": 0.5}\n{"score": 1}\n', "application/jsonlines", [[0.5], [1.0]], id="jsonl"),
        pytest.param(b'{"predictions": [{"scores": [1, 2]}, {"scores": [3, 4]}]}', "application/json",
                     [[1.0, 2.0], [3.0, 4.0]], id="predictions"),
        pytest.param(b"[0.1, 0.2]", "application/json", [[0.1], [0.2]], id="bare-list"),
    ],
)  # fmt: skip
def test_unlabelled_answers(body, media, expected):
    scores, names = read_predictions(body, media, 2, None)
    assert names is None
    np.testing.assert_array_equal(scores, expected)


@pytest.mark.parametrize(
    ("body", "labels", "message"),
    [
        pytest.param(b"[0.1]", None, "expected 2 answers", id="count"),
        pytest.param(BT_ANSWER, ("a",), "label 'b' is not among the labels", id="unknown-label"),
        pytest.param(b'[{"label": ["a"], "prob": [1]}, 0.5]', None, "some answers have labels", id="mixed"),
        pytest.param(b'[{"x": 1}, {"x": 2}]', None, "without 'prob'", id="no-scores"),
        pytest.param(b'{"other": 1}', None, "expected a list of answers", id="object"),
    ],
)
def test_unreadable_answers(body, labels, message):
    with pytest.raises(ValueError, match=message):
        read_predictions(body, "application/json", 2, labels)


def test_upstream_bodies():
    texts = pd.DataFrame({"text": ["a, b\nc", None]}, dtype=object)
    assert json.loads(upstream_body(texts, "application/json", 3)) == {
        "instances": ["a, b\nc", ""],
        "configuration": {"k": 3},
    }
    lines = upstream_body(texts, "application/jsonlines", None).decode().splitlines()
    assert [json.loads(x) for x in lines] == [{"source": "a, b\nc"}, {"source": ""}]
    assert decode_request(upstream_body(texts, "text/csv", None), "text/csv").rows == [["a, b\nc"], [""]]

    table = pd.DataFrame({"x": [0.1, float("nan")], "c": ["u", "v"]})
    assert json.loads(upstream_body(table, "application/json", None)) == {"instances": [[0.1, "u"], [None, "v"]]}
    assert json.loads(upstream_body(table, "application/jsonlines", None).decode().splitlines()[0]) == {
        "features": [0.1, "u"]
    }


def test_upstream_errors_and_timeouts_through_a_real_proxy():
    def model(df):
        if (df.iloc[:, 0] == "slow").any():
            time.sleep(0.5)
        return np.zeros(len(df))

    served = ServedModel(CallablePredictor(model), ("text",), True, None)
    upstream_app = create_app(ServeConfig(content_types=("application/jsonlines",)), model=served)
    with background_server(upstream_app) as upstream:
        config = ProxyConfig(upstream=upstream + "/invocations", to="application/jsonlines", timeout=0.2)
        with background_server(create_proxy_app(config)) as url, httpx.Client(base_url=url) as client:
            assert client.get("/ping").status_code == 200
            ok = client.post("/invocations", content=b"fine\n", headers={"content-type": "text/csv"})
            assert ok.text == "0.0\n"
            slow = client.post("/invocations", content=b"slow\n", headers={"content-type": "text/csv"})
            assert slow.status_code == 504
            assert "no answer within 0.2s" in slow.json()["error"]
            # the upstream's 4xx comes back as it is, with its message
            config_k = ProxyConfig(upstream=upstream, to="application/jsonlines", k=2)
            with background_server(create_proxy_app(config_k)) as url_k:
                r = httpx.post(url_k + "/invocations", content=b"x\n", headers={"content-type": "text/csv"})
                assert r.status_code == 400
                assert "returned 400" in r.json()["error"]
                assert "no class labels" in r.json()["error"]
