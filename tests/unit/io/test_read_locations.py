"""openclarify.io reads: local paths as open() / pathlib read them, URLs (memory://) through fsspec."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from openclarify import io as oc_io
from openclarify.config import load_analysis_config
from openclarify.errors import ConfigError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, content in {"b.csv": b"2\n", "a/z.csv": b"z", "a/b.csv": b"ab", "_SUCCESS": b""}.items():
        path = tmp_path / "d" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return tmp_path / "d"


@pytest.fixture
def memory():
    """``(fs, url)``: a unique memory:// prefix, removed afterwards (the memory store is process-wide)."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = f"/openclarify-io-{uuid.uuid4().hex}"
    yield fs, f"memory://{root}"
    if fs.exists(root):
        fs.rm(root, recursive=True)


# -- local paths -------------------------------------------------------------------------------------


def test_local_reads(folder):
    for location in (folder / "b.csv", str(folder / "b.csv")):
        with oc_io.open_read(location) as fh:
            assert fh.read() == b"2\n"
        assert oc_io.read_bytes(location) == b"2\n"
        assert oc_io.read_text(location) == "2\n"
        assert oc_io.kind(location) == "file"
        assert oc_io.exists(location)
        assert oc_io.size(location) == 2
    assert oc_io.kind(folder) == "dir"
    assert oc_io.kind(folder / "none") is None
    assert not oc_io.exists(folder / "none")


def test_local_text_is_read_as_pathlib_reads_it(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n')
    assert oc_io.read_text(path) == path.read_text(encoding="utf-8")
    assert oc_io.read_text(path, encoding="utf-8-sig") == '{"a": 1}\n'


def test_local_listing_is_recursive_sorted_and_keeps_hidden_files(folder):
    listed = oc_io.list_files(folder)
    assert [relative for relative, _ in listed] == ["_SUCCESS", "a/b.csv", "a/z.csv", "b.csv"]
    assert [location for _, location in listed] == [str(folder / r) for r, _ in listed]


def test_local_errors_are_the_builtin_ones(tmp_path, folder):
    missing = tmp_path / "missing.json"
    with pytest.raises(FileNotFoundError) as expected:
        open(missing, "rb")
    with pytest.raises(FileNotFoundError) as got:
        oc_io.open_read(missing)
    assert str(got.value) == str(expected.value)
    with pytest.raises(IsADirectoryError):
        oc_io.read_text(folder)
    with pytest.raises(UnicodeDecodeError):
        (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
        oc_io.read_text(tmp_path / "latin1.txt")
    with pytest.raises(FileNotFoundError):
        oc_io.size(missing)
    with pytest.raises(FileNotFoundError):
        oc_io.identity(missing)


def test_local_identity_is_size_and_mtime(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"1\n")
    first = oc_io.identity(path)
    assert first == oc_io.identity(str(path))
    assert first.size == 2 and first.mtime_ns == path.stat().st_mtime_ns and first.etag is None
    path.write_bytes(b"1\n2\n")
    assert oc_io.identity(path) != first
    os.utime(path, ns=(first.mtime_ns, first.mtime_ns))
    path.write_bytes(b"9\n")  # same size; another mtime
    os.utime(path, ns=(first.mtime_ns + 1_000_000_000, first.mtime_ns + 1_000_000_000))
    assert oc_io.identity(path) != first


def test_local_paths_never_import_fsspec(tmp_path):
    """A local run pays nothing for the URL support: fsspec is imported only when a URL is used."""
    import subprocess
    import sys

    (tmp_path / "x.csv").write_bytes(b"a,b\n1,2\n")
    code = (
        "import sys; import openclarify.io as m, openclarify.data as d, openclarify.config, openclarify.outputs;"
        f"m.read_bytes({str(tmp_path / 'x.csv')!r}); m.list_files({str(tmp_path)!r}); m.identity({str(tmp_path)!r});"
        f"d.open_dataset({str(tmp_path / 'x.csv')!r}, dataset_type='text/csv').read_all();"
        "assert 'fsspec' not in sys.modules, 'fsspec imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- URLs through fsspec -----------------------------------------------------------------------------


def test_memory_url_reads(memory):
    fs, url = memory
    fs.pipe(f"{url}/d/b.csv", b"2\n")
    fs.pipe(f"{url}/d/a/z.csv", b"z")
    fs.pipe(f"{url}/d/_SUCCESS", b"")
    with oc_io.open_read(f"{url}/d/b.csv") as fh:
        assert fh.read() == b"2\n"
    assert oc_io.read_bytes(f"{url}/d/b.csv") == b"2\n"
    assert oc_io.read_text(f"{url}/d/b.csv") == "2\n"
    assert oc_io.size(f"{url}/d/b.csv") == 2
    assert oc_io.kind(f"{url}/d/b.csv") == "file"
    assert oc_io.kind(f"{url}/d") == oc_io.kind(f"{url}/d/") == "dir"
    assert oc_io.kind(f"{url}/none") is None
    assert oc_io.exists(f"{url}/d") and not oc_io.exists(f"{url}/none")
    assert oc_io.list_files(f"{url}/d/") == [
        ("_SUCCESS", f"{url}/d/_SUCCESS"),
        ("a/z.csv", f"{url}/d/a/z.csv"),
        ("b.csv", f"{url}/d/b.csv"),
    ]
    with pytest.raises(FileNotFoundError):
        oc_io.read_bytes(f"{url}/none")


def test_memory_url_identity_changes_with_the_object(memory):
    fs, url = memory
    fs.pipe(f"{url}/x", b"1")
    first = oc_io.identity(f"{url}/x")
    assert first.size == 1 and first.mtime_ns is not None
    assert oc_io.identity(f"{url}/x") == first
    fs.pipe(f"{url}/x", b"12")
    assert oc_io.identity(f"{url}/x") != first


def test_an_objects_etag_is_its_identity(monkeypatch):
    import datetime

    from openclarify.io import _read

    class Store:  # what s3fs.S3FileSystem.info answers
        def info(self, path):
            assert path == "bucket/key.csv"
            when = datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
            return {"size": 7, "ETag": '"9b2cf535f27731c974343645a3985328"', "LastModified": when, "type": "file"}

    monkeypatch.setattr(_read, "filesystem", lambda url: (Store(), url[len("s3://") :]))
    got = oc_io.identity("s3://bucket/key.csv")
    assert got == oc_io.FileIdentity(7, 1_704_153_600_000_000_000, '"9b2cf535f27731c974343645a3985328"')


def test_an_analysis_config_at_a_url(memory, tmp_path):
    fs, url = memory
    document = (
        b'{"dataset_type": "text/csv", "predictor": {"model_name": "m", "content_type": "text/csv"},\n'
        b' "methods": {"shap": {"baseline": [[0]], "num_samples": 10}}}\n'
    )
    (tmp_path / "analysis_config.json").write_bytes(document)
    fs.pipe(f"{url}/analysis_config.json", document)
    assert load_analysis_config(f"{url}/analysis_config.json") == load_analysis_config(
        tmp_path / "analysis_config.json"
    )
    with pytest.raises(ConfigError, match=r"config 'memory://.*/none.json': no such object or prefix; check the URI"):
        load_analysis_config(f"{url}/none.json")


def test_a_url_of_an_unknown_protocol():
    pytest.importorskip("fsspec")
    with pytest.raises(ValueError, match=r"unknown URL protocol 'nope'"):
        oc_io.read_bytes("nope://bucket/key")
    with pytest.raises(ConfigError, match=r"analysis config 'nope://b/c.json': cannot be read \(unknown URL protocol"):
        load_analysis_config("nope://b/c.json")
