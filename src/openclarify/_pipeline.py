"""run_analysis(): the job. Config + dataset + model -> Clarify's output files.

The job opens the output folder, the dataset and the model, then runs each analysis the config asks
for (the registry :data:`openclarify.analyses.ANALYSES`, in its order) over the dataset's partitions
on an executor (:mod:`openclarify.backends`), and writes ``analysis.json`` from the analyses' sections.
It knows no analysis by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._typing import FloatArray
from ._version import __version__
from .analyses import ANALYSES, Analysis, Job, JobOptions, MethodKey, Needs, load_analysis
from .analyses._common import resolve
from .backends import BackendName, ModelSpec, get_executor, loaded, worker_model
from .config import AnalysisConfig
from .config._schema import plain
from .data import DataChunk, DatasetSchema, open_dataset
from .errors import ConfigError, DataError, ModelError, OpenClarifyWarning
from .models import Predictor
from .outputs import (
    ANALYSIS_JSON,
    CONFIG_JSON,
    RUN_SUMMARY_JSON,
    Checkpoint,
    OutputStaging,
    RecordSelection,
    RemoteOutputStaging,
    dataset_listing,
    input_digests,
    output_staging,
    read_output_folder,
    write_analysis_json,
    write_json,
)
from .text import WhitespaceMode

__all__ = ["AnalysisResult", "ModelFactory", "model_needed", "run_analysis"]

_SUPPORTED_DATASET_TYPES = ("text/csv", "application/jsonlines", "application/x-parquet")


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
    drawing ``methods.report``. ``sections`` holds every analysis's ``analysis.json`` section by its
    key (``kernel_shap``, ``pdp``, ``pre_training_bias_metrics``, ``post_training_bias_metrics``); without
    ``methods.shap`` the SHAP fields are empty.
    """

    output_dir: Path | str
    files: tuple[Path | str, ...]
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
    sections: Mapping[str, Any] | None = None
    restored_partitions: int = 0


_Wanted = dict[MethodKey, tuple[Analysis[Any, Any], Needs]]


def _check_supported(config: AnalysisConfig, base_dir: Path | str | None) -> _Wanted:
    """The registered analyses the config asks for, in the registry's order, with what each needs; the
    others refused, and every problem (the job's and the analyses' own) in one error."""
    problems: list[tuple[str, str]] = []
    methods = config.methods
    wanted: _Wanted = {}
    for key, target in ANALYSES.items():
        if getattr(methods, key) is None:
            continue
        if target is None:
            problems.append((f"methods.{key}", "not supported yet; remove it from methods to run the other analyses."))
        else:
            analysis = load_analysis(key)
            wanted[key] = (analysis, analysis.check(config, base_dir))
    if methods.asymmetric_shapley_value is not None:
        problems.append(
            ("methods.asymmetric_shapley_value", "not supported yet; remove it from methods to run the other analyses.")
        )
    if not wanted and not problems:
        problems.append(("methods", "nothing to compute; add a 'shap', 'pdp' or bias method."))
    for _, needs in wanted.values():
        problems.extend(needs.problems)
    if config.dataset_type not in _SUPPORTED_DATASET_TYPES:
        problems.append(
            (
                "dataset_type",
                f"not supported yet; got {config.dataset_type!r}. Use one of {list(_SUPPORTED_DATASET_TYPES)!r}.",
            )
        )
    if problems:
        raise ConfigError(problems)
    return wanted


ModelFactory = Callable[[DatasetSchema], Predictor]


def _base_dir(config_dir: str | Path | None) -> Path | str | None:
    """The folder that relative paths inside the config are relative to: a local folder, or a URL prefix
    (a config read from ``s3://bucket/jobs/cfg.json`` names ``baseline.csv`` next to it)."""
    if config_dir is None:
        return None
    text = os.fspath(config_dir)
    return text.rstrip("/") if "://" in text else Path(config_dir)


def model_needed(config: AnalysisConfig, config_dir: str | Path | None = None) -> bool:
    """Whether an analysis the config asks for calls the model (pre-training bias alone does not)."""
    base_dir = _base_dir(config_dir)
    return any(needs.needs_model for _, needs in _check_supported(config, base_dir).values())


class _NoModel:
    """The job's model when none is given and no analysis the config asks for calls one."""

    def predict(self, records: Any) -> FloatArray:
        raise ModelError("model: this job was given no model, but an analysis called one. Give a model.")


def _run_partition(task: tuple[tuple[tuple[MethodKey, Any], ...], DataChunk, ModelSpec]) -> list[Any]:
    """The analyses of one pass over one partition (a module-level work function for any executor). The
    item names each analysis by its key, so the driver's analysis objects (their open files) never travel."""
    plans, chunk, spec = task
    model = worker_model(spec)
    return [load_analysis(key).run(plan, chunk, model) for key, plan in plans]


