"""TransformerPredictor: a save_pretrained folder scoring texts, on torch and ONNX Runtime, and its errors.

One tiny BERT encoder and one classifier fine-tuned from it are built per module (about a second each);
tests that change a folder work on a copy.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from openclarify.cli import EXIT_MODEL, main
from openclarify.errors import ModelError
from openclarify.models import ModelOptions, TransformerPredictor, export_onnx, load_model
from openclarify.models._huggingface import read_classifier_config
from support.tiny_bert import NEGATIVE, POSITIVE, review_rows, tiny_classifier, tiny_encoder

LABELS = ("negative", "positive")
#: texts of many token counts, several sharing one, so that the same-length batches hold 1 to 6 texts
TEXTS = [text for text, _ in review_rows(40, seed=5)] + ["", "good", "bad bad bad", POSITIVE[0], NEGATIVE[1]]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return tiny_encoder(tmp_path_factory.mktemp("encoder") / "base")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, encoder):
    return tiny_classifier(tmp_path_factory.mktemp("classifier") / "model", encoder)


@pytest.fixture(scope="module")
def predictor(classifier):
    return load_model(classifier)


@pytest.fixture(scope="module")
def hf_direct(classifier):
    """The classifier's probabilities computed with transformers directly, one text at a time."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(classifier), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(classifier), local_files_only=True).eval()

    def score(texts: list[str], max_length: int = 128) -> np.ndarray:
        rows = []
        with torch.inference_mode():
            for text in texts:
                enc = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
                rows.append(torch.softmax(model(**enc).logits, dim=-1).double().numpy()[0])
        return np.array(rows)

    return score


def _frame(texts: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"Review Text": pd.Series(texts, dtype=object)})


def _copy(classifier: Path, target: Path) -> Path:
    shutil.copytree(classifier, target, ignore=shutil.ignore_patterns("onnx"))
    return target


def _edit_json(path: Path, **changes: object) -> None:
    value = json.loads(path.read_text())
    for key, new in changes.items():
        if new is None:
            value.pop(key, None)
        else:
            value[key] = new
    path.write_text(json.dumps(value))


# ---------------------------------------------------------------------------------------------------
# what it answers


def test_load_model_gives_a_predictor_with_the_sorted_labels(classifier, predictor):
    assert type(predictor) is TransformerPredictor
    assert predictor.label_headers == predictor.output_names == LABELS
    config = json.loads((classifier / "config.json").read_text())
    assert tuple(config["id2label"][str(i)] for i in range(2)) == LABELS
    assert predictor.max_length == 128  # openclarify-model.json's max_length
    facts = predictor.model_facts()
    assert {k: facts[k] for k in ("format", "architecture", "runtime", "device", "batch_size", "max_length")} == {
        "format": "huggingface",
        "architecture": "BertForSequenceClassification",
        "runtime": "torch",
        "device": "cpu",
        "batch_size": 8,  # the CPU default
        "max_length": 128,
    }


def test_probabilities_have_one_row_per_text_summing_to_one(predictor):
    scores = predictor.predict(_frame(TEXTS))
    assert scores.shape == (len(TEXTS), 2)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    assert np.all((scores > 0) & (scores < 1))
    # the fine-tuned model separates the labels: every training-like positive text scores "positive" higher
    labels = [label for _, label in review_rows(40, seed=5)]
    assert [LABELS[i] for i in scores[:40].argmax(axis=1)] == labels


def test_an_empty_frame_gives_zero_rows(predictor):
    before = predictor.texts_scored
    scores = predictor.predict(_frame([]))
    assert scores.shape == (0, 2) and scores.dtype == np.float64
    assert predictor.texts_scored == before


@pytest.mark.parametrize(
    "missing",
    [pytest.param(None, id="None"), pytest.param(float("nan"), id="nan"), pytest.param(pd.NA, id="pd.NA")],
)
def test_a_missing_value_scores_as_the_empty_text(predictor, missing):
    np.testing.assert_array_equal(predictor.predict(_frame([missing])), predictor.predict(_frame([""])))
    np.testing.assert_array_equal(
        predictor.predict(_frame(["good", missing, "bad"])), predictor.predict(_frame(["good", "", "bad"]))
    )


