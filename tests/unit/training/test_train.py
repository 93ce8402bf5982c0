"""train_text_classifier: BlazingText hyperparameters, early stopping, reproducibility, output files."""

from __future__ import annotations

import json
import os

import fasttext
import numpy as np
import pytest

from openclarify.errors import ConfigError, DataError, OutputError
from openclarify.models import FastTextPredictor
from openclarify.training import BlazingTextHyperparameters, train_text_classifier
from openclarify.training import _fasttext as training_module

VOCAB = {
    "Sports": ["goal", "match", "team", "score", "league", "coach", "season"],
    "Music": ["song", "album", "band", "guitar", "tour", "singer", "record"],
    "Food": ["pizza", "bread", "cheese", "recipe", "oven", "sauce", "flour"],
}
SHARED = ["the", "a", "new", "big", "old", "of", "in", "and"]
# small models: the tests train many
SMALL = {"vector_dim": "8", "buckets": "5000", "min_count": "1", "learning_rate": "0.1"}


def write_lines(path, n, seed, *, noise=0.0, upper=False):
    rng = np.random.default_rng(seed)
    labels = list(VOCAB)
    with path.open("w") as f:
        for _ in range(n):
            label = labels[rng.integers(len(labels))]
            topic = label if rng.random() >= noise else labels[rng.integers(len(labels))]
            words = list(rng.choice(VOCAB[topic], 3)) + list(rng.choice(SHARED, 3))
            rng.shuffle(words)
            text = " ".join(words)
            if upper:
                text = text.title() + "!"
            f.write(f"__label__{label} {text}\n")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    return write_lines(d / "train.txt", 400, seed=0, noise=0.2), write_lines(d / "valid.txt", 150, seed=1, noise=0.2)


def train(data, out, **kwargs):
    hp = {**SMALL, **kwargs.pop("hp", {})}
    kwargs.setdefault("threads", 1)
    return train_text_classifier(data[0], out, validation=data[1], hyperparameters=hp, **kwargs)


# --- hyperparameters --------------------------------------------------------------------------------


def test_blazingtext_defaults():
    hp = BlazingTextHyperparameters()
    assert hp.to_strings() == {
        "mode": "supervised",
        "epochs": "5",
        "learning_rate": "0.05",
        "min_count": "5",
        "vector_dim": "100",
        "word_ngrams": "2",
        "buckets": "2000000",
        "early_stopping": "False",
        "patience": "4",
        "min_epochs": "5",
    }
    assert BlazingTextHyperparameters.from_strings(hp.to_strings()) == hp


def test_strings_as_sagemaker_passes_them():
    hp = BlazingTextHyperparameters.from_strings(
        {"epochs": "10", "early_stopping": "True", "learning_rate": " 0.1 ", "vector_dim": 10, "patience": "2"}
    )
    assert (hp.epochs, hp.early_stopping, hp.learning_rate, hp.vector_dim, hp.patience) == (10, True, 0.1, 10, 2)
    assert BlazingTextHyperparameters.from_strings({"early_stopping": "false"}).early_stopping is False
    assert BlazingTextHyperparameters.from_strings({"early_stopping": True}).early_stopping is True


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        pytest.param({"epochs": "0"}, r"hyperparameters\.epochs: must be a positive integer; got 0\.", id="epochs-0"),
        pytest.param({"epochs": "ten"}, r"hyperparameters\.epochs: must be an integer; got 'ten'\.", id="epochs-text"),
        pytest.param({"epochs": "2.5"}, "must be an integer; got '2.5'", id="epochs-float"),
        pytest.param({"learning_rate": "0"}, "learning_rate: must be a positive number; got 0.0", id="lr-0"),
        pytest.param({"learning_rate": "nan"}, "learning_rate: must be a positive number", id="lr-nan"),
        pytest.param({"min_count": "-1"}, "min_count: must be an integer >= 0; got -1", id="min-count"),
        pytest.param({"vector_dim": "0"}, "vector_dim: must be a positive integer", id="dim"),
        pytest.param({"word_ngrams": "0"}, "word_ngrams: must be a positive integer", id="ngrams"),
        pytest.param({"buckets": "0"}, "buckets: must be a positive integer", id="buckets"),
        pytest.param({"patience": "0"}, "patience: must be a positive integer", id="patience"),
        pytest.param({"min_epochs": "0"}, "min_epochs: must be a positive integer", id="min-epochs"),
        pytest.param({"early_stopping": "yes"}, "early_stopping: must be True or False; got 'yes'", id="bool"),
        pytest.param(
            {"mode": "skipgram"}, "mode: must be 'supervised'; the Word2Vec modes are not supported", id="w2v"
        ),
        pytest.param({"mode": "classify"}, r"mode: must be 'supervised'; got 'classify'\.", id="mode"),
        pytest.param({"window_size": "5"}, "window_size: is a BlazingText Word2Vec-mode hyperparameter", id="w2v-name"),
        pytest.param({"epoch": "5"}, "epoch: unknown hyperparameter.*Did you mean 'epochs'", id="unknown"),
        pytest.param({"epochs": "0", "patience": "x"}, r"2 problems in the hyperparameters:\n  - ", id="several"),
        pytest.param(["epochs"], "must be a JSON object", id="not-a-map"),
    ],
)
def test_invalid_hyperparameters(values, pattern):
    with pytest.raises(ConfigError, match=pattern):
        BlazingTextHyperparameters.from_strings(values)


