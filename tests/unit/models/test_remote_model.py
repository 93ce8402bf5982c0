"""--model given by URL (memory:// here; s3:// in tests/integration/test_s3_inputs.py): copied into the model
cache once, loaded by the local loaders, errors naming the URL."""

from __future__ import annotations

import pickle
import uuid

import numpy as np
import pandas as pd
import pytest

from openclarify.errors import ModelError
from openclarify.models import FileModelSpec, load_model
from openclarify.models._remote import model_cache
from support.fasttext_model import tiny_fasttext


@pytest.fixture
def memory(monkeypatch, tmp_path):
    """``(fs, url)``: a unique memory:// prefix, and the model cache in ``tmp_path / "cache"``."""
    fsspec = pytest.importorskip("fsspec")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fs = fsspec.filesystem("memory")
    root = f"/openclarify-models-{uuid.uuid4().hex}"
    yield fs, f"memory://{root}"
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture(scope="module")
def fasttext_folder(tmp_path_factory):
    return tiny_fasttext(tmp_path_factory.mktemp("ft") / "model")


def _put_folder(fs, folder, url):
    for path in folder.iterdir():
        fs.pipe(f"{url}/{path.name}", path.read_bytes())


def test_the_cache_is_under_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_cache() == tmp_path / "openclarify" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_cache() == tmp_path / "home" / ".cache" / "openclarify" / "models"


@pytest.mark.parametrize("name", ["model.bin", ""], ids=["model.bin", "its folder"])
def test_fasttext_by_url_scores_as_the_local_file(memory, fasttext_folder, name, tmp_path):
    fs, url = memory
    _put_folder(fs, fasttext_folder, f"{url}/ft")
    local = load_model(fasttext_folder / name if name else fasttext_folder)
    remote = load_model(f"{url}/ft/{name}")
    # the metadata beside model.bin came too: its text normalization and labels
    assert remote.text_normalization == local.text_normalization == "lower-tokenize"
    assert remote.labels == local.labels
    texts = pd.DataFrame({"text": ["The TEAM won the match!", "a new album", "pizza"]})
    np.testing.assert_array_equal(remote.predict(texts), local.predict(texts))
    copies = list((tmp_path / "cache" / "openclarify" / "models").iterdir())
    assert len(copies) == 1 and (copies[0] / "model.bin").read_bytes() == (fasttext_folder / "model.bin").read_bytes()


def test_joblib_by_url(memory):
    from sklearn.linear_model import LinearRegression

    fs, url = memory
    model = LinearRegression().fit(np.arange(6.0).reshape(3, 2), [0.0, 1.0, 2.0])
    fs.pipe(f"{url}/model.joblib", pickle.dumps(model))
    records = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    predictor = load_model(f"{url}/model.joblib")
    np.testing.assert_array_equal(predictor.predict(records)[:, 0], model.predict(records.to_numpy()))


def test_a_worker_resolves_the_url_itself(memory, fasttext_folder):
    """FileModelSpec keeps the URL (the driver's cache path may not exist on a worker): load() copies it."""
    fs, url = memory
    _put_folder(fs, fasttext_folder, f"{url}/ft")
    spec = FileModelSpec.of(f"{url}/ft/model.bin")
    assert spec.spec == f"{url}/ft/model.bin"
    revived = pickle.loads(pickle.dumps(spec))
    assert revived.load().labels == ("food", "music", "sports")


@pytest.mark.parametrize("spec", ["model.py:predict", "sub/model.py"])
def test_python_by_url_is_refused_saying_why(memory, spec):
    fs, url = memory
    fs.pipe(f"{url}/{spec.split(':')[0]}", b"def predict(x):\n    return x\n")
    with pytest.raises(ModelError, match=r"a Python model is not loaded from a URL: its file imports the modules"):
        load_model(f"{url}/{spec}")


def test_nothing_at_the_url(memory):
    _, url = memory
    with pytest.raises(ModelError, match=rf"^--model '{url}/none.bin': no such object or prefix; check the URI\.$"):
        load_model(f"{url}/none.bin")


def test_a_loading_error_names_the_url_not_the_copy(memory):
    fs, url = memory
    fs.pipe(f"{url}/model.joblib", b"not a pickle")
    with pytest.raises(ModelError, match=rf"^--model '{url}/model.joblib': joblib could not load it") as info:
        load_model(f"{url}/model.joblib")
    assert "cache" not in str(info.value)


def test_a_folder_that_holds_no_model_names_the_url(memory):
    fs, url = memory
    fs.pipe(f"{url}/empty/readme.txt", b"nothing")
    with pytest.raises(ModelError, match=rf"--model: unsupported model file; got '{url}/empty'") as info:
        load_model(f"{url}/empty/")
    assert "cache" not in str(info.value)


def test_a_cache_that_cannot_be_written(memory, monkeypatch, tmp_path):
    fs, url = memory
    fs.pipe(f"{url}/model.joblib", b"x")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    with pytest.raises(
        ModelError, match=r"cannot copy it into the model cache '.*a-file/openclarify/models' \(.*\)\. Set XDG_CACHE"
    ):
        load_model(f"{url}/model.joblib")
