"""Train text classifiers: BlazingText-compatible fastText training and training-data preparation.

:func:`train_transformer_classifier` fine-tunes a Hugging Face sequence classifier from a CSV;
:func:`train_text_classifier` trains from ``__label__<class> <text>`` files with BlazingText's
supervised-mode hyperparameters; :func:`prepare_dbpedia` and :func:`prepare_labeled_text` write such
files from CSV; :func:`normalize_text` is the text normalization that training data and the
:class:`openclarify.models.FastTextPredictor` share.
"""

from __future__ import annotations

from ..text import TEXT_NORMALIZATIONS, TextNormalization, normalize_text, normalize_texts
from ._fasttext import BlazingTextHyperparameters, TrainResult, train_text_classifier
from ._huggingface import (
    BASE_MODELS,
    EpochResult,
    TransformerHyperparameters,
    TransformerTrainResult,
    base_model_folder,
    train_transformer_classifier,
)
from ._prepare import PrepareResult, prepare_dbpedia, prepare_labeled_text

__all__ = [
    "BASE_MODELS",
    "TEXT_NORMALIZATIONS",
    "BlazingTextHyperparameters",
    "EpochResult",
    "PrepareResult",
    "TextNormalization",
    "TrainResult",
    "TransformerHyperparameters",
    "TransformerTrainResult",
    "base_model_folder",
    "normalize_text",
    "normalize_texts",
    "prepare_dbpedia",
    "prepare_labeled_text",
    "train_text_classifier",
    "train_transformer_classifier",
]
