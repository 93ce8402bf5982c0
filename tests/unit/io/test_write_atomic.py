"""openclarify.io.write_atomic: a temporary sibling, fsync, rename; nothing partial under the final name."""

from __future__ import annotations

import os

import pytest

from openclarify import io as oc_io
from openclarify.errors import OutputError
from openclarify.io import _write


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_writes_the_bytes_exactly(tmp_path):
    data = bytes(range(256)) * 1000 + b"\r\n\n"
    oc_io.write_atomic(tmp_path / "out.bin", data)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert _names(tmp_path) == ["out.bin"]


def test_accepts_a_str_path_and_a_scratch_folder(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    oc_io.write_atomic(str(tmp_path / "a.json"), b"{}\n", scratch=str(scratch))
    assert (tmp_path / "a.json").read_bytes() == b"{}\n"
    assert _names(scratch) == []


@pytest.mark.parametrize(
    "error", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=["oserror", "ctrl-c"]
)
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, error):
    target = tmp_path / "analysis.json"
    target.write_bytes(b"old")

    def fail(fd):
        raise error

    monkeypatch.setattr(_write.os, "fsync", fail)
    with pytest.raises(type(error)):
        oc_io.write_atomic(target, b"new content")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["analysis.json"]


def test_a_failed_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def fail(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_write.os, "replace", fail)
    with pytest.raises(PermissionError):
        oc_io.write_atomic(tmp_path / "new.json", b"{}")
    assert _names(tmp_path) == []


def test_the_temporary_is_never_visible_under_the_final_name(tmp_path, monkeypatch):
    """While the bytes are written and synced, the final name holds the old content; the new content
    sits in a hidden '.openclarify-*.tmp' sibling."""
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    seen = []
    real_fsync = os.fsync

    def watch(fd):
        real_fsync(fd)
        temporaries = [p for p in tmp_path.iterdir() if p.name != "manifest.json"]
        seen.append((target.read_bytes(), [(p.name, p.read_bytes()) for p in temporaries]))

    monkeypatch.setattr(_write.os, "fsync", watch)
    oc_io.write_atomic(target, b"new")
    [(final, temporaries)] = seen
    assert final == b"old"
    [(name, content)] = temporaries
    assert name.startswith(".openclarify-") and name.endswith(".tmp")
    assert content == b"new"
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["manifest.json"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_file_gets_the_umasks_permissions(tmp_path, umask, mode):
    """As every other file written (not mkstemp's 0600), also when it replaces a file of other permissions."""
    existing = tmp_path / "replaced.html"
    existing.write_bytes(b"x")
    existing.chmod(0o600 if mode != 0o600 else 0o644)
    old = os.umask(umask)
    try:
        oc_io.write_atomic(tmp_path / "new.html", b"<p>")
        oc_io.write_atomic(existing, b"<p>")
    finally:
        os.umask(old)
    assert (tmp_path / "new.html").stat().st_mode & 0o777 == mode
    assert existing.stat().st_mode & 0o777 == mode


def test_the_same_function_as_outputs_write_atomic():
    from openclarify.outputs import write_atomic

    assert write_atomic is oc_io.write_atomic


@pytest.mark.parametrize("location", ["s3://bucket/prefix/report.html", "memory://x/report.html"])
def test_a_url_is_refused_with_one_clear_error(tmp_path, location):
    with pytest.raises(OutputError, match=r"output file '.*': must be a local path, not a \w+:// URL"):
        oc_io.write_atomic(location, b"<p>")
    with pytest.raises(OutputError, match=r"output folder 's3://b/out/': must be a local path, not a s3:// URL"):
        oc_io.local_path("s3://b/out/")
    assert oc_io.local_path(tmp_path / "out") == tmp_path / "out"
