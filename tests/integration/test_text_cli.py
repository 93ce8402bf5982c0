"""`openclarify analyze` on text from the command line: a file.py:function model, options, exit codes."""

from __future__ import annotations

import json

import pytest

from openclarify.cli import EXIT_CONFIG, EXIT_DATA, main

MODEL = """
import numpy as np

WEIGHTS = {"good": 2.0, "love": 1.5, "bad": -1.75}


def score(frame):
    assert list(frame.columns) == ["Review Text"], list(frame.columns)
    s = np.array([sum(WEIGHTS.get(w.strip(".!,").lower(), 0.0) for w in t.split()) for t in frame["Review Text"]])
    return 1 / (1 + np.exp(-s))
"""


@pytest.fixture
def job(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "reviews.csv").write_text('"I love it. Good fit!"\n"Bad.\n\nReally bad."\n')
    config = {
        "dataset_type": "text/csv",
        "headers": ["Review Text"],
        "predictor": {"model_name": "m", "instance_type": "ml.m5.xlarge", "initial_instance_count": 1},
        "methods": {
            "shap": {
                "baseline": [["<UNK>"]],
                "num_samples": 100,
                "seed": 1,
                "save_local_shap_values": True,
                "text_config": {"granularity": "sentence", "language": "english"},
            }
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    return tmp_path


def _args(d, *extra):
    return ["analyze", "--config", str(d / "cfg.json"), "--data", str(d / "reviews.csv"), "--output",
            str(d / "out"), "--model", f"{d / 'model.py'}:score", "--quiet", *extra]  # fmt: skip


def _units(d):
    lines = (d / "out" / "explanations_shap" / "out.jsonl").read_text().splitlines()
    return [[a["description"]["partial_text"] for a in json.loads(x)["explanations"][0]["attributions"]] for x in lines]


def test_function_model_on_text_and_whitespace_modes(job):
    assert main(_args(job)) == 0
    assert _units(job) == [["I love it.", "Good fit!"], ["Bad.", "\n\nReally bad."]]  # Clarify's units
    assert main(_args(job, "--text-whitespace", "trim")) == 0
    assert _units(job) == [["I love it.", "Good fit!"], ["Bad.", "Really bad."]]
    section = json.loads((job / "out" / "analysis.json").read_text())["explanations"]["kernel_shap"]
    assert set(section["label0"]["global_top_shap_text"]["Review Text"]) == {
        "I love it.",
        "Good fit!",
        "Bad.",
        "Really bad.",
    }


def test_text_errors_exit_with_one_line(job, capsys):
    cfg = json.loads((job / "cfg.json").read_text())
    cfg["methods"]["shap"]["text_config"]["language"] = "klingon"
    (job / "cfg.json").write_text(json.dumps(cfg))
    assert main(_args(job)) == EXIT_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "methods.shap.text_config.language" in err[0] and "'klingon'" in err[0]
    cfg["methods"]["shap"]["text_config"]["language"] = "en"
    (job / "cfg.json").write_text(json.dumps(cfg))
    (job / "reviews.csv").write_bytes(b'"good"\n"caf\xe9"\n')
    assert main(_args(job)) == EXIT_DATA
    assert "line 2" in capsys.readouterr().err
    assert not (job / "out").exists()
    (job / "reviews.csv").write_text('"good"\n"bad"\n')
    assert main(_args(job, "--text-columns", "nope")) == EXIT_CONFIG
    assert "text_columns: not feature columns: ['nope']" in capsys.readouterr().err