def test_constructor_validates_too():
    with pytest.raises(ConfigError, match="hyperparameters.epochs: must be a positive integer; got -1"):
        BlazingTextHyperparameters(epochs=-1)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        pytest.param({"hp": {"early_stopping": "True"}, "validation": None}, "needs a validation file", id="es"),
        pytest.param({"threads": 0}, "threads: must be a positive integer; got 0", id="threads"),
        pytest.param({"seed": -1}, r"seed: must be an integer in \[0, 2\*\*31\); got -1", id="seed"),
        pytest.param({"text_normalization": "stem"}, "text_normalization: must be one of", id="normalization"),
    ],
)
def test_invalid_options(data, tmp_path, kwargs, pattern):
    hp = {**SMALL, **kwargs.pop("hp", {})}
    validation = kwargs.pop("validation", data[1])
    with pytest.raises(ConfigError, match=pattern):
        train_text_classifier(data[0], tmp_path, validation=validation, hyperparameters=hp, **kwargs)
    assert not list(tmp_path.iterdir())


# --- training ---------------------------------------------------------------------------------------


def test_trains_and_writes_three_files(data, tmp_path):
    seen = []
    res = train(data, tmp_path / "model", hp={"epochs": "5"}, on_epoch=lambda e, a: seen.append((e, a)))
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "model.bin",
        "model.vec",
        "openclarify-model.json",
    ]
    assert res.epochs_trained == res.epochs_run == 5 and not res.stopped_early
    assert seen == list(res.validation_accuracy_by_epochs) == [(5, res.validation_accuracy)]
    assert res.validation_accuracy is not None and res.validation_accuracy > 0.6
    assert (res.n_train_lines, res.n_validation_lines, res.n_train_unlabeled) == (400, 150, 0)
    model = fasttext.load_model(str(res.model_path))
    assert tuple(x.removeprefix("__label__") for x in model.get_labels()) == res.labels
    meta = json.loads(res.metadata_path.read_text())
    assert meta["labels"] == list(res.labels) == list(FastTextPredictor(res.output_dir).labels)
    assert meta["hyperparameters"]["epochs"] == "5" and meta["text_normalization"] == "none"
    assert meta["validation_accuracy"] == res.validation_accuracy and meta["fasttext_version"] == "0.9.3"
    assert (meta["threads"], meta["seed"]) == (1, 0)


def test_validation_accuracy_matches_fasttext_test(data, tmp_path):
    res = train(data, tmp_path, hp={"epochs": "3"})
    n, precision, _ = fasttext.load_model(str(res.model_path)).test(str(data[1]))
    assert n == 150 and res.validation_accuracy == pytest.approx(precision)


def test_vectors_file_is_fasttext_text_format(data, tmp_path):
    res = train(data, tmp_path, hp={"epochs": "2"})
    model = fasttext.load_model(str(res.model_path))
    lines = res.vectors_path.read_text().splitlines()
    words = model.get_words()
    assert lines[0] == f"{len(words)} 8"
    assert len(lines) == len(words) + 1
    for word, line in zip(words, lines[1:], strict=True):
        assert line.endswith(" ")  # fastText prints a space after every value
        name, *values = line.split(" ")[:-1]
        assert name == word and len(values) == 8
        np.testing.assert_allclose(np.array(values, dtype=float), model.get_word_vector(word), rtol=1e-4, atol=1e-9)
        assert all(v == f"{float(v):.5g}" for v in values)


def test_reproducible_with_one_thread(data, tmp_path):
    a = train(data, tmp_path / "a", hp={"epochs": "3"}, seed=7)
    b = train(data, tmp_path / "b", hp={"epochs": "3"}, seed=7)
    c = train(data, tmp_path / "c", hp={"epochs": "3"}, seed=8)
    assert a.model_path.read_bytes() == b.model_path.read_bytes()
    assert a.vectors_path.read_bytes() == b.vectors_path.read_bytes()
    assert a.model_path.read_bytes() != c.model_path.read_bytes()


def scripted_accuracies(monkeypatch, values):
    values = iter(values)
    monkeypatch.setattr(training_module, "_accuracy", lambda model, validation: next(values))


