"""Model adapters: anything that answers ``f(records) -> scores`` behind one :class:`Predictor` seam."""

from __future__ import annotations

from ._endpoint import EndpointPredictor, EndpointStats
from ._fasttext import FastTextPredictor
from ._inprocess import SklearnPredictor, load_model
from ._protocol import CallablePredictor, Predictor, as_predictor, check_scores

__all__ = [
    "CallablePredictor",
    "EndpointPredictor",
    "EndpointStats",
    "FastTextPredictor",
    "Predictor",
    "SklearnPredictor",
    "as_predictor",
    "check_scores",
    "load_model",
]
