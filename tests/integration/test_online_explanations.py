"""`openclarify serve --explainer-config`: Clarify's online explanations, bit for bit the offline ones.

Real models (the abalone scikit-learn pipeline, a fastText classifier, a fine-tuned BERT, a ``file.py``
function), the real app (in process through httpx's ASGI transport, and on a loopback socket for the
command-line and proxy cases), and ``openclarify analyze`` as the reference: a record explained online has
the values the offline job gives the record of the same number, for the same baseline, budget and seed.
"""

from __future__ import annotations

import asyncio
import csv
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from openclarify.cli import main
from openclarify.serving import ProxyConfig, ServeConfig, background_server, create_app, create_proxy_app
from support.abalone import FEATURES, abalone_classifier
from support.fasttext_model import review_texts, tiny_fasttext
from support.served import wait_until_ready

BASELINE_ROWS = [["M", 0.5, 0.4, 0.13, 0.8, 0.35, 0.18, 0.24], ["F", 0.6, 0.47, 0.16, 1.1, 0.45, 0.24, 0.31]]
CSV = {"Content-Type": "text/csv"}


def _csv_line(row: list[Any]) -> str:
    return ",".join(f'"{v}"' if isinstance(v, str) else repr(float(v)) for v in row)


def _explainer_file(folder: Path, clarify: dict[str, Any], name: str = "explainer.json") -> str:
    path = folder / name
    path.write_text(json.dumps({"ClarifyExplainerConfig": clarify}))
    return str(path)