def test_a_non_string_value_scores_as_its_str(predictor):
    np.testing.assert_array_equal(predictor.predict(_frame([12.5])), predictor.predict(_frame(["12.5"])))


def test_the_scores_are_those_of_transformers_one_text_at_a_time(predictor, hf_direct):
    diff = np.abs(predictor.predict(_frame(TEXTS)) - hf_direct(TEXTS))
    assert diff.max() <= 1e-6


def _company(folder: Path, options: ModelOptions) -> None:
    model = load_model(folder, options=options)
    together = model.predict(_frame(TEXTS))
    # the same texts in one call give the same bits, in this predictor and in a fresh one
    np.testing.assert_array_equal(model.predict(_frame(TEXTS)), together)
    np.testing.assert_array_equal(load_model(folder, options=options).predict(_frame(TEXTS)), together)
    alone = np.vstack([model.predict(_frame([text])) for text in TEXTS])
    # every text runs in a batch of one fixed shape of its own: company changes no bit (module docstring)
    np.testing.assert_array_equal(together, alone)
    shuffled = list(reversed(TEXTS)) + TEXTS[:3]
    np.testing.assert_array_equal(model.predict(_frame(shuffled))[: len(TEXTS)], together[::-1])


@pytest.mark.parametrize(
    "batch_size", [pytest.param(1, id="batch-1"), pytest.param(3, id="batch-3"), pytest.param(64, id="batch-64")]
)
def test_a_texts_scores_do_not_depend_on_its_company_on_torch(classifier, batch_size):
    _company(classifier, ModelOptions(batch_size=batch_size))


@pytest.mark.parametrize("batch_size", [pytest.param(1, id="batch-1"), pytest.param(64, id="batch-64")])
def test_a_texts_scores_do_not_depend_on_its_company_on_onnx(onnx_folder, batch_size):
    _company(onnx_folder, ModelOptions(runtime="onnx", batch_size=batch_size))


# ---------------------------------------------------------------------------------------------------
# truncation and max_length


def test_texts_longer_than_max_length_are_cut_and_counted(classifier, tmp_path, hf_direct):
    folder = _copy(classifier, tmp_path / "m")
    _edit_json(folder / "openclarify-model.json", max_length=16)
    model = load_model(folder)
    assert model.max_length == 16 and model.model_facts()["max_length"] == 16
    long_text = POSITIVE[0] + " " + " ".join(NEGATIVE[:3])  # praise, then 30 tokens of complaints past the cut
    texts = [long_text, "good", POSITIVE[0] + " " + " ".join(NEGATIVE[3:])]
    ids, _, cut = model.tokenize(texts)
    assert cut == 2
    lengths = [len(x) for x in model.tokenizer(texts)["input_ids"]]
    assert min(lengths[0], lengths[2]) > 30 and lengths[1] < 16
    assert [len(x) for x in ids] == [16, lengths[1], 16]
    assert ids[0][-1] == model.tokenizer.sep_token_id and ids[0] == ids[2]  # the same 14 tokens, then [SEP]
    scores = model.predict(_frame(texts))
    assert model.model_facts()["texts_truncated"] == 2 and model.model_facts()["texts_scored"] == 3
    model.predict(_frame([long_text]))
    assert (model.texts_truncated, model.texts_scored) == (3, 4)
    assert np.abs(scores - hf_direct(texts, max_length=16)).max() <= 1e-6
    # what follows the cut is not read: two texts that differ only there score alike, unlike uncut
    assert np.abs(scores[0] - scores[2]).max() <= 1e-6
    full = hf_direct([texts[0], texts[2]])
    assert np.abs(full[0] - full[1]).max() > 1e-6


@pytest.mark.parametrize(
    ("metadata", "tokenizer_max", "expected"),
    [
        pytest.param({"max_length": 16}, 40, 16, id="recorded"),
        pytest.param(None, 40, 40, id="tokenizer-shorter"),
        pytest.param(None, 1000, 128, id="positions-shorter"),
        pytest.param(None, int(1e30), 128, id="tokenizer-unset"),  # transformers' VERY_LARGE_INTEGER
        pytest.param({"labels": ["negative", "positive"]}, 40, 40, id="recorded-without-max-length"),
    ],
)
def test_max_length_comes_from_the_metadata_else_the_model(classifier, tmp_path, metadata, tokenizer_max, expected):
    folder = _copy(classifier, tmp_path / "m")
    if metadata is None:
        (folder / "openclarify-model.json").unlink()
    else:
        (folder / "openclarify-model.json").write_text(json.dumps(metadata))
    _edit_json(folder / "tokenizer_config.json", model_max_length=tokenizer_max)
    assert read_classifier_config(folder).max_length == expected
    assert TransformerPredictor(folder).max_length == expected


