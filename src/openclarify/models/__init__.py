"""Model adapters: anything that answers ``f(records) -> scores`` behind one :class:`Predictor` seam."""

from __future__ import annotations

from ._endpoint import EndpointPredictor, EndpointStats
from ._fasttext import FastTextPredictor
from ._formats import MODEL_FORMATS, ModelFormat, ModelFormatName, find_in_folder, load_model, model_folder_files
from ._inprocess import SklearnPredictor
from ._protocol import CallablePredictor, Predictor, as_predictor, check_scores

__all__ = [
    "MODEL_FORMATS",
    "CallablePredictor",
    "EndpointPredictor",
    "EndpointStats",
    "FastTextPredictor",
    "ModelFormat",
    "ModelFormatName",
    "Predictor",
    "SklearnPredictor",
    "as_predictor",
    "check_scores",
    "find_in_folder",
    "load_model",
    "model_folder_files",
]