class Client:
    """The app in process, its lifespan run (the model and explainer load before the first request)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._lifespan = app.router.lifespan_context(app)
        self.loop.run_until_complete(self._lifespan.__aenter__())
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://served")

    def get(self, path: str) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(path))

    def post(self, body: str | bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.loop.run_until_complete(
            self.http.post("/invocations", content=body, headers={"content-type": "text/csv", **(headers or {})})
        )

    def wait(self) -> httpx.Response:
        for _ in range(600):
            ping = self.get("/ping")
            if ping.status_code == 200 or "failed" in ping.text:
                return ping
            self.loop.run_until_complete(asyncio.sleep(0.05))
        return ping

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def client_of():
    clients: list[Client] = []

    def make(**settings: Any) -> Client:
        client = Client(create_app(ServeConfig(**settings)))
        clients.append(client)
        client.wait()
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def abalone(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("abalone")
    abalone_classifier(folder)
    return folder


@pytest.fixture(scope="module")
def fasttext(tmp_path_factory) -> Path:
    return tiny_fasttext(tmp_path_factory.mktemp("fasttext") / "model")


def _analyze(work: Path, config: dict[str, Any], data: Path, model: str) -> Path:
    config = {"predictor": {"model_name": "served", "content_type": "text/csv"}, **config}
    (work / "cfg.json").write_text(json.dumps(config))
    out = work / "offline"
    args = ["analyze", "--config", str(work / "cfg.json"), "--data", str(data), "--output", str(out)]
    assert main([*args, "--model", model, "--quiet"]) == 0
    return out


def _values(entry: list[dict[str, Any]]) -> dict[str, list[float]]:
    return {f["feature_header"]: f["attributions"][0]["attribution"] for f in entry}


def test_tabular_records_online_equal_the_offline_job_bit_for_bit(abalone, client_of, tmp_path):
    """The abalone pipeline at 40 of 254 coalitions (sampled, not exact) with two baseline rows: every value
    of every record equals out.csv's, and a record sent alone with its record number equals its row too."""
    test = pd.read_csv(abalone / "test.csv").iloc[:12]
    test.to_csv(tmp_path / "test.csv", index=False)
    config = {
        "dataset_type": "text/csv",
        "label": "old",
        "methods": {"shap": {"baseline": BASELINE_ROWS, "num_samples": 40, "seed": 11, "save_local_shap_values": True}},
    }
    out = _analyze(tmp_path, config, tmp_path / "test.csv", str(abalone / "model.joblib"))
    with open(out / "explanations_shap" / "out.csv", newline="") as f:
        offline = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    expected_value = json.loads((out / "analysis.json").read_text())["explanations"]["kernel_shap"]["1"][
        "expected_value"
    ]
    explainer = _explainer_file(
        tmp_path,
        {
            "ShapConfig": {
                "ShapBaselineConfig": {"ShapBaseline": "\n".join(_csv_line(r) for r in BASELINE_ROWS)},
                "NumberOfSamples": 40,
                "Seed": 11,
            }
        },
    )
    client = client_of(model=str(abalone / "model.joblib"), explainer_config=explainer)
    body = "\n".join(_csv_line(r) for r in test[FEATURES].itertuples(index=False, name=None))
    reply = client.post(body, {"accept": "text/csv", "x-openclarify-details": "true"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    answer = reply.json()
    assert answer["version"] == "1.0"
    assert answer["label_headers"] == ["0", "1"]
    assert answer["predictions"]["content_type"] == "text/csv"
    scores = [[float(x) for x in line.split(",")] for line in answer["predictions"]["data"].splitlines()]
    assert len(scores) == 12
    entries = answer["explanations"]["kernel_shap"]
    for i, entry in enumerate(entries):
        assert [f["feature_header"] for f in entry] == FEATURES
        for name, values in _values(entry).items():
            assert values == [offline[i][f"{name}_0"], offline[i][f"{name}_1"]], (i, name)
    details = answer["openclarify"]
    assert details["expected_value"][0][1] == expected_value  # the baseline's mean score, as analysis.json says
    assert details["explained_scores"] == scores
    for i, entry in enumerate(entries):  # efficiency: f(x) = E + sum(phi), per label
        for k in range(2):
            total = details["expected_value"][i][k] + sum(v[k] for v in _values(entry).values())
            assert total == pytest.approx(scores[i][k], abs=1e-12)
    # record 7 alone, numbered 7: row 7's values; numbered 0 (the default) it gets other coalitions
    row7 = _csv_line(list(test[FEATURES].iloc[7]))
    alone = client.post(row7, {"x-openclarify-first-record": "7"}).json()["explanations"]["kernel_shap"][0]
    assert _values(alone) == _values(entries[7])
    assert _values(client.post(row7).json()["explanations"]["kernel_shap"][0]) != _values(entries[7])


def _text_job(
    work: Path, model: Path, texts: list[str], mask: str, num_samples: int, seed: int
) -> tuple[list[dict[str, Any]], str]:
    """The offline job's out.jsonl records for ``texts`` (token granularity, baseline ``mask``), and an explainer
    config file with the same settings."""
    pd.DataFrame({"text": texts}).to_csv(work / "texts.csv", index=False, header=False)
    config = {
        "dataset_type": "text/csv",
        "headers": ["text"],
        "methods": {
            "shap": {
                "baseline": [[mask]],
                "num_samples": num_samples,
                "seed": seed,
                "save_local_shap_values": True,
                "text_config": {"granularity": "token", "language": "english"},
            }
        },
    }
    out = _analyze(work, config, work / "texts.csv", str(model))
    offline = [json.loads(line) for line in (out / "explanations_shap" / "out.jsonl").read_text().splitlines()]
    explainer = _explainer_file(
        work,
        {
            "ShapConfig": {
                "ShapBaselineConfig": {"ShapBaseline": f'"{mask}"'},
                "NumberOfSamples": num_samples,
                "Seed": seed,
                "TextConfig": {"Language": "en", "Granularity": "token"},
            }
        },
    )
    return offline, explainer


def test_text_records_online_equal_the_offline_job_bit_for_bit(fasttext, client_of, tmp_path):
    """fastText at token granularity, 30 coalitions of up to 62: units, offsets and values equal out.jsonl's."""
    texts = [text for _, text in review_texts(8, 3)] + ['the "big" match, a goal!']
    offline, explainer = _text_job(tmp_path, fasttext, texts, "<MASK>", 30, 4)
    client = client_of(model=str(fasttext), explainer_config=explainer)
    body = "\n".join('"' + t.replace('"', '""') + '"' for t in texts)
    answer = client.post(body, {"accept": "application/jsonlines"}).json()
    assert answer["label_headers"] == ["food", "music", "sports"]
    for i, entry in enumerate(answer["explanations"]["kernel_shap"]):
        assert len(entry) == 1 and entry[0]["feature_type"] == "text" and "feature_header" not in entry[0]
        got = entry[0]["attributions"]
        want = offline[i]["explanations"][0]["attributions"]
        assert got == want, i  # the same units, offsets and values, to the bit
        for unit in got:
            start = unit["description"]["start_idx"]
            assert (
                texts[i][start : start + len(unit["description"]["partial_text"])]
                == unit["description"]["partial_text"]
            )
    predictions = [json.loads(line) for line in answer["predictions"]["data"].splitlines()]
    assert [p["label"] for p in predictions] == [["food", "music", "sports"]] * len(texts)


def test_enable_explanations_picks_records_and_the_header_overrides_it(abalone, client_of, tmp_path):
    explainer = _explainer_file(
        tmp_path,
        {
            "EnableExplanations": "[1]>`0.5`",
            "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}, "Seed": 1},
        },
    )
    client = client_of(model=str(abalone), explainer_config=explainer)
    test = pd.read_csv(abalone / "test.csv")[FEATURES].iloc[:10]
    body = "\n".join(_csv_line(r) for r in test.itertuples(index=False, name=None))
    answer = client.post(body).json()
    scores = [[float(x) for x in line.split(",")] for line in answer["predictions"]["data"].splitlines()]
    explained = [entry is not None for entry in answer["explanations"]["kernel_shap"]]
    assert explained == [s[1] > 0.5 for s in scores]
    assert 0 < sum(explained) < 10  # some of each
    # the records explained in a filtered batch have the values they have when all are explained
    everything = client.post(body, {"x-amzn-sagemaker-enable-explanations": "`true`"}).json()
    for i, entry in enumerate(answer["explanations"]["kernel_shap"]):
        if entry is not None:
            assert entry == everything["explanations"]["kernel_shap"][i]
    none = client.post(body, {"x-amzn-sagemaker-enable-explanations": "`false`"}).json()
    assert none == {
        "version": "1.0",
        "predictions": answer["predictions"],
        "label_headers": ["0", "1"],
        "explanations": {},
    }
    # JSON Lines answers are objects: the expression reads their fields
    objects = client.post(
        body, {"accept": "application/jsonlines", "x-amzn-sagemaker-enable-explanations": "prob[1]>`0.5`"}
    ).json()
    assert [e is not None for e in objects["explanations"]["kernel_shap"]] == explained


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        pytest.param(None, {"x-amzn-sagemaker-enable-explanations": "[0>"}, 400, "not a valid JMESPath", id="bad-expr"),
        pytest.param(
            None, {"x-amzn-sagemaker-enable-explanations": "[0]"}, 400, "must give true or false", id="number"
        ),
        pytest.param(None, {"x-amzn-sagemaker-enable-explanations": "x" * 65}, 400, "1 to 64 characters", id="long"),
        pytest.param(None, {"x-openclarify-first-record": "-1"}, 400, "integer from 0", id="first-record"),
        pytest.param('"M",abc,0.4,0.13,0.8,0.35,0.18,0.24', {}, 400, "column 'Length': must be a number", id="letters"),
        pytest.param('"M",0.5,0.4', {}, 400, "expected 8 values", id="width"),
        pytest.param(
            '"M",0.5,0.4,0.13,0.8,0.35,0.18,0.24\n"M",,0.4,0.13,0.8,0.35,0.18,0.24',
            {},
            400,
            "record 2 of the request, column 'Length'",
            id="missing-the-model-refuses",
        ),
        pytest.param("x" * 1_100_000, {}, 413, "payload limit", id="too-large"),
        pytest.param(None, {"content-type": "image/png"}, 415, "", id="content-type"),
    ],
)
def test_bad_requests_get_their_status_and_the_worker_keeps_serving(
    abalone, client_of, tmp_path, body, headers, status, message
):
    explainer = _explainer_file(
        tmp_path,
        {
            "InferenceConfig": {"MaxPayloadInMB": 1},
            "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}, "Seed": 1},
        },
    )
    client = client_of(model=str(abalone), explainer_config=explainer)
    good = _csv_line(BASELINE_ROWS[1])
    reply = client.post(body if body is not None else good, headers)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["error"] and "\n" not in reply.json()["error"]
    assert client.get("/ping").status_code == 200
    assert client.post(good).status_code == 200