def _check_travels(spec: ModelSpec, backend: str) -> None:
    """Fail before the work starts when the model cannot be sent to another process."""
    import pickle

    try:
        pickle.dumps(spec)
    except Exception as exc:  # noqa: BLE001 - pickle raises TypeError, PicklingError, AttributeError, ...
        raise ModelError(
            f"--backend {backend}: the model cannot be sent to the workers ({type(exc).__name__}: {exc}). Give it "
            "by path (--model), so that each worker loads its own copy."
        ) from None


def _passes(wanted: _Wanted) -> list[list[MethodKey]]:
    """The analyses in passes over the data, in the registry's order: an analysis joins the current pass
    unless its plan reads the results of one in it (``Needs.after``)."""
    passes: list[list[MethodKey]] = []
    for key, (_, needs) in wanted.items():
        if passes and not set(needs.after) & set(passes[-1]):
            passes[-1].append(key)
        else:
            passes.append([key])
    return passes


def _run_pass(
    index: int, keys: Sequence[MethodKey], wanted: _Wanted, job: Job, spec: ModelSpec, checkpoint: Checkpoint | None
) -> None:
    """Plan each analysis of the pass, run them over every partition in one read of the data (each part
    consumed in record order and merged), and finish them in order into ``job.earlier``.

    With a checkpoint, each partition's parts are committed to it as they come back, and the partitions
    it already holds (a resumed job) are read from it instead of being sent to the executor: the
    analyses see the same parts in the same order either way."""
    plans: dict[MethodKey, Any] = {}
    try:
        for key in keys:
            plans[key] = wanted[key][0].plan(job)
        executor = job.executor
        planned = tuple((key, plans[key]) for key in keys)
        restored = checkpoint.restored(index) if checkpoint is not None else {}
        bounds: dict[int, tuple[int, int]] = {}  # partition number -> (first record, records), as sent

        def tasks() -> Iterator[tuple[tuple[tuple[MethodKey, Any], ...], DataChunk, ModelSpec]]:
            for number, chunk in enumerate(job.dataset.chunks(max(1, job.options.chunksize))):
                here = (chunk.start_row, len(chunk.features))
                record = restored.get(number)
                if record is None:
                    bounds[number] = here
                    yield (planned, chunk, spec)
                elif (record.first_row, record.rows) != here:
                    raise DataError(
                        f"dataset: partition {number} holds records {here[0]} to {sum(here) - 1}, not "
                        f"{record.first_row} to {record.first_row + record.rows - 1} as when the checkpoint was "
                        "written; the data changed. Run without --resume and with --overwrite to start over."
                    )

        # an analysis whose plan carries a progress callback counts its records as it runs them; a
        # restored partition does not run, so it is counted here
        counts_itself = executor.in_process and any(getattr(plan, "progress", None) for plan in plans.values())
        results = executor.map(_run_partition, tasks())
        totals: dict[MethodKey, Any] = dict.fromkeys(keys)
        number = 0
        while True:
            if number in restored:
                assert checkpoint is not None  # noqa: S101 - only a checkpoint restores
                parts = checkpoint.load(index, number)
                if counts_itself and job.options.progress is not None and restored[number].rows:
                    job.options.progress(restored[number].rows)
            else:
                parts = next(results, None)
                if parts is None:
                    break
                if checkpoint is not None:
                    checkpoint.commit(index, number, *bounds.pop(number), parts)
            for key, part in zip(keys, parts, strict=True):
                analysis = wanted[key][0]
                analysis.consume(plans[key], part, job)
                totals[key] = part if totals[key] is None else analysis.merge(totals[key], part)
            number += 1
        beyond = [n for n in restored if n >= number]
        if beyond:
            raise DataError(
                f"dataset: has {number} partitions, but the checkpoint holds partition {max(beyond)}; the data "
                "changed. Run without --resume and with --overwrite to start over."
            )
        for key in keys:
            job.earlier[key] = wanted[key][0].finish(plans[key], totals[key], job)
    finally:
        for key, plan in plans.items():
            wanted[key][0].close(plan)


