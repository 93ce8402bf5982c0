"""``openclarify serve`` and ``openclarify proxy`` on real loopback sockets, against in-process predictions.

Servers run in background threads (``background_server``), and once as the real command with two worker
processes. Scores that go through the server must be bit-for-bit those of the in-process model.
"""

from __future__ import annotations

import csv
import io
import json
import time
import zlib
from pathlib import Path

import fasttext
import httpx
import jmespath
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from openclarify.cli import main
from openclarify.models import FastTextPredictor, SklearnPredictor
from openclarify.serving import ProxyConfig, ServeConfig, background_server, create_app, create_proxy_app
from openclarify.training._fasttext import _zero_filled_malloc
from support.served import DEADLINE, ServeCommand, wait_ready_on

VOCAB = {
    "sports": ["goal", "match", "team", "score", "league"],
    "music": ["song", "album", "band", "guitar", "tour"],
    "food": ["pizza", "bread", "cheese", "recipe", "oven"],
}
TEXTS = [
    "the team won the match",
    "pizza, bread and cheese",
    'a "quoted" album',
    "a song\nover two lines",
    "  guitar tour with spaces  ",
    "",
    "goal song pizza, oven\r\nleague",
]


# --- models --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fasttext_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ft")
    rng = np.random.default_rng(0)
    with (d / "train.txt").open("w") as f:
        for _ in range(300):
            label = list(VOCAB)[rng.integers(len(VOCAB))]
            f.write(f"__label__{label} {' '.join(rng.choice(VOCAB[label], 5))}\n")
    with _zero_filled_malloc():  # fasttext 0.9.3 leaves part of the input matrix uninitialised
        model = fasttext.train_supervised(
            str(d / "train.txt"), thread=1, verbose=0, dim=8, epoch=5, minCount=1, bucket=1000, seed=1
        )
    (d / "model").mkdir()
    model.save_model(str(d / "model" / "model.bin"))
    return d / "model"


@pytest.fixture(scope="module")
def tabular() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 60
    return pd.DataFrame(
        {
            "length": rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n),
            "colour": rng.choice(["red", "green, dark", 'blue "navy"'], n).astype(object),
            "weight": rng.standard_normal(n),
            "zone": rng.choice(["01", "02", "10"], n).astype(object),  # categories that read like numbers
        }
    )


@pytest.fixture(scope="module")
def sklearn_path(tmp_path_factory, tabular) -> Path:
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["length", "weight"]),
                ("cat", OneHotEncoder(handle_unknown="error"), ["colour", "zone"]),
            ]
        ),
        LogisticRegression(max_iter=500),
    )
    target = np.digitize(tabular["weight"], [-0.5, 0.5])  # three classes
    path = tmp_path_factory.mktemp("sk") / "model.joblib"
    joblib.dump(pipeline.fit(tabular, target), path)
    return path


@pytest.fixture(scope="module")
def python_model(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("py") / "echo.py"
    path.write_text(
        "import zlib\n\n"
        "def predict(df):\n"
        "    # fingerprint of each text as it arrived, its length, and the number echoed\n"
        "    return [[zlib.crc32((t or '').encode()), len(t or ''), x] for t, x in zip(df['text'], df['x'])]\n"
    )
    return f"{path}:predict"


# --- helpers -------------------------------------------------------------------------------------------


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/ping", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}/ping never answered 200")
        time.sleep(0.05)


