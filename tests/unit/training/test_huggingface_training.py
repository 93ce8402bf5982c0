"""train_transformer_classifier: reproducible weights, the output folder, hyperparameters, data errors, the CLI.

A tiny BERT encoder (tests/support/tiny_bert.py) is the base model: each fine-tuning takes about a second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from openclarify.cli import EXIT_CONFIG, EXIT_DATA, main
from openclarify.errors import ConfigError, DataError
from openclarify.models import TransformerPredictor, load_model
from openclarify.training import TransformerHyperparameters, base_model_folder, train_transformer_classifier
from support.tiny_bert import review_rows, tiny_encoder, write_reviews

LABELS = ("negative", "positive")
QUICK = TransformerHyperparameters(epochs=1, learning_rate=3e-3, train_batch_size=16)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return tiny_encoder(tmp_path_factory.mktemp("encoder") / "base")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    write_reviews(d / "train.csv", review_rows(300, seed=0))
    write_reviews(d / "validation.csv", review_rows(60, seed=1))
    write_reviews(d / "small.csv", review_rows(48, seed=2))
    return d


@pytest.fixture(scope="module")
def trained(tmp_path_factory, encoder, data):
    """The tiny encoder fine-tuned for 4 epochs on 300 rows: (result, output folder)."""
    out = tmp_path_factory.mktemp("trained") / "model"
    epochs: list[object] = []
    result = train_transformer_classifier(
        data / "train.csv",
        out,
        text_column="text",
        label_column="label",
        validation=data / "validation.csv",
        base_model=encoder,
        hyperparameters=TransformerHyperparameters(epochs=4, learning_rate=3e-3),
        on_epoch=epochs.append,
    )
    assert list(result.epochs) == epochs
    return result, out


def _train(data: Path, out: Path, encoder: Path, **kwargs: object):
    kwargs.setdefault("hyperparameters", QUICK)
    return train_transformer_classifier(
        kwargs.pop("train", data / "small.csv"),  # type: ignore[arg-type]
        out,
        text_column=kwargs.pop("text_column", "text"),  # type: ignore[arg-type]
        label_column=kwargs.pop("label_column", "label"),  # type: ignore[arg-type]
        base_model=kwargs.pop("base_model", encoder),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------------------------------
# reproducibility


def test_the_same_seed_gives_the_same_weights_byte_for_byte(data, encoder, tmp_path):
    first = _train(data, tmp_path / "a", encoder, seed=7)
    second = _train(data, tmp_path / "b", encoder, seed=7)
    other = _train(data, tmp_path / "c", encoder, seed=8)
    weights = {name: (tmp_path / name / "model.safetensors").read_bytes() for name in "abc"}
    assert weights["a"] == weights["b"]
    assert weights["a"] != weights["c"]
    assert [e.train_loss for e in first.epochs] == [e.train_loss for e in second.epochs]
    assert [e.train_loss for e in first.epochs] != [e.train_loss for e in other.epochs]
    assert first.steps == second.steps == 3  # 48 rows in batches of 16, one epoch


# ---------------------------------------------------------------------------------------------------
# the output folder


def test_the_folder_holds_a_sequence_classifier_with_the_datas_labels(trained, encoder):
    result, out = trained
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert "openclarify-model.json" in names
    assert not [n for n in names if n.startswith(".")]  # no staging folder left behind
    assert {p.name for p in result.files} == names
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert config["label2id"] == {"negative": 0, "positive": 1}
    assert config["problem_type"] == "single_label_classification"
    assert config["num_hidden_layers"] == 2
    assert result.labels == LABELS
    assert (result.n_train, result.n_validation, result.steps) == (300, 60, 4 * 19)  # ceil(300 / 16) a epoch


def test_the_metadata_records_labels_max_length_and_every_epoch(trained, encoder):
    result, out = trained
    meta = json.loads((out / "openclarify-model.json").read_text())
    counts = {"negative": 0, "positive": 0}
    for _, label in review_rows(300, seed=0):
        counts[label] += 1
    assert meta["format"] == "huggingface"
    assert meta["labels"] == list(LABELS)
    assert meta["max_length"] == 128
    assert meta["label_counts"] == counts
    assert (meta["text_column"], meta["label_column"], meta["base_model"]) == ("text", "label", str(encoder))
    assert (meta["seed"], meta["n_train"], meta["n_validation"]) == (0, 300, 60)
    assert meta["hyperparameters"] == TransformerHyperparameters(epochs=4, learning_rate=3e-3).to_dict()
    assert [e["epoch"] for e in meta["epochs"]] == [1, 2, 3, 4]
    assert meta["epochs"] == [
        {
            "epoch": e.epoch,
            "train_loss": e.train_loss,
            "validation_accuracy": e.validation_accuracy,
            "validation_balanced_accuracy": e.validation_balanced_accuracy,
        }
        for e in result.epochs
    ]
    for epoch in meta["epochs"]:
        assert 0 <= epoch["validation_accuracy"] <= 1 and 0 <= epoch["validation_balanced_accuracy"] <= 1


def test_the_folder_reloads_and_reproduces_the_last_epochs_accuracy(trained, data):
    import pandas as pd

    result, out = trained
    model = load_model(out)
    assert type(model) is TransformerPredictor
    assert model.label_headers == LABELS and model.max_length == 128
    validation = pd.read_csv(data / "validation.csv")
    predicted = np.asarray(LABELS)[model.predict(validation[["text"]]).argmax(axis=1)]
    truth = validation["label"].to_numpy()
    accuracy = float(np.mean(predicted == truth))
    balanced = float(np.mean([np.mean(predicted[truth == k] == k) for k in LABELS]))
    last = result.epochs[-1]
    assert accuracy == last.validation_accuracy
    assert balanced == last.validation_balanced_accuracy
    assert last.validation_balanced_accuracy == 1.0  # 4 epochs at 3e-3 separate the two kinds of review


def test_class_weights_balance_the_loss(data, encoder, tmp_path, monkeypatch):
    import torch

    made: list[object] = []
    real = torch.nn.CrossEntropyLoss

    def spy(*args, **kwargs):
        made.append(kwargs.get("weight"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", spy)
    rows = [(text, "positive") for text, _ in review_rows(40, seed=3)] + review_rows(8, seed=4)
    rows = [(text, label) for text, label in rows]
    n_negative = sum(label == "negative" for _, label in rows)
    assert 0 < n_negative < 8
    imbalanced = write_reviews(tmp_path / "imbalanced.csv", rows)
    results = {}
    for weights in ("balanced", "none"):
        hp = TransformerHyperparameters(epochs=1, learning_rate=3e-3, class_weights=weights)
        results[weights] = _train(data, tmp_path / weights, encoder, train=imbalanced, hyperparameters=hp)
    balanced, none = made
    assert none is None
    n = len(rows)
    expected = [n / (2 * n_negative), n / (2 * (n - n_negative))]
    np.testing.assert_allclose(balanced.numpy(), expected, rtol=1e-6)  # type: ignore[attr-defined]
    assert results["balanced"].epochs[0].train_loss != results["none"].epochs[0].train_loss
    assert (tmp_path / "balanced" / "model.safetensors").read_bytes() != (
        tmp_path / "none" / "model.safetensors"
    ).read_bytes()
    meta = json.loads((tmp_path / "none" / "openclarify-model.json").read_text())
    assert meta["hyperparameters"]["class_weights"] == "none"


def test_num_layers_keeps_the_first_layers(data, encoder, tmp_path):
    hp = TransformerHyperparameters(epochs=1, learning_rate=3e-3, num_layers=1, max_length=32)
    _train(data, tmp_path / "m", encoder, hyperparameters=hp)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["num_hidden_layers"] == 1
    model = load_model(tmp_path / "m")
    assert model.max_length == 32
    assert len(model._model.bert.encoder.layer) == 1
    np.testing.assert_allclose(model.predict(_texts(["good", "bad"])).sum(axis=1), 1.0, atol=1e-6)


def _texts(texts: list[str]):
    import pandas as pd

    return pd.DataFrame({"text": texts})


@pytest.mark.parametrize(
    ("hp", "path", "message"),
    [
        pytest.param(
            TransformerHyperparameters(num_layers=3),
            "hyperparameters.num_layers",
            r"^hyperparameters\.num_layers: must be at most the model's 2 layers; got 3\.$",
            id="num-layers",
        ),
        pytest.param(
            TransformerHyperparameters(max_length=129),
            "hyperparameters.max_length",
            r"^hyperparameters\.max_length: must be at most the model's 128 positions; got 129\.$",
            id="max-length",
        ),
    ],
)
def test_hyperparameters_beyond_the_model(data, encoder, tmp_path, hp, path, message):
    with pytest.raises(ConfigError, match=message) as err:
        _train(data, tmp_path / "m", encoder, hyperparameters=hp)
    assert err.value.path == path
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------------------------------------------
# hyperparameters


def test_hyperparameters_from_strings_as_sagemaker_passes_them():
    hp = TransformerHyperparameters.from_values(
        {
            "epochs": "2",
            "learning_rate": "5e-5",
            "warmup_steps": "None",
            "train_batch_size": "8",
            "weight_decay": "0",
            "max_length": "64",
            "class_weights": " Balanced ",
            "num_layers": "null",
            "model_name": "distilbert-base-uncased",  # the seed's --base-model: read by the caller
        }
    )
    assert hp == TransformerHyperparameters(
        epochs=2,
        learning_rate=5e-5,
        warmup_steps=None,
        train_batch_size=8,
        weight_decay=0.0,
        max_length=64,
        class_weights="balanced",
        num_layers=None,
    )
    assert TransformerHyperparameters.from_values({"epochs": 3, "warmup_steps": 0, "num_layers": 2.0}) == (
        TransformerHyperparameters(epochs=3, warmup_steps=0, num_layers=2)
    )
    assert TransformerHyperparameters.from_values({}) == TransformerHyperparameters()
    assert TransformerHyperparameters.from_values({"model_name_or_path": "x"}) == TransformerHyperparameters()


def test_every_bad_hyperparameter_is_listed_at_once():
    with pytest.raises(ConfigError) as err:
        TransformerHyperparameters.from_values(
            {
                "epochs": "two",
                "learning_rate": "0",
                "windowsize": "5",
                "warmup_steps": "-1",
                "class_weights": "some",
                "max_length": "4",
                "weight_decay": "nan",
                "train_batch_size": "",
                "eval_batch_size": True,
                "num_layers": 1.5,
            }
        )
    paths = [path for path, _ in err.value.errors]
    assert paths == [
        "hyperparameters.epochs",
        "hyperparameters.learning_rate",
        "hyperparameters.windowsize",
        "hyperparameters.warmup_steps",
        "hyperparameters.class_weights",
        "hyperparameters.max_length",
        "hyperparameters.weight_decay",
        "hyperparameters.train_batch_size",
        "hyperparameters.eval_batch_size",
        "hyperparameters.num_layers",
    ]
    messages = dict(err.value.errors)
    assert messages["hyperparameters.learning_rate"] == "must be a finite number > 0; got '0'."
    assert messages["hyperparameters.windowsize"].startswith("unknown hyperparameter; known: class_weights, ")
    assert messages["hyperparameters.warmup_steps"] == "must be an integer >= 0; got '-1'."
    assert messages["hyperparameters.class_weights"] == "must be 'balanced' or 'none'; got 'some'."
    assert messages["hyperparameters.max_length"] == "must be an integer >= 8; got '4'."
    assert messages["hyperparameters.weight_decay"] == "must be a number >= 0; got 'nan'."
    assert messages["hyperparameters.train_batch_size"] == "must have a value; got ''."
    assert messages["hyperparameters.eval_batch_size"] == "must be an integer; got True."
    assert messages["hyperparameters.num_layers"] == "must be an integer; got 1.5."
    assert str(err.value).startswith("10 problems in the hyperparameters:\n  - hyperparameters.epochs: ")


def test_class_weights_none_as_a_string():
    assert TransformerHyperparameters.from_values({"class_weights": "none"}).class_weights == "none"


def test_the_cli_trains_with_class_weights_none(data, encoder, tmp_path, capsys):
    args = [*_cli(data, tmp_path / "m"), "--base-model", str(encoder), "--class-weights", "none", "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "m" / "openclarify-model.json").read_text())
    assert meta["hyperparameters"]["class_weights"] == "none"


def test_the_constructor_validates_too():
    with pytest.raises(ConfigError, match=r"^hyperparameters\.epochs: must be an integer >= 1; got 0\.$"):
        TransformerHyperparameters(epochs=0)


# ---------------------------------------------------------------------------------------------------
# data errors


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("files", "kwargs", "message"),
    [
        pytest.param(
            {},
            {"text_column": "Review"},
            r"^--train '.*train\.csv': no column 'Review' \(--text-column\); got columns \['text', 'label'\]\. "
            r"Name one of them\.$",
            id="text-column",
        ),
        pytest.param(
            {},
            {"label_column": "Sentiment"},
            r"^--train '.*': no column 'Sentiment' \(--label-column\); got columns \['text', 'label'\]",
            id="label-column",
        ),
        pytest.param(
            {"train.csv": "text,label\ngood,positive\nbad,\nfine,\nugly,negative\n"},
            {},
            r"^--train '.*' row 3: the label column 'label' is empty \(2 rows in all\)\. Drop or label those rows\.$",
            id="empty-label",
        ),
        pytest.param(
            {"train.csv": "text,label\ngood,positive\nfine,positive\n"},
            {},
            r"^--train '.*': the label column 'label' has one value, 'positive'; a classifier needs at least two\.$",
            id="one-label",
        ),
        pytest.param({"train.csv": "text,label\n"}, {}, r"^--train '.*train\.csv': no rows\.$", id="no-rows"),
        pytest.param(
            {"validation.csv": "text,label\ngood,positive\nmeh,neutral\nso-so,mixed\n"},
            {"validation": "validation.csv"},
            r"^--validation '.*validation\.csv': labels \['mixed', 'neutral'\] are not in the training file's "
            r"\['negative', 'positive'\]\.$",
            id="validation-labels",
        ),
        pytest.param(
            {"validation.csv": "review,label\ngood,positive\n"},
            {"validation": "validation.csv"},
            r"^--validation '.*': no column 'text' \(--text-column\); got columns \['review', 'label'\]",
            id="validation-column",
        ),
        pytest.param({}, {"train": "nope.csv"}, r"^--train '.*nope\.csv': file not found\.$", id="train-missing"),
        pytest.param(
            {}, {"validation": "nope.csv"}, r"^--validation '.*nope\.csv': file not found\.$", id="validation-missing"
        ),
    ],
)
def test_data_errors_are_one_line(data, encoder, tmp_path, files, kwargs, message):
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.csv").write_bytes((data / "small.csv").read_bytes())
    for name, text in files.items():
        _csv(work / name, text)
    for key in ("train", "validation"):
        if key in kwargs:
            kwargs[key] = work / kwargs[key]
    kwargs.setdefault("train", work / "train.csv")
    with pytest.raises(DataError, match=message) as err:
        _train(data, tmp_path / "m", encoder, **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "m").exists()


def test_a_label_of_spaces_is_empty(data, encoder, tmp_path):
    train = _csv(tmp_path / "train.csv", "text,label\ngood,positive\nbad,negative\nfine,   \n")
    with pytest.raises(DataError, match=r"row 4: the label column 'label' is empty"):
        _train(data, tmp_path / "m", encoder, train=train)


# ---------------------------------------------------------------------------------------------------
# base models


def test_the_bundled_minilm_name_resolves_to_a_folder():
    folder = base_model_folder("minilm")
    assert folder.is_dir()
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert config["num_hidden_layers"] == 6 and config["hidden_size"] == 384
    assert (folder / "tokenizer.json").is_file()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "nosuch", r"^--base-model: no such model name or folder; got 'nosuch'\. Give one of: minilm", id="name"
        ),
        pytest.param("{empty}", r"^--base-model: the folder has no config\.json; got '.*empty'\.", id="empty-folder"),
    ],
)
def test_an_unknown_base_model(tmp_path, spec, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=message) as err:
        base_model_folder(spec.format(empty=tmp_path / "empty"))
    assert err.value.path == "--base-model"


def test_a_folder_path_is_its_own_base_model(encoder):
    assert base_model_folder(encoder) == encoder
    assert base_model_folder(str(encoder / "config.json").removesuffix("/config.json")) == encoder


# ---------------------------------------------------------------------------------------------------
# openclarify train --algorithm huggingface


def _cli(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--algorithm", "huggingface", "--train", str(data / "small.csv"), "--output", str(out),
            "--text-column", "text", "--label-column", "label", *extra]  # fmt: skip


def test_the_cli_trains_prints_each_epoch_and_what_it_wrote(data, encoder, tmp_path, capsys):
    args = _cli(data, tmp_path / "m", "--validation", str(data / "validation.csv"), "--base-model", str(encoder),
                "--epochs", "2", "--learning-rate", "3e-3", "--max-length", "64", "--seed", "3")  # fmt: skip
    assert main(args) == 0
    out, err = capsys.readouterr()
    epochs = re.findall(r"^epoch (\d): mean training loss \d\.\d{4}, validation accuracy \d\.\d{4}, "
                        r"balanced accuracy \d\.\d{4}$", out + err, flags=re.M)  # fmt: skip
    assert epochs == ["1", "2"]
    assert re.search(rf"^wrote {re.escape(str(tmp_path / 'm'))}: .*config\.json.*model\.safetensors.*"
                     r"\(2 labels \['negative', 'positive'\]; 6 steps on 48 texts; ", err, flags=re.M), err  # fmt: skip
    meta = json.loads((tmp_path / "m" / "openclarify-model.json").read_text())
    assert meta["hyperparameters"] == TransformerHyperparameters(epochs=2, learning_rate=3e-3, max_length=64).to_dict()
    assert meta["seed"] == 3 and meta["base_model"] == str(encoder)


def test_the_cli_prints_nothing_on_stdout(data, encoder, tmp_path, capsys):
    args = _cli(data, tmp_path / "m", "--base-model", str(encoder), "--epochs", "1")
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert re.search(r"^epoch 1: mean training loss \d\.\d{4}$", err, flags=re.M), (out, err)
    assert out == ""


def test_the_cli_reads_the_seeds_hyperparameters_file(data, encoder, tmp_path, capsys):
    hp = {"model_name": str(encoder), "epochs": "1", "learning_rate": "3e-3", "warmup_steps": "None"}
    (tmp_path / "hp.json").write_text(json.dumps(hp))
    args = _cli(data, tmp_path / "m", "--hyperparameters", str(tmp_path / "hp.json"), "--train-batch-size", "24",
                "--quiet")  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().err == ""
    meta = json.loads((tmp_path / "m" / "openclarify-model.json").read_text())
    assert meta["base_model"] == str(encoder)  # model_name names the base model
    assert meta["hyperparameters"]["train_batch_size"] == 24  # the option overrides the file
    assert meta["hyperparameters"]["epochs"] == 1 and len(meta["epochs"]) == 1


@pytest.mark.parametrize(
    ("extra", "drop", "code", "message"),
    [
        pytest.param(
            ["--min-count", "2"], (), 2, r"--min-count: not an option of --algorithm huggingface", id="min-count"
        ),
        pytest.param(
            ["--early-stopping"], (), 2, r"--early-stopping: not an option of --algorithm huggingface", id="early"
        ),
        pytest.param(
            ["--text-normalization", "lower-tokenize"],
            (),
            2,
            r"--text-normalization: not an option of --algorithm huggingface",
            id="normalization",
        ),
        pytest.param(
            [], ("--text-column",), 2, r"--algorithm huggingface needs --text-column: the CSV columns", id="no-text"
        ),
        pytest.param(
            [],
            ("--text-column", "--label-column"),
            2,
            r"needs --text-column and --label-column",
            id="no-columns",
        ),
        pytest.param(
            ["--base-model", "nosuch"],
            (),
            EXIT_CONFIG,
            r"^openclarify: config error: --base-model: no such model name or folder; got 'nosuch'",
            id="base-model",
        ),
        pytest.param(
            ["--num-layers", "5"],
            (),
            EXIT_CONFIG,
            r"^openclarify: config error: hyperparameters\.num_layers: must be at most the model's 2 layers",
            id="num-layers",
        ),
        pytest.param(
            ["--label-column", "Sentiment"],
            ("--label-column",),
            EXIT_DATA,
            r"^openclarify: data error: --train '.*': no column 'Sentiment' \(--label-column\)",
            id="label-column",
        ),
    ],
)
def test_cli_errors(data, encoder, tmp_path, capsys, extra, drop, code, message):
    args = _cli(data, tmp_path / "m")
    for option in drop:
        at = args.index(option)
        del args[at : at + 2]
    if "--base-model" not in extra:
        args += ["--base-model", str(encoder)]
    assert main([*args, *extra]) == code
    err = capsys.readouterr().err
    assert re.search(message, err, flags=re.M), err
    if code != 2:  # usage errors add click's usage lines
        assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m").exists()