@pytest.mark.parametrize(
    ("clarify", "message"),
    [
        pytest.param({"ShapBaseline": '"M",0.5'}, "expected 8 values", id="baseline-width"),
        pytest.param({"ShapBaselineUri": "missing.csv"}, "not found", id="baseline-file"),
        # typed from the baseline, as SageMaker does: 'x' makes Length categorical, and the model refuses it
        pytest.param(
            {"ShapBaseline": '"M",x,0.4,0.13,0.8,0.35,0.18,0.24'},
            "could not convert string to float",
            id="baseline-type",
        ),
    ],
)
def test_a_baseline_that_does_not_fit_stops_the_explainer_with_its_reason(
    abalone, client_of, tmp_path, clarify, message
):
    explainer = _explainer_file(tmp_path, {"ShapConfig": {"ShapBaselineConfig": clarify}})
    client = client_of(model=str(abalone), explainer_config=explainer)
    ping = client.get("/ping")
    assert ping.status_code == 503
    assert ping.json()["error"].startswith("explainer failed to start: ")
    assert message in ping.json()["error"]
    assert client.post(_csv_line(BASELINE_ROWS[0])).status_code == 503


@pytest.mark.parametrize(
    ("inference", "message"),
    [
        pytest.param({"LabelHeaders": ["a", "b", "c"]}, "must name each of the 2 explained scores", id="labels"),
        pytest.param({"ProbabilityIndex": 2}, "gives 2 scores per record; got index 2", id="index"),
        pytest.param({"FeatureHeaders": ["a", "b"]}, "the model's features are", id="headers"),
    ],
)
def test_inference_settings_that_contradict_the_model_stop_the_explainer(
    abalone, client_of, tmp_path, inference, message
):
    explainer = _explainer_file(
        tmp_path,
        {
            "InferenceConfig": inference,
            "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}},
        },
    )
    ping = client_of(model=str(abalone), explainer_config=explainer).get("/ping")
    assert ping.status_code == 503 and message in ping.json()["error"]


