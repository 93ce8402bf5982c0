"""run_analysis(): the one orchestrator, config + dataset + model -> Clarify's output files."""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._typing import FloatArray
from ._version import __version__
from .config import AnalysisConfig
from .data import Dataset, DatasetSchema, open_dataset, read_baseline
from .errors import ConfigError, DataError, ModelError, OpenClarifyWarning
from .models import Predictor
from .outputs import (
    ANALYSIS_JSON,
    BASELINE_CSV,
    CONFIG_JSON,
    LOCAL_SHAP_CSV,
    LOCAL_SHAP_JSONL,
    PREDICTIONS_JSONL,
    RUN_SUMMARY_JSON,
    GlobalAggregator,
    LocalShapCsvWriter,
    LocalShapJsonlWriter,
    OutputStaging,
    PredictionsJsonlWriter,
    RecordSelection,
    TopTextAggregator,
    encode_json,
    kernel_shap_section,
    read_output_folder,
    write_analysis_json,
    write_baseline_csv,
    write_json,
)
from .shapley import TextShapResult, kernel_shap, kernel_shap_text, summarize_baseline
from .shapley._estimator import _blame_data as blame_data
from .text import Segmenter, WhitespaceMode

__all__ = ["AnalysisResult", "ModelFactory", "run_analysis"]

logger = logging.getLogger("openclarify")

_SUPPORTED_DATASET_TYPES = ("text/csv", "application/jsonlines", "application/x-parquet")
_BASELINE_SAMPLE_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What a finished analysis computed and wrote.

    ``global_shap_values`` has shape ``(n_features, n_outputs)``; ``expected_value`` ``(n_outputs,)``;
    ``first_record_shap`` ``(n_features, n_outputs)`` holds the local values of the first record and
    ``first_record_score`` its scores ``(n_outputs,)``. For text analyses ``text_columns`` names the text
    features (a text feature's value in ``global_shap_values`` aggregates, per record, the sum of its
    units' values), ``expected_value`` is the mean over records of their base values (every unit
    replaced), and ``top_text[k]`` is label ``k``'s ``global_top_shap_text``. ``seconds`` is the whole
    job; ``explain_seconds`` the analysis (reading, explaining, writing the files) and ``report_seconds``
    drawing ``methods.report``.
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
    text_columns: tuple[str, ...] = ()
    top_text: tuple[dict[str, dict[str, float]], ...] = ()
    failed_rows: tuple[int, ...] = ()
    explain_seconds: float = 0.0
    report_seconds: float = 0.0


def _check_supported(config: AnalysisConfig) -> None:
    problems: list[tuple[str, str]] = []
    methods = config.methods
    for name in ("pdp", "pre_training_bias", "post_training_bias", "asymmetric_shapley_value"):
        if getattr(methods, name) is not None:
            problems.append((f"methods.{name}", "not supported yet; remove it from methods to run the other analyses."))
    shap = methods.shap
    if shap is None and not problems:
        problems.append(("methods", "nothing to compute; add a 'shap' method."))
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


def _labels(config: AnalysisConfig, n_outputs: int, model_names: Sequence[str] | None = None) -> list[str]:
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


_MAX_LISTED = 10_000  # failed record numbers listed in analysis.json
_FAILED_RECORD = "the model gave no scores for this record; it is not explained"
_TEXT_BASELINE = "<PAD>"  # replaces absent text units when the config gives no baseline (clarify-spec §2.3)
_TEXT_SAMPLE_ROWS = 1000


def _text_columns(dataset: Dataset, requested: Sequence[str] | None) -> list[str]:
    """The feature columns holding free text (clarify-spec §2.2: detected automatically).

    A dataset with one feature: that column, whatever it holds. Otherwise a non-numeric column whose
    values among the first 1,000 records average at least three words, or (given at least 20 values) are
    mostly distinct, is text; other non-numeric columns are categorical, numeric ones numerical.
    ``requested`` (``--text-columns``) overrides this.
    """
    schema = dataset.schema
    names = list(schema.feature_names)
    if requested is not None:
        wrong = [c for c in requested if c not in names]
        if wrong:
            raise ConfigError(f"not feature columns: {wrong!r}; the features are {names!r}.", path="text_columns")
        return [n for n in names if n in set(requested)]
    if len(names) == 1:
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
    if not found:
        kinds = ", ".join(
            f"{n} ({'categorical' if c else 'numerical'})" for n, c in zip(names, schema.categorical, strict=True)
        )
        raise ConfigError(
            f"no column holds free text; the features are {kinds}. Give a dataset with a text column, "
            "or remove text_config to explain the features as tabular ones.",
            path="methods.shap.text_config",
        )
    return found


