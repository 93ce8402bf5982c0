"""Where dataset bytes come from: a local file or directory, or a URL (``s3://``) object or prefix.

The bytes are read through :mod:`openclarify.io`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO

from openclarify.errors import DataError
from openclarify.io import absence, is_url, kind, list_files, open_read

_NEWLINE = b"\n"


@dataclass(frozen=True, slots=True)
class Source:
    """One data file: its name for messages, and its location (a local path or a URL). Picklable."""

    name: str
    path: str

    def open(self) -> IO[bytes]:
        """Open the file for binary reading (the caller closes it)."""
        return open_read(self.path)


def _hidden(relative: str) -> bool:
    # Hadoop / Spark conventions: `_SUCCESS`, `_metadata`, `.part-0.crc` are not data.
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def list_sources(path: str | os.PathLike[str], where: str = "dataset") -> list[Source]:
    """List the data files behind ``path``, sorted by their path relative to it.

    A directory (or a URL prefix such as ``s3://bucket/data/``) is read recursively as one dataset, like
    Clarify's ``dataset_uri``; files and folders whose name starts with ``.`` or ``_`` are skipped.

    Raises
    ------
    DataError
        The path does not exist, a directory holds no data file, or a URL has a protocol fsspec does not
        know.
    MissingDependencyError
        The path is a URL and fsspec, or its protocol's package (``s3://``: ``s3fs``), is not installed.
    """
    text = os.fspath(path)
    url = is_url(text)
    store = "S3 " if text.startswith(("s3://", "s3a://")) else ""
    try:
        found = kind(text)
    except ValueError as exc:  # a URL of a protocol fsspec does not know, or a malformed one
        if not url:
            raise
        raise DataError(
            f"{where}: only local paths and URLs fsspec can read (such as s3://) are supported; got {text!r} "
            f"({exc}). Download the data and pass a local path."
        ) from exc
    if found == "file":
        return [Source(text, text)]
    if found is None:
        raise DataError(f"{where}: {absence(text)}; got {text!r}. Check the {'URI' if url else 'path'}.")
    files = [location for relative, location in list_files(text) if not _hidden(relative)]
    if not files:
        folder = f"the {store}prefix" if url else "the directory"
        raise DataError(f"{where}: {folder} holds no data file; got {text!r}. Check the {'URI' if url else 'path'}.")
    return [Source(f, f) for f in files]


def utf8_error(source: Source, where: str) -> DataError:
    """Build the error for a file that is not UTF-8, naming the line and byte offset of the first bad byte."""
    offset, line, carry = 0, 1, b""
    with source.open() as fh:
        while True:
            block = fh.read(1 << 20)
            data = carry + block
            try:
                data.decode("utf-8")
                good, carry = data, b""
            except UnicodeDecodeError as exc:
                if block and exc.reason == "unexpected end of data":  # a character cut by the block end
                    good, carry = data[: exc.start], data[exc.start :]
                else:
                    start = exc.start
                    return DataError(
                        f"{where} {source.name!r} line {line + data[:start].count(_NEWLINE)} "
                        f"(byte {offset + start}): not valid UTF-8; got {data[start : start + 8]!r}. "
                        "Clarify reads datasets as UTF-8: re-save the file with that encoding."
                    )
            if not block:
                break
            offset += len(good)
            line += good.count(_NEWLINE)
    return DataError(
        f"{where} {source.name!r}: not valid UTF-8. Clarify reads datasets as UTF-8: re-save the file with "
        "that encoding."
    )
