"""A format converter in front of a model server that reads only one format (an "inference pipeline").

Clarify sends CSV or JSON Lines; BlazingText's hosting reads only JSON ``{"instances": [...]}``. The
proxy decodes the request as the model server does, re-encodes the records in the upstream's format
(``to``), forwards them over a keep-alive connection (urllib3, on a worker thread), and maps the answer
back to a full score vector per record in a fixed label order, written in the ``Accept`` format.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import pandas as pd
import urllib3
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._typing import FloatArray
from ..errors import ConfigError, DataError, MissingDependencyError, ModelError
from ..wire import (
    MediaType,
    RequestError,
    choose_accept,
    compile_features,
    decode_request,
    encode_scores,
    parse_content_type,
    parse_media_type,
    read_predictions,
    strip_label_prefix,
    upstream_body,
)
from ._app import _http_error, _package_version, error_response, read_body, request_error_response
from ._config import ProxyConfig
from ._explain import DETAILS_HEADER, ENABLE_HEADER, FIRST_RECORD_HEADER, Explainer, enable_override, first_record
from ._frame import records_frame
from ._model import ServedModel
from ._openapi import openapi_document
from ._page import page_routes

__all__ = ["UpstreamError", "create_proxy_app"]

log = logging.getLogger("openclarify.serving")


class UpstreamError(Exception):
    """The upstream server failed or answered something unreadable; ``status`` is what the proxy answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _UpstreamModel:
    """The upstream server as a :class:`~openclarify.models.Predictor`, for explanations behind the proxy.

    Its scores keep one label order: ``labels``, else the labels of its first answer (the baseline's).
    """

    def __init__(self, send: Callable[[pd.DataFrame], tuple[bytes, str]], labels: tuple[str, ...] | None) -> None:
        self.send = send
        self.labels = labels
        self._lock = threading.Lock()

    def predict(self, records: pd.DataFrame) -> FloatArray:
        body, media = self.send(records)
        try:
            scores, names = read_predictions(body, media, len(records), self.labels)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"upstream answered something unreadable as {media}: {exc}.") from None
        with self._lock:
            if self.labels is None and names is not None:
                self.labels = names
        return scores