# ---------------------------------------------------------------------------------------------------
# ONNX Runtime


@pytest.fixture(scope="module")
def onnx_folder(classifier, tmp_path_factory):
    return _copy(classifier, tmp_path_factory.mktemp("onnx") / "model")


def test_onnx_is_exported_once_and_agrees_with_torch(onnx_folder, predictor):
    target = onnx_folder / "onnx" / "model.onnx"
    model = load_model(onnx_folder, options=ModelOptions(runtime="onnx"))
    assert target.is_file()
    assert model.model_facts()["runtime"] == "onnx"
    exported = target.stat().st_mtime_ns
    again = load_model(onnx_folder, options=ModelOptions(runtime="onnx"))
    assert target.stat().st_mtime_ns == exported  # reused, not exported again
    assert export_onnx(onnx_folder) == target and target.stat().st_mtime_ns == exported
    scores = again.predict(_frame(TEXTS))
    diff = np.abs(scores - predictor.predict(_frame(TEXTS))).max()
    assert diff <= 1e-5  # measured about 1e-7: the same fp32 graph
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=0, atol=1e-6)


def test_new_weights_make_the_export_stale(classifier, tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = _copy(classifier, tmp_path / "m")
    target = folder / "onnx" / "model.onnx"
    old = load_model(folder, options=ModelOptions(runtime="onnx")).predict(_frame(TEXTS))
    stamp = json.loads((folder / "onnx" / "openclarify-onnx.json").read_text())
    weights = load_file(folder / "model.safetensors")
    weights["classifier.bias"] = weights["classifier.bias"] + np.array([1.0, -1.0], dtype=np.float32)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    os.utime(target, ns=(0, 0))  # an old export: a new one cannot share its mtime
    new = load_model(folder, options=ModelOptions(runtime="onnx")).predict(_frame(TEXTS))
    assert target.stat().st_mtime_ns > 0
    assert (
        json.loads((folder / "onnx" / "openclarify-onnx.json").read_text())["weights_sha256"] != stamp["weights_sha256"]
    )
    assert np.abs(new - load_model(folder).predict(_frame(TEXTS))).max() <= 1e-5
    assert np.all(new[:, 0] > old[:, 0])  # the bias moved towards "negative"


# ---------------------------------------------------------------------------------------------------
# pickling, devices


def test_a_pickled_predictor_predicts_the_same_bits(predictor):
    copy = pickle.loads(pickle.dumps(predictor))
    assert type(copy) is TransformerPredictor and copy is not predictor
    assert (copy.folder, copy.options, copy.labels) == (predictor.folder, predictor.options, predictor.labels)
    for text in TEXTS[:8]:
        np.testing.assert_array_equal(copy.predict(_frame([text])), predictor.predict(_frame([text])))


def test_batch_size_option_is_used(classifier):
    model = load_model(classifier, options=ModelOptions(batch_size=3))
    assert model.batch_size == 3 and model.model_facts()["batch_size"] == 3


@pytest.mark.parametrize(
    ("env", "device", "error"),
    [
        pytest.param("cpu", None, None, id="env-cpu"),
        pytest.param("", None, None, id="env-empty"),
        pytest.param("cuda", "cpu", None, id="option-wins"),
        pytest.param(None, "cuda", r"^--device cuda: torch sees no CUDA device here\. Use --device cpu", id="cuda"),
        pytest.param("cuda", None, r"^--device cuda: torch sees no CUDA device", id="env-cuda"),
        pytest.param("gpu", None, r"^--device: must be 'cpu' or 'cuda'; got 'gpu'\.$", id="env-unknown"),
    ],
)
def test_the_device(classifier, monkeypatch, env, device, error):
    import torch

    if torch.cuda.is_available():
        pytest.skip("torch sees a CUDA device here")
    if env is None:
        monkeypatch.delenv("OPENCLARIFY_DEVICE", raising=False)
    else:
        monkeypatch.setenv("OPENCLARIFY_DEVICE", env)
    if error is None:
        model = load_model(classifier, options=ModelOptions(device=device))
        assert model.device == "cpu" and model.model_facts()["device"] == "cpu"
    else:
        with pytest.raises(ModelError, match=error):
            load_model(classifier, options=ModelOptions(device=device))


# ---------------------------------------------------------------------------------------------------
# errors


def _config(**changes: object):
    return lambda folder: _edit_json(folder / "config.json", **changes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            "encoder",
            r"config\.json describes a 'BertModel', not a sequence classifier \(its 'architectures' name no "
            r"\.\.\.ForSequenceClassification\)\. Fine-tune one first: openclarify train --algorithm huggingface",
            id="bare-encoder",
        ),
        pytest.param(
            _config(architectures=None, model_type="bert"),
            r"describes a 'bert', not a sequence classifier",
            id="no-architectures",
        ),
        pytest.param(
            _config(architectures=["BertForMaskedLM"]), r"describes a 'BertForMaskedLM', not a sequence", id="mlm"
        ),
        pytest.param(
            lambda f: (f / "tokenizer.json").unlink(),
            r"the folder has no tokenizer \(none of tokenizer\.json, vocab\.txt\)\. Save the tokenizer",
            id="no-tokenizer",
        ),
        pytest.param(
            lambda f: (f / "model.safetensors").unlink(),
            r"the folder has config\.json but no weights \(none of model\.safetensors, pytorch_model\.bin\)",
            id="no-weights",
        ),
        pytest.param(lambda f: (f / "config.json").unlink(), r"the folder has no config\.json; got \[", id="no-config"),
        pytest.param(
            _config(id2label={"0": "negative", "2": "positive"}),
            r"id2label must map 0\.\.n-1 to names; got \{'0': 'negative', '2': 'positive'\}\.$",
            id="id2label-gap",
        ),
        pytest.param(
            _config(id2label={"a": "negative", "b": "positive"}),
            r"id2label must map 0\.\.n-1 to names",
            id="id2label-names",
        ),
        pytest.param(
            _config(id2label={"0": "same", "1": "same"}),
            r"id2label names a label twice; got \['same', 'same'\]\.$",
            id="id2label-twice",
        ),
        pytest.param(
            lambda f: (f / "config.json").write_text("{oops"), r"cannot read config\.json as JSON", id="config-json"
        ),
        pytest.param(
            lambda f: (f / "config.json").write_text("[1]"),
            r"config\.json must hold a JSON object; got list\.$",
            id="config-list",
        ),
        pytest.param(
            lambda f: _edit_json(f / "openclarify-model.json", max_length=1),
            r"openclarify-model\.json max_length must be an integer >= 2; got 1\.$",
            id="max-length-1",
        ),
        pytest.param(
            lambda f: _edit_json(f / "openclarify-model.json", max_length="64"),
            r"max_length must be an integer >= 2; got '64'\.$",
            id="max-length-str",
        ),
        pytest.param(
            lambda f: (f / "model.safetensors").write_bytes(b"not safetensors"),
            r"the model could not be loaded \(SafetensorError: ",
            id="corrupt-weights",
        ),
        pytest.param(
            lambda f: (f / "tokenizer.json").write_text("{oops"),
            r"the tokenizer could not be loaded \(JSONDecodeError: ",
            id="corrupt-tokenizer",
        ),
        pytest.param(
            _config(hidden_size=64),
            r"the model could not be loaded \(RuntimeError: ",
            id="weights-of-another-shape",
        ),
    ],
)
def test_a_broken_folder_is_one_line_model_error(classifier, encoder, tmp_path, change, message):
    if change == "encoder":
        folder = encoder
    else:
        folder = _copy(classifier, tmp_path / "m")
        change(folder)
    with pytest.raises(ModelError) as err:
        TransformerPredictor(folder)
    text = str(err.value)
    assert text.startswith(f"--model '{folder}': ")
    assert re.search(message, text), text
    assert "\n" not in text


