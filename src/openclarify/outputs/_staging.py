"""Output folders published as a whole: staged, locked, and marked complete by a manifest written last.

A job writes its files into a hidden staging folder inside the output folder. Publishing then

1. writes a journal (``.openclarify-publishing.json``) naming the files of the previous run and the new
   ones, and removes the previous manifest: from here on readers see an unfinished folder;
2. removes the previous run's files (with ``overwrite``, everything else in the folder too) and moves
   the new ones in (``os.replace``, one file system);
3. writes the manifest (``.openclarify-manifest.json``: the job, and every file with its size) last,
   atomically, and removes the journal.

A kill at any point leaves either the previous complete folder, or a journal that readers refuse and the
next job into the folder clears. The folder is locked (``fcntl.flock`` on ``.openclarify.lock``) for the
whole job, so a second job into it stops at once; the kernel drops the lock of a process that dies,
which is how staging folders of killed jobs are known to be stale and removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any, Final

from ..errors import OutputError, ReportError
from ..io import is_url, local_path, write_atomic
from ._checkpoint import CHECKPOINT_DIR

__all__ = [
    "JOURNAL_FILE",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "MANIFEST_SCHEMA_VERSION",
    "OutputStaging",
    "add_published",
    "published_files",
    "write_atomic",
]

LOCK_FILE: Final = ".openclarify.lock"
MANIFEST_FILE: Final = ".openclarify-manifest.json"
JOURNAL_FILE: Final = ".openclarify-publishing.json"
STAGING_PREFIX: Final = ".openclarify-staging-"
MANIFEST_SCHEMA_VERSION: Final = 1

# Files an openclarify job wrote before folders had a manifest: such a folder is recognised as ours by its
# run_summary.json, and these names (plus its report files) are replaced without --overwrite.
_LEGACY_FILES: Final = (
    "analysis.json",
    "analysis_config.json",
    "run_summary.json",
    "explanations_shap/out.csv",
    "explanations_shap/out.jsonl",
    "explanations_shap/baseline.csv",
    "explanations_shap/predictions.jsonl",
)
_REPORT_SUFFIXES: Final = (".html", ".pdf", ".ipynb")
_SHOWN: Final = 5


def _bookkeeping(name: str) -> bool:
    return name in (LOCK_FILE, MANIFEST_FILE, JOURNAL_FILE, CHECKPOINT_DIR) or name.startswith(STAGING_PREFIX)


def _folder_files(root: Path) -> list[str]:
    """Every file under ``root`` (relative, '/'-separated), bookkeeping left out; folders end with '/'
    when they are empty."""
    found: list[str] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if _bookkeeping(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            inner = _folder_files(Path(entry.path))
            if inner:
                found.extend(f"{entry.name}/{f}" for f in inner)
            else:
                found.append(entry.name + "/")
        else:
            found.append(entry.name)
    return found


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _listed(document: Any, key: str) -> list[str]:
    items = document.get(key) if isinstance(document, dict) else None
    if not isinstance(items, list):
        return []
    names = [item.get("path") if isinstance(item, dict) else item for item in items]
    return [n for n in names if isinstance(n, str) and _is_relative(n)]


def _is_relative(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def legacy_names(summary: Any, config: Any) -> list[str]:
    """The files an earlier openclarify job (before folders had a manifest) may have written, given its
    ``run_summary.json`` and ``analysis_config.json`` (parsed, None when absent); none when the summary is
    not openclarify's."""
    if not (isinstance(summary, dict) and str(summary.get("tool", "")).startswith("openclarify")):
        return []
    report = config.get("methods", {}).get("report") if isinstance(config, dict) else None
    name = report.get("name") if isinstance(report, dict) else None
    names = list(_LEGACY_FILES) + [f"{n}{s}" for n in {"report", name} if isinstance(n, str) for s in _REPORT_SUFFIXES]
    return [n for n in names if _is_relative(n)]


def _legacy_files(root: Path) -> list[str]:
    """The files of a folder an earlier openclarify wrote (no manifest), by their known names."""
    names = legacy_names(_read_json(root / "run_summary.json"), _read_json(root / "analysis_config.json"))
    return [n for n in names if (root / n).is_file()]


def refuse_foreign(where: str, foreign: Sequence[str], noun: str, fix: str) -> None:
    """Stop a job whose output folder holds ``foreign`` files (``noun``: "file", "object")."""
    plural = "s" if len(foreign) != 1 else ""
    shown = ", ".join(repr(f) for f in foreign[:_SHOWN]) + (", ..." if len(foreign) > _SHOWN else "")
    raise OutputError(
        f"output folder '{where}': is not empty and holds {len(foreign)} {noun}{plural} no openclarify job wrote "
        f"({shown}). {fix}"
    )


def manifest_document(job_id: str, files: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """The manifest of a published folder: the job, when, and every file with its size in bytes."""
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "job": job_id,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": [{"path": path, "bytes": size} for path, size in files],
    }