def test_early_stopping_keeps_the_best_epoch_count(data, tmp_path, monkeypatch):
    # epoch counts 2, 3, 4, 5, 6: best at 3; 4, 5 (a tie is no improvement) and 6 do not improve
    scripted_accuracies(monkeypatch, [0.5, 0.7, 0.6, 0.7, 0.65, 0.9])
    seen = []
    res = train(
        data,
        tmp_path / "es",
        hp={"epochs": "10", "early_stopping": "True", "min_epochs": "2", "patience": "3"},
        on_epoch=lambda e, a: seen.append((e, a)),
    )
    assert seen == [(2, 0.5), (3, 0.7), (4, 0.6), (5, 0.7), (6, 0.65)]
    assert res.stopped_early and res.epochs_trained == 3 and res.validation_accuracy == 0.7
    assert res.epochs_run == 2 + 3 + 4 + 5 + 6
    meta = json.loads(res.metadata_path.read_text())
    assert meta["epochs_trained"] == 3 and meta["stopped_early"] is True
    assert meta["validation_accuracy_by_epochs"][1] == {"epochs": 3, "accuracy": 0.7}
    # the saved model is the one trained for 3 epochs (training with one thread is reproducible)
    monkeypatch.undo()
    plain = train(data, tmp_path / "three", hp={"epochs": "3"})
    assert res.model_path.read_bytes() == plain.model_path.read_bytes()


def test_early_stopping_runs_to_epochs_without_patience_running_out(data, tmp_path, monkeypatch):
    scripted_accuracies(monkeypatch, [0.5, 0.6, 0.55, 0.7])
    res = train(data, tmp_path, hp={"epochs": "4", "early_stopping": "True", "min_epochs": "1", "patience": "2"})
    assert [e for e, _ in res.validation_accuracy_by_epochs] == [1, 2, 3, 4]
    assert not res.stopped_early and res.epochs_trained == 4


def test_min_epochs_above_epochs_trains_epochs_only(data, tmp_path, monkeypatch):
    scripted_accuracies(monkeypatch, [0.5])
    res = train(data, tmp_path, hp={"epochs": "3", "early_stopping": "True"})  # min_epochs defaults to 5
    assert res.validation_accuracy_by_epochs == ((3, 0.5),) and res.epochs_trained == 3


def test_lower_tokenize_is_recorded_and_applied(tmp_path):
    train_file = write_lines(tmp_path / "train.txt", 300, seed=3, upper=True)
    res = train_text_classifier(
        train_file,
        tmp_path / "model",
        hyperparameters={**SMALL, "epochs": "5"},
        threads=1,
        text_normalization="lower-tokenize",
    )
    model = fasttext.load_model(str(res.model_path))
    assert "goal" in model.get_words() and "Goal" not in model.get_words() and "!" in model.get_words()
    assert json.loads(res.metadata_path.read_text())["text_normalization"] == "lower-tokenize"
    predictor = FastTextPredictor(res.output_dir)
    assert predictor.text_normalization == "lower-tokenize"
    import pandas as pd

    scores = predictor.predict(pd.DataFrame({"t": ["The GOAL, the Team!", "the goal , the team !"]}))
    np.testing.assert_array_equal(scores[0], scores[1])
    assert predictor.labels[int(scores[0].argmax())] == "Sports"


def test_unlabeled_lines_are_counted(tmp_path):
    train_file = write_lines(tmp_path / "train.txt", 200, seed=4)
    with train_file.open("a") as f:
        f.write("no label on this line\n\n")
    res = train_text_classifier(train_file, tmp_path / "m", hyperparameters=SMALL, threads=1)
    assert (res.n_train_lines, res.n_train_unlabeled) == (202, 2)


@pytest.mark.parametrize(
    ("content", "hp", "pattern"),
    [
        pytest.param(None, {}, "train '.*missing.txt': file not found", id="missing"),
        pytest.param("just text\nno labels\n", {}, r"no line has a label \(2 lines\)", id="no-labels"),
        pytest.param(
            "__label__a x\n__label__b y\n", {"min_count": "5"}, "no word occurs at least min_count .5.", id="min-count"
        ),
        pytest.param(b"__label__a \xff\xfe\n", {}, "not UTF-8", id="not-utf8"),
    ],
)
def test_bad_training_data(tmp_path, content, hp, pattern):
    path = tmp_path / "missing.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=pattern):
        train_text_classifier(path, tmp_path / "out", hyperparameters={**SMALL, **hp}, threads=1)
    assert not (tmp_path / "out").exists()


def test_validation_without_labels(data, tmp_path):
    (tmp_path / "v.txt").write_text("no labels here\n")
    with pytest.raises(DataError, match="validation '.*v.txt': no line has a label"):
        train_text_classifier(data[0], tmp_path / "out", validation=tmp_path / "v.txt", hyperparameters=SMALL)


def test_failure_leaves_no_partial_model(data, tmp_path, monkeypatch):
    out = tmp_path / "model"
    out.mkdir()
    (out / "model.bin").write_text("the previous model")

    def broken(model, path):
        path.write_text("half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(training_module, "_write_vectors", broken)
    with pytest.raises(OutputError, match="cannot write the model .No space left on device"):
        train(data, out, hp={"epochs": "1"})
    assert sorted(os.listdir(out)) == ["model.bin"]
    assert (out / "model.bin").read_text() == "the previous model"


def test_output_folder_that_is_a_file(data, tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(OutputError, match="cannot create the folder"):
        train(data, tmp_path / "taken", hp={"epochs": "1"})
