"""Writing: the atomic write of one file (a local path or a URL), removing a folder or prefix, and the
check that a location is local where only a local one will do.

A write is all or nothing: a local file goes to a temporary sibling, is synced and renamed over its
name; an object is one PUT, which the store makes visible only when complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ..errors import OutputError
from ._remote import filesystem, is_url


def local_path(location: str | os.PathLike[str], what: str = "output folder") -> Path:
    """The local path of a location that must be local (``what`` names it in the message).

    Raises
    ------
    OutputError
        ``location`` is a URL. (An output folder may be one: :func:`openclarify.outputs.output_staging`
        stages its files here and uploads them.)
    """
    text = os.fspath(location)
    if is_url(text):
        scheme = text.split("://", 1)[0]
        raise OutputError(
            f"{what} '{text}': must be a local path, not a {scheme}:// URL. Write it to a local path, then copy "
            "it there (for example with 'aws s3 cp')."
        )
    return Path(location)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, scratch: str | os.PathLike[str] | None = None) -> None:
    """Write ``data`` to ``path`` atomically: a file in ``scratch`` (default: ``path``'s folder), synced
    to disk, renamed over ``path``. It gets the umask's permissions, as every other file written.

    Readers of ``path`` see the old content or the new one, never a part; if writing fails (or is
    interrupted), the temporary file is removed and ``path`` is left as it was. ``scratch`` must be on
    the same file system as ``path``.

    Raises
    ------
    OSError
        The file cannot be written (the exception of ``open``, ``write``, ``fsync`` or ``os.replace``).
    OutputError
        ``path`` is a URL.
    """
    target = local_path(path, "output file")
    tmp = (Path(scratch) if scratch is not None else target.parent) / f".openclarify-{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_file(location: str | os.PathLike[str], data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` to a local file or a URL, all or nothing, creating the folders above a local file.

    A local file is written as :func:`write_atomic` writes it (``sync=False`` leaves out the fsync: the
    file survives the death of the writing process, not of the machine); an object is one PUT.

    Raises
    ------
    OSError
        The file or object cannot be written.
    MissingDependencyError, ValueError
        As :func:`openclarify.io.open_read` for a URL.
    """
    text = os.fspath(location)
    if is_url(text):
        fs, path = filesystem(text)
        fs.pipe_file(path, data)
        return
    target = Path(text)
    target.parent.mkdir(parents=True, exist_ok=True)
    if sync:
        write_atomic(target, data)
        return
    tmp = target.parent / f".openclarify-{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_tree(location: str | os.PathLike[str]) -> None:
    """Remove a local folder, or every object under a URL prefix; nothing when it is absent.

    Raises
    ------
    OSError
        Something under ``location`` cannot be removed.
    """
    text = os.fspath(location)
    if not is_url(text):
        if Path(text).exists():
            shutil.rmtree(text)
        return
    fs, path = filesystem(text)
    keys = fs.find(path)
    if keys:
        fs.rm(keys)
