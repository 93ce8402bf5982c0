"""Where dataset bytes come from: a local file or directory, or an ``s3://`` object or prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openclarify.errors import DataError, MissingDependencyError

_NEWLINE = b"\n"


@dataclass(frozen=True, slots=True)
class Source:
    """One data file: its name for messages, and the filesystem holding it (None: local). Picklable."""

    name: str
    path: str
    fs: Any = None  # an fsspec filesystem (s3fs.S3FileSystem)

    def open(self) -> IO[bytes]:
        """Open the file for binary reading (the caller closes it)."""
        if self.fs is None:
            return open(self.path, "rb")
        return self.fs.open(self.path, "rb")  # type: ignore[no-any-return]


def _hidden(relative: str) -> bool:
    # Hadoop / Spark conventions: `_SUCCESS`, `_metadata`, `.part-0.crc` are not data.
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def list_sources(path: str | os.PathLike[str], where: str = "dataset") -> list[Source]:
    """List the data files behind ``path``, sorted by their path relative to it.

    A directory (or an S3 prefix) is read recursively as one dataset, like Clarify's ``dataset_uri``;
    files and folders whose name starts with ``.`` or ``_`` are skipped.

    Raises
    ------
    DataError
        The path does not exist, or a directory holds no data file.
    MissingDependencyError
        The path is ``s3://...`` and ``s3fs`` is not installed.
    """
    text = os.fspath(path)
    if text.startswith("s3://"):
        return _s3_sources(text, where)
    if "://" in text:
        raise DataError(
            f"{where}: only local paths and s3:// URIs can be read; got {text!r}. "
            "Download the data and pass a local path."
        )
    root = Path(text)
    if root.is_file():
        return [Source(text, text)]
    if not root.is_dir():
        raise DataError(f"{where}: no such file or directory; got {text!r}. Check the path.")
    files = sorted(
        (f.relative_to(root).as_posix(), f)
        for f in root.rglob("*")
        if f.is_file() and not _hidden(f.relative_to(root).as_posix())
    )
    if not files:
        raise DataError(f"{where}: the directory holds no data file; got {text!r}. Check the path.")
    return [Source(str(f), str(f)) for _, f in files]


def _s3_sources(uri: str, where: str) -> list[Source]:
    try:
        import s3fs
    except ImportError as exc:
        raise MissingDependencyError(
            f"reading {uri!r} needs the optional dependency 's3fs'. Install it with: pip install 'openclarify[s3]'."
        ) from exc
    fs: Any = s3fs.S3FileSystem()
    key = uri[len("s3://") :].rstrip("/")
    if fs.isdir(key):
        keys = sorted(k for k in fs.find(key) if not _hidden(k[len(key) :]))
    elif fs.isfile(key):
        keys = [key]
    else:
        raise DataError(f"{where}: no such S3 object or prefix; got {uri!r}. Check the URI.")
    if not keys:
        raise DataError(f"{where}: the S3 prefix holds no data file; got {uri!r}. Check the URI.")
    return [Source(f"s3://{k}", k, fs) for k in keys]


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