def test_probability_index_and_label_headers_explain_one_score(abalone, client_of, tmp_path):
    base = {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}, "NumberOfSamples": 300, "Seed": 3}
    both = client_of(model=str(abalone), explainer_config=_explainer_file(tmp_path, {"ShapConfig": base}, "both.json"))
    one = client_of(
        model=str(abalone),
        explainer_config=_explainer_file(
            tmp_path,
            {"InferenceConfig": {"ProbabilityIndex": 1, "LabelHeaders": ["old"]}, "ShapConfig": base},
            "one.json",
        ),
    )
    record = _csv_line(BASELINE_ROWS[1])
    full, single = both.post(record).json(), one.post(record).json()
    assert single["label_headers"] == ["old"]
    assert single["predictions"] == full["predictions"]  # the model's whole answer, as it gave it
    for a, b in zip(full["explanations"]["kernel_shap"][0], single["explanations"]["kernel_shap"][0], strict=True):
        assert b["attributions"][0]["attribution"] == pytest.approx([a["attributions"][0]["attribution"][1]], abs=1e-15)
    # --positive-only answers the second score alone: that one is explained, named by its label
    positive = (
        client_of(
            model=str(abalone),
            positive_only=True,
            explainer_config=_explainer_file(tmp_path, {"ShapConfig": base}, "p.json"),
        )
        .post(record)
        .json()
    )
    assert positive["label_headers"] == ["1"]
    assert positive["explanations"] == single["explanations"]


def test_repeated_requests_come_from_the_cache_with_the_same_bytes(abalone, client_of, tmp_path):
    explainer = _explainer_file(
        tmp_path, {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}, "Seed": 9}}
    )
    cached = client_of(model=str(abalone), explainer_config=explainer)
    uncached = client_of(model=str(abalone), explainer_config=explainer, explanation_cache=0)
    body = _csv_line(BASELINE_ROWS[1]) + "\n" + _csv_line(BASELINE_ROWS[0])
    first = cached.post(body).content
    assert cached.post(body).content == first == uncached.post(body).content
    describe = cached.get("/explainer").json()
    assert describe["seed"] == 9 and describe["feature_headers"] == FEATURES
    assert describe["feature_types"] == ["categorical"] + ["numerical"] * 7
    # /openapi.json documents the explained answer, and the answers fit its schema (jsonschema: the SDK's own)
    import jsonschema

    document = cached.get("/openapi.json").json()
    post = document["paths"]["/invocations"]["post"]
    assert "X-Amzn-SageMaker-Enable-Explanations" in [p["name"] for p in post["parameters"]]
    schema = post["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(json.loads(first), schema)
    jsonschema.validate(cached.post(body, {"x-amzn-sagemaker-enable-explanations": "`false`"}).json(), schema)


def test_file_py_models_are_explained_too(client_of, tmp_path):
    """A ``file.py:function`` model with no names: features by position, no feature_header, the exact values
    (3 features, every coalition) of a linear model: w * (x - baseline)."""
    (tmp_path / "linear.py").write_text(
        "import numpy as np\n\ndef predict(records):\n"
        "    x = np.asarray(records, dtype=float)\n    return x @ np.array([1.0, -2.0, 0.5])\n"
    )
    explainer = _explainer_file(tmp_path, {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "1,1,1"}}})
    client = client_of(model=f"{tmp_path / 'linear.py'}:predict", explainer_config=explainer)
    answer = client.post("3,0,5").json()
    entry = answer["explanations"]["kernel_shap"][0]
    assert "label_headers" not in answer and all("feature_header" not in f for f in entry)
    assert [f["attributions"][0]["attribution"][0] for f in entry] == pytest.approx([2.0, 2.0, 2.0], abs=1e-12)


