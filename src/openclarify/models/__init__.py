"""Model adapters: anything that answers ``f(records) -> scores`` behind one :class:`Predictor` seam."""

from __future__ import annotations

from ._fasttext import FastTextPredictor
from ._inprocess import SklearnPredictor, load_model
from ._protocol import CallablePredictor, Predictor, as_predictor, check_scores

__all__ = [
    "CallablePredictor",
    "FastTextPredictor",
    "Predictor",
    "SklearnPredictor",
    "as_predictor",
    "check_scores",
    "load_model",
]
