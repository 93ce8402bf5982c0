"""Atomic output: files are written into a hidden staging folder and moved into place at the end.

A job that fails or is interrupted leaves no file that looks complete: the staging folder is removed
and nothing was moved. Each move is an ``os.replace`` within one file system.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from ..errors import OutputError

__all__ = ["OutputStaging"]


class OutputStaging:
    """``with OutputStaging(out_dir) as stage: stage.path("analysis.json")`` ... committed on success."""

    def __init__(self, output_dir: str | os.PathLike[str]) -> None:
        self.output_dir = Path(output_dir)
        self._tmp: Path | None = None
        self._files: list[str] = []

    def __enter__(self) -> OutputStaging:
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix=".openclarify-staging-", dir=self.output_dir))
        except OSError as exc:
            raise OutputError(
                f"output folder '{self.output_dir}': cannot be created or written ({exc.strerror or exc}). "
                "Choose a folder you can write to."
            ) from exc
        return self

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
        target = self._tmp / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative not in self._files:
            self._files.append(relative)
        return target

    def commit(self) -> list[Path]:
        """Move every staged file into the output folder; returns the final paths."""
        if self._tmp is None:
            raise RuntimeError("OutputStaging used outside its with-block")
        done = []
        for relative in self._files:
            source = self._tmp / relative
            if not source.exists():
                continue
            final = self.output_dir / relative
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, final)
            except OSError as exc:
                raise OutputError(
                    f"output file '{final}': cannot be written ({exc.strerror or exc}). "
                    "Remove what is in the way or choose another output folder."
                ) from exc
            done.append(final)
        return done

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
