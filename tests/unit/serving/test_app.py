"""The Starlette app in process: routes, error mapping to HTTP statuses, recovery, loading state."""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager

import httpx
import numpy as np
import pandas as pd
import pytest

from openclarify.models import CallablePredictor
from openclarify.serving import ServeConfig, ServedModel, background_server, create_app


@contextmanager
def TestClient(app):  # noqa: N802 - reads like starlette's TestClient, on a real loopback socket
    with background_server(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def echo_or_fail(records: pd.DataFrame) -> np.ndarray:
    """Echoes column x; a record with x == 13 makes the whole call fail."""
    x = records["x"].to_numpy()
    if (x == 13).any():
        raise RuntimeError("unlucky number")
    return np.column_stack([x, x * 2])


def slow_on_99(records: pd.DataFrame) -> np.ndarray:
    if (records["x"].to_numpy() == 99).any():
        time.sleep(0.5)
    return np.zeros(len(records))


def served(fn, names=("x",), outputs=None) -> ServedModel:
    return ServedModel(CallablePredictor(fn), names, frozenset(), outputs)


@pytest.fixture(scope="module")
def client():
    app = create_app(ServeConfig(max_payload_bytes=1000), model=served(echo_or_fail))
    with TestClient(app) as c:
        yield c


def post(client, body, content_type="text/csv", accept=None):
    headers = {"content-type": content_type}
    if accept:
        headers["accept"] = accept
    return client.post("/invocations", content=body, headers=headers)


def test_ping_and_invocations(client):
    assert client.get("/ping").status_code == 200
    r = post(client, b"1.5\n0.1\n")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text == "1.5,3.0\n0.1,0.2\n"
    r = post(client, b'{"features": [2]}\n', "application/jsonlines")
    assert r.headers["content-type"] == "application/jsonlines"
    assert [json.loads(x) for x in r.text.splitlines()] == [{"scores": [2.0, 4.0]}]


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        pytest.param(b"1\n2,3\n", "text/csv", None, 400, "record 2: expected 1 values", id="400-ragged"),
        pytest.param(b"{", "application/json", None, 400, "not valid JSON", id="400-json"),
        pytest.param(b"1\n", "application/xml", None, 415, "Content-Type: unsupported", id="415"),
        pytest.param(b"1\n", "text/csv", "text/html", 406, "Accept: unsupported", id="406"),
        pytest.param(b"1\n" * 501, "text/csv", None, 413, "over the payload limit of 1000 bytes", id="413"),
        pytest.param(b"13\n", "text/csv", None, 500, "raised RuntimeError .*unlucky number", id="500"),
        pytest.param(b'{"source": "x", "k": 2}\n', "application/jsonlines", None, 400, "no class labels", id="k"),
    ],
)
def test_errors_map_to_statuses_with_a_one_line_json_body(client, body, content_type, accept, status, message):
    r = post(client, body, content_type, accept)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert "\n" not in error
    assert re.search(message, error), error
    # the worker is still there: the next request works
    assert post(client, b"1\n").text == "1.0,2.0\n"


def test_payload_limit_without_content_length(client):
    def chunks():
        for _ in range(20):
            yield b"1\n" * 50

    r = client.post("/invocations", content=chunks(), headers={"content-type": "text/csv"})
    assert r.status_code == 413


def test_unknown_route_and_method_are_json(client):
    assert client.get("/nope").json() == {"error": "GET /nope: Not Found"}
    r = client.get("/invocations")
    assert r.status_code == 405
    assert "error" in r.json()


def test_openapi_and_execution_parameters(client):
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]) == {"/ping", "/invocations"}
    responses = doc["paths"]["/invocations"]["post"]["responses"]
    assert {"200", "400", "406", "413", "415", "500", "503"} <= set(responses)
    assert set(doc["paths"]["/invocations"]["post"]["requestBody"]["content"]) == {
        "text/csv",
        "application/jsonlines",
        "application/json",
    }
    assert client.get("/execution-parameters").json()["BatchStrategy"] == "MULTI_RECORD"