def _fingerprint(
    config: AnalysisConfig,
    location: str,
    inputs: Sequence[str | Path],
    model: str,
    options: JobOptions,
) -> dict[str, Any]:
    """What decides a job's results, for its checkpoint (threads, backend and batch sizes do not)."""
    source = json.dumps(plain(config.source), sort_keys=True) if config.source else repr(config)
    return {
        "version": __version__,
        "config": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "dataset": {"location": location, "files": dataset_listing(location)},
        "inputs": input_digests(inputs),
        "model": model,
        "options": {
            "chunksize": options.chunksize,
            "text_columns": list(options.text_columns) if options.text_columns is not None else None,
            "text_whitespace": options.text_whitespace,
            "bias_confidence": options.bias_confidence,
            "bias_bootstrap": options.bias_bootstrap,
            "bias_seed": options.bias_seed,
        },
    }


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
    model: Predictor | ModelFactory | None,
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
    bias_confidence: float | None = None,
    bias_bootstrap: int = 1000,
    bias_seed: int = 0,
    backend: BackendName = "local",
    workers: int = 1,
    scheduler: str | None = None,
    model_spec: ModelSpec | Callable[[DatasetSchema], ModelSpec] | None = None,
    checkpoint: bool = True,
    resume: bool = False,
) -> AnalysisResult:
    """Run the analyses of ``config`` (``methods.shap``, ``methods.pdp``, ``methods.pre_training_bias``,
    ``methods.post_training_bias``) and write Clarify's output files.

    Parameters
    ----------
    config
        A validated analysis config (see :func:`openclarify.config.load_analysis_config`).
    model
        The model to explain, or a function that makes it from the dataset's schema once the dataset is
        open (an :class:`~openclarify.models.EndpointPredictor` needs the feature names); None when no
        analysis of the config calls one (``methods.pre_training_bias`` alone).
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
    bias_confidence, bias_bootstrap, bias_seed
        With bias methods: a percentile bootstrap interval at level ``bias_confidence`` (e.g. 0.95) beside
        every count-based metric, from ``bias_bootstrap`` replicates drawn with ``bias_seed`` (the same
        seed gives the same intervals); None adds none.
    backend, workers, scheduler
        Where the partitions run: ``"local"`` (here, in order) or ``"dask"``: a local Dask cluster of
        ``workers`` processes, or the cluster whose scheduler is ``scheduler`` (``tcp://host:8786``). The
        files are the same bytes on every backend.
    model_spec
        How a worker process loads the model (:class:`openclarify.models.FileModelSpec`,
        :class:`openclarify.models.EndpointModelSpec`), or a function that makes it from the dataset's
        schema, as for ``model``; needed by a backend that runs elsewhere unless ``model`` pickles (a
        scikit-learn estimator, a Hugging Face folder).

    Raises
    ------
    ConfigError, DataError, ModelError, OutputError
    """
    started = time.perf_counter()
    if bias_confidence is not None and not (isinstance(bias_confidence, float | int) and 0 < bias_confidence < 1):
        raise ConfigError(f"must be a number between 0 and 1; got {bias_confidence!r}.", path="bias_confidence")
    if isinstance(bias_bootstrap, bool) or not isinstance(bias_bootstrap, int) or not 1 <= bias_bootstrap <= 100_000:
        raise ConfigError(f"must be an integer from 1 to 100000; got {bias_bootstrap!r}.", path="bias_bootstrap")
    if isinstance(bias_seed, bool) or not isinstance(bias_seed, int) or not 0 <= bias_seed < 2**63:
        raise ConfigError(f"must be an integer from 0 to 2**63 - 1; got {bias_seed!r}.", path="bias_seed")
    if resume and not checkpoint:
        raise ConfigError("needs checkpoints; leave out --no-checkpoint to resume a job.", path="resume")
    base_dir = _base_dir(config_dir)
    wanted = _check_supported(config, base_dir)
    if model is None:
        calling = [key for key, (_, needs) in wanted.items() if needs.needs_model]
        if calling:
            fix = "needs a model; give a model file, a model server or an endpoint."
            raise ConfigError([(f"methods.{key}", fix) for key in calling])
    location = str(data) if data is not None else config.dataset_uri
    if location is None:
        raise DataError("dataset: no dataset given; pass --data or set dataset_uri in the analysis config.")
    if data is None:
        location = resolve(location, base_dir)
    protected = [*inputs, location, *(path for _, needs in wanted.values() for path in needs.inputs)]
    # the output folder is checked and locked before the data is read, so a wrong folder fails at once
    with output_staging(output_dir, overwrite=overwrite, protected=protected) as stage:
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
        if model is None:
            model = _NoModel()
        elif not isinstance(model, Predictor):
            model = model(dataset.schema)
        given = [needs.seed for _, needs in wanted.values() if needs.seed is not None]
        seed = given[0] if given else int(np.random.SeedSequence().entropy % 2**32)  # type: ignore[operator]
        options = JobOptions(
            chunksize=max(1, chunksize),
            max_batch_rows=max_batch_rows,
            threads=n_jobs,
            text_columns=text_columns,
            text_whitespace=text_whitespace,
            progress=progress,
            on_start=on_start,
            bias_confidence=float(bias_confidence) if bias_confidence is not None else None,
            bias_bootstrap=bias_bootstrap,
            bias_seed=bias_seed,
        )
        # how run_summary.json names the model, and how a checkpoint knows it
        model_name = model_description or ("none" if isinstance(model, _NoModel) else type(model).__name__)
        saved: Checkpoint | None = None
        if checkpoint:
            needed = [*inputs, *(path for _, needs in wanted.values() for path in needs.inputs)]
            try:
                fingerprint = _fingerprint(config, location, needed, model_name, options)
            except OSError as exc:
                raise DataError(f"dataset '{location}': cannot be examined ({exc.strerror or exc}).") from exc
            saved = Checkpoint.open(
                stage.checkpoint_location,
                fingerprint,
                seed=seed,
                resume=resume,
                discard=overwrite,
                output=str(output_dir),
            )
            seed = saved.seed
        executor = get_executor(backend, workers, scheduler)
        try:
            job = Job(config, dataset, dataset.schema, model, stage, seed, location, base_dir, options, executor)
            spec: ModelSpec = loaded(model)
            if model_spec is not None and not executor.in_process:
                spec = model_spec(dataset.schema) if callable(model_spec) else model_spec
            if not executor.in_process:
                _check_travels(spec, backend)
            for index, keys in enumerate(_passes(wanted)):
                _run_pass(index, keys, wanted, job, spec, saved)
        finally:
            close = getattr(executor, "close", None)
            if callable(close):
                close()
        finished = list(job.earlier.values())
        extra: dict[str, Any] = {}
        for done in finished:
            extra.update(done.extra)
        explanations = {f.key: f.section for f in finished if f.section is not None}
        write_analysis_json(stage.path(ANALYSIS_JSON), explanations, extra)
        if config.source:
            write_json(stage.path(CONFIG_JSON), plain(config.source))  # type: ignore[arg-type]
        explain_seconds = time.perf_counter() - started
        summary: dict[str, Any] = {
            "tool": f"openclarify {__version__}",
            "dataset": location,
            "dataset_type": config.dataset_type,
            "model": model_name,
        }
        for done in finished:
            summary.update(done.summary)
        facts_of = getattr(model, "model_facts", None)  # a model that runs on a device says how it ran
        if callable(facts_of):
            summary["model_facts"] = facts_of()
        summary["seconds"] = round(explain_seconds, 3)
        if resume and saved is not None:
            summary["checkpoint"] = {"restored_partitions": saved.n_restored, "computed_partitions": saved.written}
        write_json(stage.path(RUN_SUMMARY_JSON), summary)
        report_seconds = 0.0
        if config.methods.report is not None:
            # the report shows the run's facts, so it is drawn from the summary above; its own time is
            # added afterwards, apart from the explaining time ("seconds")
            report_started = time.perf_counter()
            _write_reports(config, stage, report_records, report_label)
            report_seconds = time.perf_counter() - report_started
            write_json(stage.path(RUN_SUMMARY_JSON), {**summary, "report_seconds": round(report_seconds, 3)})
        files: Sequence[Path | str] = stage.commit()
        if saved is not None:
            saved.remove()
    shap_done = job.earlier.get("shap")
    facts = shap_done.result if shap_done is not None else None
    empty = np.zeros((0, 0))
    labels: Sequence[str] = facts.labels if facts is not None else summary.get("labels", ())
    return AnalysisResult(
        output_dir=stage.location if isinstance(stage, RemoteOutputStaging) else Path(output_dir),
        files=tuple(files),
        labels=tuple(labels),
        feature_names=facts.feature_names if facts is not None else (),
        global_shap_values=facts.global_values if facts is not None else empty,
        expected_value=facts.expected_value if facts is not None else np.zeros(0),
        first_record_shap=facts.first_phi if facts is not None else empty,
        first_record_score=facts.first_fx if facts is not None else np.zeros(0),
        n_rows=int(summary.get("n_rows", 0)),
        n_baseline_rows=facts.n_baseline_rows if facts is not None else 0,
        num_samples=facts.num_samples if facts is not None else 0,
        exact=facts.exact if facts is not None else False,
        seed=seed,
        seconds=time.perf_counter() - started,
        explain_seconds=explain_seconds,
        report_seconds=report_seconds,
        model_seconds=facts.model_seconds if facts is not None else 0.0,
        model_rows=facts.model_rows if facts is not None else 0,
        model_calls=facts.model_calls if facts is not None else 0,
        text_columns=facts.text_columns if facts is not None else (),
        top_text=facts.top_text if facts is not None else (),
        failed_rows=facts.failed_rows if facts is not None else (),
        sections={f.key: f.section if f.section is not None else f.result for f in finished},
        restored_partitions=saved.n_restored if saved is not None else 0,
    )
