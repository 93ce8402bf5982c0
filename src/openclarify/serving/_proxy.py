"""A format converter in front of a model server that reads only one format (an "inference pipeline").

Clarify sends CSV or JSON Lines; BlazingText's hosting reads only JSON ``{"instances": [...]}``. The
proxy decodes the request as the model server does, re-encodes the records in the upstream's format
(``to``), forwards them over a keep-alive connection (urllib3, on a worker thread), and maps the answer
back to a full score vector per record in a fixed label order, written in the ``Accept`` format.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import urllib3
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
from ._frame import records_frame
from ._openapi import openapi_document

__all__ = ["UpstreamError", "create_proxy_app"]

log = logging.getLogger("openclarify.serving")


class UpstreamError(Exception):
    """The upstream server failed or answered something unreadable; ``status`` is what the proxy answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_proxy_app(config: ProxyConfig) -> Starlette:
    """The ASGI app of ``openclarify proxy``: ``/ping`` (the upstream's health), ``/invocations``, ``/openapi.json``."""
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

    def forward(body: bytes, media: MediaType, charset: str, accept: MediaType) -> bytes:
        """Decode, re-encode, call the upstream and map its answer back (runs on a worker thread)."""
        payload = decode_request(body, media, charset=charset, features=features)
        # a lone column is a text (BlazingText's case), whatever it holds
        lone = payload.n_records > 0 and not isinstance(payload.rows[0], dict) and len(payload.rows[0]) == 1
        frame = records_frame(payload, feature_names=config.feature_names, text_columns=lone or text_columns)
        answer = call("POST", url, upstream_body(frame, config.to, k), config.timeout)
        if answer.status != 200:
            status = answer.status if 400 <= answer.status < 500 and answer.status != 408 else 502
            text = answer.data[:200].decode("utf-8", "replace")
            raise UpstreamError(status, f"POST {url} returned {answer.status} for content_type {config.to!r}: {text}")
        answered = parse_media_type(answer.headers.get("content-type") or config.to)[0]
        try:
            scores, names = read_predictions(answer.data, answered, payload.n_records, labels)
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
            content = await anyio.to_thread.run_sync(partial(forward, body, media, charset, accept))
        except RequestError as exc:
            return request_error_response(exc)
        except UpstreamError as exc:
            return error_response(exc.status, str(exc))
        except ClientDisconnect:  # gone before the whole body arrived: nobody reads the answer
            return error_response(400, "body: the client closed the connection before sending all of it.")
        except Exception as exc:  # noqa: BLE001 - a bug must not end the worker; log it whole
            log.exception("500: unexpected error")
            return error_response(500, f"unexpected {type(exc).__name__}: {exc}")
        return Response(content, media_type=accept)

    async def ping(request: Request) -> Response:
        try:
            answer = await anyio.to_thread.run_sync(partial(call, "GET", ping_url, None, min(config.timeout, 5.0)))
        except UpstreamError as exc:
            return error_response(503, str(exc))
        if answer.status != 200:
            text = answer.data[:200].decode("utf-8", "replace")
            return error_response(503, f"upstream {ping_url} returned {answer.status}: {text}")
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    handlers: dict[Any, Callable[[Request, Exception], Any]] = {HTTPException: _http_error, Exception: _http_error}
    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers=handlers,
    )
