"""Listing the files behind a dataset path: local files, directories, s3:// URIs."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from openclarify.data import open_dataset, read_baseline
from openclarify.data._source import list_sources
from openclarify.errors import DataError, MissingDependencyError, OpenClarifyError


def test_directory_files_sorted_recursively_without_hidden_ones(tmp_path, write):
    for name in ["d/b.csv", "d/a/z.csv", "d/a/b.csv", "d/_SUCCESS", "d/.x.crc", "d/_tmp/c.csv", "d/c.csv"]:
        write("1\n", name)
    names = [Path(s.name).relative_to(tmp_path / "d").as_posix() for s in list_sources(tmp_path / "d")]
    assert names == ["a/b.csv", "a/z.csv", "b.csv", "c.csv"]


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        pytest.param(
            "missing.csv", DataError, r"dataset: no such file or directory; got '.*missing.csv'", id="missing"
        ),
        pytest.param("empty_dir", DataError, r"the directory holds no data file", id="empty-dir"),
    ],
)
def test_source_errors(tmp_path, path, error, message):
    (tmp_path / "empty_dir").mkdir()
    target = path if "://" in path else tmp_path / path
    with pytest.raises(error, match=message):
        list_sources(target)


def test_a_url_of_an_unknown_protocol():
    pytest.importorskip("fsspec")
    with pytest.raises(DataError, match=r"dataset: only local paths and URLs fsspec can read .*; got 'nope://b/x.csv'"):
        list_sources("nope://b/x.csv")


def test_s3_without_s3fs(monkeypatch):
    pytest.importorskip("fsspec")
    monkeypatch.setitem(sys.modules, "s3fs", None)  # makes `import s3fs` fail
    with pytest.raises(MissingDependencyError, match=r"reading 's3://b/k.csv' needs the optional dependency 's3fs'"):
        open_dataset("s3://b/k.csv", dataset_type="text/csv")
    assert issubclass(MissingDependencyError, OpenClarifyError)


def test_s3_without_fsspec(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    with pytest.raises(MissingDependencyError, match=r"needs the optional dependency 'fsspec'.*openclarify\[s3\]"):
        open_dataset("s3://b/k.csv", dataset_type="text/csv")


def test_s3_prefix_through_fsspec(monkeypatch, tmp_path, write):
    """An S3 bucket played by a local folder: the reader sees only what openclarify.io gives it."""
    fsspec_dirfs = pytest.importorskip("fsspec.implementations.dirfs")
    from fsspec.implementations.local import LocalFileSystem

    from openclarify.io import _read

    write("a,b\n1,x\n", "bucket/data/part-0.csv")
    write("a,b\n2,y\n", "bucket/data/part-1.csv")
    write("", "bucket/data/_SUCCESS")
    bucket = fsspec_dirfs.DirFileSystem(path=str(tmp_path), fs=LocalFileSystem())

    def filesystem(url):
        assert url.startswith("s3://")
        return bucket, url[len("s3://") :].rstrip("/")

    monkeypatch.setattr(_read, "filesystem", filesystem)
    sources = list_sources("s3://bucket/data/")
    assert [s.name for s in sources] == ["s3://bucket/data/part-0.csv", "s3://bucket/data/part-1.csv"]
    dataset = open_dataset("s3://bucket/data/", dataset_type="text/csv")
    chunk = dataset.read_all()
    assert chunk.features["b"].tolist() == ["x", "y"]
    with pytest.raises(DataError, match=r"no such S3 object or prefix; got 's3://bucket/nope'"):
        list_sources("s3://bucket/nope")
    (tmp_path / "bucket" / "empty").mkdir()
    write("", "bucket/empty/_SUCCESS")
    with pytest.raises(DataError, match=r"the S3 prefix holds no data file; got 's3://bucket/empty/'"):
        list_sources("s3://bucket/empty/")


@pytest.fixture
def memory_prefix():
    """A unique ``memory://`` prefix, removed afterwards (fsspec's memory store is shared by the process)."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = f"/openclarify-test-{uuid.uuid4().hex}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_a_memory_url_dataset_and_baseline(memory_prefix):
    fs, root = memory_prefix
    fs.pipe(f"{root}/data/part-0.csv", b"a,b\n1,2\n")
    fs.pipe(f"{root}/data/part-1.csv", b"3,4\n")
    fs.pipe(f"{root}/data/_SUCCESS", b"")
    fs.pipe(f"{root}/baseline.csv", b"0\n")
    dataset = open_dataset(f"memory://{root}/data/", dataset_type="text/csv", label="b")
    assert dataset.read_all().features["a"].tolist() == [1.0, 3.0]
    baseline = read_baseline(f"memory://{root}/baseline.csv", dataset.schema, dataset_type="text/csv")
    assert baseline.to_numpy().tolist() == [[0.0]]
    with pytest.raises(DataError, match=r"methods.shap.baseline: no such object or prefix; got 'memory://"):
        read_baseline(f"memory://{root}/none.csv", dataset.schema, dataset_type="text/csv")