def csv_body(rows) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def tabular_body(frame: pd.DataFrame) -> bytes:
    """What a Clarify client sends: floats with repr(), every string quoted (``"This is a good product",5``)."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC).writerows(frame.itertuples(index=False))
    return out.getvalue().encode()


def csv_scores(text: str) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in csv.reader(io.StringIO(text)) if row])


def post(url, body, content_type="text/csv", accept=None, **kwargs) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    return httpx.post(url + "/invocations", content=body, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def fasttext_url(fasttext_dir):
    with background_server(create_app(ServeConfig(model=str(fasttext_dir)))) as url:
        wait_ready(url)
        yield url


@pytest.fixture(scope="module")
def sklearn_url(sklearn_path):
    with background_server(create_app(ServeConfig(model=str(sklearn_path), threads=2))) as url:
        wait_ready(url)
        yield url


# --- fastText ------------------------------------------------------------------------------------------


def test_the_seed_client_call_csv_in_jsonlines_out(fasttext_url, fasttext_dir):
    """Clarify's BlazingText set-up: content_type text/csv, accept_type application/jsonlines,
    probability 'prob', label 'label'; full vectors in the model's label order, bit-exact."""
    predictor = FastTextPredictor(fasttext_dir)
    r = post(fasttext_url, csv_body([[t] for t in TEXTS]), "text/csv", "application/jsonlines")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/jsonlines"
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert len(lines) == len(TEXTS)
    assert all(jmespath.search("label", x) == list(predictor.labels) for x in lines)
    probs = np.array([jmespath.search("prob", x) for x in lines])
    expected = predictor.predict(pd.DataFrame({"text": TEXTS}))
    assert probs.tobytes() == expected.tobytes()


def test_fasttext_csv_out_and_blazingtext_json(fasttext_url, fasttext_dir):
    predictor = FastTextPredictor(fasttext_dir)
    expected = predictor.predict(pd.DataFrame({"text": TEXTS}))
    r = post(fasttext_url, csv_body([[t] for t in TEXTS]), "text/csv; charset=utf-8", "text/csv")
    assert csv_scores(r.text).tobytes() == expected.tobytes()

    body = json.dumps({"instances": TEXTS[:3], "configuration": {"k": 2}})
    answer = post(fasttext_url, body.encode(), "application/json").json()
    labels, probs = predictor.model.predict([t.replace("\n", " ") for t in TEXTS[:3]], k=2)
    assert [a["label"] for a in answer] == [list(x) for x in labels]
    np.testing.assert_allclose([a["prob"] for a in answer], probs, rtol=1e-6)
    assert [a["prob"] for a in answer] == [sorted(row, reverse=True)[:2] for row in expected[:3].tolist()]

    jsonl = post(fasttext_url, b'{"source": "goal match"}\n{"source": "song", "k": 1}\n', "application/jsonlines")
    first, second = (json.loads(x) for x in jsonl.text.splitlines())
    assert first["label"] == list(predictor.labels)
    assert second["label"][0].startswith("__label__") and len(second["prob"]) == 1


# --- scikit-learn --------------------------------------------------------------------------------------


def test_sklearn_pipeline_bit_exact(sklearn_url, sklearn_path, tabular):
    expected = SklearnPredictor(joblib.load(sklearn_path)).predict(tabular)
    r = post(sklearn_url, tabular_body(tabular), "text/csv")
    assert r.status_code == 200, r.text
    assert csv_scores(r.text).tobytes() == expected.tobytes()

    lines = "".join(json.dumps({"features": list(row)}) + "\n" for row in tabular.itertuples(index=False))
    answer = post(sklearn_url, lines.encode(), "application/jsonlines", "application/json").json()
    assert [p["label"] for p in answer["predictions"]] == [["0", "1", "2"]] * len(tabular)
    assert np.array([p["prob"] for p in answer["predictions"]]).tobytes() == expected.tobytes()


