"""``openclarify serve`` and ``openclarify proxy``: thin layers over :mod:`openclarify.serving`."""

from __future__ import annotations

from typing import Any

import click

from ..errors import ConfigError
from ._model_options import model_run_options, to_model_options

__all__ = ["proxy", "serve"]

_MEDIA = ("text/csv", "application/jsonlines", "application/json")
_SECONDS = click.FloatRange(min=0, min_open=True)


def _names(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(x.strip() for x in value.split(",") if x.strip())


def _media_types(value: str | None, option: str) -> tuple[Any, ...]:
    if value is None:
        return _MEDIA
    chosen = _names(value) or ()
    bad = [x for x in chosen if x not in _MEDIA]
    if bad or not chosen:
        raise click.BadParameter(
            f"must be a comma-separated list of {', '.join(_MEDIA)}; got {value!r}.", param_hint=option
        )
    return chosen


def _check_features(value: str | None) -> str | None:
    from ..wire import compile_features

    try:
        compile_features(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("--features: "), param_hint="--features") from None
    return value


def _listen_settings(
    host: str,
    port: int,
    workers: int | None,
    timeout: float,
    slow_clients: tuple[float, float, float],
    feature_names: str | None,
    text_columns: str | None,
    features: str | None,
    content_types: str | None,
    max_payload_bytes: int,
    access_log: bool,
) -> dict[str, Any]:
    """The settings of the options in :func:`_common`, checked, as ServeConfig / ProxyConfig take them.

    ``slow_clients`` holds ``--header-timeout``, ``--body-timeout`` and ``--body-chunk-timeout``.
    """
    from ..serving._config import default_workers

    header_timeout, body_timeout, body_chunk_timeout = slow_clients
    return {
        "feature_names": _names(feature_names),
        "text_columns": _names(text_columns) or (),
        "features": _check_features(features),
        "content_types": _media_types(content_types, "--content-types"),
        "max_payload_bytes": max_payload_bytes,
        "timeout": timeout,
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "body_chunk_timeout": body_chunk_timeout,
        "workers": workers or default_workers(),
        "host": host,
        "port": port,
        "access_log": access_log,
    }


def _common(fn: Any) -> Any:
    """Options shared by serve and proxy (applied bottom-up, so listed here in reverse help order)."""
    options = [
        click.option("--debug", is_flag=True, help="Show tracebacks on errors."),
        click.option(
            "--access-log/--no-access-log", default=False, show_default=True, help="Log one line per request."
        ),
        click.option(
            "--max-payload-bytes",
            type=click.IntRange(1),
            default=6_291_456,
            show_default=True,
            help="Largest request body; larger ones get 413 (InvokeEndpoint's limit is 6 MB).",
        ),
        click.option(
            "--content-types",
            default=None,
            help="Comma-separated request formats to accept; others get 415.  [default: text/csv, "
            "application/jsonlines, application/json]",
        ),
        click.option(
            "--features",
            default=None,
            help="JMESPath expression giving the feature list inside each JSON record (e.g. 'data.features'). "
            'Default: detected ({"features": [...]}, {"source": "..."}, a list, or {"name": value}).',
        ),
        click.option(
            "--text-columns",
            default=None,
            help="Comma-separated columns always kept as text, even when every value of a request looks like a "
            "number (a column is otherwise numeric when all its values parse as numbers, as in 'analyze').",
        ),
        click.option(
            "--feature-names",
            default=None,
            help="Comma-separated column names of the records, for models that do not know them "
            "(file.py:function models). A scikit-learn model fitted on a DataFrame names its own columns. "
            "Default: column_0, column_1, ...",
        ),
        click.option(
            "--body-chunk-timeout",
            type=_SECONDS,
            default=10.0,
            show_default=True,
            help="Longest pause, in seconds, between two pieces of a request body; longer ones get 408.",
        ),
        click.option(
            "--body-timeout",
            type=_SECONDS,
            default=60.0,
            show_default=True,
            help="Seconds a client has to send a whole request body; slower ones get 408 and the connection is closed.",
        ),
        click.option(
            "--header-timeout",
            type=_SECONDS,
            default=10.0,
            show_default=True,
            help="Seconds a connection has to send a request's headers, from its opening or the previous "
            "response; past it the connection gets 408 (or is closed, when it sent nothing) so that slow or "
            "idle clients cannot hold connections.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=60.0,
            show_default=True,
            envvar="SAGEMAKER_MODEL_SERVER_TIMEOUT",
            show_envvar=True,
            help="Seconds a request may take; slower ones get 504.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1),
            default=None,
            envvar="SAGEMAKER_MODEL_SERVER_WORKERS",
            show_envvar=True,
            help="Worker processes; each serve worker loads its own copy of the model.  "
            "[default: the number of CPU cores]",
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=8080,
            show_default=True,
            envvar="SAGEMAKER_BIND_TO_PORT",
            show_envvar=True,
            help="Port to listen on.",
        ),
        click.option(
            "--host",
            default="127.0.0.1",
            show_default=True,
            envvar="OPENCLARIFY_SERVE_HOST",
            show_envvar=True,
            help="Address to listen on; 0.0.0.0 for every interface (the Docker image sets it).",
        ),
    ]
    for option in options:
        fn = option(fn)
    return fn


def _explainer_options(fn: Any) -> Any:
    """``--explainer-config``, ``--explanation-cache``, ``--shap-estimator`` and ``--target-error``, shared by
    ``serve`` and ``proxy``."""
    fn = click.option(
        "--target-error",
        type=click.FloatRange(0, min_open=True),
        default=None,
        help="With --explainer-config: sample each explained record in rounds until every standard error of its "
        "values is at most this, or NumberOfSamples is spent (selects --shap-estimator gp).",
    )(fn)
    fn = click.option(
        "--shap-estimator",
        type=click.Choice(["kernel", "gp"]),
        default=None,
        help="With --explainer-config: how Shapley values are estimated (methods.shap.estimator). 'gp' adds each "
        "value's standard error, a stderr list beside each attribution.  [default: kernel]",
    )(fn)
    fn = click.option(
        "--explanation-cache",
        type=click.IntRange(0),
        default=1024,
        show_default=True,
        help="Record explanations each worker keeps for repeated requests (0: none).",
    )(fn)
    return click.option(
        "--explainer-config",
        default=None,
        help="A ClarifyExplainerConfig JSON file (as CreateEndpointConfig's ExplainerConfig takes it, or the "
        "SDK's ExplainerConfig): /invocations then answers each record's Kernel SHAP values in Clarify's online "
        "JSON, and / serves a page to explore them. A local path or an s3:// URI.",
    )(fn)


def _explainer_extensions(
    explainer_config: str | None, shap_estimator: str | None, target_error: float | None
) -> dict[str, Any]:
    """``--shap-estimator`` and ``--target-error`` as the config's fields; they need an explainer config."""
    for flag, value in (("--shap-estimator", shap_estimator), ("--target-error", target_error)):
        if value is not None and explainer_config is None:
            raise ConfigError(
                f"explains nothing without --explainer-config; got {flag} {value}. Give --explainer-config, or "
                f"remove {flag}.",
                path=flag,
            )
    if target_error is not None and shap_estimator == "kernel":
        raise ConfigError(
            "needs --shap-estimator gp (it stops on the standard errors gp gives); got --shap-estimator kernel. "
            "Remove --shap-estimator or give gp.",
            path="--target-error",
        )
    estimator = "gp" if target_error is not None else (shap_estimator or "kernel")
    return {"explainer_estimator": estimator, "explainer_target_error": target_error}


def _explainer_file(explainer_config: str | None) -> str | None:
    """Validate the explainer config now (exit code 2 when invalid); a local path made absolute for the workers."""
    if explainer_config is None:
        return None
    from ..serving import explainer_location

    return explainer_location(explainer_config)


@click.command()
@click.option(
    "--model",
    default="/opt/ml/model",
    show_default=True,
    help="model.bin (fastText / BlazingText) or its folder, a Hugging Face sequence classifier folder "
    "(save_pretrained), model.joblib (scikit-learn), path/to/file.py:function, or a folder holding model.bin, "
    "config.json (or model/config.json), model.joblib or a model.py defining predict (SageMaker's layout).",
)
@click.option(
    "--threads",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Requests each worker runs in the model at a time (on threads; the event loop stays free for /ping).",
)
@click.option(
    "--spare-threads",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="Threads that take the place of model threads stuck in a call past --timeout (a call cannot be "
    "stopped). Once all --threads + --spare-threads are stuck, requests get 503 and /ping answers 503 until "
    "a call returns.",
)
@click.option(
    "--positive-only",
    is_flag=True,
    help="Answer only the second of a two-label model's scores (P(positive)), one number per record, as the "
    "seed notebook's inference.py does. Default: every label's score.",
)
@_explainer_options
@model_run_options
@_common
def serve(
    model: str,
    threads: int,
    spare_threads: int,
    positive_only: bool,
    explainer_config: str | None,
    explanation_cache: int,
    shap_estimator: str | None,
    target_error: float | None,
    device: str | None,
    runtime: str,
    model_batch_size: int | None,
    host: str,
    port: int,
    workers: int | None,
    timeout: float,
    header_timeout: float,
    body_timeout: float,
    body_chunk_timeout: float,
    feature_names: str | None,
    text_columns: str | None,
    features: str | None,
    content_types: str | None,
    max_payload_bytes: int,
    access_log: bool,
    debug: bool,
) -> None:
    """Serve a model over HTTP with SageMaker's container contract.

    GET /ping answers 200 once the model is loaded (503 before). POST /invocations reads records as
    text/csv (no header, one per line), application/jsonlines ({"features": [...]} or BlazingText's
    {"source": "..."} per line) or application/json (BlazingText's {"instances": [...]}; for a text
    classifier also the Hugging Face toolkit's {"inputs": ..., "parameters": {"top_k": ...}}), and answers
    in the Accept format: CSV score lines, or {"label": [...], "prob": [...]} per record for a
    classifier ({"score": x} otherwise; [{"label", "score"}] to an {"inputs"} request). Errors, with
    {"error": "..."}: 400 bad body, 406 Accept, 408 slow client, 413 too large, 415 Content-Type, 500 model
    failure, 503 loading or busy, 504 timeout.

    With --explainer-config, every answer is Clarify's online-explanation JSON (application/json):
    {"version", "predictions": {"content_type", "data"}, "label_headers", "explanations": {"kernel_shap":
    [per record: per feature attributions, or null]}}; the header X-Amzn-SageMaker-Enable-Explanations
    overrides the config's EnableExplanations per request. GET / is the live page, GET /explainer
    describes the explainer.

    In a container, `docker run IMAGE serve` serves /opt/ml/model on port 8080 (SAGEMAKER_BIND_TO_PORT).
    """
    from ..serving import ServeConfig, resolve_model
    from ..serving import serve as run_server

    resolve_model(model)  # fail now, with exit code 4, on a missing file; loading happens in the workers
    to_model_options(device, runtime, model_batch_size)  # and on a bad option
    extensions = _explainer_extensions(explainer_config, shap_estimator, target_error)
    explainer_config = _explainer_file(explainer_config)
    config = ServeConfig(
        model=model,
        threads=threads,
        spare_threads=spare_threads,
        device=device,
        runtime=runtime,
        model_batch_size=model_batch_size,
        positive_only=positive_only,
        explainer_config=explainer_config,
        explanation_cache=explanation_cache,
        **extensions,
        **_listen_settings(
            host, port, workers, timeout, (header_timeout, body_timeout, body_chunk_timeout), feature_names,
            text_columns, features, content_types, max_payload_bytes, access_log,
        ),
    )  # fmt: skip
    run_server(config)


@click.command()
@click.option(
    "--upstream",
    required=True,
    help="The model server to forward to: http://host:port (/invocations is added) or a full URL.",
)
@click.option(
    "--to",
    "to",
    type=click.Choice(_MEDIA),
    default="application/json",
    show_default=True,
    help="The request format the upstream server reads.",
)
@click.option(
    "--labels",
    default=None,
    help="Comma-separated class labels of the upstream model, in the order the score vectors should have "
    "(with or without __label__). Default: the labels in its answers, sorted.",
)
@click.option(
    "--k",
    type=click.IntRange(1),
    default=None,
    help="BlazingText's k sent upstream (labels returned per record).  [default: the number of --labels]",
)
@_explainer_options
@_common
def proxy(
    upstream: str,
    to: str,
    labels: str | None,
    k: int | None,
    explainer_config: str | None,
    explanation_cache: int,
    shap_estimator: str | None,
    target_error: float | None,
    host: str,
    port: int,
    workers: int | None,
    timeout: float,
    header_timeout: float,
    body_timeout: float,
    body_chunk_timeout: float,
    feature_names: str | None,
    text_columns: str | None,
    features: str | None,
    content_types: str | None,
    max_payload_bytes: int,
    access_log: bool,
    debug: bool,
) -> None:
    """Convert Clarify's formats for a model server that reads only another one (an inference pipeline).

    Reads CSV / JSON Lines / JSON records as `serve` does, forwards them to UPSTREAM in the --to format
    (BlazingText's {"instances": [...], "configuration": {"k": N}} by default), and answers with one
    full score vector per record, labels in a fixed order, in the Accept format.

    With --explainer-config, the upstream's answers are explained as `serve --explainer-config` does, each
    explanation's model calls sent upstream (MaxRecordCount records at most per call).
    """
    from ..serving import ProxyConfig, run_proxy

    extensions = _explainer_extensions(explainer_config, shap_estimator, target_error)
    config = ProxyConfig(
        upstream=upstream,
        to=to,  # type: ignore[arg-type]
        labels=_names(labels),
        k=k,
        explainer_config=_explainer_file(explainer_config),
        explanation_cache=explanation_cache,
        **extensions,
        **_listen_settings(
            host, port, workers, timeout, (header_timeout, body_timeout, body_chunk_timeout), feature_names,
            text_columns, features, content_types, max_payload_bytes, access_log,
        ),
    )  # fmt: skip
    run_proxy(config)
