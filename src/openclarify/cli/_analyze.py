"""``openclarify analyze``: thin layer from options to :func:`openclarify.run_analysis`."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from .._pipeline import AnalysisResult, ModelFactory, model_needed, run_analysis
from ..config import AnalysisConfig, load_analysis_config
from ..data import DatasetSchema
from ..models import EndpointModelSpec, EndpointPredictor, FileModelSpec, Predictor, load_model
from ._model_options import model_run_options, to_model_options
from ._report import RECORDS_HELP, parse_records
from ._terminal import echo

__all__ = ["analyze"]


def _summary(res: AnalysisResult) -> str:
    rate = res.n_rows / res.explain_seconds if res.explain_seconds > 0 else float("inf")
    mode = "exact (all coalitions)" if res.exact else f"{res.num_samples} coalitions/record"
    report = f"; report drawn in {res.report_seconds:.2f}s" if res.report_seconds else ""
    return (
        f"explained {res.n_rows} records x {len(res.feature_names)} features x {len(res.labels)} outputs "
        f"in {res.explain_seconds:.2f}s ({rate:.0f} records/s; {mode}; {res.n_baseline_rows} baseline rows; "
        f"{res.model_calls} model calls taking {res.model_seconds:.2f}s{report}) -> {res.output_dir}"
    )


def _model_path(spec: str) -> Path | str:
    """The file behind ``--model`` (``file.py:function`` names a file; a URL is kept as it is)."""
    if "://" in spec:
        return spec
    head, sep, tail = spec.rpartition(":")
    return Path(head if sep and head.endswith(".py") and tail.isidentifier() else spec)


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=str,
    help="Clarify analysis_config.json: a local file or an s3:// URL (relative paths inside it are relative to "
    "its folder).",
)
@click.option(
    "--data",
    "data",
    type=str,
    default=None,
    help="Dataset file or folder (CSV, JSON Lines, Parquet), or an s3:// object or prefix (one format per prefix). "
    "Default: dataset_uri of the config.",
)
@click.option(
    "--output",
    "output",
    required=True,
    type=str,
    help="Output folder: analysis.json and explanations_shap/; a local folder or an s3:// prefix (the files are "
    "uploaded when the job has finished, a manifest last).",
)
@click.option(
    "--model",
    "model",
    default=None,
    type=str,
    help="A model loaded in process: model.joblib (scikit-learn estimator or pipeline), a fastText / "
    "BlazingText model.bin or its folder, a Hugging Face sequence classifier folder (save_pretrained; "
    "pip install 'openclarify[hf]'), or path/to/file.py:function. All but the last may be s3:// URLs (a folder: "
    "its prefix), copied once into $XDG_CACHE_HOME/openclarify/models.",
)
@click.option(
    "--endpoint-url",
    default=None,
    type=str,
    help="Explain the model behind this server instead (SageMaker container contract: POST <url>/invocations, "
    "requests and responses as the config's predictor says). Without --model or --endpoint-url, "
    "predictor.endpoint_name is called through sagemaker-runtime (needs boto3 and AWS credentials).",
)
@click.option(
    "--on-record-failure",
    default="stop",
    show_default=True,
    type=click.Choice(["stop", "continue"]),
    help="Endpoint models: when a record keeps failing (after retries and one request per record), stop "
    "the job, or go on, leave it unexplained and list it in analysis.json (failed_records) and on stderr.",
)
@click.option(
    "--max-in-flight",
    default=4,
    show_default=True,
    type=click.IntRange(1),
    help="Endpoint models: requests sent at once.",
)
@click.option(
    "--chunk-size",
    default=8192,
    show_default=True,
    type=click.IntRange(1),
    help="Records read and explained at a time.",
)
@click.option(
    "--max-batch-rows",
    default=16384,
    show_default=True,
    type=click.IntRange(1),
    help="Most records sent to the model in one call.",
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(1),
    help="Threads that call the model and solve in parallel (the model must be thread-safe; "
    "scikit-learn models are). Results do not depend on it.  [default: 1]",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1),
    help="With --backend dask: worker processes of the local cluster.  [default: the CPU cores]. Without "
    "it, a deprecated name of --threads.",
)
@click.option(
    "--backend",
    type=click.Choice(("local", "dask")),
    default="local",
    show_default=True,
    help="Where the partitions (--chunk-size records each) run: 'local', here; 'dask', on a Dask cluster "
    "(pip install 'openclarify[dask]'): a local one of --workers processes, or --scheduler's. The output "
    "files are the same bytes.",
)
@click.option(
    "--scheduler",
    default=None,
    help="With --backend dask: the address of an existing cluster's scheduler, e.g. tcp://scheduler:8786.",
)
@click.option(
    "--text-columns",
    default=None,
    type=str,
    help="With text_config: comma-separated feature columns that hold free text. Default: detected "
    "(the only feature; else non-numeric columns averaging 3+ words per value, or mostly distinct).",
)
@click.option(
    "--text-whitespace",
    default="keep",
    show_default=True,
    type=click.Choice(["keep", "trim"]),
    help="With text_config: 'keep' makes units as Clarify does (extra whitespace such as a blank line is a "
    "token of its own; a sentence keeps the whitespace before it); 'trim' drops whitespace-only units.",
)
@click.option(
    "--target-error",
    "target_error",
    default=None,
    type=click.FloatRange(0, min_open=True),
    help="Sample in rounds until every standard error of a record is at most this, or num_samples is spent "
    '(sets methods.shap.target_error and estimator "gp").',
)
@click.option(
    "--bias-ci",
    "bias_ci",
    default=None,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="With bias methods: add a percentile bootstrap confidence interval at this level (e.g. 0.95) beside "
    "every metric but FT, in a 'confidence_interval' key Clarify's readers ignore.",
)
@click.option(
    "--bias-bootstrap",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Bootstrap replicates for --bias-ci (records resampled with replacement).",
)
@click.option(
    "--bias-seed",
    default=0,
    show_default=True,
    type=click.IntRange(0, 2**63 - 1),
    help="Seed of the --bias-ci replicates: the same seed gives the same intervals.",
)
@click.option(
    "--report-records",
    default=None,
    type=str,
    help="With methods.report: " + RECORDS_HELP,
)
@click.option(
    "--report-label",
    default=None,
    type=str,
    help="With methods.report: show every record's attributions to this label (default: the predicted one).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace whatever the output folder holds. Without it the folder must be new, empty, or an earlier "
    "openclarify job's output (which is replaced as a whole). Also discards an interrupted job's checkpoint.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted job into the same output folder: the partitions its checkpoint holds are "
    "reused and only the others computed; the files are those of an uninterrupted run. Refused when the config, "
    "data, model or options changed.",
)
@click.option(
    "--no-checkpoint",
    "no_checkpoint",
    is_flag=True,
    help="Keep no checkpoint of finished partitions (a killed job then starts over).",
)
@model_run_options
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def analyze(
    config_path: str,
    data: str | None,
    output: str,
    model: str | None,
    endpoint_url: str | None,
    on_record_failure: str,
    max_in_flight: int,
    chunk_size: int,
    max_batch_rows: int,
    threads: int | None,
    workers: int | None,
    backend: str,
    scheduler: str | None,
    text_columns: str | None,
    text_whitespace: str,
    target_error: float | None,
    bias_ci: float | None,
    bias_bootstrap: int,
    bias_seed: int,
    report_records: str | None,
    report_label: str | None,
    overwrite: bool,
    resume: bool,
    no_checkpoint: bool,
    device: str | None,
    runtime: str,
    model_batch_size: int | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Run the explainability analysis of an analysis_config.json locally."""
    if resume and no_checkpoint:
        raise click.UsageError("--resume: continues a checkpoint; leave out --no-checkpoint.")
    if resume and overwrite:
        raise click.UsageError("--resume continues the folder's job and --overwrite discards it: give one of them.")
    if quiet:  # warnings and errors only
        logging.getLogger("openclarify").setLevel(logging.WARNING)
    if scheduler is not None and backend != "dask":
        raise click.UsageError("--scheduler: give it with --backend dask.")
    if backend == "dask":
        if scheduler is not None and workers is not None:
            raise click.UsageError("--workers: the cluster of --scheduler has its own workers; leave it out.")
        from ..serving._config import default_workers  # the CPU cores this process may use

        processes = workers or default_workers()
    elif workers is not None:
        if threads is not None:
            raise click.UsageError("give --threads only; --workers is its old name.")
        # TODO(1.0): remove --workers from analyze
        warnings.warn(
            "--workers: deprecated in 'analyze', where it counts threads; use --threads "
            "(--workers counts processes in 'serve'). It will be removed in 1.0.",
            FutureWarning,
            stacklevel=1,
        )
        threads = workers
    config = load_analysis_config(config_path)
    if target_error is not None:
        config = _with_target_error(config, target_error)
    # relative paths inside the config are relative to its folder (a URL's prefix for a config on S3)
    config_dir: str | Path = config_path.rsplit("/", 1)[0] if "://" in config_path else Path(config_path).parent
    selection = parse_records(report_records, "--report-records")
    endpoint: list[EndpointPredictor] = []
    predictor: Predictor | ModelFactory | None
    spec_of_model: FileModelSpec | Callable[[DatasetSchema], EndpointModelSpec] | None = None
    endpoint_name = config.predictor.endpoint_name if config.predictor else None
    if model is not None and endpoint_url is not None:
        raise click.UsageError("give either --model or --endpoint-url, not both.")
    if model is not None:
        options = to_model_options(device, runtime, model_batch_size)
        predictor = load_model(model, options=options)
        spec_of_model = FileModelSpec.of(model, options)
    elif device is not None or runtime != "torch" or model_batch_size is not None:
        raise click.UsageError("--device, --runtime and --model-batch-size apply to --model only.")
    elif endpoint_url is not None or endpoint_name:
        assert config.predictor is not None  # noqa: S101 - the config parser requires it for shap

        def make_endpoint(schema: DatasetSchema) -> Predictor:
            ep = EndpointPredictor(
                endpoint_url,
                config.predictor,  # type: ignore[arg-type]
                schema.feature_names,
                endpoint_name=None if endpoint_url else endpoint_name,
                dataset_type=config.dataset_type,
                max_in_flight=max_in_flight,
                on_record_failure="nan" if on_record_failure == "continue" else "raise",
            )
            endpoint.append(ep)
            return ep

        predictor = make_endpoint

        def endpoint_spec(schema: DatasetSchema) -> EndpointModelSpec:  # each dask worker opens its own client
            return EndpointModelSpec.of(
                endpoint_url,
                config.predictor,
                schema.feature_names,
                endpoint_name=None if endpoint_url else endpoint_name,
                dataset_type=config.dataset_type,
                max_in_flight=max_in_flight,
                on_record_failure="nan" if on_record_failure == "continue" else "raise",
            )

        spec_of_model = endpoint_spec
    elif model_needed(config, config_dir):
        raise click.UsageError(
            "no model: give --model (a model file), --endpoint-url (a model server), or set "
            "predictor.endpoint_name in the config (a SageMaker endpoint)."
        )
    else:  # pre-training bias alone reads only the dataset
        predictor = None
    bar = None

    def on_start(total: int | None, n_features: int) -> None:
        nonlocal bar
        if quiet:
            return
        from tqdm import tqdm

        # tqdm hides itself when stderr is not a terminal (disable=None)
        bar = tqdm(total=total, unit="rows", desc="explaining", disable=None, file=sys.stderr, dynamic_ncols=True)

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n)

    try:
        result = run_analysis(
            config,
            model=predictor,
            output_dir=output,
            data=data,
            config_dir=config_dir,
            chunksize=chunk_size,
            max_batch_rows=max_batch_rows,
            n_jobs=threads or 1,
            progress=progress,
            on_start=on_start,
            text_columns=[c.strip() for c in text_columns.split(",") if c.strip()] if text_columns else None,
            text_whitespace="trim" if text_whitespace == "trim" else "keep",
            model_description=model or endpoint_url or (f"endpoint {endpoint_name}" if endpoint_name else None),
            report_records=selection,
            report_label=report_label,
            overwrite=overwrite,
            inputs=[config_path, *([_model_path(model)] if model is not None else [])],
            bias_confidence=bias_ci,
            bias_bootstrap=bias_bootstrap,
            bias_seed=bias_seed,
            backend="dask" if backend == "dask" else "local",
            workers=processes if backend == "dask" else 1,
            scheduler=scheduler,
            model_spec=spec_of_model,
            checkpoint=not no_checkpoint,
            resume=resume,
        )
    finally:
        if bar is not None:
            bar.close()
        for ep in endpoint:
            ep.close()
            if not quiet:
                echo(f"openclarify: {ep.stats.summary()}")
    facts_of = getattr(predictor, "model_facts", None)
    facts = facts_of() if callable(facts_of) else {}
    if facts.get("texts_truncated"):
        echo(
            f"openclarify: warning: {facts['texts_truncated']} of the {facts['texts_scored']} texts the model scored "
            f"(masked copies included) were longer than its max length of {facts['max_length']} tokens and were cut "
            "to it; the words past it count for nothing. Use a shorter granularity unit or a model with a longer "
            "max length."
        )
    if resume and not quiet:
        echo(f"openclarify: resumed with {result.restored_partitions} partitions from the checkpoint")
    if not quiet and not result.feature_names:  # no methods.shap
        sections = result.sections or {}
        if "pdp" in sections:
            pdp = sections["pdp"]
            shown = ", ".join(e["feature_name"] for e in pdp)
            echo(
                f"partial dependence of {len(pdp)} features ({shown}) over {result.n_rows} records in "
                f"{result.explain_seconds:.2f}s -> {result.output_dir}"
            )
        stages = (("post_training_bias_metrics", "post-training"), ("pre_training_bias_metrics", "pre-training"))
        for key, stage in stages:
            if key in sections:
                facets = sections[key]["facets"]
                groups = sum(len(v) for v in facets.values())
                echo(
                    f"{stage} bias metrics of {groups} groups of {', '.join(map(repr, facets))} over "
                    f"{result.n_rows} records in {result.explain_seconds:.2f}s -> {result.output_dir}"
                )
    elif not quiet:
        echo(_summary(result))
        top = np.argsort(-np.abs(result.global_shap_values[:, 0]))[:5]
        names = ", ".join(f"{result.feature_names[j]}={result.global_shap_values[j, 0]:.4g}" for j in top)
        echo(f"top features ({result.labels[0]}): {names}")
        for feature, units in result.top_text[0].items() if result.top_text else ():
            shown = ", ".join(f"{u!r}={v:.4g}" for u, v in list(units.items())[:8])
            echo(f"top units of {feature!r} ({result.labels[0]}): {shown}")


def _with_target_error(config: AnalysisConfig, target: float) -> AnalysisConfig:
    """``config`` with ``methods.shap.target_error`` (and the ``gp`` estimator it needs) set from the flag,
    validated again, so that the job's fingerprint and its copy of the config say so."""
    from ..config import parse_analysis_config
    from ..config._schema import plain

    document = plain(config.source)
    methods = document.get("methods") if isinstance(document, dict) else None
    shap = methods.get("shap") if isinstance(methods, dict) else None
    if not isinstance(document, dict) or not isinstance(shap, dict):
        raise click.UsageError("--target-error: the config has no methods.shap to explain with.")
    shap.update(estimator="gp", target_error=float(target))
    return parse_analysis_config(document)
