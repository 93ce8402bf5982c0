"""FastTextPredictor: full probability vectors in label order, text handling, file checks, normalization."""

from __future__ import annotations

import json
import sys

import fasttext
import numpy as np
import pandas as pd
import pytest

from openclarify.errors import MissingDependencyError, ModelError
from openclarify.models import FastTextPredictor, load_model
from openclarify.training import normalize_text
from openclarify.training._fasttext import _zero_filled_malloc

VOCAB = {
    "sports": ["goal", "match", "team", "score", "league"],
    "music": ["song", "album", "band", "guitar", "tour"],
    "food": ["pizza", "bread", "cheese", "recipe", "oven"],
}
SHARED = ["the", "a", "new", "big", "old"]
TEXTS = [
    "the team won the match",
    "A NEW album, by the band!",
    "pizza with cheese",
    "",
    "unknown words only",
    "goal song pizza",
]


def write_lines(path, n, seed):
    rng = np.random.default_rng(seed)
    labels = list(VOCAB)
    with path.open("w") as f:
        for _ in range(n):
            label = labels[rng.integers(len(labels))]
            words = list(rng.choice(VOCAB[label], 4)) + list(rng.choice(SHARED, 2))
            rng.shuffle(words)
            f.write(f"__label__{label} {' '.join(words)}\n")
    return path


def train_supervised(path, **kwargs):
    # fasttext 0.9.3 leaves most of the input matrix uninitialised (see _zero_filled_malloc)
    with _zero_filled_malloc():
        return fasttext.train_supervised(str(path), thread=1, verbose=0, **kwargs)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ft")
    train = write_lines(d / "train.txt", 300, seed=0)
    model = train_supervised(train, dim=8, epoch=5, minCount=1, wordNgrams=2, bucket=1000, seed=1)
    model.save_model(str(d / "model.bin"))
    return d


def expected(model, texts):
    """fastText's own predict(k=-1), mapped into get_labels() order."""
    index = {label: i for i, label in enumerate(model.get_labels())}
    names, probs = model.predict([t.replace("\n", " ") for t in texts], k=-1)
    out = np.zeros((len(texts), len(index)))
    for row, (ls, ps) in enumerate(zip(names, probs, strict=True)):
        for label, p in zip(ls, ps, strict=True):
            out[row, index[label]] = p
    return out


def frame(texts):
    return pd.DataFrame({"text": texts})


def test_full_vectors_in_label_order_equal_fasttext(model_dir):
    predictor = FastTextPredictor(model_dir / "model.bin")
    model = predictor.model
    assert predictor.labels == tuple(x.removeprefix("__label__") for x in model.get_labels())
    assert predictor.output_names == predictor.labels
    scores = predictor.predict(frame(TEXTS))
    assert scores.shape == (len(TEXTS), 3) and scores.dtype == np.float64
    np.testing.assert_array_equal(scores, expected(model, TEXTS))
    # softmax plus fastText's 1e-5 smoothing per label, in float32
    np.testing.assert_allclose(scores.sum(axis=1), 1 + 3e-5, atol=1e-6)


def test_top_label_is_the_topic(model_dir):
    predictor = FastTextPredictor(model_dir / "model.bin")
    scores = predictor.predict(frame(["goal team league", "song band tour", "bread oven recipe"]))
    assert [predictor.labels[i] for i in scores.argmax(axis=1)] == ["sports", "music", "food"]


def test_missing_values_newlines_and_numbers(model_dir):
    predictor = FastTextPredictor(model_dir / "model.bin")
    got = predictor.predict(frame([np.nan, None, "the team\nwon\r\nthe match", 42, 1.5]))
    want = predictor.predict(frame(["", "", "the team won  the match", "42", "1.5"]))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]", "category", "object"])
def test_missing_values_in_any_text_dtype(model_dir, dtype):
    predictor = FastTextPredictor(model_dir / "model.bin")
    column = pd.Series(["the team", None, "song"], dtype=dtype)
    np.testing.assert_array_equal(
        predictor.predict(column.to_frame()), predictor.predict(frame(["the team", "", "song"]))
    )


def test_empty_batch(model_dir):
    scores = FastTextPredictor(model_dir / "model.bin").predict(frame([]))
    assert scores.shape == (0, 3)


def test_more_than_one_column_is_an_error(model_dir):
    predictor = FastTextPredictor(model_dir / "model.bin")
    with pytest.raises(ModelError, match=r"one text column; got 2 columns \['text', 'extra'\]"):
        predictor.predict(pd.DataFrame({"text": ["a"], "extra": ["b"]}))


def test_directory_and_loaded_model(model_dir):
    predictor = load_model(model_dir)
    assert isinstance(predictor, FastTextPredictor)
    direct = FastTextPredictor(fasttext.load_model(str(model_dir / "model.bin")))
    np.testing.assert_array_equal(predictor.predict(frame(TEXTS)), direct.predict(frame(TEXTS)))


def test_hierarchical_softmax_model_gives_full_rows(tmp_path):
    train = write_lines(tmp_path / "train.txt", 200, seed=2)
    model = train_supervised(train, dim=4, epoch=5, loss="hs", bucket=1000)
    predictor = FastTextPredictor(model)
    np.testing.assert_array_equal(predictor.predict(frame(TEXTS)), expected(model, TEXTS))