def test_the_transformer_is_explained_as_offline(tmp_path, client_of):
    from support.tiny_bert import review_rows, tiny_classifier, tiny_encoder

    model = tiny_classifier(tmp_path / "bert", tiny_encoder(tmp_path / "base"))
    texts = [t for t, _ in review_rows(4, seed=2)]
    offline, explainer = _text_job(tmp_path, model, texts, "[MASK]", 60, 2)
    client = client_of(model=str(model), explainer_config=explainer)
    answer = client.post("\n".join(f'"{t}"' for t in texts)).json()
    for i, entry in enumerate(answer["explanations"]["kernel_shap"]):
        assert entry[0]["attributions"] == offline[i]["explanations"][0]["attributions"]


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url + "/invocations", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_command_line_server_and_the_proxy_answer_the_same(fasttext, tmp_path):
    """The issue's curl on a loopback socket: `serve --explainer-config` on the fastText model, and
    `proxy --explainer-config` in front of a plain `serve` of it, give the same answer to the bit."""
    explainer = _explainer_file(
        tmp_path,
        {
            "EnableExplanations": "`false`",
            "ShapConfig": {
                "ShapBaselineConfig": {"ShapBaseline": '"<MASK>"'},
                "NumberOfSamples": 50,
                "Seed": 5,
                "TextConfig": {"Language": "en", "Granularity": "token"},
            },
        },
    )
    headers = {"Content-Type": "text/csv", "X-Amzn-SageMaker-Enable-Explanations": "`true`"}
    body = b"Wesebach is a river of Hesse Germany."
    with background_server(create_app(ServeConfig(model=str(fasttext), explainer_config=explainer))) as served:
        wait_until_ready(served)
        status, answer = _post(served, body, headers)
        assert status == 200
        units = answer["explanations"]["kernel_shap"][0][0]["attributions"]
        assert [(u["description"]["partial_text"], u["description"]["start_idx"]) for u in units] == [
            ("Wesebach", 0), ("is", 9), ("a", 12), ("river", 14), ("of", 20), ("Hesse", 23), ("Germany", 29), (".", 36)
        ]  # fmt: skip
        assert _post(served, body, {"Content-Type": "text/csv"})[1]["explanations"] == {}  # the config's `false`
        with background_server(create_app(ServeConfig(model=str(fasttext)))) as plain:
            wait_until_ready(plain)
            proxy = create_proxy_app(
                ProxyConfig(
                    upstream=plain, to="text/csv", labels=("food", "music", "sports"), explainer_config=explainer
                )
            )
            with background_server(proxy) as front:
                wait_until_ready(front)
                assert _post(front, body, headers) == (200, answer)
                with urllib.request.urlopen(front + "/explainer", timeout=10) as reply:
                    assert json.loads(reply.read())["label_headers"] == ["food", "music", "sports"]


def test_the_command_line_refuses_an_invalid_explainer_config(abalone, tmp_path, capsys):
    path = _explainer_file(tmp_path, {"ShapConfig": {"ShapBaselineConfig": {}, "NumberOfSamples": -3}})
    assert main(["serve", "--model", str(abalone), "--explainer-config", path]) == 2
    err = capsys.readouterr().err
    assert "ClarifyExplainerConfig.ShapConfig.NumberOfSamples: must be an integer >= 1; got -3." in err
    assert "Traceback" not in err


