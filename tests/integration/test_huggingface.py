"""A Hugging Face transformer end to end: `openclarify train --algorithm huggingface` fine-tunes a real BERT
(a tiny one built from nothing, so the test fits CI's budget), the folder reloads offline, `openclarify
serve` serves it on a loopback socket, and `openclarify analyze` explains it at sentence and token
granularity, in process and through the server, with the same files byte for byte; the sentence values
are the exact Shapley values of brute-force enumeration."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openclarify.cli import main
from openclarify.models import TransformerPredictor, load_model
from openclarify.serving import ServeConfig, background_server, create_app
from openclarify.text import TextMasker, segment
from support.served import job_files, wait_until_ready
from support.shapley import all_coalitions, shapley_from_values
from support.tiny_bert import review_rows, tiny_encoder

pytestmark = pytest.mark.integration

TEXT, LABEL = "Review Text", "Sentiment"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny BERT fine-tuned through the CLI on 300 review-like rows: (work folder, model folder)."""
    work = tmp_path_factory.mktemp("hf")
    base = tiny_encoder(work / "base")
    pd.DataFrame(review_rows(300, seed=0), columns=[TEXT, LABEL]).to_csv(work / "train.csv", index=False)
    pd.DataFrame(review_rows(60, seed=1), columns=[TEXT, LABEL]).to_csv(work / "val.csv", index=False)
    args = ["train", "--algorithm", "huggingface", "--train", str(work / "train.csv"), "--validation",
            str(work / "val.csv"), "--text-column", TEXT, "--label-column", LABEL, "--base-model", str(base),
            "--epochs", "4", "--learning-rate", "3e-3", "--output", str(work / "model"), "--quiet"]  # fmt: skip
    assert main(args) == 0
    return work, work / "model"


def _config(work: Path, granularity: str, num_samples: int, **predictor: object) -> None:
    config = {
        "dataset_type": "text/csv",
        "headers": [LABEL, TEXT],
        "label": LABEL,
        "predictor": {
            "content_type": "text/csv",
            "accept_type": "application/jsonlines",
            "label": "label",
            "probability": "prob",
            **predictor,
        },  # fmt: skip
        "methods": {
            "shap": {
                "baseline": [["<UNK>"]],
                "num_samples": num_samples,
                "seed": 7,
                "save_local_shap_values": True,
                "text_config": {"granularity": granularity, "language": "english"},
            }
        },
    }
    (work / "cfg.json").write_text(json.dumps(config))


def _analyze(work: Path, out: str, *model: str) -> int:
    args = ["analyze", "--config", str(work / "cfg.json"), "--data", str(work / "test.csv")]
    return main([*args, "--output", str(work / out), "--quiet", "--overwrite", *model])


def _test_rows(work: Path, n: int = 6) -> pd.DataFrame:
    rows = [r for r in review_rows(80, seed=2) if r[0].count(".") >= 2][:n]
    frame = pd.DataFrame(rows, columns=[TEXT, LABEL])[[LABEL, TEXT]]
    frame.to_csv(work / "test.csv", index=False)
    return frame


def test_trained_folder_reloads_offline_and_ranks_the_labels(trained):
    work, model_dir = trained
    meta = json.loads((model_dir / "openclarify-model.json").read_text())
    assert meta["labels"] == ["negative", "positive"] and meta["max_length"] == 128
    assert meta["epochs"][-1]["validation_balanced_accuracy"] == 1.0  # the two kinds of sentence are learnt
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    predictor = load_model(model_dir)
    assert isinstance(predictor, TransformerPredictor)
    scores = predictor.predict(pd.DataFrame({TEXT: ["I love this dress.", "It ripped after one wash."]}))
    assert scores[0, 1] > 0.5 > scores[1, 1]


def test_sentence_explanations_in_process_and_through_the_server_are_the_samejob_files(trained):
    work, model_dir = trained
    _test_rows(work)
    _config(work, "sentence", 1000)
    assert _analyze(work, "local", "--model", str(model_dir)) == 0
    with background_server(create_app(ServeConfig(model=str(model_dir)))) as url:
        wait_until_ready(url)
        assert _analyze(work, "remote", "--endpoint-url", url) == 0
    local = job_files(work / "local")
    assert job_files(work / "remote") == local
    summary = json.loads((work / "local" / "run_summary.json").read_text())
    facts = summary["model_facts"]
    assert (facts["format"], facts["runtime"], facts["device"], facts["max_length"]) == (
        "huggingface",
        "torch",
        "cpu",
        128,
    )
    assert facts["texts_truncated"] == 0
    assert facts["texts_scored"] == summary["model_rows"] + summary["n_baseline_rows"]  # the baseline is scored once


