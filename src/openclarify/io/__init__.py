"""Where bytes are read from and written to: local paths and URLs, in one place.

A location is a local path (``str`` or ``os.PathLike``), read with plain ``open`` / ``pathlib`` (no
extra dependency, the builtin errors), or a URL with ``://`` (``s3://bucket/key``), read through fsspec,
which is imported only when a URL is used; ``s3://`` needs the ``s3`` extra
(``pip install 'openclarify[s3]'``), else :class:`~openclarify.errors.MissingDependencyError`.

Reading: :func:`open_read`, :func:`read_bytes`, :func:`read_text`, :func:`list_files`, :func:`kind`,
:func:`exists`, :func:`size`, :func:`identity`, :func:`absence` (why nothing is there, in words), and
:func:`cached_copy` (a URL's file or prefix downloaded once into a cache folder). Writing:
:func:`write_atomic` (a temporary sibling, fsync, rename), :func:`write_file` (the same, or one PUT for a
URL), :func:`remove_tree` and :func:`local_path`, for the places where only a local path will do.

The callers turn the builtin errors (``OSError``, and ``ValueError`` for a URL of an unknown protocol)
into their own (:class:`~openclarify.errors.DataError`, :class:`~openclarify.errors.ConfigError`, ...).
"""

from __future__ import annotations

from ._fetch import cached_copy
from ._read import (
    FileIdentity,
    Kind,
    absence,
    exists,
    identity,
    kind,
    list_files,
    open_read,
    read_bytes,
    read_text,
    size,
)
from ._remote import is_url
from ._write import local_path, remove_tree, write_atomic, write_file

__all__ = [
    "FileIdentity",
    "Kind",
    "absence",
    "cached_copy",
    "exists",
    "identity",
    "is_url",
    "kind",
    "list_files",
    "local_path",
    "open_read",
    "read_bytes",
    "read_text",
    "size",
    "remove_tree",
    "write_atomic",
    "write_file",
]
