"""Checkpoints: the partial results of finished partitions, kept so that a killed job can resume.

The checkpoint of a job lives in its output folder, ``<output>/.openclarify-checkpoint/`` (a folder, or a
prefix on an object store), until the job has published its files:

- ``job.json``: the job's fingerprint (what decides its results: the analysis config, the dataset's
  files, the contents of the model and baseline files, the options that change results, the openclarify
  version) and the seed the job runs with; written with the first part;
- ``pass-P/part-NNNNNN.pickle``: partition N's partial results in pass P over the data, one per
  analysis of the pass, as the workers returned them;
- ``pass-P/part-NNNNNN.json``: its commit record (first record, rows, bytes, sha256 of the pickle),
  written after the pickle. A part without its record, or whose bytes do not hash to it, is redone.

Each file is written whole (a temporary name and a rename; one PUT on an object store), so a kill at any
point leaves committed parts and at most one part without its record. Resuming feeds the restored parts
to the analyses in record order with the recomputed ones, so the files are those of an uninterrupted
run, byte for byte. The pickles are the job's own: like a model file, a checkpoint must come from a
place you trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import OpenClarifyWarning, OutputError
from ..io import exists, identity, is_url, kind, list_files, read_bytes, remove_tree, write_file

__all__ = ["CHECKPOINT_DIR", "Checkpoint", "dataset_listing", "input_digests"]

CHECKPOINT_DIR: Final = ".openclarify-checkpoint"
_SCHEMA_VERSION: Final = 1
_JOB_FILE: Final = "job.json"
_RECORD = re.compile(r"^pass-(\d+)/part-(\d{6})\.json$")

# what each part of the fingerprint is, in a message
_WHAT: Final = {
    "version": "the openclarify version",
    "config": "the analysis config",
    "dataset": "the dataset",
    "inputs": "the model or baseline files",
    "model": "the model",
    "options": "the options the partitions depend on (--chunk-size, the text and bias options)",
}


@dataclass(frozen=True, slots=True)
class PartRecord:
    """A committed partition: its first record, its number of records, and its pickle's size and hash."""

    first_row: int
    rows: int
    size: int
    sha256: str


def _join(root: str, relative: str) -> str:
    return f"{root.rstrip('/')}/{relative}" if is_url(root) else os.path.join(root, relative)


def _digest(location: str) -> str:
    digest = hashlib.sha256()
    digest.update(read_bytes(location))
    return digest.hexdigest()


def _content(location: str) -> Any:
    """What tells a file's content: its sha256 here, its size and ETag (or time) on an object store, where
    the ETag is the store's own digest and reading a large model again would cost a download."""
    if not is_url(location):
        return _digest(location)
    ident = identity(location)
    return [ident.size, ident.etag if ident.etag is not None else ident.mtime_ns]


