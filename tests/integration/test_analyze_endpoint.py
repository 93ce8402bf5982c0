"""`openclarify analyze --endpoint-url`: the same files as the in-process run, through a real loopback
server that drops connections, hangs and answers 500; failing records stop the job or are listed."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from openclarify.cli import EXIT_CONFIG, EXIT_MODEL, main
from support.fault_server import Faults, FaultServer, labelled_scores

MODEL = """
import numpy as np


def tabular(df):
    x = df[["a", "b", "c"]].to_numpy(dtype=float)
    z = np.tanh(x[:, 0] * x[:, 1]) + 0.5 * x[:, 2] ** 2 - x[:, 0]
    p = 1 / (1 + np.exp(-z))
    return np.stack([1 - p, p], axis=1)


WEIGHTS = {"good": 1.5, "bad": -2.0, "fit": 0.5}


def text(df):
    s = np.array([sum(WEIGHTS.get(w.strip('.,!"').lower(), 0.0) for w in t.split()) for t in df["review"]])
    p = 1 / (1 + np.exp(-s))
    return np.stack([1 - p, p], axis=1)
"""


def _module(path):
    spec = importlib.util.spec_from_file_location("endpoint_test_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def work(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "c": rng.normal(size=40)}).to_csv(
        tmp_path / "tab.csv", index=False
    )
    reviews = ['Good fit, "really" good!', "bad,\nbad\nand bad", "  ok  ", "Good. Bad fit."] * 3
    pd.DataFrame({"review": reviews}).to_csv(tmp_path / "text.csv", index=False, header=False)
    predictor = {"content_type": "text/csv", "accept_type": "text/csv", "endpoint_name": "my-endpoint"}
    tab = {
        "dataset_type": "text/csv",
        "predictor": predictor,
        "methods": {"shap": {"baseline": [[0, 0, 0]], "num_samples": 5, "seed": 2, "save_local_shap_values": True}},
    }
    text = {
        "dataset_type": "text/csv",
        "headers": ["review"],
        "predictor": predictor,
        "methods": {
            "shap": {
                "baseline": [["<UNK>"]],
                "num_samples": 40,
                "seed": 2,
                "save_local_shap_values": True,
                "text_config": {"granularity": "token", "language": "en"},
            }
        },
    }
    (tmp_path / "tab.json").write_text(json.dumps(tab))
    (tmp_path / "text.json").write_text(json.dumps(text))
    return tmp_path


def _run(work, kind, out, *model_args):
    args = ["analyze", "--config", str(work / f"{kind}.json"), "--data", str(work / f"{kind}.csv")]
    return main([*args, "--output", str(work / out), "--quiet", "--max-batch-rows", "64", *model_args])


def _files(root):
    # every file but the run's facts (time, and the model named by path or URL) and the reports showing them
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "run_summary.json" and not p.name.startswith(("report.", "."))
    }


@pytest.mark.parametrize(("kind", "text_columns"), [("tab", ()), ("text", ("review",))])
def test_same_files_as_in_process_despite_faults(work, kind, text_columns):
    module = _module(work / "model.py")
    assert _run(work, kind, "local", "--model", f"{work / 'model.py'}:{'tabular' if kind == 'tab' else 'text'}") == 0
    faults = Faults(every=2, min_records=2, drop_first=1, error_first=1)
    score = module.tabular if kind == "tab" else module.text
    names = ["a", "b", "c"] if kind == "tab" else ["review"]
    with FaultServer(score, feature_names=names, text_columns=text_columns, faults=faults) as server:
        assert _run(work, kind, "remote", "--endpoint-url", server.url) == 0
    assert _files(work / "remote") == _files(work / "local")


@pytest.mark.filterwarnings("default::openclarify.OpenClarifyWarning")  # shown on stderr by the CLI
def test_a_record_that_always_fails_stops_or_is_listed(work, capsys):
    module = _module(work / "model.py")
    frame = pd.read_csv(work / "tab.csv")
    frame.loc[7, "a"] = 123.25  # the server fails every request holding this value
    frame.to_csv(work / "tab.csv", index=False)
    with FaultServer(module.tabular, feature_names=["a", "b", "c"], faults=Faults(poison="123.25")) as server:
        assert _run(work, "tab", "stop", "--endpoint-url", server.url) == EXIT_MODEL
        err = capsys.readouterr().err
        assert "model error" in err and "fails on it alone" in err
        assert not (work / "stop").exists()
        code = _run(work, "tab", "go", "--endpoint-url", server.url, "--on-record-failure", "continue")
    assert code == 0
    assert "1 of 40 records could not be explained" in capsys.readouterr().err
    analysis = json.loads((work / "go" / "analysis.json").read_text())
    assert analysis["failed_records"] == {"count": 1, "rows": [7]}
    local = pd.read_csv(work / "go" / "explanations_shap" / "out.csv")
    assert local.iloc[7].isna().all() and not local.drop(index=7).isna().any().any()


def test_no_model_at_all_is_a_usage_error(work, capsys):
    cfg = json.loads((work / "tab.json").read_text())
    del cfg["predictor"]["endpoint_name"]
    (work / "tab.json").write_text(json.dumps(cfg))
    assert _run(work, "tab", "none") == 2
    assert "no model: give --model" in capsys.readouterr().err


def _predictor(work, kind, **settings):
    cfg = json.loads((work / f"{kind}.json").read_text())
    cfg["predictor"].update(settings)
    (work / f"{kind}.json").write_text(json.dumps(cfg))


def _score(work, kind):
    module = _module(work / "model.py")
    return (module.tabular, ["a", "b", "c"], ()) if kind == "tab" else (module.text, ["review"], ("review",))


@pytest.mark.parametrize("kind", ["tab", "text"])
def test_labels_ordered_by_probability_give_the_same_files_as_in_process(work, kind):
    # BlazingText's hosting lists each record's labels most probable first; label_headers name the model's
    # outputs [1 - p, p], so the in-process run and the endpoint run name and order them the same.
    _predictor(
        work, kind, accept_type="application/jsonlines", label="label", probability="prob", label_headers=["neg", "pos"]
    )
    assert _run(work, kind, "local", "--model", f"{work / 'model.py'}:{'tabular' if kind == 'tab' else 'text'}") == 0
    score, names, text_columns = _score(work, kind)
    encode = labelled_scores(["__label__neg", "__label__pos"], order="probability")
    with FaultServer(score, feature_names=names, text_columns=text_columns, encode=encode) as server:
        assert _run(work, kind, "remote", "--endpoint-url", server.url) == 0
    assert _files(work / "remote") == _files(work / "local")


def test_top_k_labels_stop_the_job(work, capsys):
    _predictor(work, "tab", accept_type="application/jsonlines", label="label", probability="prob")
    score, names, _ = _score(work, "tab")
    with FaultServer(score, feature_names=names, encode=labelled_scores(["neg", "pos"], top_k=1)) as server:
        assert _run(work, "tab", "remote", "--endpoint-url", server.url) == EXIT_MODEL
    err = capsys.readouterr().err
    assert "model error" in err and "of the first answer; got ['" in err and "only its top k labels" in err
    assert not (work / "remote").exists()


def test_answers_cut_short_once_give_the_same_files_as_a_clean_run(work):
    score, names, _ = _score(work, "tab")
    with FaultServer(score, feature_names=names, line_end="\n") as server:
        assert _run(work, "tab", "clean", "--endpoint-url", server.url) == 0
    # every answer is first cut short by 2 bytes (its line break and a digit): it still parses
    faults = Faults(every=1, truncate_first=1, truncate_bytes=2)
    with FaultServer(score, feature_names=names, faults=faults, line_end="\n") as server:
        assert _run(work, "tab", "cut", "--endpoint-url", server.url) == 0
        assert server.seen.actions["truncate"] > 1
    assert _files(work / "cut") == _files(work / "clean")


def test_endpoint_name_without_an_aws_region_is_a_config_error(work, capsys, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = work / "aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    assert _run(work, "tab", "aws") == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "predictor.endpoint_name: no AWS region to find the SageMaker endpoint in; got 'my-endpoint'" in err
    assert "Set AWS_REGION or AWS_DEFAULT_REGION" in err and "--endpoint-url" in err
    assert "unexpected" not in err