def test_a_missing_folder(tmp_path):
    with pytest.raises(ModelError, match=r"^--model '.*nope': no such folder\. Give a Hugging Face model folder"):
        TransformerPredictor(tmp_path / "nope")


def test_the_seeds_layout_with_the_classifier_in_model(classifier, predictor, tmp_path):
    _copy(classifier, tmp_path / "job" / "model")
    model = load_model(tmp_path / "job")
    assert type(model) is TransformerPredictor
    assert model.folder == tmp_path / "job" / "model"
    np.testing.assert_array_equal(model.predict(_frame(["good"])), predictor.predict(_frame(["good"])))
    assert load_model(tmp_path / "job" / "model" / "config.json").folder == tmp_path / "job" / "model"


def test_two_text_columns_are_refused(predictor):
    with pytest.raises(ModelError, match=r"takes one text column; got 2 columns \['a', 'b'\]\. Pass a DataFrame"):
        predictor.predict(pd.DataFrame({"a": ["x"], "b": ["y"]}))


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param(ModelOptions(device="cpu"), "--device cpu", id="device"),
        pytest.param(ModelOptions(runtime="onnx"), "--runtime onnx", id="runtime"),
        pytest.param(ModelOptions(batch_size=8), "--model-batch-size 8", id="batch-size"),
    ],
)
def test_options_given_to_another_format_are_refused(tmp_path, options, named):
    joblib.dump(np.zeros(2), tmp_path / "m.joblib")  # refused before it is read
    with pytest.raises(ModelError, match=rf"^{named}: only Hugging Face models run on a device or runtime; got '"):
        load_model(tmp_path / "m.joblib", options=options)
    (tmp_path / "m.py").write_text("def f(df):\n    return df.iloc[:, 0]\n")
    with pytest.raises(ModelError, match=rf"^{named}: only Hugging Face models"):
        load_model(f"{tmp_path / 'm.py'}:f", options=options)
    scores = load_model(f"{tmp_path / 'm.py'}:f", options=ModelOptions()).predict(pd.DataFrame({"a": [2.0]}))
    np.testing.assert_array_equal(np.asarray(scores).ravel(), [2.0])  # the default options are no options


