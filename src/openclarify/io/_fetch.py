"""A local copy of a URL's file or prefix, downloaded once into a cache folder, for loaders that need a path.

An entry of the cache is a folder named after a digest of the URL and of every file's size and ETag (or
modification time), so a changed object is a new entry and an unchanged one is downloaded once per
machine, whichever process asks (a Dask worker, the next job). An entry is downloaded into a temporary
sibling and renamed into place when complete: a reader never sees half an entry, and of two processes that
download the same entry at once one rename wins and the other copy is dropped.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._read import absence
from ._remote import filesystem

__all__ = ["cached_copy"]

_ETAG_KEYS = ("ETag", "etag")
_TIME_KEYS = ("LastModified", "last_modified", "mtime", "updated", "created")


def _version(info: dict[str, Any]) -> list[Any]:
    """What tells this version of a file from another: its size and ETag, or modification time without one."""
    size = int(info.get("size") or 0)
    etag = next((info[k] for k in _ETAG_KEYS if info.get(k)), None)
    if etag is not None:  # S3 gives the same ETag in a listing and in a HEAD; times may be written otherwise
        return [size, str(etag)]
    return [size, *(str(info[k]) for k in _TIME_KEYS if info.get(k) is not None)]


def _safe(relative: str, url: str) -> str:
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        # an S3 key may hold any of these; written below the entry they could land outside it
        raise OSError(errno.EINVAL, f"object key {relative!r} under {url!r} is not a plain relative path")
    return relative


def _listing(fs: Any, url: str, path: str, siblings: Sequence[str]) -> tuple[dict[str, tuple[str, Any]], str]:
    """``{relative: (key, info)}`` of what to download, and the relative path of what ``url`` names."""
    base = path.rstrip("/")
    if fs.isfile(base):
        head, _, name = base.rpartition("/")
        found = {name: (base, fs.info(base))}
        for sibling in siblings:
            if sibling != name and fs.isfile(f"{head}/{sibling}"):
                found[sibling] = (f"{head}/{sibling}", fs.info(f"{head}/{sibling}"))
        return found, name
    if fs.isdir(base):
        found = {}
        for key, info in fs.find(base, detail=True).items():
            relative = str(key)[len(base) :].lstrip("/")
            if relative and info.get("type", "file") == "file":
                found[_safe(relative, url)] = (str(key), info)
        if found:
            return found, ""
    raise FileNotFoundError(errno.ENOENT, absence(url), url)


def cached_copy(url: str, cache: Path, *, siblings: Sequence[str] = ()) -> Path:
    """The local copy of the file or prefix ``url`` names, downloaded into ``cache`` unless it is there.

    Parameters
    ----------
    url
        An object (``s3://bucket/model.bin``) or a prefix of objects (``s3://bucket/hf/``).
    cache
        The folder holding the copies (created when missing).
    siblings
        For an object: names of files next to it that belong with it (a metadata file), copied next to it
        when they exist.

    Returns
    -------
    Path
        The copy of the object (named as the object is), or the folder holding the prefix's files.

    Raises
    ------
    FileNotFoundError
        Nothing is at ``url`` (the message says whether the bucket is missing).
    OSError
        The store failed, or the cache folder cannot be written (``filename`` is then the local path).
    MissingDependencyError, ValueError
        As :func:`openclarify.io.open_read` raises them for a URL.
    """
    fs, path = filesystem(url)
    files, named = _listing(fs, url, path, siblings)
    listing = sorted((relative, _version(info)) for relative, (_, info) in files.items())
    digest = hashlib.sha256(json.dumps([url.rstrip("/"), listing]).encode("utf-8")).hexdigest()[:32]
    entry = cache / digest
    if not entry.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f".{digest}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            for relative, (key, info) in files.items():
                local = partial / relative
                local.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(key, str(local))
                if local.stat().st_size != int(info.get("size") or 0):
                    raise OSError(errno.EIO, f"{key!r} changed while it was downloaded; try again", url)
            try:
                os.rename(partial, entry)
            except OSError:
                if not entry.is_dir():
                    raise
                # another process finished the same entry first: its copy is the same files
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return entry / named if named else entry
