"""A format converter in front of a model server that reads only one format (an "inference pipeline").

Clarify sends CSV or JSON Lines; BlazingText's hosting reads only JSON ``{"instances": [...]}``. The
proxy decodes the request as the model server does, re-encodes the records in the upstream's format
(``to``), forwards them over a keep-alive connection (urllib3, on a worker thread), and maps the answer
back to a full score vector per record in a fixed label order, written in the ``Accept`` format.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import pandas as pd
import urllib3
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._typing import FloatArray
from ._app import _http_error, _package_version, error_response, read_body, request_error_response
from ._codec import (
    LABEL_PREFIX,
    MediaType,
    RequestError,
    choose_accept,
    compile_features,
    decode_request,
    encode_csv_records,
    encode_scores,
    json_value,
    parse_content_type,
    parse_media_type,
)
from ._config import ProxyConfig
from ._frame import records_frame
from ._openapi import openapi_document

__all__ = ["UpstreamError", "create_proxy_app", "read_predictions"]

log = logging.getLogger("openclarify.serving")


class UpstreamError(Exception):
    """The upstream server failed or answered something unreadable; ``status`` is what the proxy answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _strip(label: object) -> str:
    text = str(label)
    return text[len(LABEL_PREFIX) :] if text.startswith(LABEL_PREFIX) else text


def _upstream_body(frame: pd.DataFrame, to: MediaType, k: int | None) -> bytes:
    """The records in the upstream's format: a text alone when there is one text column, else a list."""
    text = frame.shape[1] == 1 and pd.api.types.is_object_dtype(frame.dtypes.iloc[0])
    if text:
        records: list[Any] = ["" if v is None else str(v) for v in frame.iloc[:, 0].tolist()]
    else:
        records = [[json_value(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    if to == "text/csv":
        return encode_csv_records([r] if text else r for r in records)
    if to == "application/jsonlines":
        extra = {} if k is None else {"k": k}
        lines = ({"source": r, **extra} if text else {"features": r} for r in records)
        return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    body: dict[str, Any] = {"instances": records}
    if k is not None:
        body["configuration"] = {"k": k}
    return json.dumps(body, ensure_ascii=False).encode()


def _answers(body: bytes, media: str) -> list[Any]:
    """The upstream's answer as one item per record (a JSON value, or a list of floats from CSV)."""
    text = body.decode("utf-8")
    if media == "text/csv":
        return [[float(v) for v in row] for row in csv.reader(io.StringIO(text, newline="")) if row]
    if media in ("application/jsonlines", "application/x-jsonlines", "application/jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    value = json.loads(text)
    if isinstance(value, dict) and "predictions" in value:
        value = value["predictions"]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of answers or {{'predictions': [...]}}; got {type(value).__name__}")
    return value


def _scores_of(item: Any) -> list[float]:
    if isinstance(item, dict):
        for key in ("prob", "scores", "score", "probabilities", "probability"):
            if key in item:
                item = item[key]
                break
        else:
            raise ValueError(f"an answer without 'prob', 'score' or 'scores'; got {str(item)[:80]}")
    values = item if isinstance(item, list) else [item]
    return [float(v) for v in values]


def read_predictions(
    body: bytes, media: str, n_records: int, labels: tuple[str, ...] | None
) -> tuple[FloatArray, tuple[str, ...] | None]:
    """Scores, shape ``(n_records, n_outputs)``, and their labels, from an upstream's answer.

    Answers with ``{"label": [...], "prob": [...]}`` (BlazingText's top-k, or a full vector) are
    placed by label: in ``labels`` order (a label an answer leaves out scores 0, as fastText leaves
    out labels below its threshold), else in sorted order of the labels answered.

    Raises
    ------
    ValueError
        The answer cannot be read, has the wrong number of records, or names an unknown label.
    """
    items = _answers(body, media)
    if len(items) != n_records:
        raise ValueError(f"expected {n_records} answers, one per record; got {len(items)}")
    labelled = [isinstance(item, dict) and "label" in item for item in items]
    if not any(labelled):
        rows = [_scores_of(item) for item in items]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("the answers have different numbers of scores")
        return np.asarray(rows, dtype=np.float64), None
    if not all(labelled):
        raise ValueError("some answers have labels and some do not")
    pairs = []
    for item in items:
        names = item["label"] if isinstance(item["label"], list) else [item["label"]]
        probs = _scores_of(item)
        if len(names) != len(probs):
            raise ValueError(f"an answer has {len(names)} labels and {len(probs)} probabilities")
        pairs.append(([_strip(x) for x in names], probs))
    order = labels if labels is not None else tuple(sorted({x for names, _ in pairs for x in names}))
    index = {x: j for j, x in enumerate(order)}
    scores = np.zeros((n_records, len(order)), dtype=np.float64)
    for i, (names, probs) in enumerate(pairs):
        for name, p in zip(names, probs, strict=True):
            j = index.get(name)
            if j is None:
                raise ValueError(f"label {name!r} is not among the labels {list(order)[:20]!r}; pass --labels")
            scores[i, j] = p
    return scores, order


def create_proxy_app(config: ProxyConfig) -> Starlette:
    """The ASGI app of ``openclarify proxy``: ``/ping`` (the upstream's health), ``/invocations``, ``/openapi.json``."""
    upstream = config.upstream.rstrip("/")
    url = upstream if upstream.endswith("/invocations") else upstream + "/invocations"
    ping_url = url[: -len("/invocations")] + "/ping"
    labels = tuple(_strip(x) for x in config.labels) if config.labels is not None else None
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
        answer = call("POST", url, _upstream_body(frame, config.to, k), config.timeout)
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
