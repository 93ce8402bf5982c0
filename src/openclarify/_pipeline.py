"""run_analysis(): the one orchestrator, config + dataset + model -> Clarify's output files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._typing import FloatArray
from .config import AnalysisConfig
from .data import Dataset, DatasetSchema, open_dataset, read_baseline
from .errors import ConfigError, DataError
from .models import Predictor
from .outputs import (
    ANALYSIS_JSON,
    BASELINE_CSV,
    LOCAL_SHAP_CSV,
    GlobalAggregator,
    LocalShapCsvWriter,
    OutputStaging,
    kernel_shap_section,
    write_analysis_json,
    write_baseline_csv,
)
from .shapley import kernel_shap, summarize_baseline

__all__ = ["AnalysisResult", "run_analysis"]

logger = logging.getLogger("openclarify")

_SUPPORTED_DATASET_TYPES = ("text/csv", "application/jsonlines", "application/x-parquet")
_BASELINE_SAMPLE_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What a finished analysis computed and wrote.

    ``global_shap_values`` has shape ``(n_features, n_outputs)``; ``expected_value`` ``(n_outputs,)``;
    ``first_record_shap`` ``(n_features, n_outputs)`` holds the local values of the first record and
    ``first_record_score`` its scores ``(n_outputs,)``.
    """

    output_dir: Path
    files: tuple[Path, ...]
    labels: tuple[str, ...]
    feature_names: tuple[str, ...]
    global_shap_values: FloatArray
    expected_value: FloatArray
    first_record_shap: FloatArray
    first_record_score: FloatArray
    n_rows: int
    n_baseline_rows: int
    num_samples: int
    exact: bool
    seed: int
    seconds: float
    model_seconds: float
    model_rows: int
    model_calls: int


def _check_supported(config: AnalysisConfig) -> None:
    problems: list[tuple[str, str]] = []
    methods = config.methods
    for name in ("pdp", "pre_training_bias", "post_training_bias", "asymmetric_shapley_value"):
        if getattr(methods, name) is not None:
            problems.append((f"methods.{name}", "not supported yet; remove it from methods to run the other analyses."))
    shap = methods.shap
    if shap is None and not problems:
        problems.append(("methods", "nothing to compute; add a 'shap' method."))
    if shap is not None and shap.text_config is not None:
        problems.append(("methods.shap.text_config", "text explanations are not supported yet; remove text_config."))
    if shap is not None and shap.image_config is not None:
        problems.append(("methods.shap.image_config", "image explanations are not supported; remove image_config."))
    if config.dataset_type not in _SUPPORTED_DATASET_TYPES:
        problems.append(
            (
                "dataset_type",
                f"not supported yet; got {config.dataset_type!r}. Use one of {list(_SUPPORTED_DATASET_TYPES)!r}.",
            )
        )
    if problems:
        raise ConfigError(problems)
    if methods.report is not None:
        logger.warning("methods.report: reports are not produced yet; skipping the report, computing the rest.")


def _resolve(location: str, base_dir: Path | None) -> str:
    if "://" in location or base_dir is None or Path(location).is_absolute():
        return location
    candidate = base_dir / location
    return str(candidate) if candidate.exists() or not Path(location).exists() else location


def _players(config: AnalysisConfig, schema: DatasetSchema) -> tuple[list[list[str]], list[str]]:
    """Players of the game and the names of those explained (features_to_explain)."""
    names = list(schema.feature_names)
    wanted = config.methods.shap.features_to_explain if config.methods.shap else None
    if not wanted:
        return [[n] for n in names], names
    chosen: list[str] = []
    errors: list[tuple[str, str]] = []
    for i, item in enumerate(wanted):
        path = f"methods.shap.features_to_explain[{i}]"
        if isinstance(item, int):
            if 0 <= item < len(names):
                chosen.append(names[item])
            else:
                errors.append((path, f"index out of range; got {item}. The {len(names)} features are {names!r}."))
        elif item in names:
            chosen.append(item)
        else:
            errors.append((path, f"not a model input feature; got {item!r}. The features are {names!r}."))
    if errors:
        raise ConfigError(errors)
    chosen = [n for n in names if n in set(chosen)]
    rest = [n for n in names if n not in set(chosen)]
    # Features not explained act together as one player, so the explained values stay Shapley
    # values of a game over all inputs and expected_value stays the mean baseline score.
    return [[n] for n in chosen] + ([rest] if rest else []), chosen


def _labels(config: AnalysisConfig, n_outputs: int) -> list[str]:
    headers = config.predictor.label_headers if config.predictor else None
    if not headers:
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