def test_errors_and_recovery(sklearn_url, tabular):
    good = tabular_body(tabular.head(2))
    cases = [
        (post(sklearn_url, b"1.0,red\n"), 400, "expected 4 values"),
        (post(sklearn_url, b'{"features": [1.0, "red", 2.0, "01"]', "application/jsonlines"), 400, "not valid JSON"),
        (post(sklearn_url, good, "text/csv", "application/xml"), 406, "Accept: unsupported"),
        (post(sklearn_url, good, "application/x-npy"), 415, "Content-Type: unsupported"),
        (post(sklearn_url, b'1.0,red,2.0,"01"\n' * 400_000), 413, "over the payload limit of 6291456 bytes"),
        (post(sklearn_url, b'1.0,purple,2.0,"01"\n'), 500, "predict_proba raised ValueError"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
        assert "\n" not in response.json()["error"]
        assert post(sklearn_url, good).status_code == 200  # the worker survived


# --- file.py:function ----------------------------------------------------------------------------------


def test_python_function_gets_texts_and_numbers_unchanged(python_model):
    values = [0.1, -0.0, 5e-324, 1.7976931348623157e308, 1 / 3, 123.0, 2.5]
    config = ServeConfig(model=python_model, feature_names=("text", "x"))
    with background_server(create_app(config)) as url:
        wait_ready(url)
        r = post(url, csv_body([[t, repr(x)] for t, x in zip(TEXTS, values, strict=True)]))
        assert r.status_code == 200, r.text
        scores = csv_scores(r.text)
    assert scores[:, 0].tolist() == [float(zlib.crc32(t.encode())) for t in TEXTS]
    assert scores[:, 1].tolist() == [float(len(t)) for t in TEXTS]
    assert scores[:, 2].tobytes() == np.array(values).tobytes()


# --- proxy ---------------------------------------------------------------------------------------------


def test_proxy_chain_to_a_json_only_server(fasttext_dir):
    """client (CSV / JSON Lines) -> proxy -> server that reads only BlazingText JSON, and back."""
    predictor = FastTextPredictor(fasttext_dir)
    expected = predictor.predict(pd.DataFrame({"text": TEXTS}))
    upstream_config = ServeConfig(model=str(fasttext_dir), content_types=("application/json",))
    with background_server(create_app(upstream_config)) as upstream:
        wait_ready(upstream)
        assert post(upstream, csv_body([["x"]])).status_code == 415
        proxy_config = ProxyConfig(upstream=upstream, to="application/json", labels=predictor.labels)
        with background_server(create_proxy_app(proxy_config)) as url:
            wait_ready(url)
            r = post(url, csv_body([[t] for t in TEXTS]), "text/csv", "application/jsonlines")
            assert r.status_code == 200, r.text
            lines = [json.loads(x) for x in r.text.splitlines()]
            assert all(x["label"] == list(predictor.labels) for x in lines)
            assert np.array([x["prob"] for x in lines]).tobytes() == expected.tobytes()
            r = post(url, b'{"source": "goal"}\n{"source": "song"}\n', "application/jsonlines", "text/csv")
            assert csv_scores(r.text).tobytes() == predictor.predict(pd.DataFrame({"t": ["goal", "song"]})).tobytes()
            bad = post(url, b"not json", "application/json")
            assert bad.status_code == 400
    with background_server(create_proxy_app(ProxyConfig(upstream=upstream))) as url:
        r = post(url, b"x\n")  # the upstream is gone
        assert r.status_code == 502
        assert "upstream" in r.json()["error"]
        assert httpx.get(url + "/ping").status_code == 503


# --- the command ---------------------------------------------------------------------------------------


# A loaded machine (CI, a laptop under other jobs) may take tens of seconds to start two interpreters that
# import scikit-learn: every wait polls until a generous deadline (support/served.py), and none assumes a worker.


def test_serve_command_with_two_workers(sklearn_path, tabular, tmp_path):
    command = ServeCommand(
        ["--model", str(sklearn_path)], tmp_path / "server.log", {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    )
    try:
        wait_ready_on(command)
        command.wait_for("both workers' models", lambda: command.loaded() == 2)
        expected = SklearnPredictor(joblib.load(sklearn_path)).predict(tabular)
        for _ in range(4):  # new connections, answered by whichever worker accepts them
            r = httpx.post(
                command.url + "/invocations", content=tabular_body(tabular), headers={"Content-Type": "text/csv"},
                timeout=DEADLINE,
            )  # fmt: skip
            assert r.status_code == 200, r.text
            assert csv_scores(r.text).tobytes() == expected.tobytes()
    finally:
        returncode = command.stop()
    assert returncode == 0, command.log()


CSV = {"Content-Type": "text/csv"}
SLOW_SECOND_IMPORT = """\
import os
import time

# The first worker to import this loads at once; the second takes {seconds} s.
try:
    os.close(os.open(os.path.join(os.path.dirname(__file__), "first-import"), os.O_CREAT | os.O_EXCL))
except FileExistsError:
    time.sleep({seconds})


def predict(records):
    return [1.0] * len(records)
"""


def test_no_request_reaches_a_worker_still_loading_its_model(tmp_path):
    """While one worker already answers /ping, the other is loading: every request must still be served."""
    model = tmp_path / "slow.py"
    model.write_text(SLOW_SECOND_IMPORT.format(seconds=6))
    command = ServeCommand(
        ["--model", f"{model}:predict", "--workers", "2", "--feature-names", "x"], tmp_path / "server.log"
    )
    statuses: list[int] = []
    try:
        wait_ready_on(command)
        while command.loaded() < 2 and command.process.poll() is None:
            with httpx.Client(timeout=DEADLINE) as client:  # a new connection each time
                statuses.append(client.post(command.url + "/invocations", content=b"1\n", headers=CSV).status_code)
                statuses.append(client.get(command.url + "/ping").status_code)
        during = len(statuses)
        command.wait_for("both workers' models", lambda: command.loaded() == 2)
        for _ in range(10):
            with httpx.Client(timeout=DEADLINE) as client:
                statuses.append(client.post(command.url + "/invocations", content=b"1\n", headers=CSV).status_code)
    finally:
        returncode = command.stop()
    assert during >= 4, command.log()  # the slow worker's load was seen
    assert statuses == [200] * len(statuses), statuses
    assert returncode == 0, command.log()


def test_serve_command_options_and_sagemaker_environment(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr("openclarify.serving.serve", seen.append)
    monkeypatch.setattr("openclarify.serving.resolve_model", lambda spec: spec)
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9090")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "3")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_TIMEOUT", "12.5")
    assert main(["serve"]) == 0  # as SageMaker starts a container: `docker run IMAGE serve`
    config = seen[-1]
    assert (config.model, config.port, config.workers, config.timeout) == ("/opt/ml/model", 9090, 3, 12.5)
    assert config.host == "127.0.0.1"
    monkeypatch.setenv("OPENCLARIFY_SERVE_HOST", "0.0.0.0")  # noqa: S104 - what the Docker image sets
    args = ["serve", "--model", "m.joblib", "--port", "1234", "--workers", "1", "--feature-names", "a, b"]
    assert main([*args, "--content-types", "application/json", "--text-columns", "b"]) == 0
    config = seen[-1]
    assert (config.host, config.port, config.workers, config.feature_names) == ("0.0.0.0", 1234, 1, ("a", "b"))
    assert (config.content_types, config.text_columns) == (("application/json",), ("b",))
    assert main(["serve", "--content-types", "text/html"]) == 2
    assert main(["serve", "--features", "data.["]) == 2


def test_serve_and_proxy_slow_client_and_thread_options(monkeypatch):
    served, proxied = [], []
    monkeypatch.setattr("openclarify.serving.serve", served.append)
    monkeypatch.setattr("openclarify.serving.run_proxy", proxied.append)
    monkeypatch.setattr("openclarify.serving.resolve_model", lambda spec: spec)
    assert main(["serve", "--workers", "1"]) == 0
    config = served[-1]
    assert (config.header_timeout, config.body_timeout, config.body_chunk_timeout) == (10.0, 60.0, 10.0)
    assert (config.threads, config.spare_threads) == (1, 1)
    timeouts = ["--header-timeout", "2.5", "--body-timeout", "30", "--body-chunk-timeout", "1.5"]
    assert main(["serve", "--workers", "1", *timeouts, "--threads", "4", "--spare-threads", "0"]) == 0
    config = served[-1]
    assert (config.header_timeout, config.body_timeout, config.body_chunk_timeout) == (2.5, 30.0, 1.5)
    assert (config.threads, config.spare_threads) == (4, 0)
    assert main(["proxy", "--upstream", "http://127.0.0.1:9", "--workers", "1", *timeouts]) == 0
    config = proxied[-1]
    assert (config.header_timeout, config.body_timeout, config.body_chunk_timeout) == (2.5, 30.0, 1.5)
    assert main(["serve", "--header-timeout", "0"]) == 2
    assert main(["serve", "--spare-threads", "-1"]) == 2


def test_serve_command_missing_model_exits_4(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "nothing.joblib")]) == 4
    assert "no such file or folder" in capsys.readouterr().err