def test_workers_explain_alike_when_the_config_gives_no_seed(abalone, tmp_path):
    """Without Seed, `serve` draws one for all its workers: every worker answers a record the same."""
    from support.served import DEADLINE, ServeCommand, wait_ready_on

    explainer = _explainer_file(
        tmp_path,
        {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}, "NumberOfSamples": 30}},
    )
    command = ServeCommand(
        ["--model", str(abalone), "--explainer-config", explainer, "--workers", "2"], tmp_path / "server.log"
    )
    try:
        wait_ready_on(command)
        command.wait_for("both workers' models", lambda: command.loaded() == 2)
        answers = set()
        for _ in range(8):  # new connections, answered by whichever worker accepts them
            with httpx.Client(timeout=DEADLINE) as client:
                reply = client.post(command.url + "/invocations", content=_csv_line(BASELINE_ROWS[1]), headers=CSV)
                assert reply.status_code == 200, reply.text
                answers.add(reply.content)
    finally:
        returncode = command.stop()
    assert len(answers) == 1
    assert returncode == 0, command.log()
    assert command.log().count("explainer: 8 features") == 2  # both workers built one


def test_use_logit_explains_log_odds_and_answers_probabilities(abalone, client_of, tmp_path):
    import math

    shap = {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}, "Seed": 2, "UseLogit": True}
    client = client_of(model=str(abalone), explainer_config=_explainer_file(tmp_path, {"ShapConfig": shap}))
    plain = client_of(model=str(abalone))
    record = _csv_line(BASELINE_ROWS[1])
    answer = client.post(record, {"x-openclarify-details": "true"}).json()
    assert answer["predictions"]["data"] == plain.post(record).text  # the answer: probabilities
    scores = [float(x) for x in answer["predictions"]["data"].split(",")]
    explained = answer["openclarify"]["explained_scores"][0]
    assert explained == pytest.approx([math.log(p / (1 - p)) for p in scores], rel=1e-12)
    total = answer["openclarify"]["expected_value"][0][1] + sum(
        f["attributions"][0]["attribution"][1] for f in answer["explanations"]["kernel_shap"][0]
    )
    assert total == pytest.approx(explained[1], abs=1e-12)


def test_a_cached_record_is_answered_without_a_model_call(client_of, tmp_path):
    """Every record of the request in the cache: its explanation holds the answer's scores too."""
    calls = tmp_path / "calls.log"
    (tmp_path / "counting.py").write_text(
        "import numpy as np\n\ndef predict(records):\n"
        f"    with open({str(calls)!r}, 'a') as f:\n        f.write(str(len(records)) + '\\n')\n"
        "    x = np.asarray(records, dtype=float)\n    return x @ np.array([1.0, -2.0, 0.5])\n"
    )
    explainer = _explainer_file(tmp_path, {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "1,1,1"}}})
    client = client_of(model=f"{tmp_path / 'counting.py'}:predict", explainer_config=explainer)
    before = len(calls.read_text().splitlines())  # the baseline's scoring at start-up
    first = client.post("3,0,5\n1,2,3").content
    assert len(calls.read_text().splitlines()) == before + 1  # the records with their coalitions, one call
    assert client.post("3,0,5\n1,2,3").content == first
    assert len(calls.read_text().splitlines()) == before + 1  # none: both records came from the cache
    assert client.post("3,0,5\n9,9,9").content != first
    assert client.post("3,0,5", {"x-amzn-sagemaker-enable-explanations": "`false`"}).status_code == 200


def test_records_with_text_and_numbers_are_explained_as_offline(client_of, tmp_path):
    """A review and its star rating: the text's units and the number are the players; FeatureTypes and
    FeatureHeaders name and type the columns of a file.py model, as offline."""
    (tmp_path / "mixed.py").write_text(
        "import numpy as np\n\ndef predict(records):\n"
        "    good = np.array([sum(w in ('good', 'great') for w in t.split()) for t in records['review']])\n"
        "    z = good - 0.5 + 0.3 * records['stars'].to_numpy(dtype=float)\n"
        "    p = 1 / (1 + np.exp(-z))\n    return np.column_stack([1 - p, p])\n"
    )
    rows = [("a good and great coat", 4.0), ("not good at all", 1.0), ("fine", 3.0)]
    pd.DataFrame(rows).to_csv(tmp_path / "reviews.csv", index=False, header=False)
    config = {
        "dataset_type": "text/csv",
        "headers": ["review", "stars"],
        "methods": {
            "shap": {
                "baseline": [["<MASK>", 3.0]],
                "num_samples": 20,
                "seed": 6,
                "save_local_shap_values": True,
                "text_config": {"granularity": "token", "language": "english"},
            }
        },
    }
    out = _analyze(tmp_path, config, tmp_path / "reviews.csv", f"{tmp_path / 'mixed.py'}:predict")
    offline = [json.loads(line) for line in (out / "explanations_shap" / "out.jsonl").read_text().splitlines()]
    explainer = _explainer_file(
        tmp_path,
        {
            "InferenceConfig": {"FeatureHeaders": ["review", "stars"], "FeatureTypes": ["text", "numerical"]},
            "ShapConfig": {
                "ShapBaselineConfig": {"ShapBaseline": '"<MASK>",3.0'},
                "NumberOfSamples": 20,
                "Seed": 6,
                "TextConfig": {"Language": "en", "Granularity": "token"},
            },
        },
    )
    client = client_of(model=f"{tmp_path / 'mixed.py'}:predict", explainer_config=explainer)
    answer = client.post("\n".join(f'"{t}",{s!r}' for t, s in rows)).json()
    for i, entry in enumerate(answer["explanations"]["kernel_shap"]):
        review, stars = entry
        assert (review["feature_header"], review["feature_type"]) == ("review", "text")
        assert (stars["feature_header"], stars["feature_type"]) == ("stars", "numerical")
        text_offline, stars_offline = offline[i]["explanations"]
        assert review["attributions"] == text_offline["attributions"]
        assert stars["attributions"] == stars_offline["attributions"]