def _plain(value: object) -> object:
    """Read-only config values (mapping proxies, tuples) back to plain JSON values (dict, list)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _baseline(config: AnalysisConfig, dataset: Dataset, base_dir: Path | None, seed: int) -> pd.DataFrame:
    shap = config.methods.shap
    assert shap is not None  # noqa: S101 - checked by _check_supported
    schema = dataset.schema
    if shap.baseline is not None:
        baseline = shap.baseline
        if isinstance(baseline, str):
            baseline = _resolve(baseline, base_dir)
            return read_baseline(baseline, schema, dataset_type=config.dataset_type, features=config.features)
        rows: Any = _plain(baseline)
        return read_baseline(rows, schema, dataset_type=config.dataset_type, features=config.features)
    sample = dataset.sample(_BASELINE_SAMPLE_ROWS, seed)
    return summarize_baseline(sample, schema.categorical, num_clusters=shap.num_clusters, seed=seed)


def run_analysis(
    config: AnalysisConfig,
    *,
    model: Predictor,
    output_dir: str | Path,
    data: str | Path | None = None,
    config_dir: str | Path | None = None,
    chunksize: int = 8192,
    max_batch_rows: int = 16384,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int | None, int], None] | None = None,
    n_jobs: int = 1,
) -> AnalysisResult:
    """Run the explainability analysis of ``config`` and write Clarify's output files.

    Parameters
    ----------
    config
        A validated analysis config (see :func:`openclarify.config.load_analysis_config`).
    model
        The model to explain.
    output_dir
        Where ``analysis.json`` and ``explanations_shap/`` are written. Files appear only when the
        whole job succeeded.
    data
        Dataset file or folder; default ``config.dataset_uri``.
    config_dir
        Folder that relative paths inside the config (``dataset_uri``, a baseline file) are relative to.
    chunksize
        Records read and explained at a time (the results do not depend on it).
    max_batch_rows
        Largest number of records sent to the model in one call.
    progress
        Called with the number of records finished, as the job goes.
    on_start
        Called once with the number of records (None when unknown) and of features before explaining.
    n_jobs
        Worker threads for the model calls and the estimator (see :func:`openclarify.kernel_shap`);
        the results do not depend on it.

    Raises
    ------
    ConfigError, DataError, ModelError
    """
    started = time.perf_counter()
    _check_supported(config)
    shap = config.methods.shap
    assert shap is not None  # noqa: S101 - checked above
    base_dir = Path(config_dir) if config_dir is not None else None
    location = str(data) if data is not None else config.dataset_uri
    if location is None:
        raise DataError("dataset: no dataset given; pass --data or set dataset_uri in the analysis config.")
    if data is None:
        location = _resolve(location, base_dir)
    dataset = open_dataset(
        location,
        dataset_type=config.dataset_type,
        headers=config.headers,
        label=config.label,
        predicted_label=config.predicted_label,
        features=config.features,
        joinsource_name_or_index=config.joinsource_name_or_index,
        excluded_columns=config.excluded_columns,
    )
    schema = dataset.schema
    players, explained = _players(config, schema)
    n_explained = len(explained)
    seed = int(shap.seed) if shap.seed is not None else int(np.random.SeedSequence().entropy % 2**32)  # type: ignore[operator]
    baseline = _baseline(config, dataset, base_dir, seed)
    player_names = [p[0] if len(p) == 1 else "+".join(p) for p in players]
    # name the outputs before the long part of the job, so a label_headers mismatch fails at once
    labels = _labels(config, model.predict(baseline).shape[1])

    out_dir = Path(output_dir)
    created = not out_dir.exists()
    try:
        with OutputStaging(out_dir) as stage:
            base_value: FloatArray | None = None
            writer: LocalShapCsvWriter | None = None
            aggregator = GlobalAggregator(shap.agg_method)
            n_rows = model_rows = model_calls = 0
            model_seconds = 0.0
            num_samples, exact = 0, False
            first_phi = first_fx = np.zeros(0)
            if on_start is not None:
                on_start(None, n_explained)
            try:
                for chunk in dataset.chunks(max(1, chunksize)):
                    res = kernel_shap(
                        model,
                        chunk.features,
                        baseline,
                        num_samples=shap.num_samples,
                        seed=seed,
                        use_logit=shap.use_logit,
                        players=players,
                        player_names=player_names,
                        max_batch_rows=max_batch_rows,
                        first_row=chunk.start_row,
                        base_value=base_value,
                        progress=progress,
                        n_jobs=n_jobs,
                    )
                    phi = res.phi[:, :n_explained, :]
                    if base_value is None:
                        base_value = res.base_value
                        if shap.save_local_shap_values:
                            writer = LocalShapCsvWriter(
                                stage.path(LOCAL_SHAP_CSV), explained, labels, schema.joinsource_name
                            )
                        first_phi, first_fx = phi[0], res.f_x[0]
                    if writer is not None:
                        js = chunk.join_source.tolist() if chunk.join_source is not None else None
                        writer.write(phi, js)
                    aggregator.add(phi)
                    n_rows += len(chunk.features)
                    model_rows += res.model_rows
                    model_calls += res.model_calls
                    model_seconds += res.model_seconds
                    num_samples, exact = res.num_samples, res.exact
            finally:
                if writer is not None:
                    writer.close()
            if base_value is None:
                raise DataError(
                    f"dataset '{location}': no records to explain; got 0 rows. Give a dataset with records."
                )
            global_values = aggregator.result()
            section = kernel_shap_section(labels, explained, global_values, base_value)
            write_analysis_json(stage.path(ANALYSIS_JSON), {"kernel_shap": section})
            write_baseline_csv(stage.path(BASELINE_CSV), baseline)
            files = stage.commit()
    except BaseException:
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise
    return AnalysisResult(
        output_dir=out_dir,
        files=tuple(files),
        labels=tuple(labels),
        feature_names=tuple(explained),
        global_shap_values=global_values,
        expected_value=base_value,
        first_record_shap=first_phi,
        first_record_score=first_fx,
        n_rows=n_rows,
        n_baseline_rows=len(baseline),
        num_samples=num_samples,
        exact=exact,
        seed=seed,
        seconds=time.perf_counter() - started,
        model_seconds=model_seconds,
        model_rows=model_rows,
        model_calls=model_calls,
    )
