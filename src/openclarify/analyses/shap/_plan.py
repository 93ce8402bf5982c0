"""What a SHAP analysis needs before it explains: players, the baseline, the text columns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ...config import AnalysisConfig, ShapConfig
from ...config._schema import plain
from ...data import Dataset, DatasetSchema, read_baseline
from ...shapley import summarize_baseline
from .._common import feature_columns, resolve

__all__ = ["baseline", "players", "text_baseline"]

_BASELINE_SAMPLE_ROWS = 10_000
_TEXT_BASELINE = "<PAD>"  # replaces absent text units when the config gives no baseline (clarify-spec §2.3)


def players(shap: ShapConfig, schema: DatasetSchema) -> tuple[list[list[str]], list[str]]:
    """Players of the game and the names of those explained (features_to_explain)."""
    names = list(schema.feature_names)
    wanted = shap.features_to_explain
    if not wanted:
        return [[n] for n in names], names
    picked = set(feature_columns(wanted, names, "methods.shap.features_to_explain"))
    chosen = [n for j, n in enumerate(names) if j in picked]  # in column order
    rest = [n for j, n in enumerate(names) if j not in picked]
    # Features not explained act together as one player, so the explained values stay Shapley
    # values of a game over all inputs and expected_value stays the mean baseline score.
    return [[n] for n in chosen] + ([rest] if rest else []), chosen


def baseline(
    config: AnalysisConfig, shap: ShapConfig, dataset: Dataset, base_dir: Path | str | None, seed: int
) -> pd.DataFrame:
    schema = dataset.schema
    if shap.baseline is not None:
        given = shap.baseline
        if isinstance(given, str):
            given = resolve(given, base_dir)
            return read_baseline(given, schema, dataset_type=config.dataset_type, features=config.features)
        rows: Any = plain(given)
        return read_baseline(rows, schema, dataset_type=config.dataset_type, features=config.features)
    sample = dataset.sample(_BASELINE_SAMPLE_ROWS, seed)
    return summarize_baseline(sample, schema.categorical, num_clusters=shap.num_clusters, seed=seed)


def text_baseline(
    config: AnalysisConfig,
    shap: ShapConfig,
    dataset: Dataset,
    schema: DatasetSchema,
    text_cols: Sequence[str],
    base_dir: Path | str | None,
    seed: int,
) -> pd.DataFrame:
    """Baseline rows for a text analysis: text columns hold the string that replaces an absent unit."""
    if shap.baseline is not None:
        given: Any = shap.baseline
        given = resolve(given, base_dir) if isinstance(given, str) else plain(given)
        frame = read_baseline(given, schema, dataset_type=config.dataset_type, features=config.features)
        for name in text_cols:
            frame[name] = [v if isinstance(v, str) else "" for v in frame[name].tolist()]
        return frame
    names = list(schema.feature_names)
    tabular = [n for n in names if n not in set(text_cols)]
    if tabular:
        sample = dataset.sample(_BASELINE_SAMPLE_ROWS, seed)[tabular]
        cats = tuple(c for n, c in zip(names, schema.categorical, strict=True) if n in set(tabular))
        frame = summarize_baseline(sample, cats, num_clusters=shap.num_clusters, seed=seed)
    else:
        frame = pd.DataFrame(index=range(1))
    for name in text_cols:
        frame[name] = pd.Series([_TEXT_BASELINE] * len(frame), dtype=object)
    return frame[names].reset_index(drop=True)