def _text_baseline(
    config: AnalysisConfig,
    dataset: Dataset,
    schema: DatasetSchema,
    text_cols: Sequence[str],
    base_dir: Path | None,
    seed: int,
) -> pd.DataFrame:
    """Baseline rows for a text analysis: text columns hold the string that replaces an absent unit."""
    shap = config.methods.shap
    assert shap is not None  # noqa: S101 - checked by _check_supported
    if shap.baseline is not None:
        baseline: Any = shap.baseline
        if isinstance(baseline, str):
            baseline = _resolve(baseline, base_dir)
        else:
            baseline = _plain(baseline)
        frame = read_baseline(baseline, schema, dataset_type=config.dataset_type, features=config.features)
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


@dataclass(slots=True)
class _Run:
    feature_names: list[str]
    section: dict[str, Any]
    global_values: FloatArray
    expected_value: FloatArray
    first_phi: FloatArray
    first_fx: FloatArray
    n_rows: int = 0
    num_samples: int = 0
    exact: bool = False
    model_seconds: float = 0.0
    model_rows: int = 0
    model_calls: int = 0
    top_text: tuple[dict[str, dict[str, float]], ...] = ()
    failed_rows: list[int] = dataclasses.field(default_factory=list)


def _failed(phi: FloatArray, f_x: FloatArray) -> np.ndarray:
    """Records the model gave no usable scores for (NaN from a predictor that skips failing records)."""
    finite = np.isfinite(f_x).all(axis=1)
    if phi.size:
        finite &= np.isfinite(phi).all(axis=(1, 2))
    return np.asarray(~finite, dtype=bool)


def _check_base_value(base_value: FloatArray) -> None:
    if not np.isfinite(base_value).all():
        raise ModelError(
            "model: gave no scores for the baseline records, so nothing can be explained; got "
            f"{base_value.tolist()!r}. Check that the model answers for the baseline rows."
        )