def test_labels_in_responses():
    model = served(lambda df: np.tile([0.2, 0.8], (len(df), 1)), outputs=("neg", "pos"))
    with TestClient(create_app(ServeConfig(), model=model)) as c:
        r = post(c, b"1\n", accept="application/jsonlines")
        assert r.json() == {"label": ["neg", "pos"], "prob": [0.2, 0.8]}
        r = post(c, b'{"instances": [[1]], "configuration": {"k": 1}}', "application/json")
        assert r.json() == [{"label": ["__label__pos"], "prob": [0.8]}]


def test_timeout_is_504_and_the_worker_recovers():
    with TestClient(create_app(ServeConfig(timeout=0.2, threads=2), model=served(slow_on_99))) as c:
        r = post(c, b"99\n")
        assert r.status_code == 504
        assert "timeout of 0.2s" in r.json()["error"]
        assert post(c, b"1\n").text == "0.0\n"


def test_ping_is_503_while_loading_then_200(tmp_path):
    model = tmp_path / "model.py"
    model.write_text("import time\ntime.sleep(0.4)\n\ndef predict(df):\n    return [1.0] * len(df)\n")
    with TestClient(create_app(ServeConfig(model=str(tmp_path)))) as c:
        first = c.get("/ping")
        assert first.status_code == 503
        assert "loading" in first.json()["error"]
        assert post(c, b"1\n").status_code == 503
        deadline = time.monotonic() + 10
        while c.get("/ping").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert post(c, b"1\n").text == "1.0\n"


def test_ping_stays_503_when_the_model_cannot_load(tmp_path):
    model = tmp_path / "model.py"
    model.write_text("raise ImportError('no such thing')\n")
    with TestClient(create_app(ServeConfig(model=str(tmp_path)))) as c:
        deadline = time.monotonic() + 10
        while "failed" not in c.get("/ping").text and time.monotonic() < deadline:
            time.sleep(0.02)
        r = c.get("/ping")
        assert r.status_code == 503
        assert "model failed to load" in r.json()["error"]
        assert "no such thing" in r.json()["error"]


def test_a_hanging_model_is_busy_503_and_ping_says_so_until_its_calls_return():
    release = threading.Event()

    def hang_on_99(records: pd.DataFrame) -> np.ndarray:
        if (records["x"].to_numpy() == 99).any():
            release.wait(30)
        return np.zeros(len(records))

    busy = (
        "model: busy, every model thread is held by a call past the timeout of 0.5s; got 2 such calls. "
        "Try again when they return."
    )
    config = ServeConfig(timeout=0.5, threads=1, spare_threads=1)
    try:
        with TestClient(create_app(config, model=served(hang_on_99))) as c:
            for _ in range(2):  # the first call's thread is replaced by the spare, the second's is not
                r = post(c, b"99\n")
                assert r.status_code == 504, r.text
            model_threads = sum(t.name == "openclarify-model" for t in threading.enumerate())
            for _ in range(5):
                r = post(c, b"1\n")
                assert (r.status_code, r.json()) == (503, {"error": busy})
            assert sum(t.name == "openclarify-model" for t in threading.enumerate()) == model_threads
            r = c.get("/ping")
            assert (r.status_code, r.json()) == (503, {"error": busy})
            release.set()
            deadline = time.monotonic() + 10
            while c.get("/ping").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert post(c, b"1\n").text == "0.0\n"
    finally:
        release.set()


def test_loading_before_serving_accepts_no_connection_until_the_model_is_loaded(tmp_path):
    model = tmp_path / "model.py"
    model.write_text("import time\ntime.sleep(0.4)\n\ndef predict(df):\n    return [1.0] * len(df)\n")
    start = time.monotonic()
    with TestClient(create_app(ServeConfig(model=str(tmp_path)), load="before_serving")) as c:
        assert time.monotonic() - start >= 0.4  # the server started only once the model was there
        assert c.get("/ping").status_code == 200
        assert post(c, b"1\n").text == "1.0\n"


def test_loading_before_serving_that_fails_serves_the_reason(tmp_path):
    (tmp_path / "model.py").write_text("raise ImportError('no such thing')\n")
    with TestClient(create_app(ServeConfig(model=str(tmp_path)), load="before_serving")) as c:
        r = c.get("/ping")
        assert r.status_code == 503
        assert "model failed to load" in r.json()["error"] and "no such thing" in r.json()["error"]
