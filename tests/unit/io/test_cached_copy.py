"""openclarify.io.cached_copy: a URL's file or prefix downloaded once per version, atomically (memory://)."""

from __future__ import annotations

import os
import uuid

import pytest

from openclarify import io as oc_io
from openclarify.io import _fetch


@pytest.fixture
def memory():
    """``(fs, url)``: a unique memory:// prefix, removed afterwards (the memory store is process-wide)."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = f"/openclarify-cache-{uuid.uuid4().hex}"
    yield fs, f"memory://{root}"
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture
def downloads(monkeypatch):
    """The keys downloaded, in order."""
    got: list[str] = []
    fsspec = pytest.importorskip("fsspec")
    cls = type(fsspec.filesystem("memory"))
    original = cls.get_file

    def counting(self, rpath, lpath, **kwargs):
        got.append(str(rpath).rsplit("/", 1)[-1])
        return original(self, rpath, lpath, **kwargs)

    monkeypatch.setattr(cls, "get_file", counting)
    return got


def test_an_object_is_copied_once_with_its_name_and_siblings(memory, downloads, tmp_path):
    fs, url = memory
    fs.pipe(f"{url}/m/model.bin", b"weights")
    fs.pipe(f"{url}/m/openclarify-model.json", b"{}")
    fs.pipe(f"{url}/m/other.txt", b"not copied")
    copy = oc_io.cached_copy(f"{url}/m/model.bin", tmp_path, siblings=("openclarify-model.json", "absent.json"))
    assert copy.name == "model.bin" and copy.read_bytes() == b"weights"
    assert sorted(p.name for p in copy.parent.iterdir()) == ["model.bin", "openclarify-model.json"]
    assert oc_io.cached_copy(f"{url}/m/model.bin", tmp_path, siblings=("openclarify-model.json",)) == copy
    assert sorted(downloads) == ["model.bin", "openclarify-model.json"]  # the second call downloaded nothing
    assert [p.name for p in tmp_path.iterdir()] == [copy.parent.name]  # no temporary folder left


def test_a_changed_object_is_a_new_entry(memory, tmp_path):
    fs, url = memory
    fs.pipe(f"{url}/model.joblib", b"one")
    first = oc_io.cached_copy(f"{url}/model.joblib", tmp_path)
    fs.pipe(f"{url}/model.joblib", b"three")
    second = oc_io.cached_copy(f"{url}/model.joblib", tmp_path)
    assert first != second and first.read_bytes() == b"one" and second.read_bytes() == b"three"


def test_a_prefix_is_copied_as_a_folder(memory, tmp_path):
    fs, url = memory
    for name, content in {"config.json": b"{}", "model/config.json": b"[]", ".hidden": b"h"}.items():
        fs.pipe(f"{url}/hf/{name}", content)
    for given in (f"{url}/hf/", f"{url}/hf"):
        folder = oc_io.cached_copy(given, tmp_path)
        found = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        assert found == {"config.json": b"{}", "model/config.json": b"[]", ".hidden": b"h"}


def test_nothing_at_the_url(memory, tmp_path):
    _, url = memory
    with pytest.raises(FileNotFoundError, match="no such object or prefix") as info:
        oc_io.cached_copy(f"{url}/none.bin", tmp_path)
    assert info.value.filename == f"{url}/none.bin"
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize("key", ["../escape.txt", "a/./b.txt", "a//b.txt"])
def test_a_key_that_is_no_plain_relative_path_is_refused(key, tmp_path):
    class Listing:
        def isfile(self, path):
            return False

        def isdir(self, path):
            return True

        def find(self, path, detail):
            return {f"root/{key}": {"type": "file", "size": 1}}

    with pytest.raises(OSError, match="is not a plain relative path"):
        _fetch._listing(Listing(), "s3://b/root/", "root", ())


def test_a_failed_download_leaves_nothing(memory, tmp_path, monkeypatch):
    fs, url = memory
    fs.pipe(f"{url}/hf/a.json", b"{}")
    fs.pipe(f"{url}/hf/b.json", b"{}")

    def broken(self, rpath, lpath, **kwargs):
        raise ConnectionResetError(104, "connection reset")

    monkeypatch.setattr(type(fs), "get_file", broken)
    with pytest.raises(ConnectionResetError):
        oc_io.cached_copy(f"{url}/hf/", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_download_is_refused(memory, tmp_path, monkeypatch):
    fs, url = memory
    fs.pipe(f"{url}/model.bin", b"weights")
    original = type(fs).get_file

    def short(self, rpath, lpath, **kwargs):
        original(self, rpath, lpath, **kwargs)
        with open(lpath, "r+b") as fh:
            fh.truncate(3)

    monkeypatch.setattr(type(fs), "get_file", short)
    with pytest.raises(OSError, match="changed while it was downloaded; try again"):
        oc_io.cached_copy(f"{url}/model.bin", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_two_processes_finishing_the_same_entry(memory, tmp_path, monkeypatch):
    """The second rename fails on the first one's complete folder: its own copy is dropped, the first one's used."""
    fs, url = memory
    fs.pipe(f"{url}/model.bin", b"weights")

    def the_other_one_was_first(src, dst):
        os.mkdir(dst)
        (dst / "model.bin").write_bytes(b"weights")
        raise OSError(39, "Directory not empty")

    monkeypatch.setattr(_fetch.os, "rename", the_other_one_was_first)
    copy = oc_io.cached_copy(f"{url}/model.bin", tmp_path)
    assert copy.read_bytes() == b"weights"
    assert [p.name for p in tmp_path.iterdir()] == [copy.parent.name]


def test_a_rename_that_fails_otherwise_is_raised(memory, tmp_path, monkeypatch):
    fs, url = memory
    fs.pipe(f"{url}/model.bin", b"weights")

    def no_room(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_fetch.os, "rename", no_room)
    with pytest.raises(OSError, match="No space left"):
        oc_io.cached_copy(f"{url}/model.bin", tmp_path)
    assert list(tmp_path.iterdir()) == []
