"""The served model: where it is (SageMaker's ``/opt/ml/model`` layout), and what it says about its columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._typing import FloatArray
from ..errors import ModelError
from ..models import ModelOptions, Predictor, check_scores, find_in_folder, load_model, model_folder_files
from ..wire import MediaType, Payload, encode_scores

__all__ = ["ServedModel", "load_served_model", "resolve_model"]


def resolve_model(spec: str) -> str:
    """The ``load_model`` spec for ``spec``; a folder holds ``model.bin``, ``model.joblib`` or ``model.py``.

    A folder (SageMaker unpacks ``model.tar.gz`` into ``/opt/ml/model``) is searched in that order; a
    ``model.py`` must define ``predict(records) -> scores``. Anything else is returned as it is.

    Raises
    ------
    ModelError
        The path does not exist, or the folder holds none of those files.
    """
    head, sep, tail = spec.rpartition(":")
    path = Path(head if sep and head.endswith(".py") and tail.isidentifier() else spec)
    if not path.exists():
        raise ModelError(f"--model '{spec}': no such file or folder. Give a model file, a folder or file.py:function.")
    if not path.is_dir():
        return spec
    found = find_in_folder(path)
    if found is not None:
        return found
    names = model_folder_files()
    listed = sorted(p.name for p in path.iterdir())[:20]
    raise ModelError(
        f"--model '{spec}': the folder holds no {', '.join(names[:-1])} or {names[-1]}; got {listed!r}. "
        "Put the model there, or name the file."
    )


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A loaded model and how records become its DataFrame.

    ``feature_names`` are the column names (``None``: ``column_0``, ... by position); ``text_columns``
    is ``True`` for a text model (every column text) or the columns kept as text; ``output_names``
    names the scores (class labels) when the model knows them. ``positive_only``: answer only the last
    of two scores (P(positive)), whose name is then ``output_names``' one entry.
    """

    predictor: Predictor
    feature_names: tuple[str, ...] | None
    text_columns: frozenset[str] | bool
    output_names: tuple[str, ...] | None
    positive_only: bool = False

    def score(self, frame: pd.DataFrame) -> FloatArray:
        """The scores the server answers for ``frame``'s records, checked (``positive_only``: the last alone)."""
        scores = check_scores(self.predictor.predict(frame), len(frame), source="model")
        return scores[:, -1:] if self.positive_only else scores  # the seed's predict_fn: P(positive)

    def encode(self, scores: FloatArray, accept: MediaType, payload: Payload) -> bytes:
        """The answer's body: ``scores`` in the ``accept`` format (and the request's shape: k, BlazingText's
        JSON, the Hugging Face toolkit's)."""
        return encode_scores(
            scores,
            accept,
            output_names=self.output_names,
            top_k=payload.top_k,
            blazingtext=payload.blazingtext,
            huggingface=payload.huggingface,
        )


def _names(values: object) -> tuple[str, ...] | None:
    if values is None:
        return None
    return tuple(str(v) for v in values)  # type: ignore[attr-defined]


def load_served_model(
    spec: str,
    *,
    feature_names: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    options: ModelOptions | None = None,
    positive_only: bool = False,
) -> ServedModel:
    """Load the model named by ``spec`` (see :func:`resolve_model`) and work out its columns.

    Column names come from the model when it knows them (a scikit-learn estimator fitted on a
    DataFrame has ``feature_names_in_``), else from ``feature_names``. A text model (fastText, a Hugging
    Face classifier) takes one text column.

    Raises
    ------
    ModelError
        The model cannot be loaded, ``feature_names`` contradicts the model, or ``positive_only`` is
        asked of a model without exactly two named scores.
    """
    served = _served(load_model(resolve_model(spec), options=options), feature_names, text_columns)
    if not positive_only:
        return served
    names = served.output_names
    if names is None or len(names) != 2:
        got = f"{len(names)} labels {list(names)[:5]!r}" if names is not None else "unnamed scores"
        raise ModelError(
            f"--positive-only: only a model with two labels has one positive probability; got {got}. "
            "Leave the option out to answer every score."
        )
    return ServedModel(served.predictor, served.feature_names, served.text_columns, names[1:], positive_only=True)


def _served(predictor: Predictor, feature_names: Sequence[str] | None, text_columns: Sequence[str]) -> ServedModel:
    given = tuple(feature_names) if feature_names is not None else None
    known = _names(getattr(getattr(predictor, "estimator", None), "feature_names_in_", None))
    if known is not None and given is not None and given != known:
        raise ModelError(
            f"--feature-names: the model was fitted on the columns {list(known)!r}; got {list(given)!r}. "
            "Leave the option out, or give the model's names."
        )
    if getattr(predictor, "takes_text", False):  # fastText, Hugging Face: one text column
        if given is not None and len(given) != 1:
            raise ModelError(f"--feature-names: a text model takes one text column; got {list(given)!r}.")
        return ServedModel(predictor, given or ("text",), True, _names(getattr(predictor, "output_names", None)))
    names = known or given
    if names is not None:
        unknown = sorted(set(text_columns) - set(names))
        if unknown:
            raise ModelError(f"--text-columns: not among the model's columns {list(names)[:20]!r}; got {unknown!r}.")
    outputs = _names(getattr(predictor, "output_names", None))
    return ServedModel(predictor, names, frozenset(text_columns), outputs)
