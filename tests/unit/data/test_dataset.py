"""Dataset: chunk bookkeeping, read_all and the streaming reservoir sample."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from openclarify.data import open_dataset
from openclarify.data._dataset import Dataset
from openclarify.errors import DataError


@pytest.fixture
def dataset(write) -> Dataset:
    rows = "".join(f"{i},{'abc'[i % 3]},{i % 2}\n" for i in range(250))
    return open_dataset(write("x,c,y\n" + rows), dataset_type="text/csv", label="y")


def test_read_all_is_one_chunk(dataset):
    chunk = dataset.read_all()
    assert chunk.start_row == 0
    assert chunk.features.shape == (250, 2)
    assert list(chunk.features.columns) == list(dataset.schema.feature_names)
    assert chunk.join_source is None
    assert chunk.label.tolist() == [i % 2 for i in range(250)]


@pytest.mark.parametrize("n", [0, 1, 17, 249, 250, 1000])
def test_sample_size_and_rows(dataset, n):
    sample = dataset.sample(n, seed=3)
    assert sample.shape == (min(n, 250), 2)
    assert list(sample.columns) == ["x", "c"]
    assert isinstance(sample.index, pd.RangeIndex)
    xs = sample["x"].to_numpy()
    assert np.all(np.diff(xs) > 0)  # distinct rows, in dataset order
    assert sample["c"].tolist() == ["abc"[int(x) % 3] for x in xs]  # whole rows, not mixed


def test_sample_is_deterministic_for_a_seed(dataset):
    pd.testing.assert_frame_equal(dataset.sample(20, seed=7), dataset.sample(20, seed=7))
    assert not dataset.sample(20, seed=7).equals(dataset.sample(20, seed=8))


def test_sample_does_not_depend_on_chunking(dataset, monkeypatch):
    expected = dataset.sample(30, seed=11)
    original = Dataset.chunks
    monkeypatch.setattr(Dataset, "chunks", lambda self, chunksize=10_000: original(self, 7))
    pd.testing.assert_frame_equal(dataset.sample(30, seed=11), expected)


def test_sample_is_uniform(dataset):
    counts = np.zeros(250)
    for seed in range(400):
        counts[dataset.sample(25, seed=seed)["x"].to_numpy().astype(int)] += 1
    # Each row is kept with probability 0.1: 40 expected times out of 400, sd 6.
    assert counts.min() > 15 and counts.max() < 70
    assert abs(counts.mean() - 40) < 1e-9


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda d: list(d.chunks(0)), r"chunksize: must be an integer >= 1; got 0", id="chunksize-0"),
        pytest.param(
            lambda d: list(d.chunks(2.5)),
            r"chunksize: must be an integer >= 1; got 2.5",
            id="chunksize-float",
        ),
        pytest.param(lambda d: d.sample(-1, seed=0), r"sample: n: must be an integer >= 0; got -1", id="n-negative"),
        pytest.param(lambda d: d.sample(3, seed=None), r"sample: seed: must be an integer >= 0", id="seed-none"),
    ],
)
def test_argument_errors(dataset, call, message):
    with pytest.raises(DataError, match=message):
        call(dataset)


def test_dataset_pickles(dataset, tmp_path):
    # Executors may ship the dataset to worker processes.
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone.schema == dataset.schema
    pd.testing.assert_frame_equal(clone.read_all().features, dataset.read_all().features)
    (tmp_path / "d.jsonl").write_text('{"f": [1, "a"], "y": 0}\n')
    lines = open_dataset(tmp_path / "d.jsonl", dataset_type="application/jsonlines", features="f", label="y")
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(lines)).read_all().features, lines.read_all().features)
