"""Model formats: how a ``--model`` spec is recognised, found in a model folder, and loaded.

:data:`MODEL_FORMATS` maps each format to the ``"module:attribute"`` of its :class:`ModelFormat`, in the
order specs are tried (and a folder is searched). A new model format is one module plus one line here;
:func:`load_model` and the server's folder lookup loop over the table.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal, Protocol

from ..errors import ModelError
from ..io import is_url
from ._options import ModelOptions
from ._protocol import Predictor

__all__ = [
    "MODEL_FORMATS",
    "ModelFormat",
    "ModelFormatName",
    "find_in_folder",
    "load_model",
    "model_folder_files",
    "model_format",
]

ModelFormatName = Literal["fasttext", "huggingface", "joblib", "python"]

#: Format -> "module:attribute" of its ModelFormat, imported when a spec is resolved.
MODEL_FORMATS: dict[ModelFormatName, str] = {
    "fasttext": "openclarify.models._fasttext:FASTTEXT_FORMAT",
    "huggingface": "openclarify.models._huggingface:HUGGINGFACE_FORMAT",
    "joblib": "openclarify.models._inprocess:JOBLIB_FORMAT",
    "python": "openclarify.models._inprocess:PYTHON_FORMAT",
}


class ModelFormat(Protocol):
    """One way to give a model: what it is called, which specs it claims, how it loads."""

    @property
    def description(self) -> str:
        """What the user gives, for messages: "a scikit-learn model saved with joblib (.joblib, ...)"."""

    @property
    def folder_files(self) -> tuple[str, ...]:
        """The file names a model folder (SageMaker's ``/opt/ml/model``) may hold for this format."""

    def claims(self, spec: str) -> bool:
        """Whether ``spec`` (a path, or ``file.py:function``) names a model of this format."""

    def in_folder(self, folder: Path) -> str | None:
        """The spec of this format's model inside ``folder``, or None when it holds none."""

    def load(self, spec: str, options: ModelOptions | None = None) -> Predictor:
        """The model ``spec`` names, run as ``options`` say (raises :class:`~openclarify.errors.ModelError`;
        a format that runs on no device refuses options given with :meth:`ModelOptions.refuse`)."""


def model_format(name: ModelFormatName) -> ModelFormat:
    """The format registered as ``name`` (imported now, not before)."""
    module, _, attr = MODEL_FORMATS[name].partition(":")
    found: ModelFormat = getattr(importlib.import_module(module), attr)
    return found


def load_model(spec: str | Path, *, options: ModelOptions | None = None) -> Predictor:
    """Load the model named on the command line: the first registered format that claims ``spec``.

    ``spec`` is a fastText / BlazingText supervised ``model.bin`` (or ``.ftz``) or a folder holding
    ``model.bin`` (as ``openclarify train`` writes it); ``path/to/model.joblib`` (or ``.pkl``): a
    scikit-learn estimator, pipeline or callable saved with joblib, loaded only from this path the user
    named; or ``path/to/file.py:function``, a function that receives a DataFrame of records and returns
    one score or score vector per record; or a Hugging Face ``save_pretrained`` folder of a sequence
    classifier. ``options`` (device, runtime, batch size) apply to the Hugging Face models only.

    Any of these but ``file.py:function`` may be a URL (``s3://bucket/model.bin``, the prefix
    ``s3://bucket/hf/`` of a Hugging Face folder): it is copied into the model cache
    (``$XDG_CACHE_HOME/openclarify/models``, once per version of the objects) and loaded from there; ``s3://``
    needs ``pip install 'openclarify[s3]'``.

    Raises
    ------
    ModelError
        No format claims the spec, or the file is missing, cannot be loaded, or holds no usable model; a
        URL that names nothing, or cannot be downloaded.
    MissingDependencyError
        A URL whose protocol needs a package that is not installed.
    """
    text = str(spec)
    if is_url(text):  # copied into the model cache first (see models/_remote.py)
        from ._remote import load_remote_model

        return load_remote_model(text, options)
    formats = [model_format(name) for name in MODEL_FORMATS]
    for fmt in formats:
        if fmt.claims(text):
            return fmt.load(text, options)
    described = ", ".join(f.description for f in formats[:-1]) + f" or {formats[-1].description}"
    raise ModelError(f"--model: unsupported model file; got {text!r}. Give {described}.")


def find_in_folder(folder: Path) -> str | None:
    """The spec of the model a folder holds (the first registered format that finds one), or None."""
    for name in MODEL_FORMATS:
        spec = model_format(name).in_folder(folder)
        if spec is not None:
            return spec
    return None


def model_folder_files() -> tuple[str, ...]:
    """Every file name a model folder may hold, in the order they are looked for."""
    return tuple(f for name in MODEL_FORMATS for f in model_format(name).folder_files)