def test_the_proxy_explains_a_tabular_model_behind_it(abalone, tmp_path):
    """The abalone pipeline behind a plain `serve`, explained by `proxy` (FeatureHeaders name the columns the
    proxy cannot know): the values `serve --explainer-config` gives in process, to the bit."""
    shap = {"ShapBaselineConfig": {"ShapBaseline": _csv_line(BASELINE_ROWS[0])}, "NumberOfSamples": 50, "Seed": 8}
    explainer = _explainer_file(tmp_path, {"InferenceConfig": {"FeatureHeaders": FEATURES}, "ShapConfig": shap})
    body = (_csv_line(BASELINE_ROWS[1]) + "\n" + _csv_line(BASELINE_ROWS[0])).encode()
    with background_server(create_app(ServeConfig(model=str(abalone), explainer_config=explainer))) as direct:
        wait_until_ready(direct)
        want = _post(direct, body, {"Content-Type": "text/csv"})
        with background_server(create_app(ServeConfig(model=str(abalone)))) as plain:
            wait_until_ready(plain)
            proxy = create_proxy_app(ProxyConfig(upstream=plain, to="text/csv", explainer_config=explainer))
            with background_server(proxy) as front:
                wait_until_ready(front)
                got = _post(front, body, {"Content-Type": "text/csv"})
    assert want[0] == got[0] == 200
    assert got[1]["explanations"] == want[1]["explanations"]
    assert got[1]["predictions"]["data"] == want[1]["predictions"]["data"]


ELEMENTWISE = """
import numpy as np


def predict(records):
    x = np.asarray(records, dtype=float)
    # column by column, without BLAS: a record's score does not depend on its neighbours in a model call
    # (a BLAS product, as in LogisticRegression, may round a row differently at the end of a batch)
    s = 0.8 * x[:, 0] - 0.5 * x[:, 1] + x[:, 2] * x[:, 3] + np.sin(x[:, 4]) * x[:, 0]
    p = 1 / (1 + np.exp(-s))
    return np.stack([1 - p, p], axis=1)
"""


