"""The model server: a Starlette app with SageMaker's ``GET /ping`` and ``POST /invocations``.

The model is loaded on a background thread when the app starts, so ``/ping`` answers 503 until it is
ready (or for good, with the reason, when loading failed). Each request is decoded, scored and
encoded on a worker thread, never on the event loop, at most ``threads`` at a time per process.
Errors are answered with ``{"error": "<one-line message>"}``; none ends the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ModelError
from ..models import check_scores
from ._codec import (
    MediaType,
    RequestError,
    choose_accept,
    compile_features,
    decode_request,
    encode_scores,
    parse_content_type,
)
from ._config import ServeConfig
from ._frame import records_frame
from ._model import ServedModel, load_served_model
from ._openapi import openapi_document

__all__ = ["create_app", "error_response", "read_body"]

log = logging.getLogger("openclarify.serving")


def _package_version() -> str:
    try:
        return version("openclarify")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def error_response(status: int, message: str) -> JSONResponse:
    """``{"error": message}`` on one line, with ``status``."""
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (before reading when Content-Length says so)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"body: {int(declared)} bytes is over the payload limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"body: over the payload limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return error_response(status, f"{request.method} {request.url.path}: {detail}")


class _Job:
    __slots__ = ("abandoned", "done", "fn", "future")

    def __init__(self, fn: Callable[[], bytes]) -> None:
        self.fn = fn
        self.future: Future[bytes] = Future()
        self.done = False  # the call has returned (or raised)
        self.abandoned = False  # it outlived its timeout: its thread was replaced and ends after it


class ModelThreads:
    """Runs requests' model work on ``threads`` threads, in order of arrival, with a timeout each.

    Jobs wait in one queue that the threads take from directly, so a thread that finishes a job starts
    the next one at once, without a round trip through the event loop (which, on a busy loop, costs as
    much as scoring a small request). A job past its timeout is answered 504: if it had not started it
    is dropped; if it is still running, its thread is left to finish it and then end, and a new thread
    takes its place, so that a model call that hangs does not hold up the requests after it.
    """

    def __init__(self, threads: int, name: str = "openclarify-model") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._name = name
        self._threads = threads
        for _ in range(threads):
            self._start_thread()

    def _start_thread(self) -> None:
        threading.Thread(target=self._work, name=self._name, daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():  # timed out while it waited
                continue
            try:
                result = job.fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the request, which answers it
                with self._lock:
                    job.done = True
                job.future.set_exception(exc)
            else:
                with self._lock:
                    job.done = True
                job.future.set_result(result)
            if job.abandoned:  # a new thread has taken this one's place
                return

    async def run(self, fn: Callable[[], bytes], timeout: float) -> bytes:
        """``fn()`` on a model thread; ``TimeoutError`` when it has not returned within ``timeout`` seconds."""
        job = _Job(fn)
        self._jobs.put(job)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            if not job.future.cancel():  # running: abandon it to its thread, which a new one replaces
                with self._lock:
                    if not job.done:
                        job.abandoned = True
                        self._start_thread()
            raise TimeoutError from None

    def close(self) -> None:
        """End the threads once the jobs already queued are done (abandoned threads end on their own)."""
        for _ in range(self._threads):
            self._jobs.put(None)


class _State:
    """What a worker process knows: the model once loaded, or why it failed to load."""

    def __init__(self, config: ServeConfig, model: ServedModel | None) -> None:
        self.config = config
        self.model = model
        self.load_error: str | None = None
        self.features = compile_features(config.features)
        self.threads: ModelThreads | None = None

    def load(self) -> None:
        start = time.perf_counter()
        try:
            self.model = load_served_model(
                self.config.model, feature_names=self.config.feature_names, text_columns=self.config.text_columns
            )
        except Exception as exc:  # noqa: BLE001 - any failure is reported by /ping and the log
            self.load_error = f"model failed to load: {exc}"
            log.error("%s", self.load_error)
            return
        outputs = self.model.output_names
        log.info(
            "model '%s' loaded in %.2fs (%s)",
            self.config.model,
            time.perf_counter() - start,
            f"{len(outputs)} labels" if outputs else "scores",
        )

    def unavailable(self) -> JSONResponse:
        return error_response(503, self.load_error or "model is loading; try again shortly.")

    def score(self, model: ServedModel, body: bytes, media: MediaType, charset: str, accept: MediaType) -> bytes:
        """Decode, predict and encode one request (runs on a worker thread)."""
        # a text model reads every column as text: which CSV fields were quoted does not matter
        payload = decode_request(
            body, media, charset=charset, features=self.features, find_quoted=model.text_columns is not True
        )
        if model.output_names is None and any(k is not None for k in payload.top_k):
            raise RequestError(400, "k: this model has no class labels to rank; leave k out.")
        frame = records_frame(payload, feature_names=model.feature_names, text_columns=model.text_columns)
        scores = check_scores(model.predictor.predict(frame), len(frame), source="model")
        return encode_scores(
            scores, accept, output_names=model.output_names, top_k=payload.top_k, blazingtext=payload.blazingtext
        )


def create_app(config: ServeConfig, *, model: ServedModel | None = None) -> Starlette:
    """The ASGI app serving ``config.model`` (or ``model``, already loaded).

    Routes: ``GET /ping`` (200 once the model is loaded, 503 before or when loading failed),
    ``POST /invocations`` (formats in :func:`openclarify.serving.decode_request` and
    :func:`openclarify.serving.encode_scores`), ``GET /execution-parameters`` (SageMaker batch
    transform) and ``GET /openapi.json``.
    """
    state = _State(config, model)
    document = openapi_document(
        title="openclarify model server",
        content_types=config.content_types,
        max_payload_bytes=config.max_payload_bytes,
        version=_package_version(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.threads = ModelThreads(config.threads)
        if state.model is None:
            threading.Thread(target=state.load, name="openclarify-model-load", daemon=True).start()
        try:
            yield
        finally:
            state.threads.close()

    async def ping(request: Request) -> Response:
        return JSONResponse({"status": "ok"}) if state.model is not None else state.unavailable()

    async def invocations(request: Request) -> Response:
        model = state.model
        if model is None:
            return state.unavailable()
        if state.threads is None:  # served without the lifespan (uvicorn --lifespan off)
            state.threads = ModelThreads(config.threads)
        try:
            media, charset = parse_content_type(request.headers.get("content-type"), config.content_types)
            accept = choose_accept(request.headers.get("accept"), media)
            body = await read_body(request, config.max_payload_bytes)
            work = partial(state.score, model, body, media, charset, accept)
            content = await state.threads.run(work, config.timeout)
        except RequestError as exc:
            return error_response(exc.status, str(exc))
        except TimeoutError:
            return error_response(504, f"model: no answer within the timeout of {config.timeout:g}s.")
        except ModelError as exc:
            log.warning("500: %s", exc)
            return error_response(500, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not end the worker; log it whole
            log.exception("500: unexpected error")
            return error_response(500, f"unexpected {type(exc).__name__}: {exc}")
        return Response(content, media_type=accept)

    async def execution_parameters(request: Request) -> Response:
        return JSONResponse(
            {
                "MaxConcurrentTransforms": config.workers * config.threads,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, config.max_payload_bytes // 1_048_576),
            }
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    handlers: dict[Any, Callable[[Request, Exception], Any]] = {HTTPException: _http_error, Exception: _http_error}
    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
            Route("/execution-parameters", execution_parameters, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers=handlers,
    )
