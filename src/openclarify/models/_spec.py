"""A model as a worker process gets it: the ``--model`` spec and its options, loaded once per worker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ._formats import load_model
from ._options import ModelOptions
from ._protocol import Predictor

__all__ = ["FileModelSpec"]


@dataclass(frozen=True, slots=True)
class FileModelSpec:
    """``load_model(spec, options=options)``, on whichever process calls :meth:`load`.

    The path is made absolute here, so a worker started in another folder finds the same file; a
    cluster on other machines needs the file at the same path there (a shared file system), or the model
    in the job's Python environment.
    """

    spec: str
    options: ModelOptions = ModelOptions()

    @classmethod
    def of(cls, spec: str | Path, options: ModelOptions | None = None) -> FileModelSpec:
        text = str(spec)
        head, sep, tail = text.rpartition(":")
        if sep and head.endswith(".py") and tail.isidentifier():
            text = f"{os.path.abspath(head)}:{tail}"
        elif "://" not in text:
            text = os.path.abspath(text)
        return cls(text, options or ModelOptions())

    @property
    def key(self) -> str:
        return f"file:{self.spec}:{self.options!r}"

    def load(self) -> Predictor:
        return load_model(self.spec, options=self.options)
