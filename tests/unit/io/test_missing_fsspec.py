"""A URL without its optional dependencies: one MissingDependencyError with the install hint."""

from __future__ import annotations

import sys

import pytest

from openclarify import io as oc_io
from openclarify.config import load_analysis_config
from openclarify.errors import MissingDependencyError, OpenClarifyError

HINT = r"Install it with: pip install 'openclarify\[s3\]'\."


@pytest.fixture
def no_fsspec(monkeypatch):
    for name in [m for m in sys.modules if m == "fsspec" or m.startswith("fsspec.")] + ["fsspec", "fsspec.core"]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import fsspec` fail


@pytest.mark.parametrize(
    "call",
    [
        oc_io.open_read,
        oc_io.read_bytes,
        oc_io.read_text,
        oc_io.kind,
        oc_io.exists,
        oc_io.list_files,
        oc_io.size,
        oc_io.identity,
    ],
    ids=lambda f: f.__name__,
)
def test_every_url_read_without_fsspec(no_fsspec, call):
    with pytest.raises(
        MissingDependencyError, match=rf"reading 's3://b/k.csv' needs the optional dependency 'fsspec'. {HINT}"
    ):
        call("s3://b/k.csv")


def test_the_error_is_an_import_error_and_ours(no_fsspec):
    with pytest.raises(ImportError) as info:
        oc_io.read_bytes("memory://x")
    assert isinstance(info.value, OpenClarifyError)
    assert isinstance(info.value.__cause__, ImportError)


def test_local_paths_need_no_fsspec(no_fsspec, tmp_path):
    (tmp_path / "x").write_bytes(b"1")
    assert oc_io.read_bytes(tmp_path / "x") == b"1"
    assert oc_io.list_files(tmp_path) == [("x", str(tmp_path / "x"))]


def test_s3_without_s3fs(monkeypatch):
    pytest.importorskip("fsspec")
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(
        MissingDependencyError, match=rf"reading 's3://b/k' needs the optional dependency 's3fs'. {HINT}"
    ):
        oc_io.read_bytes("s3://b/k")


def test_another_protocols_package_is_named(monkeypatch):
    pytest.importorskip("fsspec")
    monkeypatch.setitem(sys.modules, "gcsfs", None)
    with pytest.raises(
        MissingDependencyError, match=r"needs the optional dependency 'gcsfs'. Install it with: pip install gcsfs\."
    ):
        oc_io.kind("gs://b/k")


def test_a_config_at_a_url_without_fsspec(no_fsspec):
    with pytest.raises(MissingDependencyError, match=HINT):
        load_analysis_config("s3://b/analysis_config.json")
