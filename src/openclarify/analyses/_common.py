"""What several analyses need: the names of the model's outputs, which columns hold free text, a counted
model call."""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..config import AnalysisConfig
from ..data import Dataset
from ..errors import ConfigError
from ..models import Predictor

__all__ = [
    "CountsCalls",
    "counted_predict",
    "feature_columns",
    "json_value",
    "output_labels",
    "resolve",
    "text_columns",
]

logger = logging.getLogger("openclarify")

_TEXT_SAMPLE_ROWS = 1000


def output_labels(config: AnalysisConfig, n_outputs: int, model_names: Sequence[str] | None = None) -> list[str]:
    """One name per model output: the config's ``label_headers``, else the model's labels, else ``label<k>``."""
    headers = config.predictor.label_headers if config.predictor else None
    if not headers:
        if model_names is not None and len(model_names) == n_outputs and len(set(model_names)) == n_outputs:
            # a model that knows its labels (fastText, a scikit-learn classifier's classes_, an endpoint
            # that answers with labels): name the outputs by them
            return list(model_names)
        return [f"label{k}" for k in range(n_outputs)]
    if len(headers) == n_outputs:
        return list(headers)
    if n_outputs == 1 and len(headers) == 2:
        # a binary model that returns one score: the score is the probability of the second label
        return [headers[1]]
    raise ConfigError(
        f"names {len(headers)} outputs but the model returns {n_outputs} scores per record; got {list(headers)!r}. "
        f"Give {n_outputs} label headers or leave label_headers out.",
        path="predictor.label_headers",
    )


def text_columns(dataset: Dataset, requested: Sequence[str] | None, *, one_feature_is_text: bool = True) -> list[str]:
    """The feature columns holding free text (clarify-spec §2.2: detected automatically).

    A dataset with one feature: that column, whatever it holds. Otherwise a non-numeric column whose
    values among the first 1,000 records average at least three words, or (given at least 20 values) are
    mostly distinct, is text; other non-numeric columns are categorical, numeric ones numerical.
    ``requested`` (``--text-columns``) overrides this. The list may be empty.
    """
    schema = dataset.schema
    names = list(schema.feature_names)
    if requested is not None:
        wrong = [c for c in requested if c not in names]
        if wrong:
            raise ConfigError(f"not feature columns: {wrong!r}; the features are {names!r}.", path="text_columns")
        return [n for n in names if n in set(requested)]
    if len(names) == 1 and one_feature_is_text:
        return names
    # the first records, not a sample: a sample costs a pass over the whole dataset
    sample = next(iter(dataset.chunks(_TEXT_SAMPLE_ROWS)), None)
    sample_features = sample.features if sample is not None else pd.DataFrame(columns=names)
    found: list[str] = []
    for name, categorical in zip(names, schema.categorical, strict=True):
        if not categorical:
            continue
        values = [v for v in sample_features[name].tolist() if isinstance(v, str) and v.strip()]
        if not values:
            continue
        words = sum(len(v.split()) for v in values) / len(values)
        if words >= 3 or (len(values) >= 20 and len(set(values)) > len(values) / 2):
            found.append(name)
            logger.info("column %r is free text (%.1f words per value on average)", name, words)
    return found


def resolve(location: str, base_dir: Path | str | None) -> str:
    """A path inside the config, relative to the config's folder (where it exists there; a config at a URL:
    always next to it)."""
    if "://" in location or base_dir is None or Path(location).is_absolute():
        return location
    if isinstance(base_dir, str):  # the URL prefix of a config read from a URL
        # '.' and '..' applied here: S3 has no folders to resolve them, and takes them as part of the key
        scheme, rest = base_dir.split("://", 1)
        joined = posixpath.normpath(f"{rest.rstrip('/')}/{location}")
        return f"{scheme}://{joined}{'/' if location.endswith('/') else ''}"
    candidate = base_dir / location
    return str(candidate) if candidate.exists() or not Path(location).exists() else location


def feature_columns(items: Sequence[int | str], names: Sequence[str], key: str) -> list[int]:
    """The columns named by ``items`` (feature names, or 0-based indices), in the given order; a wrong
    entry is a :class:`ConfigError` at ``key[i]`` that lists the features."""
    out: list[int] = []
    errors: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        path = f"{key}[{i}]"
        if isinstance(item, int):
            if 0 <= item < len(names):
                out.append(item)
            else:
                errors.append((path, f"index out of range; got {item}. The {len(names)} features are {list(names)!r}."))
        elif item in names:
            out.append(list(names).index(item))
        else:
            errors.append((path, f"not a model input feature; got {item!r}. The features are {list(names)!r}."))
    if errors:
        raise ConfigError(errors)
    return out


def json_value(value: object) -> object:
    """A value read from the dataset as JSON writes it (numpy scalars as Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


class CountsCalls(Protocol):
    """A partition's result that counts the model calls it made."""

    model_rows: int
    model_calls: int
    model_seconds: float


def counted_predict(model: Predictor, records: pd.DataFrame, counts: CountsCalls) -> FloatArray:
    """``model.predict(records)``, counted on ``counts`` (records, calls, seconds inside the model)."""
    started = time.perf_counter()
    scores = model.predict(records)
    counts.model_seconds += time.perf_counter() - started
    counts.model_rows += len(records)
    counts.model_calls += 1
    return scores