def test_the_gp_estimator_online_gives_offlines_values_and_standard_errors_bit_for_bit(client_of, tmp_path):
    """``serve --shap-estimator gp``: each attribution has its ``stderr`` beside it, both equal to the offline
    job's out.csv (``save_local_shap_stderr``), and the answer fits the documented schema."""
    import jsonschema
    import numpy as np

    (tmp_path / "m.py").write_text(ELEMENTWISE)
    rows = np.random.default_rng(3).normal(size=(7, 5)).round(3)
    pd.DataFrame(rows).to_csv(tmp_path / "test.csv", index=False, header=False)
    baseline = [[0.1, 0.2, -0.3, 0.0, 0.5]]
    shap = {"baseline": baseline, "num_samples": 20, "seed": 5, "save_local_shap_values": True,
            "estimator": "gp", "save_local_shap_stderr": True}  # fmt: skip
    config = {"dataset_type": "text/csv", "headers": list("abcde"), "methods": {"shap": shap}}
    out = _analyze(tmp_path, config, tmp_path / "test.csv", f"{tmp_path / 'm.py'}:predict")
    with open(out / "explanations_shap" / "out.csv", newline="") as f:
        offline = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    explainer = _explainer_file(
        tmp_path,
        {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": _csv_line(baseline[0])}, "NumberOfSamples": 20,
                        "Seed": 5}, "InferenceConfig": {"FeatureHeaders": list("abcde")}},
    )  # fmt: skip
    client = client_of(model=f"{tmp_path / 'm.py'}:predict", explainer_config=explainer, explainer_estimator="gp")
    answer = client.post("\n".join(_csv_line(list(r)) for r in rows)).json()
    for i, entry in enumerate(answer["explanations"]["kernel_shap"]):
        for feature in entry:
            name, (values,) = feature["feature_header"], feature["attributions"]
            assert list(values) == ["attribution", "stderr"]
            assert values["attribution"] == [offline[i][f"{name}_label0"], offline[i][f"{name}_label1"]]
            assert values["stderr"] == [offline[i][f"{name}_label0_se"], offline[i][f"{name}_label1_se"]]
            assert min(values["stderr"]) > 0 or name == "e"  # e does not enter the model
    schema = client.get("/openapi.json").json()["paths"]["/invocations"]["post"]["responses"]["200"]
    jsonschema.validate(answer, schema["content"]["application/json"]["schema"])
    assert client.get("/explainer").json()["estimator"] == "gp"


def test_a_target_error_online_is_the_offline_jobs_and_text_units_get_standard_errors(fasttext, client_of, tmp_path):
    """``--target-error`` on records with text: each record's rounds, values and errors equal the offline
    job's out.jsonl, with the same key order (attribution, stderr, description)."""
    short = [text for _, text in review_texts(12, 3)]
    texts = [" ".join(short[i : i + 3]) for i in range(0, 12, 3)]  # 15-20 tokens: sampled, not exact
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "texts.csv", index=False, header=False)
    shap = {"baseline": [["<MASK>"]], "num_samples": 600, "seed": 2, "save_local_shap_values": True,
            "estimator": "gp", "save_local_shap_stderr": True, "target_error": 0.01,
            "text_config": {"granularity": "token", "language": "english"}}  # fmt: skip
    out = _analyze(tmp_path, {"dataset_type": "text/csv", "headers": ["text"], "methods": {"shap": shap}},
                   tmp_path / "texts.csv", str(fasttext))  # fmt: skip
    offline = [json.loads(line) for line in (out / "explanations_shap" / "out.jsonl").read_text().splitlines()]
    summary = json.loads((out / "run_summary.json").read_text())["target_error"]
    assert summary["records_met"] == len(texts) and summary["mean_num_samples"] < 600
    explainer = _explainer_file(
        tmp_path,
        {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": '"<MASK>"'}, "NumberOfSamples": 600, "Seed": 2,
                        "TextConfig": {"Language": "en", "Granularity": "token"}}},
    )  # fmt: skip
    client = client_of(model=str(fasttext), explainer_config=explainer, explainer_target_error=0.01,
                       explainer_estimator="gp")  # fmt: skip
    body = "\n".join('"' + t.replace('"', '""') + '"' for t in texts)
    answer = client.post(body, {"x-openclarify-details": "true"}).json()
    for i, entry in enumerate(answer["explanations"]["kernel_shap"]):
        assert entry[0]["attributions"] == offline[i]["explanations"][0]["attributions"], i
        assert all(list(a) == ["attribution", "stderr", "description"] for a in entry[0]["attributions"])
        assert max(max(a["stderr"]) for a in entry[0]["attributions"]) <= 0.01
    used = answer["openclarify"]["num_samples"]
    assert sum(used) / len(used) == summary["mean_num_samples"] and not any(answer["openclarify"]["exact"])


def test_the_command_line_refuses_the_estimator_flags_without_an_explainer(abalone, tmp_path, capsys):
    assert main(["serve", "--model", str(abalone / "model.joblib"), "--target-error", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "--target-error: explains nothing without --explainer-config; got --target-error 0.01." in err
    path = _explainer_file(tmp_path, {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "M,1,1,1,1,1,1,1"}}})
    args = ["proxy", "--upstream", "http://127.0.0.1:9", "--explainer-config", path, "--target-error", "0.01",
            "--shap-estimator", "kernel"]  # fmt: skip
    assert main(args) == 2
    assert "--target-error: needs --shap-estimator gp" in capsys.readouterr().err