def _write_json_atomic(path: Path, document: Any, scratch: Path) -> None:
    write_atomic(path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8"), scratch=scratch)


def _lock(handle: IO[str]) -> bool:
    """Take an exclusive lock on ``handle`` without waiting; False when another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - not tested here
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def published_files(folder: str | os.PathLike[str]) -> frozenset[str] | None:
    """The files the last complete job published in ``folder`` (its manifest), or ``None`` when the folder
    has no manifest (a Clarify job's folder, or one written by an earlier openclarify).

    Raises
    ------
    ReportError
        A job was stopped while publishing into the folder, so its files are a mix of two runs, or a file
        the manifest lists is missing or has another size than the job wrote.
    """
    root = Path(folder)
    if (root / JOURNAL_FILE).exists():
        raise ReportError(
            f"output folder '{root}': a job was stopped while publishing its files here, so they are a mix of two "
            "runs. Run the analysis into it again (its previous files are replaced)."
        )
    manifest = root / MANIFEST_FILE
    if not manifest.exists():
        return None
    document = _read_json(manifest)
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise ReportError(f"output folder '{root}': {MANIFEST_FILE} is not a manifest openclarify wrote. Run again.")
    names: list[str] = []
    for item in document["files"]:
        path = item.get("path") if isinstance(item, dict) else None
        size = item.get("bytes") if isinstance(item, dict) else None
        if not isinstance(path, str) or not _is_relative(path):
            raise ReportError(f"output folder '{root}': {MANIFEST_FILE} lists an invalid path; got {path!r}.")
        try:
            actual = (root / path).stat().st_size
        except OSError:
            actual = None
        if actual != size:
            what = "is missing" if actual is None else f"has {actual} bytes, not the {size} the job wrote"
            raise ReportError(
                f"output folder '{root}': {path} {what}; the folder was changed after the job. Run the job again."
            )
        names.append(path)
    return frozenset(names)


def add_published(folder: str | os.PathLike[str], paths: Iterable[str | os.PathLike[str]]) -> None:
    """List files written into a published folder afterwards (``openclarify report``) in its manifest, so
    that readers see them and the next job replaces them. A folder without a manifest is left as it is.

    Raises
    ------
    OutputError
        A job is writing the folder, or the manifest cannot be written.
    """
    root = Path(folder)
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.exists():
        return
    with open(root / LOCK_FILE, "a+", encoding="utf-8") as handle:
        if not _lock(handle):
            raise OutputError(
                f"output folder '{root}': an openclarify job is writing it; run the report when it has finished."
            )
        document = _read_json(manifest_path)
        if not isinstance(document, dict) or not isinstance(document.get("files"), list):
            return
        entries = {item["path"]: item for item in document["files"] if isinstance(item, dict) and "path" in item}
        for path in paths:
            relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
            entries[relative] = {"path": relative, "bytes": (root / relative).stat().st_size}
        document["files"] = list(entries.values())
        try:
            _write_json_atomic(manifest_path, document, root)
        except OSError as exc:
            raise OutputError(
                f"output folder '{root}': {MANIFEST_FILE} cannot be written ({exc.strerror or exc})."
            ) from exc


class OutputStaging:
    """``with OutputStaging(out_dir) as stage: stage.path("analysis.json")`` ... published by ``commit()``.

    Parameters
    ----------
    output_dir
        The output folder. It must be empty, new, or hold an earlier job's output, unless ``overwrite``.
        A local path: a URL (``s3://...``) is refused at once (see :func:`openclarify.io.local_path`).
    overwrite
        Replace whatever the folder holds (everything in it is removed when the new files are published).
    protected
        Paths that must survive (the job's inputs): ``overwrite`` refuses a folder that holds one.

    Raises
    ------
    OutputError
        At once: ``output_dir`` is a URL. On entry: the folder cannot be created or written, another job is
        writing it, or it holds files no openclarify job wrote (without ``overwrite``). On commit: a file
        cannot be moved into place.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        protected: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.output_dir = local_path(output_dir)
        self.overwrite = overwrite
        # an input at a URL cannot be inside a local output folder
        self.protected = tuple(Path(p) for p in protected if not is_url(os.fspath(p)))
        self.job_id = uuid.uuid4().hex
        self._tmp: Path | None = None
        self._lock_handle: IO[str] | None = None
        self._files: list[str] = []
        self._previous: list[str] = []  # files of the folder that publishing removes
        self.created = False

    @property
    def location(self) -> str:
        """The output folder, as a string (a local path, or a URL for a remote one)."""
        return str(self.output_dir)

    @property
    def checkpoint_location(self) -> str:
        """Where the job's checkpoint is kept while it runs (see :mod:`openclarify.outputs._checkpoint`)."""
        return str(self.output_dir / CHECKPOINT_DIR)

    # -- entry: lock, recover, check -------------------------------------------------------------------

    def __enter__(self) -> OutputStaging:
        try:
            self.created = not self.output_dir.exists()
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._clear_stale_staging()
            self._previous = self._replaceable()
            self._tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.output_dir))
        except OSError as exc:
            self._release()
            if isinstance(exc, OutputError):
                raise
            raise OutputError(
                f"output folder '{self.output_dir}': cannot be created or written ({exc.strerror or exc}). "
                "Choose a folder you can write to."
            ) from exc
        except BaseException as exc:
            # Ctrl-C (or any other exception) while entering, perhaps with the staging folder made: clean
            # up as __exit__ would have, had it come a moment later
            with contextlib.suppress(OSError):
                if self._lock_handle is not None:  # ours, so every staging folder is this job's or a dead one's
                    self._clear_stale_staging()
                self._tmp = None
                self.__exit__(type(exc), exc, exc.__traceback__)
            self._release()
            raise
        return self

    def _take_lock(self) -> None:
        handle = open(self.output_dir / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held for the job
        if not _lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise OutputError(
                f"output folder '{self.output_dir}': another openclarify job is writing it ({holder}). "
                "Wait for it to finish, or choose another output folder."
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
        handle.flush()
        self._lock_handle = handle

    def _clear_stale_staging(self) -> None:
        # We hold the lock, so no live job writes here: every staging folder is a dead job's.
        for entry in os.scandir(self.output_dir):
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)

    def _replaceable(self) -> list[str]:
        """The folder's files that publishing replaces; refuses files no openclarify job wrote."""
        root = self.output_dir
        present = _folder_files(root)
        if (root / JOURNAL_FILE).exists():
            # a publish was stopped half-way: the files it names, old and new, are ours
            journal = _read_json(root / JOURNAL_FILE)
            ours = set(_listed(journal, "old")) | set(_listed(journal, "new"))
        elif (root / MANIFEST_FILE).exists():
            ours = set(_listed(_read_json(root / MANIFEST_FILE), "files"))
        else:
            ours = set(_legacy_files(root))
        foreign = [f for f in present if f not in ours]
        if foreign and not self.overwrite:
            fix = "Choose an empty or new folder, or pass --overwrite to replace everything in it."
            refuse_foreign(str(root), foreign, "file", fix)
        if foreign:
            self._check_protected()
        return present

    def _check_protected(self) -> None:
        root = self.output_dir.resolve()
        for path in self.protected:
            resolved = path.resolve()
            if resolved == root or root in resolved.parents:
                raise OutputError(
                    f"output folder '{self.output_dir}': holds '{path}', an input of this job, which --overwrite "
                    "would delete. Choose another output folder."
                )

    # -- while the job runs ----------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The staging folder: the output folder as it will be, while the job runs."""
        if self._tmp is None:
            raise RuntimeError("OutputStaging used outside its with-block")
        return self._tmp

    def path(self, relative: str) -> Path:
        """Where to write ``relative`` (e.g. ``explanations_shap/out.csv``) while the job runs."""
        if self._tmp is None:
            raise RuntimeError("OutputStaging used outside its with-block")
        if not _is_relative(relative) or _bookkeeping(PurePosixPath(relative).parts[0]):
            raise OutputError(f"output file: must be a path inside the output folder; got {relative!r}.")
        target = self._tmp / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative not in self._files:
            self._files.append(relative)
        return target

    # -- publishing ------------------------------------------------------------------------------------

    def commit(self) -> list[Path]:
        """Publish the staged files as the folder's whole content; returns their final paths."""
        tmp = self.root
        new = [f for f in self._files if (tmp / f).is_file()]
        root = self.output_dir
        try:
            _write_json_atomic(root / JOURNAL_FILE, {"job": self.job_id, "old": self._previous, "new": new}, tmp)
            with contextlib.suppress(FileNotFoundError):
                os.remove(root / MANIFEST_FILE)
            for relative in self._previous:
                self._remove(root / relative.rstrip("/"))
            self._remove_empty_folders({str(PurePosixPath(f).parent) for f in self._previous})
            done = []
            for relative in new:
                final = root / relative
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / relative, final)
                done.append(final)
            manifest = manifest_document(self.job_id, [(f, (root / f).stat().st_size) for f in new])
            _write_json_atomic(root / MANIFEST_FILE, manifest, tmp)
            os.remove(root / JOURNAL_FILE)
        except OSError as exc:
            raise OutputError(
                f"output folder '{root}': the results could not be published ({exc.strerror or exc}); the folder "
                "is marked unfinished. Free space or fix permissions, and run the job again."
            ) from exc
        return done

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _remove_empty_folders(self, folders: Iterable[str]) -> None:
        for folder in sorted(folders, key=lambda f: -len(PurePosixPath(f).parts)):
            if folder in ("", "."):
                continue
            with contextlib.suppress(OSError):
                (self.output_dir / folder).rmdir()  # only when empty

    # -- exit ------------------------------------------------------------------------------------------

    def _release(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()  # drops the lock
            self._lock_handle = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if exc_type is not None and self.created and not _folder_files(self.output_dir):
            # a folder this job created and that holds nothing: leave no trace of the failed job
            for name in (LOCK_FILE, MANIFEST_FILE, JOURNAL_FILE):
                with contextlib.suppress(OSError):
                    (self.output_dir / name).unlink()
            with contextlib.suppress(OSError):
                self.output_dir.rmdir()
        self._release()
