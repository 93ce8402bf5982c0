"""Reading a location: a local path (plain ``open`` / ``pathlib``, as before) or a URL (fsspec)."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from ._remote import filesystem, is_url

Kind = Literal["file", "dir"]


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What tells one version of a file from another: its size, and its modification time or ETag.

    Two identities of the same location compare equal while the file is unchanged (as far as the store
    can tell). ``mtime_ns`` is nanoseconds since the epoch, ``None`` when the store gives none; ``etag``
    is the store's entity tag (S3: ``'"9b2c..."'``), ``None`` for local files.
    """

    size: int
    mtime_ns: int | None
    etag: str | None = None


def open_read(location: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for binary reading; the caller closes it.

    Raises
    ------
    OSError
        As ``open(location, "rb")`` raises it for a local path (``FileNotFoundError``, ...), or as fsspec
        does for a URL.
    MissingDependencyError
        A URL whose protocol needs a package that is not installed (``s3://``: s3fs).
    ValueError
        A URL of a protocol fsspec does not know.
    """
    text = os.fspath(location)
    if not is_url(text):
        return open(location, "rb")
    fs, path = filesystem(text)
    return fs.open(path, "rb")  # type: ignore[no-any-return]


def read_bytes(location: str | os.PathLike[str]) -> bytes:
    """The whole content of a file (errors as :func:`open_read`)."""
    text = os.fspath(location)
    if not is_url(text):
        return Path(location).read_bytes()
    fs, path = filesystem(text)
    return bytes(fs.cat_file(path))


def read_text(location: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """The whole content of a text file, decoded (errors as :func:`open_read`, and ``UnicodeDecodeError``).

    A local file is read as ``Path.read_text(encoding=encoding)`` reads it (universal newlines); a URL's
    bytes are decoded as they are.
    """
    text = os.fspath(location)
    if not is_url(text):
        return Path(location).read_text(encoding=encoding)
    return read_bytes(text).decode(encoding)


def kind(location: str | os.PathLike[str]) -> Kind | None:
    """``"file"``, ``"dir"`` (a local folder, or a URL prefix holding objects), or ``None`` when absent."""
    text = os.fspath(location)
    if not is_url(text):
        root = Path(text)
        if root.is_file():
            return "file"
        return "dir" if root.is_dir() else None
    fs, path = filesystem(text)
    if fs.isdir(path):
        return "dir"
    return "file" if fs.isfile(path) else None


def exists(location: str | os.PathLike[str]) -> bool:
    """Whether a file or folder is at ``location``."""
    text = os.fspath(location)
    if not is_url(text):
        return Path(text).exists()
    fs, path = filesystem(text)
    return bool(fs.exists(path))


def list_files(location: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Every file under a folder (or URL prefix), recursively, as ``(relative, location)`` pairs.

    ``relative`` is the '/'-separated path below ``location``; ``location`` is what :func:`open_read`
    takes (a local path, or ``location`` joined with ``relative`` for a URL). Sorted by ``relative``.
    Hidden files are listed too: which ones to skip is the caller's choice.
    """
    text = os.fspath(location)
    if not is_url(text):
        root = Path(text)
        found = ((f.relative_to(root).as_posix(), f) for f in root.rglob("*") if f.is_file())
        return [(relative, str(f)) for relative, f in sorted(found)]
    fs, path = filesystem(text)
    base = path.rstrip("/")
    prefix = text.rstrip("/")
    files = []
    for key in fs.find(path):
        relative = str(key)[len(base) :].lstrip("/")
        if relative:
            files.append((relative, f"{prefix}/{relative}"))
    return sorted(files)


def size(location: str | os.PathLike[str]) -> int:
    """The size of a file in bytes (``FileNotFoundError`` when it is absent)."""
    text = os.fspath(location)
    if not is_url(text):
        return os.stat(text).st_size
    fs, path = filesystem(text)
    return int(fs.info(path)["size"])


def _nanoseconds(value: Any) -> int | None:
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1_000_000_000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1_000_000_000)
    return None


def identity(location: str | os.PathLike[str]) -> FileIdentity:
    """The size and modification time (local files) or ETag (objects, when the store gives one) of a file.

    Raises
    ------
    OSError
        The file is absent (``FileNotFoundError``) or cannot be examined.
    """
    text = os.fspath(location)
    if not is_url(text):
        stat = os.stat(text)
        return FileIdentity(stat.st_size, stat.st_mtime_ns)
    fs, path = filesystem(text)
    info = fs.info(path)
    etag = info.get("ETag") or info.get("etag")
    modified = next(
        (info[k] for k in ("mtime", "LastModified", "last_modified", "updated", "created") if info.get(k)), None
    )
    return FileIdentity(int(info["size"]), _nanoseconds(modified), str(etag) if etag else None)


def absence(location: str | os.PathLike[str]) -> str:
    """Why nothing is at ``location``, in words for a message (asks the store, so call it once something is
    found missing): ``"no such file or directory"``, ``"no such S3 object or prefix"``, or ``"the S3 bucket
    'b' does not exist (or these credentials cannot see it)"``."""
    text = os.fspath(location)
    if not is_url(text):
        return "no such file or directory"
    scheme, rest = text.split("://", 1)
    if scheme not in ("s3", "s3a"):
        return "no such object or prefix"
    bucket = rest.split("/", 1)[0]
    try:
        fs, _ = filesystem(text)
        there = bool(fs.exists(bucket))
    except (OSError, ValueError):  # the store would not say: name the object, which is missing anyway
        there = True
    if not there:
        return f"the S3 bucket {bucket!r} does not exist (or these credentials cannot see it)"
    return "no such S3 object or prefix"