def test_quantized_model_loads(model_dir, tmp_path):
    model = fasttext.load_model(str(model_dir / "model.bin"))
    model.quantize(input=str(model_dir / "train.txt"), retrain=False, qnorm=True)
    model.save_model(str(tmp_path / "model.ftz"))
    predictor = load_model(tmp_path / "model.ftz")
    np.testing.assert_array_equal(predictor.predict(frame(TEXTS)), expected(model, TEXTS))
    data = (tmp_path / "model.ftz").read_bytes()
    (tmp_path / "cut.ftz").write_bytes(data[:-3])
    with pytest.raises(ModelError, match="truncated"):
        load_model(tmp_path / "cut.ftz")


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        pytest.param(b"", r"not a fastText supervised model \(only 0 bytes\)", id="empty"),
        pytest.param(np.random.default_rng(0).bytes(4096), "wrong magic number", id="random"),
        pytest.param("cut", "only 60 bytes", id="truncated-header"),
        pytest.param("cut-dictionary", "truncated", id="truncated-dictionary"),
        pytest.param("cut-end", "truncated", id="truncated-matrix"),
        pytest.param("extra", "extra bytes", id="extra-bytes"),
    ],
)
def test_corrupt_model_file(model_dir, tmp_path, content, pattern):
    data = (model_dir / "model.bin").read_bytes()
    content = {"cut": data[:60], "cut-dictionary": data[:200], "cut-end": data[:-1], "extra": data + b"\0"}.get(
        content, content
    )
    (tmp_path / "x.bin").write_bytes(content)
    with pytest.raises(ModelError, match=pattern) as info:
        load_model(tmp_path / "x.bin")
    assert "\n" not in str(info.value)


def test_word_vector_model_is_refused(model_dir, tmp_path):
    with _zero_filled_malloc():
        model = fasttext.train_unsupervised(
            str(model_dir / "train.txt"), model="skipgram", dim=4, epoch=1, minCount=1, bucket=1000, thread=1, verbose=0
        )
    model.save_model(str(tmp_path / "vectors.bin"))
    with pytest.raises(ModelError, match="word-vector"):
        load_model(tmp_path / "vectors.bin")


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        pytest.param("missing.bin", "file not found", id="missing-file"),
        pytest.param("empty_dir", "the folder has no model.bin", id="folder-without-model"),
    ],
)
def test_missing_model(tmp_path, monkeypatch, spec, pattern):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ModelError, match=pattern):
        FastTextPredictor(spec)


def test_missing_fasttext_package(model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "fasttext", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'fasttext>=0.9.3'"):
        FastTextPredictor(model_dir / "model.bin")


@pytest.fixture
def normalized_dir(model_dir, tmp_path):
    (tmp_path / "model.bin").write_bytes((model_dir / "model.bin").read_bytes())
    return tmp_path


def write_meta(folder, **meta):
    (folder / "openclarify-model.json").write_text(json.dumps(meta))


def test_normalization_read_from_metadata(normalized_dir):
    labels = FastTextPredictor(normalized_dir / "model.bin").labels
    write_meta(normalized_dir, text_normalization="lower-tokenize", labels=list(labels))
    predictor = load_model(normalized_dir)
    assert predictor.text_normalization == "lower-tokenize"
    raw = ["The TEAM, won!", "A new <UNK> album.\nBy the band", 7]
    normalized = [normalize_text(str(t).replace("\n", " ")) for t in raw]
    np.testing.assert_array_equal(predictor.predict(frame(raw)), expected(predictor.model, normalized))
    # the constructor argument wins over the file
    plain = FastTextPredictor(normalized_dir / "model.bin", text_normalization="none")
    assert plain.text_normalization == "none"
    np.testing.assert_array_equal(plain.predict(frame(["The TEAM"])), expected(plain.model, ["The TEAM"]))


def test_no_metadata_means_no_normalization(model_dir):
    assert FastTextPredictor(model_dir / "model.bin").text_normalization == "none"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        pytest.param("{not json", "cannot read it as JSON", id="bad-json"),
        pytest.param("[" * 100_000 + "]" * 100_000, "cannot read it as JSON", id="nested-too-deep"),
        pytest.param("[1, 2]", "must hold a JSON object; got list", id="not-object"),
        pytest.param('{"text_normalization": "stem"}', "text_normalization must be one of.*got 'stem'", id="value"),
        pytest.param('{"labels": "sports"}', "labels must be a list of strings", id="labels-type"),
        pytest.param('{"labels": ["a", "b", "c"]}', "belongs to another model", id="labels-mismatch"),
    ],
)
def test_invalid_metadata(normalized_dir, text, pattern):
    (normalized_dir / "openclarify-model.json").write_text(text)
    with pytest.raises(ModelError, match=pattern):
        FastTextPredictor(normalized_dir / "model.bin")


def test_invalid_constructor_arguments(model_dir):
    with pytest.raises(ModelError, match="text_normalization: must be one of"):
        FastTextPredictor(model_dir / "model.bin", text_normalization="upper")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="expected a path or a model"):
        FastTextPredictor(object())