def create_proxy_app(config: ProxyConfig) -> Starlette:
    """The ASGI app of ``openclarify proxy``: ``/ping`` (the upstream's health), ``/invocations``, ``/openapi.json``.

    With ``config.explainer_config``, the upstream's answers are explained as ``openclarify serve`` does
    (each explanation's model calls go upstream, at most ``MaxRecordCount`` records each); the explainer
    starts once the upstream answers, and ``/ping`` answers 503 until then.
    """
    upstream = config.upstream.rstrip("/")
    url = upstream if upstream.endswith("/invocations") else upstream + "/invocations"
    ping_url = url[: -len("/invocations")] + "/ping"
    labels = tuple(strip_label_prefix(x) for x in config.labels) if config.labels is not None else None
    k = config.k if config.k is not None else (len(labels) if labels is not None else None)
    features = compile_features(config.features)
    text_columns = frozenset(config.text_columns)
    pools: dict[str, urllib3.PoolManager] = {}
    document = openapi_document(
        title="openclarify format proxy",
        content_types=config.content_types,
        max_payload_bytes=config.max_payload_bytes,
        version=_package_version(),
        explained=config.explainer_config is not None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # one keep-alive pool per worker process, shared by its threads (urllib3 pools are thread-safe)
        with urllib3.PoolManager(maxsize=16, block=False, retries=False) as pool:
            pools["upstream"] = pool
            yield

    def call(
        method: str, target: str, body: bytes | None, timeout: float
    ) -> Any:  # an HTTPResponse (urllib3 1.26 and 2)
        headers = {"Content-Type": config.to, "Accept": config.to} if body is not None else {}
        try:
            return pools["upstream"].request(method, target, body=body, headers=headers, timeout=timeout)
        except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError subclass, but refused
            raise UpstreamError(502, f"upstream {target}: cannot connect ({exc}).") from None
        except urllib3.exceptions.TimeoutError:
            raise UpstreamError(504, f"upstream {target}: no answer within {timeout:g}s.") from None
        except urllib3.exceptions.HTTPError as exc:
            raise UpstreamError(502, f"upstream {target}: {type(exc).__name__}: {exc}.") from None

    def send(frame: pd.DataFrame) -> tuple[bytes, str]:
        answer = call("POST", url, upstream_body(frame, config.to, k), config.timeout)
        if answer.status != 200:
            status = answer.status if 400 <= answer.status < 500 and answer.status != 408 else 502
            text = answer.data[:200].decode("utf-8", "replace")
            raise UpstreamError(status, f"POST {url} returned {answer.status} for content_type {config.to!r}: {text}")
        return answer.data, parse_media_type(answer.headers.get("content-type") or config.to)[0]

    explaining: dict[str, Any] = {"explainer": None, "error": None, "fatal": False}
    start_lock = threading.Lock()

    def start_explainer() -> Explainer | None:
        """The explainer, built on first need (the upstream must answer the baseline); None while it cannot be."""
        from ._app import load_explainer_for

        if explaining["explainer"] is not None or explaining["fatal"]:
            return explaining["explainer"]  # type: ignore[no-any-return]
        with start_lock:
            if explaining["explainer"] is None and not explaining["fatal"]:
                predictor = _UpstreamModel(send, labels)
                text_model = bool(config.text_columns == () and config.feature_names is None and _text_config(config))
                names = tuple(config.feature_names) if config.feature_names is not None else None
                model = ServedModel(predictor, names or (("text",) if text_model else None),
                                    True if text_model else text_columns, labels)  # fmt: skip
                try:
                    settings = (config.features, config.explanation_cache, config.explainer_seed,
                                config.explainer_estimator, config.explainer_target_error)  # fmt: skip
                    explainer = load_explainer_for(config.explainer_config, settings[0], model, *settings[1:])
                    if labels is None and predictor.labels is not None:  # named by the upstream's first answer
                        model = ServedModel(model.predictor, model.feature_names, model.text_columns, predictor.labels)
                        explainer = load_explainer_for(config.explainer_config, settings[0], model, *settings[1:])
                except (ConfigError, MissingDependencyError) as exc:  # the config or the baseline: for good
                    explaining["error"] = f"explainer failed to start: {exc}"
                    explaining["fatal"] = True
                    log.error("%s", explaining["error"])
                except Exception as exc:  # noqa: BLE001 - the upstream is not up yet, or failed: try again later
                    explaining["error"] = f"explainer is waiting for the upstream: {exc}"
                else:
                    explaining["explainer"] = explainer
        return explaining["explainer"]

    def explain(request: Request, body: bytes, media: MediaType, charset: str, accept: MediaType) -> bytes:
        explainer = start_explainer()
        if explainer is None:
            raise UpstreamError(503, str(explaining["error"]))
        headers = request.headers
        return explainer.respond(
            body,
            media,
            charset,
            accept,
            enable=enable_override(headers.get(ENABLE_HEADER)),
            details=(headers.get(DETAILS_HEADER) or "").strip().lower() == "true",
            first_row=first_record(headers.get(FIRST_RECORD_HEADER)),
        )

    def forward(body: bytes, media: MediaType, charset: str, accept: MediaType) -> bytes:
        """Decode, re-encode, call the upstream and map its answer back (runs on a worker thread)."""
        payload = decode_request(body, media, charset=charset, features=features)
        # a lone column is a text (BlazingText's case), whatever it holds
        lone = payload.n_records > 0 and not isinstance(payload.rows[0], dict) and len(payload.rows[0]) == 1
        frame = records_frame(payload, feature_names=config.feature_names, text_columns=lone or text_columns)
        data, answered = send(frame)
        try:
            scores, names = read_predictions(data, answered, payload.n_records, labels)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UpstreamError(502, f"upstream {url} answered something unreadable as {answered}: {exc}.") from None
        return encode_scores(scores, accept, output_names=names)

    async def invocations(request: Request) -> Response:
        try:
            media, charset = parse_content_type(request.headers.get("content-type"), config.content_types)
            accept = choose_accept(request.headers.get("accept"), media)
            body = await read_body(
                request, config.max_payload_bytes, timeout=config.body_timeout, chunk_timeout=config.body_chunk_timeout
            )
            if config.explainer_config is not None:
                content = await anyio.to_thread.run_sync(partial(explain, request, body, media, charset, accept))
            else:
                content = await anyio.to_thread.run_sync(partial(forward, body, media, charset, accept))
        except RequestError as exc:
            return request_error_response(exc)
        except UpstreamError as exc:
            return error_response(exc.status, str(exc))
        except DataError as exc:  # a record the explanation cannot take
            return error_response(400, str(exc))
        except ModelError as exc:
            return error_response(502, str(exc))
        except ClientDisconnect:  # gone before the whole body arrived: nobody reads the answer
            return error_response(400, "body: the client closed the connection before sending all of it.")
        except Exception as exc:  # noqa: BLE001 - a bug must not end the worker; log it whole
            log.exception("500: unexpected error")
            return error_response(500, f"unexpected {type(exc).__name__}: {exc}")
        return Response(content, media_type="application/json" if config.explainer_config is not None else accept)

    async def ping(request: Request) -> Response:
        try:
            answer = await anyio.to_thread.run_sync(partial(call, "GET", ping_url, None, min(config.timeout, 5.0)))
        except UpstreamError as exc:
            return error_response(503, str(exc))
        if answer.status != 200:
            text = answer.data[:200].decode("utf-8", "replace")
            return error_response(503, f"upstream {ping_url} returned {answer.status}: {text}")
        if config.explainer_config is not None and await anyio.to_thread.run_sync(start_explainer) is None:
            return error_response(503, str(explaining["error"]))
        return JSONResponse({"status": "ok"})

    async def describe(request: Request) -> Response:
        explainer = await anyio.to_thread.run_sync(start_explainer)
        if explainer is None:
            return error_response(503, str(explaining["error"]))
        return JSONResponse(explainer.describe())

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    handlers: dict[Any, Callable[[Request, Exception], Any]] = {HTTPException: _http_error, Exception: _http_error}
    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *([Route("/explainer", describe, methods=["GET"]), *page_routes()] if config.explainer_config else []),
        ],
        lifespan=lifespan,
        exception_handlers=handlers,
    )


def _text_config(config: ProxyConfig) -> bool:
    """Whether the explainer config explains text (a ``TextConfig``): the upstream is then a text model."""
    from ..config import load_explainer_config

    if config.explainer_config is None:
        return False
    explainer = load_explainer_config(config.explainer_config)
    types = explainer.feature_types
    return explainer.text_config is not None and (types is None or tuple(types) == ("text",))