def _explain_tabular(
    config: AnalysisConfig,
    dataset: Dataset,
    model: Predictor,
    baseline: pd.DataFrame,
    labels: list[str],
    players: list[list[str]],
    explained: list[str],
    player_names: list[str],
    stage: OutputStaging,
    chunksize: int,
    max_batch_rows: int,
    seed: int,
    progress: Callable[[int], None] | None,
    on_start: Callable[[int | None, int], None] | None,
    n_jobs: int,
) -> _Run:
    shap = config.methods.shap
    assert shap is not None  # noqa: S101 - checked by _check_supported
    schema = dataset.schema
    n_explained = len(explained)
    base_value: FloatArray | None = None
    writer: LocalShapCsvWriter | None = None
    predictions: PredictionsJsonlWriter | None = None
    aggregator = GlobalAggregator(shap.agg_method)
    run = _Run(explained, {}, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    if on_start is not None:
        on_start(None, n_explained)
    try:
        for chunk in dataset.chunks(chunksize):
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
                _check_base_value(res.base_value)
                base_value = res.base_value
                if shap.save_local_shap_values:
                    writer = LocalShapCsvWriter(stage.path(LOCAL_SHAP_CSV), explained, labels, schema.joinsource_name)
                    predictions = PredictionsJsonlWriter(stage.path(PREDICTIONS_JSONL))
                run.first_phi, run.first_fx = phi[0], res.f_x[0]
            if writer is not None:
                js = chunk.join_source.tolist() if chunk.join_source is not None else None
                writer.write(phi, js)  # a failed record's row has empty cells
            if predictions is not None:
                predictions.write(res.f_x, chunk.label.tolist() if chunk.label is not None else None)
            failed = _failed(phi, res.f_x)
            if failed.any():
                run.failed_rows.extend((chunk.start_row + np.flatnonzero(failed)).tolist())
                phi = phi[~failed]
            aggregator.add(phi)
            run.n_rows += len(chunk.features)
            run.model_rows += res.model_rows
            run.model_calls += res.model_calls
            run.model_seconds += res.model_seconds
            run.num_samples, run.exact = res.num_samples, res.exact
    finally:
        if writer is not None:
            writer.close()
        if predictions is not None:
            predictions.close()
    if base_value is None:
        return run
    if aggregator.count == 0:
        raise ModelError(f"model: gave no scores for any of the {run.n_rows} records; nothing was explained.")
    run.global_values = aggregator.result()
    run.expected_value = base_value
    run.section = kernel_shap_section(labels, explained, run.global_values, base_value)
    return run


def _json_value(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


_NO_JOIN = object()


def _text_record(
    names: Sequence[str],
    kinds: Sequence[str],
    phi: FloatArray,
    players: Sequence[Any],
    by_column: Mapping[int, list[int]],
    units_of: Mapping[int, list[str]],
    join: object,
) -> Iterator[str]:
    """A text record's ``out.jsonl`` line, piece by piece (the same text as ``encode_json`` of the whole
    record): ``{"explanations": [{"feature_name", "data_type", "attributions": [...]}, ...],
    "join_source_value": ...}``, one attribution per unit of a text feature, one for any other feature."""
    yield '{"explanations": ['
    for j, name in enumerate(names):
        yield (
            (", " if j else "")
            + encode_json({"feature_name": name, "data_type": kinds[j]})[:-1]
            + ', "attributions": ['
        )
        idx = by_column.get(j, [])
        if j in units_of:
            for n, (p, unit) in enumerate(zip(idx, units_of[j], strict=True)):
                description = {"partial_text": unit, "start_idx": players[p].start}
                yield (", " if n else "") + encode_json({"attribution": phi[p].tolist(), "description": description})
        else:
            yield encode_json({"attribution": phi[idx[0]].tolist()})
        yield "]}"
    yield "]"
    if join is not _NO_JOIN:
        yield ', "join_source_value": ' + encode_json(join)
    yield "}"


def _explain_text(
    whitespace: WhitespaceMode,
    config: AnalysisConfig,
    dataset: Dataset,
    model: Predictor,
    baseline: pd.DataFrame,
    labels: list[str],
    text_cols: list[str],
    stage: OutputStaging,
    chunksize: int,
    max_batch_rows: int,
    seed: int,
    progress: Callable[[int], None] | None,
    on_start: Callable[[int | None, int], None] | None,
) -> _Run:
    shap = config.methods.shap
    assert shap is not None and shap.text_config is not None  # noqa: S101 - checked by the caller
    tc = shap.text_config
    schema = dataset.schema
    names = list(schema.feature_names)
    text_set = set(text_cols)
    kinds = [
        "free_text" if n in text_set else ("categorical" if c else "numerical")
        for n, c in zip(names, schema.categorical, strict=True)
    ]
    segmenter = Segmenter(tc.granularity, tc.language, whitespace=whitespace)
    writer = LocalShapJsonlWriter(stage.path(LOCAL_SHAP_JSONL)) if shap.save_local_shap_values else None
    predictions = PredictionsJsonlWriter(stage.path(PREDICTIONS_JSONL)) if shap.save_local_shap_values else None
    aggregator = GlobalAggregator(shap.agg_method)
    base_mean = GlobalAggregator("mean")
    top = TopTextAggregator(shap.agg_method, tc.max_top_tokens)
    run = _Run(names, {}, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    empty_rows: list[int] = []
    max_coalitions, all_exact = 0, True
    if on_start is not None:
        on_start(None, len(names))
    try:
        for chunk in dataset.chunks(chunksize):
            res: TextShapResult = kernel_shap_text(
                model,
                chunk.features,
                baseline,
                text_columns=text_cols,
                segmenter=segmenter,
                num_samples=shap.num_samples,
                seed=seed,
                use_logit=shap.use_logit,
                max_batch_rows=max_batch_rows,
                first_row=chunk.start_row,
                progress=progress,
            )
            n, n_out = len(chunk.features), res.f_x.shape[1]
            totals = np.zeros((n, len(names), n_out))
            js = chunk.join_source.tolist() if chunk.join_source is not None else None
            if predictions is not None:
                predictions.write(res.f_x, chunk.label.tolist() if chunk.label is not None else None)
            ok = np.ones(n, dtype=bool)
            for i in range(n):
                phi, players = res.phi[i], res.players[i]
                if not (
                    np.isfinite(phi).all() and np.isfinite(res.f_x[i]).all() and np.isfinite(res.base_value[i]).all()
                ):
                    ok[i] = False
                    run.failed_rows.append(chunk.start_row + i)
                    if writer is not None:
                        failure: dict[str, Any] = {"explanations": [], "error": _FAILED_RECORD}
                        if js is not None:
                            failure["join_source_value"] = _json_value(js[i])
                        writer.write(failure)
                    continue
                by_column: dict[int, list[int]] = {}  # the record's players of each feature, in order
                for p, player in enumerate(players):
                    by_column.setdefault(player.column, []).append(p)
                units_of: dict[int, list[str]] = {}
                for j, name in enumerate(names):
                    idx = by_column.get(j, [])
                    if name in text_set:
                        text = res.texts[i][j]
                        units_of[j] = [text[players[p].start : players[p].end] for p in idx]
                        if not idx:
                            empty_rows.append(chunk.start_row + i)
                        top.add(name, units_of[j], phi[idx])
                    if idx:
                        totals[i, j] = phi[idx].sum(axis=0)
                if writer is not None:
                    join = _json_value(js[i]) if js is not None else _NO_JOIN
                    writer.write_parts(_text_record(names, kinds, phi, players, by_column, units_of, join))
            if run.n_rows == 0 and n:
                run.first_phi, run.first_fx = totals[0], res.f_x[0]
            aggregator.add(totals[ok])
            base_mean.add(res.base_value[ok][:, None, :])
            run.n_rows += n
            run.model_rows += res.model_rows
            run.model_calls += res.model_calls
            run.model_seconds += res.model_seconds
            if n:
                max_coalitions = max(max_coalitions, int(res.num_samples.max()))
                all_exact = all_exact and bool(res.exact.all())
    finally:
        if writer is not None:
            writer.close()
        if predictions is not None:
            predictions.close()
    if run.n_rows == 0:
        return run
    if empty_rows:
        shown = ", ".join(str(r) for r in empty_rows[:5]) + (", ..." if len(empty_rows) > 5 else "")
        warnings.warn(
            f"{len(empty_rows)} records have a text with no units (empty or whitespace only; records {shown}, "
            "numbered from 0): their text gets no attributions.",
            OpenClarifyWarning,
            stacklevel=3,
        )
    if base_mean.count == 0:
        raise ModelError(
            f"model: gave no scores for any of the {run.n_rows} records' coalitions; nothing was explained."
        )
    run.global_values = aggregator.result()
    run.expected_value = base_mean.result()[0]
    run.num_samples, run.exact = max_coalitions, all_exact
    top_text = top.result(len(labels))
    for k in range(len(labels)):
        for name in text_cols:
            top_text[k].setdefault(name, {})
    run.top_text = tuple(top_text)
    run.section = kernel_shap_section(labels, names, run.global_values, run.expected_value, top_text)
    return run


ModelFactory = Callable[[DatasetSchema], Predictor]


def _write_reports(
    config: AnalysisConfig, stage: OutputStaging, records: RecordSelection | None, label: str | None
) -> None:
    """``methods.report``: render the report from the staged output files, next to them.

    A report that cannot be rendered never costs the analysis: the failure is a warning, the other
    formats and the analysis files are still written, and ``openclarify report`` can retry.
    """
    from .errors import MissingDependencyError
    from .report import REPORT_FORMATS, build_report, render_report

    report_config = config.methods.report
    assert report_config is not None  # noqa: S101 - checked by the caller
    name = report_config.name
    try:
        found = read_output_folder(stage.root, records, label=label)
        report = build_report(found, label=label, title=report_config.title)
    except Exception as exc:  # noqa: BLE001 - the analysis files must survive a report failure
        warnings.warn(f"methods.report: no report was written ({exc}).", OpenClarifyWarning, stacklevel=3)
        return
    for fmt in REPORT_FORMATS:
        try:
            content = render_report(report, fmt)
        except MissingDependencyError as exc:
            warnings.warn(f"methods.report: {name}.{fmt} was not written: {exc}", OpenClarifyWarning, stacklevel=3)
            continue
        except Exception as exc:  # noqa: BLE001 - the analysis files must survive a report failure
            warnings.warn(
                f"methods.report: {name}.{fmt} was not written ({type(exc).__name__}: {exc}); the analysis files "
                "are complete. Run 'openclarify report' on the output folder to try again.",
                OpenClarifyWarning,
                stacklevel=3,
            )
            continue
        stage.path(f"{name}.{fmt}").write_bytes(content)


def run_analysis(
    config: AnalysisConfig,
    *,
    model: Predictor | ModelFactory,
    output_dir: str | Path,
    data: str | Path | None = None,
    config_dir: str | Path | None = None,
    chunksize: int = 8192,
    max_batch_rows: int = 16384,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int | None, int], None] | None = None,
    n_jobs: int = 1,
    text_columns: Sequence[str] | None = None,
    text_whitespace: WhitespaceMode = "keep",
    model_description: str | None = None,
    report_records: RecordSelection | None = None,
    report_label: str | None = None,
    overwrite: bool = False,
    inputs: Sequence[str | Path] = (),
) -> AnalysisResult:
    """Run the explainability analysis of ``config`` and write Clarify's output files.

    Parameters
    ----------
    config
        A validated analysis config (see :func:`openclarify.config.load_analysis_config`).
    model
        The model to explain, or a function that makes it from the dataset's schema once the dataset is
        open (an :class:`~openclarify.models.EndpointPredictor` needs the feature names).
    output_dir
        Where ``analysis.json`` and ``explanations_shap/`` are written. Files appear only when the
        whole job succeeded, and all together: the folder then holds exactly this job's files (an
        earlier job's files are replaced). It must be new, empty or an earlier job's output folder,
        unless ``overwrite``; it is locked while the job runs (see :class:`openclarify.outputs.OutputStaging`).
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
        the results do not depend on it. Text analyses run on one thread.
    text_columns
        With ``text_config``: the feature columns that hold free text. Default: detected (see
        :func:`_text_columns`).
    text_whitespace
        ``"keep"`` (Clarify's units: extra whitespace is a token unit, sentences keep the whitespace
        before them) or ``"trim"`` (no whitespace-only units, trimmed sentences); see
        :class:`openclarify.text.Segmenter`.
    model_description
        How the model is named in ``run_summary.json`` and the report (a path, an endpoint URL);
        default the predictor's class name.
    report_records, report_label
        With ``methods.report``: the records the report shows (default the first 10) and the label
        whose attributions it shows (default each record's predicted label); see
        :func:`openclarify.report.load_report`.
    overwrite
        Replace whatever ``output_dir`` holds, even files no openclarify job wrote.
    inputs
        Files the job reads besides the dataset and a baseline file (the config, the model): an
        ``overwrite`` that would delete one of them is refused.

    Raises
    ------
    ConfigError, DataError, ModelError, OutputError
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
    protected = [*inputs, location]
    if isinstance(shap.baseline, str):
        protected.append(_resolve(shap.baseline, base_dir))
    # the output folder is checked and locked before the data is read, so a wrong folder fails at once
    with OutputStaging(output_dir, overwrite=overwrite, protected=protected) as stage:
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
        if not isinstance(model, Predictor):
            model = model(schema)
        players, explained = _players(config, schema)
        seed = int(shap.seed) if shap.seed is not None else int(np.random.SeedSequence().entropy % 2**32)  # type: ignore[operator]
        text_cols: list[str] = []
        if shap.text_config is not None:
            text_cols = _text_columns(dataset, text_columns)
            # a text column holds strings even where the file had only numbers in it
            schema = dataclasses.replace(
                schema,
                categorical=tuple(
                    c or n in text_cols for n, c in zip(schema.feature_names, schema.categorical, strict=True)
                ),
            )
            baseline = _text_baseline(config, dataset, schema, text_cols, base_dir, seed)
        else:
            baseline = _baseline(config, dataset, base_dir, seed)
        player_names = [p[0] if len(p) == 1 else "+".join(p) for p in players]
        # name the outputs before the long part of the job, so a label_headers mismatch fails at once
        try:
            n_outputs = model.predict(baseline).shape[1]
        except DataError as exc:  # a model failing on a missing number of the baseline: name its record
            raise (blame_data(exc, model, [("baseline", baseline, 0)]) or exc) from exc.__cause__
        labels = _labels(config, n_outputs, getattr(model, "label_headers", None))

        if text_cols:
            run = _explain_text(
                text_whitespace,
                config,
                dataset,
                model,
                baseline,
                labels,
                text_cols,
                stage,
                max(1, chunksize),
                max_batch_rows,
                seed,
                progress,
                on_start,
            )
        else:
            run = _explain_tabular(
                config,
                dataset,
                model,
                baseline,
                labels,
                players,
                explained,
                player_names,
                stage,
                max(1, chunksize),
                max_batch_rows,
                seed,
                progress,
                on_start,
                n_jobs,
            )
        if run.n_rows == 0:
            raise DataError(f"dataset '{location}': no records to explain; got 0 rows. Give a dataset with records.")
        extra: dict[str, Any] = {}
        if run.failed_rows:
            if len(run.failed_rows) == run.n_rows:
                raise ModelError(f"model: gave no scores for any of the {run.n_rows} records; nothing was explained.")
            shown = ", ".join(str(r) for r in run.failed_rows[:10]) + (", ..." if len(run.failed_rows) > 10 else "")
            warnings.warn(
                f"{len(run.failed_rows)} of {run.n_rows} records could not be explained because the model "
                f"failed on them (records {shown}, numbered from 0); they are left out of the global values "
                "and listed in analysis.json under failed_records.",
                OpenClarifyWarning,
                stacklevel=2,
            )
            extra["failed_records"] = {"count": len(run.failed_rows), "rows": run.failed_rows[:_MAX_LISTED]}
        write_analysis_json(stage.path(ANALYSIS_JSON), {"kernel_shap": run.section}, extra)
        write_baseline_csv(stage.path(BASELINE_CSV), baseline)
        if config.source:
            write_json(stage.path(CONFIG_JSON), _plain(config.source))  # type: ignore[arg-type]
        explain_seconds = time.perf_counter() - started
        summary: dict[str, Any] = {
            "tool": f"openclarify {__version__}",
            "dataset": location,
            "dataset_type": config.dataset_type,
            "model": model_description or type(model).__name__,
            "labels": labels,
            "n_rows": run.n_rows,
            "n_failed": len(run.failed_rows),
            "n_baseline_rows": len(baseline),
            "num_samples": run.num_samples,
            "exact": run.exact,
            "seed": seed,
            "seconds": round(explain_seconds, 3),
            "model_calls": run.model_calls,
            "model_rows": run.model_rows,
            "model_seconds": round(run.model_seconds, 3),
            "text_columns": text_cols,
            "text_whitespace": text_whitespace if text_cols else None,
        }
        write_json(stage.path(RUN_SUMMARY_JSON), summary)
        report_seconds = 0.0
        if config.methods.report is not None:
            # the report shows the run's facts, so it is drawn from the summary above; its own time is
            # added afterwards, apart from the explaining time ("seconds")
            report_started = time.perf_counter()
            _write_reports(config, stage, report_records, report_label)
            report_seconds = time.perf_counter() - report_started
            write_json(stage.path(RUN_SUMMARY_JSON), {**summary, "report_seconds": round(report_seconds, 3)})
        files = stage.commit()
    out_dir = Path(output_dir)
    return AnalysisResult(
        output_dir=out_dir,
        files=tuple(files),
        labels=tuple(labels),
        feature_names=tuple(run.feature_names),
        global_shap_values=run.global_values,
        expected_value=run.expected_value,
        first_record_shap=run.first_phi,
        first_record_score=run.first_fx,
        n_rows=run.n_rows,
        n_baseline_rows=len(baseline),
        num_samples=run.num_samples,
        exact=run.exact,
        seed=seed,
        seconds=time.perf_counter() - started,
        explain_seconds=explain_seconds,
        report_seconds=report_seconds,
        model_seconds=run.model_seconds,
        model_rows=run.model_rows,
        model_calls=run.model_calls,
        text_columns=tuple(text_cols),
        top_text=run.top_text,
        failed_rows=tuple(run.failed_rows),
    )
