"""Listing the files behind a dataset path: local files, directories, s3:// URIs."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from openclarify.data import open_dataset
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
        pytest.param("gs://bucket/x.csv", DataError, r"only local paths and s3:// URIs", id="other-scheme"),
    ],
)
def test_source_errors(tmp_path, path, error, message):
    (tmp_path / "empty_dir").mkdir()
    target = path if "://" in path else tmp_path / path
    with pytest.raises(error, match=message):
        list_sources(target)


def test_s3_without_s3fs(monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # makes `import s3fs` fail
    with pytest.raises(MissingDependencyError, match=r"reading 's3://b/k.csv' needs the optional dependency 's3fs'"):
        open_dataset("s3://b/k.csv", dataset_type="text/csv")
    assert issubclass(MissingDependencyError, OpenClarifyError)


def test_s3_prefix_through_s3fs(monkeypatch, tmp_path, write):
    write("a,b\n1,x\n", "bucket/data/part-0.csv")
    write("a,b\n2,y\n", "bucket/data/part-1.csv")
    write("", "bucket/data/_SUCCESS")

    class FakeS3FileSystem:  # the slice of the s3fs API the reader uses, over a local folder
        def _local(self, key):
            return tmp_path / key

        def isdir(self, key):
            return self._local(key).is_dir()

        def isfile(self, key):
            return self._local(key).is_file()

        def find(self, key):
            return [p.relative_to(tmp_path).as_posix() for p in self._local(key).rglob("*") if p.is_file()]

        def open(self, key, mode):
            return self._local(key).open(mode)

    monkeypatch.setitem(sys.modules, "s3fs", types.SimpleNamespace(S3FileSystem=FakeS3FileSystem))
    dataset = open_dataset("s3://bucket/data/", dataset_type="text/csv")
    chunk = dataset.read_all()
    assert chunk.features["b"].tolist() == ["x", "y"]
    with pytest.raises(DataError, match=r"no such S3 object or prefix; got 's3://bucket/nope'"):
        list_sources("s3://bucket/nope")
