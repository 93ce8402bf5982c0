"""openclarify train / prepare-dbpedia end to end: files written, per-epoch log, exit codes."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from openclarify.cli import EXIT_CONFIG, EXIT_DATA, EXIT_OUTPUT, main
from openclarify.models import load_model

CLASSES = ["Company", "Artist", "Village"]
WORDS = {
    "Company": "company founded headquartered products brand firm industry",
    "Artist": "painter singer album born musician artist works",
    "Village": "village population district county municipality located rural",
}
SHARED = "the a of in is and it was".split()


@pytest.fixture(scope="module")
def dbpedia(tmp_path_factory):
    """A dbpedia_csv-format train/test pair and classes.txt, generated."""
    d = tmp_path_factory.mktemp("dbpedia")
    (d / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    rng = np.random.default_rng(0)
    for name, n in (("train.csv", 300), ("test.csv", 90)):
        rows = []
        for _ in range(n):
            c = int(rng.integers(3))
            words = list(rng.choice(WORDS[CLASSES[c]].split(), 4)) + list(rng.choice(SHARED, 4))
            rng.shuffle(words)
            rows.append((c + 1, f"Title {rng.integers(100)}", " ".join(words).capitalize() + ', "quoted", end.'))
        pd.DataFrame(rows).to_csv(d / name, header=False, index=False)
    return d


@pytest.fixture(scope="module")
def prepared(dbpedia):
    for split, name in (("train", "train.csv"), ("validation", "test.csv")):
        code = main(
            [
                "prepare-dbpedia",
                "--input",
                str(dbpedia / name),
                "--classes",
                str(dbpedia / "classes.txt"),
                "--output",
                str(dbpedia / f"dbpedia.{split}"),
            ]
        )
        assert code == 0
    return dbpedia


SMALL = ["--vector-dim", "8", "--buckets", "5000", "--min-count", "1", "--threads", "1", "--learning-rate", "0.2"]


def train_args(d, out, *extra):
    return [
        "train",
        "--train",
        str(d / "dbpedia.train"),
        "--validation",
        str(d / "dbpedia.validation"),
        "--output",
        str(out),
        *SMALL,
        *extra,
    ]


def test_prepare_dbpedia_output(prepared, capsys):
    lines = (prepared / "dbpedia.train").read_text().splitlines()
    assert len(lines) == 300
    assert all(line.split(" ", 1)[0] in {f"__label__{c}" for c in CLASSES} for line in lines)
    assert ', "quoted", end.' not in lines[0] and ' , " quoted " , end .' in lines[0]


def test_train_with_early_stopping(prepared, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(train_args(prepared, out, "--epochs", "4", "--early-stopping", "--min-epochs", "2", "--patience", "1"))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "#epochs: 2, validation accuracy: " in err
    assert "validation accuracy: " in err and f"wrote {out / 'model.bin'}" in err
    meta = json.loads((out / "openclarify-model.json").read_text())
    assert meta["hyperparameters"]["early_stopping"] == "True"
    assert [e["epochs"] for e in meta["validation_accuracy_by_epochs"]][0] == 2
    predictor = load_model(out)
    texts = pd.DataFrame({"text": ["the painter and singer", "a rural village in the district"]})
    assert [predictor.output_names[i] for i in predictor.predict(texts).argmax(axis=1)] == ["Artist", "Village"]


def test_hyperparameters_file_and_overrides(prepared, tmp_path, capsys):
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"mode": "supervised", "epochs": "2", "word_ngrams": "1", "early_stopping": "False"}))
    out = tmp_path / "model"
    code = main(
        train_args(
            prepared, out, "--hyperparameters", str(hp), "--epochs", "3", "--text-normalization", "lower-tokenize"
        )
    )
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "openclarify-model.json").read_text())
    assert meta["hyperparameters"]["epochs"] == "3" and meta["hyperparameters"]["word_ngrams"] == "1"
    assert meta["text_normalization"] == "lower-tokenize"


@pytest.mark.parametrize(
    ("extra", "files", "code", "message"),
    [
        pytest.param(
            ["--epochs", "0"], {}, EXIT_CONFIG, "config error: hyperparameters.epochs: must be a positive", id="epochs"
        ),
        pytest.param(["--mode", "cbow"], {}, EXIT_CONFIG, "Word2Vec modes are not supported", id="mode"),
        pytest.param(
            ["--hyperparameters", "{hp}"],
            {"hp.json": '{"windowsize": "5"}'},
            EXIT_CONFIG,
            "unknown hyperparameter",
            id="hp-name",
        ),
        pytest.param(
            ["--hyperparameters", "{hp}"], {"hp.json": "{oops"}, EXIT_CONFIG, "cannot read it as JSON", id="hp-json"
        ),
        pytest.param(
            ["--hyperparameters", "{hp}"],
            {},
            EXIT_CONFIG,
            "--hyperparameters '.*hp.json': file not found",
            id="hp-missing",
        ),
        pytest.param(["--threads", "0"], {}, EXIT_CONFIG, "threads: must be a positive integer", id="threads"),
        pytest.param(
            ["--output", "{taken}/model"],
            {"taken": "a file"},
            EXIT_OUTPUT,
            "output error: .*cannot create the folder",
            id="output",
        ),
    ],
)
def test_exit_codes(prepared, tmp_path, capsys, extra, files, code, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    extra = [x.format(hp=tmp_path / "hp.json", taken=tmp_path / "taken") for x in extra]
    assert main(train_args(prepared, tmp_path / "model", *extra)) == code
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1


def test_missing_training_file(tmp_path, capsys):
    code = main(["train", "--train", str(tmp_path / "nope.train"), "--output", str(tmp_path / "m"), *SMALL])
    assert code == EXIT_DATA
    assert "data error: train '" in capsys.readouterr().err


def test_early_stopping_needs_validation(prepared, tmp_path, capsys):
    code = main(["train", "--train", str(prepared / "dbpedia.train"), "--output", str(tmp_path), "--early-stopping"])
    assert code == EXIT_CONFIG
    assert "early_stopping: needs a validation file" in capsys.readouterr().err


def test_prepare_dbpedia_bad_row(tmp_path, capsys):
    (tmp_path / "classes.txt").write_text("A\nB\n")
    (tmp_path / "bad.csv").write_text('1,"t","c"\n7,"t","c"\n')
    code = main(
        ["prepare-dbpedia", "--input", str(tmp_path / "bad.csv"), "--classes", str(tmp_path / "classes.txt"),
         "--output", str(tmp_path / "out.txt")]
    )  # fmt: skip
    assert code == EXIT_DATA
    assert "line 2: the class index must be an integer from 1 to 2" in capsys.readouterr().err
