"""Settings of ``openclarify serve`` and ``openclarify proxy``, handed to every worker process as JSON."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any, TypeVar

from .._typing import Estimator
from ..wire import MEDIA_TYPES, MediaType

__all__ = [
    "DEFAULT_BODY_CHUNK_TIMEOUT",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_MODEL_DIR",
    "DEFAULT_PORT",
    "DEFAULT_SPARE_THREADS",
    "DEFAULT_TIMEOUT",
    "ProxyConfig",
    "ServeConfig",
    "default_workers",
]

DEFAULT_MODEL_DIR = "/opt/ml/model"  # where SageMaker unpacks model.tar.gz in a serving container
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT = 60.0  # seconds; SageMaker's model servers default to 60
DEFAULT_MAX_PAYLOAD_BYTES = 6_291_456  # InvokeEndpoint's Body limit (6 MB)
# Slow clients: a connection may take this long to send a request's headers, and its body, before it
# gets 408 and is closed (uvicorn bounds neither; its keep-alive timeout starts only after a response).
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 60.0  # the whole body; 6 MB in 60 s is 100 kB/s
DEFAULT_BODY_CHUNK_TIMEOUT = 10.0  # the longest pause between two pieces of a body
DEFAULT_SPARE_THREADS = 1


def default_workers() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _from_dict(cls: type[Any], values: dict[str, Any]) -> Any:
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in fields}
    return cls(**kwargs)


_Config = TypeVar("_Config", bound="_ListenConfig")


@dataclass(frozen=True, slots=True, kw_only=True)
class _ListenConfig:
    """The settings ``serve`` and ``proxy`` share: how records are read, limits, where to listen."""

    feature_names: tuple[str, ...] | None = None
    text_columns: tuple[str, ...] = ()
    features: str | None = None
    content_types: tuple[MediaType, ...] = MEDIA_TYPES
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    timeout: float = DEFAULT_TIMEOUT
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    body_chunk_timeout: float = DEFAULT_BODY_CHUNK_TIMEOUT
    workers: int = 1
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    access_log: bool = False

    def to_json(self) -> str:
        """The settings as JSON, for the environment of worker processes."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls: type[_Config], text: str) -> _Config:
        """The settings :meth:`to_json` wrote."""
        return _from_dict(cls, json.loads(text))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeConfig(_ListenConfig):
    """How ``openclarify serve`` runs.

    Parameters
    ----------
    model
        What :func:`openclarify.models.load_model` takes, or a folder holding ``model.bin``,
        ``model.joblib`` (or ``.pkl``) or a ``model.py`` with a ``predict`` function.
    feature_names
        Column names of the records, for models that do not know them (a scikit-learn model fitted
        on a DataFrame does, and its names win); default ``column_0``, ``column_1``, ...
    text_columns
        Columns kept as text even when every value of a request looks like a number.
    features
        JMESPath expression that finds the feature list in each JSON record; default: detected.
    content_types
        Request formats accepted; others get 415.
    max_payload_bytes
        Largest request body; larger ones get 413.
    timeout
        Seconds a request may take in the model; slower ones get 504.
    header_timeout
        Seconds a connection has to send a request's line and headers, counted from its opening or from
        the previous response; past it the connection gets 408 (closed without one when it sent nothing).
    body_timeout, body_chunk_timeout
        Seconds to receive a request's whole body, and the longest pause between two pieces of it; past
        either the request gets 408 and the connection is closed.
    threads
        Requests each worker process runs in the model at a time.
    spare_threads
        Threads that take the place of model threads stuck in a call past ``timeout`` (a thread cannot
        be stopped; it is free again when the model returns). At most ``threads + spare_threads``
        threads run; once all are stuck, requests get 503 and ``/ping`` answers 503 until one returns.
    workers
        Worker processes, each with its own copy of the model.
    host, port, access_log
        Where to listen, and whether to log one line per request.
    device, runtime, model_batch_size
        How a Hugging Face model runs (:class:`openclarify.models.ModelOptions`); other models refuse them.
    positive_only
        Answer only the score of a two-label model's second label (P(positive)), one number per record,
        as the seed notebook's ``inference.py`` does.
    explainer_config
        Path or URL of a ``ClarifyExplainerConfig`` JSON file (:func:`openclarify.config.load_explainer_config`):
        ``/invocations`` then answers SageMaker Clarify's online-explanation JSON, and ``/`` serves the live
        page. A relative ``ShapBaselineUri`` is read from the file's folder.
    explanation_cache
        Record explanations each worker keeps for repeated requests (0: none).
    explainer_seed
        The seed of explanations when the explainer config gives none: drawn once by :func:`serve` for
        every worker, so that all give the same values.
    explainer_estimator, explainer_target_error
        openclarify's extensions of the explainer (``methods.shap``'s ``estimator`` and ``target_error``):
        ``"gp"`` gives every attribution a ``stderr`` beside it; a target error samples each record in rounds.
    """

    model: str = DEFAULT_MODEL_DIR
    threads: int = 1
    spare_threads: int = DEFAULT_SPARE_THREADS
    device: str | None = None
    runtime: str = "torch"
    model_batch_size: int | None = None
    positive_only: bool = False
    explainer_config: str | None = None
    explanation_cache: int = 1024
    explainer_seed: int | None = None
    explainer_estimator: Estimator = "kernel"
    explainer_target_error: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyConfig(_ListenConfig):
    """How ``openclarify proxy`` runs: a format converter in front of another model server.

    Parameters
    ----------
    upstream
        The model server, ``http://host:port`` (``/invocations`` is added) or a full URL.
    to
        The request format the upstream server accepts; its answers are read in any of the three.
    labels
        The model's class labels in a fixed order (with or without ``__label__``): the order of the
        score vector of each record. Default: the labels of the upstream's answers, sorted.
    k
        BlazingText's ``k`` sent upstream (labels returned per record); default: the number of
        ``labels``, else none is sent.
    feature_names, text_columns, features, content_types, max_payload_bytes, timeout, workers, host, port, access_log
        As for :class:`ServeConfig`; ``timeout`` bounds each upstream call.
    header_timeout, body_timeout, body_chunk_timeout
        As for :class:`ServeConfig`.
    explainer_config, explanation_cache, explainer_seed, explainer_estimator, explainer_target_error
        As for :class:`ServeConfig`: the upstream's answers are explained, its model called over HTTP.
    """

    upstream: str
    to: MediaType = "application/json"
    labels: tuple[str, ...] | None = None
    k: int | None = None
    explainer_config: str | None = None
    explanation_cache: int = 1024
    explainer_seed: int | None = None
    explainer_estimator: Estimator = "kernel"
    explainer_target_error: float | None = None