def input_digests(locations: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """Per input (a file, or a folder such as a Hugging Face model): what tells the content of each of its
    files (see :func:`_content`); ``None`` for one that is absent."""
    found: dict[str, Any] = {}
    for location in locations:
        text = os.fspath(location)
        what = kind(text)
        if what == "file":
            found[text] = _content(text)
        elif what == "dir":
            found[text] = {relative: _content(path) for relative, path in list_files(text)}
        else:
            found[text] = None
    return found


def dataset_listing(location: str) -> list[list[Any]]:
    """The dataset's files (those :func:`openclarify.data.open_dataset` reads) with their size and
    modification time or ETag: a file rewritten since has another listing."""
    if kind(location) == "dir":
        files = [
            (relative, path)
            for relative, path in list_files(location)
            if not any(part.startswith((".", "_")) for part in relative.split("/"))
        ]
    else:
        files = [("", location)]
    listing: list[list[Any]] = []
    for relative, path in files:
        ident = identity(path)
        listing.append([relative, ident.size, ident.mtime_ns, ident.etag])
    return listing


def _load_json(location: str) -> Any:
    try:
        return json.loads(read_bytes(location))
    except (OSError, ValueError):
        return None


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two fingerprints, in words (a changed input file by its name)."""
    changes: list[str] = []
    for key, words in _WHAT.items():
        if old.get(key) == new.get(key):
            continue
        if key == "inputs" and isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            names = sorted(k for k in set(old[key]) | set(new[key]) if old[key].get(k) != new[key].get(k))
            changes.append(", ".join(f"'{n}'" for n in names) or words)
        else:
            changes.append(words)
    return changes or ["the job"]


class Checkpoint:
    """The checkpoint of one job (see the module docstring); made by :meth:`open`."""

    def __init__(self, location: str, fingerprint: Mapping[str, Any], seed: int) -> None:
        self.location = location
        self.fingerprint = dict(fingerprint)
        self.seed = seed
        self._restored: dict[int, dict[int, PartRecord]] = {}
        self._started = False
        self.written = 0  # parts committed by this run

    @classmethod
    def open(
        cls,
        location: str,
        fingerprint: Mapping[str, Any],
        *,
        seed: int,
        resume: bool,
        discard: bool,
        output: str,
    ) -> Checkpoint:
        """The checkpoint at ``location``: a fresh one, or with ``resume`` the one a killed run of the same
        job left (its seed and its valid parts).

        Raises
        ------
        OutputError
            Without ``resume``: the folder holds committed parts of an interrupted run of the same job (unless
            ``discard``, which removes them; the parts of a different job are removed with a warning). With
            ``resume``: the checkpoint is of another job (its fingerprint differs), or it cannot be read.
        """
        job_file = _join(location, _JOB_FILE)
        try:
            document = _load_json(job_file) if exists(job_file) else None
            records = cls._records(location) if document is not None else {}
            if document is None or not resume:
                done = sum(len(parts) for parts in records.values())
                same = isinstance(document, dict) and document.get("fingerprint") == dict(fingerprint)
                if done and not same and not discard:
                    # another job's parts are of no use to this one, which replaces that job's output anyway
                    warnings.warn(
                        f"output folder '{output}': discarded the checkpoint of an earlier, different job ({done} "
                        "partitions).",
                        OpenClarifyWarning,
                        stacklevel=3,
                    )
                elif done and not discard:
                    created = document.get("created") if isinstance(document, dict) else None
                    since = f", started {created}" if isinstance(created, str) else ""
                    raise OutputError(
                        f"output folder '{output}': holds the checkpoint of an interrupted job ({done} partitions "
                        f"done{since}). Add --resume to continue it, or --overwrite to discard it and start over."
                    )
                if exists(location):
                    remove_tree(location)
                return cls(location, fingerprint, seed)
            if not isinstance(document, dict) or document.get("schema_version") != _SCHEMA_VERSION:
                raise OutputError(
                    f"--resume: '{job_file}' is not a checkpoint this openclarify wrote. Run without --resume and "
                    "with --overwrite to start over."
                )
            old = document.get("fingerprint")
            if old != dict(fingerprint):
                what = " and ".join(_changed(old if isinstance(old, dict) else {}, fingerprint))
                raise OutputError(
                    f"--resume: the checkpoint in '{location}' is of another job: {what} changed since it was "
                    "written. Restore them to resume, or run without --resume and with --overwrite to start over."
                )
            stored_seed = document.get("seed")
            if isinstance(stored_seed, bool) or not isinstance(stored_seed, int):
                raise OutputError(
                    f"--resume: '{job_file}' names no seed; got {stored_seed!r}. Start over with --overwrite."
                )
            checkpoint = cls(location, fingerprint, stored_seed)
            checkpoint._started = True
            checkpoint._restored = {
                p: {i: r for i, r in parts.items() if checkpoint._valid(p, i, r)} for p, parts in records.items()
            }
            return checkpoint
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(
                f"checkpoint '{location}': cannot be read or cleared ({exc.strerror or exc}). Check the output "
                "folder's permissions."
            ) from exc

    @staticmethod
    def _records(location: str) -> dict[int, dict[int, PartRecord]]:
        records: dict[int, dict[int, PartRecord]] = {}
        if kind(location) != "dir":
            return records
        for relative, path in list_files(location):
            match = _RECORD.match(relative)
            if match is None:
                continue
            document = _load_json(path)
            try:
                record = PartRecord(
                    int(document["first_row"]), int(document["rows"]), int(document["bytes"]), str(document["sha256"])
                )
            except (TypeError, KeyError, ValueError):
                continue  # a record that is not one: its part is redone
            records.setdefault(int(match.group(1)), {})[int(match.group(2))] = record
        return records

    def _part(self, pass_index: int, part: int) -> str:
        return _join(self.location, f"pass-{pass_index}/part-{part:06d}")

    def _valid(self, pass_index: int, part: int, record: PartRecord) -> bool:
        try:
            data = read_bytes(self._part(pass_index, part) + ".pickle")
        except OSError:
            return False
        return len(data) == record.size and hashlib.sha256(data).hexdigest() == record.sha256

    def restored(self, pass_index: int) -> dict[int, PartRecord]:
        """The valid committed parts of a pass, by partition number."""
        return dict(self._restored.get(pass_index, {}))

    @property
    def n_restored(self) -> int:
        return sum(len(parts) for parts in self._restored.values())

    def load(self, pass_index: int, part: int) -> Any:
        """A committed part's partial results, as they were committed.

        Raises
        ------
        OutputError
            The part changed since :meth:`open` checked it.
        """
        record = self._restored[pass_index][part]
        location = self._part(pass_index, part) + ".pickle"
        try:
            data = read_bytes(location)
        except OSError as exc:
            raise OutputError(f"checkpoint '{location}': cannot be read ({exc.strerror or exc}).") from exc
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise OutputError(f"checkpoint '{location}': changed while the job resumed. Run the job again.")
        return pickle.loads(data)  # noqa: S301 - the job's own part, checked against its record

    def commit(self, pass_index: int, part: int, first_row: int, rows: int, value: Any) -> None:
        """Keep one partition's partial results: the part, then its record.

        Raises
        ------
        OutputError
            The checkpoint cannot be written (a full disk, no permission): the job stops rather than run
            on without the resume it promises.
        """
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        record = {"first_row": first_row, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        location = self._part(pass_index, part)
        try:
            if not self._started:
                job = {
                    "schema_version": _SCHEMA_VERSION,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "seed": self.seed,
                    "fingerprint": self.fingerprint,
                }
                write_file(_join(self.location, _JOB_FILE), json.dumps(job, indent=2).encode("utf-8"), sync=False)
                self._started = True
            write_file(location + ".pickle", data, sync=False)
            write_file(location + ".json", json.dumps(record).encode("utf-8"), sync=False)
        except OSError as exc:
            raise OutputError(
                f"checkpoint '{self.location}': partition {part} cannot be saved ({exc.strerror or exc}). Free "
                "space or fix permissions and run again with --resume, or run with --no-checkpoint."
            ) from exc
        self.written += 1

    def remove(self) -> None:
        """Remove the checkpoint (the job's files are published); a failure to do so is left alone, as the
        next job into the folder removes it."""
        with contextlib.suppress(OSError):
            remove_tree(self.location)
