"""Output folders on an object store (``--output s3://bucket/prefix/``): staged here, published last.

The job writes its files into a local staging folder, exactly as for a local output folder. Publishing
then

1. removes the prefix's manifest (``.openclarify-manifest.json``): from here on readers see an
   unfinished folder;
2. uploads every new file, each one PUT (or a multipart upload that completes at once), so that no reader
   ever sees part of a file; ``run_summary.json`` goes last of them;
3. removes the previous run's objects that this run did not write again (with ``overwrite``, every other
   object under the prefix too);
4. writes the manifest last, only if no other job wrote one meanwhile (a conditional PUT,
   ``If-None-Match: *``): two jobs never both claim the prefix.

An object store cannot swap a prefix at once, so "atomic" here means: every file is whole, and the
manifest says when the set is complete. A job killed while publishing leaves a prefix without a manifest,
which the next job into it replaces. There is no lock: the conditional manifest is the one guard.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import OutputError
from ..io import is_url, read_bytes
from ..io._remote import filesystem
from ._checkpoint import CHECKPOINT_DIR
from ._staging import (
    MANIFEST_FILE,
    STAGING_PREFIX,
    OutputStaging,
    _listed,
    legacy_names,
    manifest_document,
    refuse_foreign,
)

__all__ = ["RemoteOutputStaging", "output_staging"]

_LAST = "run_summary.json"


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


class RemoteOutputStaging(OutputStaging):
    """:class:`OutputStaging` for a URL prefix (see the module docstring).

    Raises
    ------
    OutputError
        On entry: the prefix cannot be listed (no bucket, no permission), or holds objects no openclarify
        job wrote (without ``overwrite``), or an input of the job (with ``overwrite``). On commit: a file
        cannot be uploaded, or another job published into the prefix at the same time.
    MissingDependencyError
        The URL's protocol needs a package that is not installed (``s3://``: the ``s3`` extra).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        protected: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.url = os.fspath(output_dir).rstrip("/")
        self.overwrite = overwrite
        self.protected = ()
        self.remote_protected = tuple(os.fspath(p) for p in protected if is_url(os.fspath(p)))
        self.job_id = os.urandom(16).hex()
        self._tmp: Path | None = None
        self._lock_handle = None
        self._files: list[str] = []
        self._previous: list[str] = []
        self.created = False
        self._fs, path = filesystem(self.url)
        self._base = path.rstrip("/")

    @property
    def location(self) -> str:
        return self.url

    @property
    def checkpoint_location(self) -> str:
        return f"{self.url}/{CHECKPOINT_DIR}"

    def _key(self, relative: str) -> str:
        return f"{self._base}/{relative}"

    def __enter__(self) -> RemoteOutputStaging:
        try:
            present = self._objects()
        except OSError as exc:
            raise OutputError(
                f"output folder '{self.url}': cannot be listed ({exc.strerror or exc}). Check the bucket's name, "
                "your credentials (the usual AWS variables) and AWS_ENDPOINT_URL for an S3-compatible store."
            ) from exc
        self._previous = self._check(present)
        self._tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX))
        return self

    def _objects(self) -> list[str]:
        """The prefix's objects, relative to it, bookkeeping (the manifest, a checkpoint) left out."""
        if not self._fs.exists(self._base):
            return []
        found = []
        for key in self._fs.find(self._base):
            relative = str(key)[len(self._base) :].lstrip("/")
            if relative and relative != MANIFEST_FILE and relative.split("/")[0] != CHECKPOINT_DIR:
                found.append(relative)
        return sorted(found)

    def _read(self, relative: str) -> Any:
        try:
            return _json_or_none(read_bytes(f"{self.url}/{relative}"))
        except OSError:
            return None

    def _check(self, present: list[str]) -> list[str]:
        manifest = self._read(MANIFEST_FILE)
        if manifest is not None:
            ours = set(_listed(manifest, "files"))
        else:
            summary = self._read(_LAST) if _LAST in present else None
            ours = set(legacy_names(summary, self._read("analysis_config.json") if summary is not None else None))
        foreign = [f for f in present if f not in ours]
        if foreign and not self.overwrite:
            fix = "Choose an empty or new prefix, or pass --overwrite to replace everything under it."
            refuse_foreign(self.url, foreign, "object", fix)
        if foreign:
            for path in self.remote_protected:
                if path.rstrip("/") == self.url or path.startswith(self.url + "/"):
                    raise OutputError(
                        f"output folder '{self.url}': holds '{path}', an input of this job, which --overwrite would "
                        "delete. Choose another output folder."
                    )
        return present

    def commit(self) -> list[str]:  # type: ignore[override]
        """Publish the staged files under the prefix; returns their URLs."""
        tmp = self.root
        new = [f for f in self._files if (tmp / f).is_file()]
        ordered = [f for f in new if f != _LAST] + [f for f in new if f == _LAST]
        fs = self._fs
        manifest_key = self._key(MANIFEST_FILE)
        try:
            if fs.exists(manifest_key):
                fs.rm_file(manifest_key)
            for relative in ordered:
                fs.put_file(str(tmp / relative), self._key(relative))
            stale = [self._key(f) for f in self._previous if f not in set(new)]
            if stale:
                fs.rm(stale)
            manifest = manifest_document(self.job_id, [(f, (tmp / f).stat().st_size) for f in new])
            data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
            try:
                fs.pipe_file(manifest_key, data, mode="create")
            except FileExistsError:
                raise OutputError(
                    f"output folder '{self.url}': another job published into it while this one did, so its files "
                    "are a mix of two runs. Run one job at a time into a prefix, and run this one again."
                ) from None
            fs.invalidate_cache(self._base)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(
                f"output folder '{self.url}': the results could not be uploaded ({exc.strerror or exc}); the "
                "prefix has no manifest, so readers see it unfinished. Run the job again."
            ) from exc
        return [f"{self.url}/{f}" for f in new]

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def output_staging(
    output_dir: str | os.PathLike[str], *, overwrite: bool = False, protected: Sequence[str | os.PathLike[str]] = ()
) -> OutputStaging:
    """The staging of an output folder: :class:`OutputStaging` for a local path, :class:`RemoteOutputStaging`
    for a URL (``s3://bucket/prefix/``)."""
    if is_url(os.fspath(output_dir)):
        return RemoteOutputStaging(output_dir, overwrite=overwrite, protected=protected)
    return OutputStaging(output_dir, overwrite=overwrite, protected=protected)
