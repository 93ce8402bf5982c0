"""The Predictor seam: anything that turns a batch of records into one score vector per record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..errors import ModelError

__all__ = ["CallablePredictor", "Predictor", "as_predictor", "check_scores"]


@runtime_checkable
class Predictor(Protocol):
    """A model as the estimators see it.

    ``predict`` receives a batch of records (a DataFrame whose columns are the model's input
    features) and returns the scores, shape ``(n_records, n_outputs)``. In-process models, HTTP
    endpoints and SageMaker endpoints all implement this one method.
    """

    def predict(self, records: pd.DataFrame) -> FloatArray: ...


def check_scores(raw: Any, n_records: int, *, source: str) -> FloatArray:
    """Validate a model's answer: one finite score, or one score vector, per record.

    Returns a float array of shape ``(n_records, n_outputs)``.
    """
    try:
        scores = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{source}: returned values that are not numbers ({exc}); got {type(raw).__name__}. "
            "Return one score or one score vector per record."
        ) from None
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] != n_records or scores.shape[1] == 0:
        raise ModelError(
            f"{source}: expected one score or score vector for each of the {n_records} records; "
            f"got an array of shape {tuple(np.shape(raw))}. Return shape ({n_records},) or ({n_records}, n_outputs)."
        )
    bad = ~np.isfinite(scores)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ModelError(
            f"{source}: returned a non-finite score for {int(bad.any(axis=1).sum())} of {n_records} records "
            f"(first at batch row {row}); got {scores[row].tolist()!r}. Make the model return finite scores."
        )
    return scores


class CallablePredictor:
    """Wrap a Python callable ``fn(records) -> scores`` as a :class:`Predictor`.

    ``as_numpy`` passes the records as a 2-D array instead of a DataFrame (for models fitted
    without feature names).
    """

    def __init__(self, fn: Callable[[Any], Any], *, name: str | None = None, as_numpy: bool = False) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)
        self.as_numpy = as_numpy

    def predict(self, records: pd.DataFrame) -> FloatArray:
        batch: Any = records.to_numpy() if self.as_numpy else records
        try:
            raw = self.fn(batch)
        except Exception as exc:  # noqa: BLE001 - any failure inside user code is a model error
            raise ModelError(
                f"model {self.name!r} raised {type(exc).__name__} on a batch of {len(records)} records: {exc}"
            ) from exc
        return check_scores(raw, len(records), source=f"model {self.name!r}")


def as_predictor(model: Predictor | Callable[[Any], Any]) -> Predictor:
    """Return ``model`` if it is a :class:`Predictor`, else wrap a callable in :class:`CallablePredictor`."""
    if isinstance(model, Predictor):
        return model
    if callable(model):
        return CallablePredictor(model)
    raise ModelError(f"model: expected a Predictor or a callable; got {type(model).__name__}.")
