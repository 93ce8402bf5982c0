"""Model adapters: anything that answers ``f(records) -> scores`` behind one :class:`Predictor` seam."""

from __future__ import annotations

from ._endpoint import EndpointPredictor, EndpointStats
from ._fasttext import FastTextPredictor
from ._formats import MODEL_FORMATS, ModelFormat, ModelFormatName, find_in_folder, load_model, model_folder_files
from ._huggingface import TransformerPredictor, export_onnx
from ._inprocess import SklearnPredictor
from ._options import DEVICES, RUNTIMES, Device, ModelOptions, Runtime
from ._protocol import ROW_MULTIPLE, CallablePredictor, Predictor, as_predictor, check_scores
from ._spec import EndpointModelSpec, FileModelSpec

__all__ = [
    "DEVICES",
    "MODEL_FORMATS",
    "ROW_MULTIPLE",
    "RUNTIMES",
    "CallablePredictor",
    "Device",
    "EndpointModelSpec",
    "EndpointPredictor",
    "EndpointStats",
    "FastTextPredictor",
    "FileModelSpec",
    "ModelFormat",
    "ModelFormatName",
    "ModelOptions",
    "Predictor",
    "Runtime",
    "SklearnPredictor",
    "TransformerPredictor",
    "as_predictor",
    "check_scores",
    "export_onnx",
    "find_in_folder",
    "load_model",
    "model_folder_files",
]