def test_sentence_values_are_the_exact_shapley_values(trained):
    """Every review has at most 3 sentences: Kernel SHAP enumerates, and must equal brute force."""
    work, model_dir = trained
    frame = _test_rows(work)
    _config(work, "sentence", 1000)
    assert _analyze(work, "exact", "--model", str(model_dir)) == 0
    lines = (work / "exact" / "explanations_shap" / "out.jsonl").read_text().splitlines()
    predictor = load_model(model_dir)
    for text, line in zip(frame[TEXT], lines, strict=True):
        got = json.loads(line)["explanations"][0]["attributions"]
        units = segment(text, "sentence", "en")
        masker = TextMasker(text, units, "<UNK>")
        m = len(units)
        coalitions = all_coalitions(m)
        values = predictor.predict(pd.DataFrame({TEXT: masker.mask(coalitions)}))
        phi = shapley_from_values(coalitions, values)
        for i in range(m):
            assert got[i]["description"]["partial_text"] == text[units[i].start : units[i].end]
            np.testing.assert_allclose(got[i]["attribution"], phi[i], rtol=0, atol=1e-9)
        full = values[-1] - values[0]  # all sentences minus none
        # efficiency: a text's scores do not depend on its batch, so the job's f(x) and base are these
        np.testing.assert_allclose(np.sum([a["attribution"] for a in got], axis=0), full, rtol=0, atol=1e-9)


def test_token_granularity_explains_words_not_wordpieces(trained):
    work, model_dir = trained
    frame = _test_rows(work, 2)
    _config(work, "token", 64)
    assert _analyze(work, "tokens", "--model", str(model_dir)) == 0
    first = json.loads((work / "tokens" / "explanations_shap" / "out.jsonl").read_text().splitlines()[0])
    units = [a["description"]["partial_text"] for a in first["explanations"][0]["attributions"]]
    assert units == [frame[TEXT][0][s.start : s.end] for s in segment(frame[TEXT][0], "token", "en")]
    assert not any(u.startswith("##") for u in units)


def test_long_texts_are_cut_with_a_warning_counting_them(trained, capsys):
    work, model_dir = trained
    long_text = " ".join(["The fabric is cheap and it ripped after one wash."] * 30)  # ~330 tokens
    pd.DataFrame({LABEL: ["negative"], TEXT: [long_text]}).to_csv(work / "test.csv", index=False)
    _config(work, "paragraph", 10)
    args = ["analyze", "--config", str(work / "cfg.json"), "--data", str(work / "test.csv"), "--output",
            str(work / "long"), "--overwrite", "--model", str(model_dir)]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    facts = json.loads((work / "long" / "run_summary.json").read_text())["model_facts"]
    assert facts["texts_truncated"] == 1  # the text itself; "<UNK>" alone is short
    assert f"warning: 1 of the {facts['texts_scored']} texts the model scored" in err
    assert "max length of 128 tokens" in err


def test_server_answers_the_seed_and_the_toolkit_contracts(trained):
    work, model_dir = trained
    texts = ["I love this dress.", "It ripped, sadly."]
    expected = load_model(model_dir).predict(pd.DataFrame({TEXT: texts}))

    def post(url: str, body: bytes, content_type: str, accept: str) -> str:
        request = urllib.request.Request(
            url + "/invocations", data=body, headers={"Content-Type": content_type, "Accept": accept}
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.read().decode()

    csv_body = b'I love this dress.\n"It ripped, sadly."\n'  # the seed's headerless CSV, one review a row
    with background_server(create_app(ServeConfig(model=str(model_dir)))) as url:
        wait_until_ready(url)
        rows = [list(map(float, line.split(","))) for line in post(url, csv_body, "text/csv", "text/csv").splitlines()]
        np.testing.assert_array_equal(rows, expected)
        toolkit = json.loads(
            post(url, json.dumps({"inputs": texts[0]}).encode(), "application/json", "application/json")
        )
        assert toolkit == [{"label": "positive", "score": expected[0, 1]}]
        everything = json.loads(
            post(url, json.dumps({"inputs": texts, "parameters": {"top_k": None}}).encode(), "application/json", "*/*")
        )
        assert [[e["label"] for e in entries] for entries in everything] == [
            ["positive", "negative"],
            ["negative", "positive"],
        ]
        assert everything[1][0]["score"] == expected[1, 0]
    with background_server(create_app(ServeConfig(model=str(model_dir), positive_only=True))) as url:
        wait_until_ready(url)
        assert post(url, csv_body, "text/csv", "text/csv") == f"{float(expected[0, 1])!r}\n{float(expected[1, 1])!r}\n"


def test_one_predictor_scores_from_many_threads_at_once(trained):
    """serve --threads and analyze --threads share one predictor: concurrent calls give the same bits."""
    from concurrent.futures import ThreadPoolExecutor

    work, model_dir = trained
    predictor = load_model(model_dir)
    batches = [pd.DataFrame({TEXT: [t for t, _ in review_rows(40, seed=s)]}) for s in range(8)]
    alone = [predictor.predict(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(predictor.predict, batches * 3))
    for got, want in zip(together, alone * 3, strict=True):
        np.testing.assert_array_equal(got, want)