# ---------------------------------------------------------------------------------------------------
# openclarify analyze


@pytest.fixture
def job(tmp_path):
    (tmp_path / "reviews.csv").write_text('"I love it. Good fit!"\n"Bad.\n\nReally bad."\n')
    config = {
        "dataset_type": "text/csv",
        "headers": ["Review Text"],
        "predictor": {"model_name": "m", "instance_type": "ml.m5.xlarge", "initial_instance_count": 1},
        "methods": {
            "shap": {
                "baseline": [[""]],
                "num_samples": 10,
                "seed": 1,
                "text_config": {"granularity": "sentence", "language": "english"},
            }
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    return tmp_path


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        pytest.param("encoder", [], r"describes a 'BertModel', not a sequence classifier", id="bare-encoder"),
        pytest.param("no-weights", [], r"no weights", id="no-weights"),
        pytest.param("no-tokenizer", [], r"no tokenizer", id="no-tokenizer"),
        pytest.param("classifier", ["--device", "cuda"], r"--device cuda: torch sees no CUDA device", id="cuda"),
    ],
)
def test_analyze_exits_4_with_one_line_for_a_bad_model_folder(
    job, classifier, encoder, capsys, monkeypatch, model, extra, message
):
    import torch

    if torch.cuda.is_available() and model == "classifier":
        pytest.skip("torch sees a CUDA device here")
    monkeypatch.delenv("OPENCLARIFY_DEVICE", raising=False)
    folder = {"encoder": encoder, "classifier": classifier}.get(model)
    if folder is None:
        folder = _copy(classifier, job / "model")
        (folder / {"no-weights": "model.safetensors", "no-tokenizer": "tokenizer.json"}[model]).unlink()
    args = ["analyze", "--config", str(job / "cfg.json"), "--data", str(job / "reviews.csv"), "--output",
            str(job / "out"), "--model", str(folder), "--quiet", *extra]  # fmt: skip
    assert main(args) == EXIT_MODEL
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("openclarify: model error: ")
    assert re.search(message, err[0]), err[0]
    assert not (job / "out").exists()
