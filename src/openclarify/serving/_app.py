"""The model server: a Starlette app with SageMaker's ``GET /ping`` and ``POST /invocations``.

The model is loaded on a background thread when the app starts, so ``/ping`` answers 503 until it is
ready (or for good, with the reason, when loading failed), or, in worker processes that share a port,
before the app accepts a connection. Each request is decoded, scored and encoded on a model thread,
never on the event loop, at most ``threads`` at a time per process (see :class:`ModelThreads`).
Errors are answered with ``{"error": "<one-line message>"}``; none ends the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Future
from functools import partial
from typing import Any, Literal, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._typing import Estimator
from .._version import __version__
from ..errors import ConfigError, DataError, ModelError
from ..models import Device, ModelOptions, Runtime
from ..wire import (
    MediaType,
    RequestError,
    choose_accept,
    compile_features,
    decode_request,
    parse_content_type,
)
from ._config import DEFAULT_BODY_CHUNK_TIMEOUT, DEFAULT_BODY_TIMEOUT, ServeConfig
from ._explain import DETAILS_HEADER, ENABLE_HEADER, FIRST_RECORD_HEADER, Explainer, enable_override, first_record
from ._frame import records_frame
from ._model import ServedModel, load_served_model
from ._openapi import openapi_document
from ._page import page_routes

__all__ = [
    "ModelBusy",
    "ModelThreads",
    "create_app",
    "error_response",
    "explainer_location",
    "read_body",
    "request_error_response",
]

log = logging.getLogger("openclarify.serving")

ModelLoading = Literal["background", "before_serving"]


def _package_version() -> str:
    return __version__


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """``{"error": message}`` on one line, with ``status``.

    A lone surrogate (in a model's own message, say) is written as its escape: UTF-8 cannot encode it.
    """
    line = " ".join(str(message).split()).encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"error": line}, status_code=status, headers=headers)


async def read_body(
    request: Request,
    limit: int,
    *,
    timeout: float = DEFAULT_BODY_TIMEOUT,
    chunk_timeout: float = DEFAULT_BODY_CHUNK_TIMEOUT,
) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (before reading when Content-Length says so).

    A client that sends it slower than that gets 408: when the whole body has not arrived within
    ``timeout`` seconds, or no part of it for ``chunk_timeout`` seconds (uvicorn would wait for ever).
    """
    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise RequestError(413, f"body: {expected} bytes is over the payload limit of {limit} bytes.")
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - an ASGI app always runs in a task
        raise RuntimeError("read_body: must be awaited in a task")
    deadline = loop.time() + timeout
    expired: list[bool] = []  # set by the timer: True when the whole-body bound ran out

    # One timer, re-armed after each piece, that cancels this task when a bound runs out: cheaper than
    # asyncio.wait_for, which starts a task per piece (about 40 times the cost of reading a small body).
    def arm() -> asyncio.TimerHandle:
        pause = loop.time() + chunk_timeout
        return loop.call_at(min(deadline, pause), expire, deadline <= pause)

    def expire(overall: bool) -> None:
        expired.append(overall)
        task.cancel()

    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    timer = arm()
    try:
        while True:  # request.stream(), without an async generator in between
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"body: over the payload limit of {limit} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
            timer.cancel()
            timer = arm()
    except asyncio.CancelledError:
        if not expired:  # cancelled from outside (shutdown): not ours to answer
            raise
        if hasattr(task, "uncancel"):  # Python 3.11+: the cancellation is handled here
            task.uncancel()
        got = f"{size} of {expected} bytes" if expected is not None else f"{size} bytes"
        if expired[0]:
            raise RequestError(
                408,
                f"body: not received in full within {timeout:g}s; got {got}. "
                "Send it faster, or raise the body timeout.",
            ) from None
        raise RequestError(
            408, f"body: no data for {chunk_timeout:g}s; got {got}. Send the body without pauses."
        ) from None
    finally:
        timer.cancel()
    return b"".join(chunks)


def request_error_response(exc: RequestError) -> JSONResponse:
    """The answer to a refused request; after a 408 the connection is closed (the rest of the body is unread)."""
    return error_response(exc.status, str(exc), {"connection": "close"} if exc.status == 408 else None)


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
        self.abandoned = False  # it outlived its timeout: its thread is stuck in it until it returns


class ModelBusy(Exception):
    """Every model thread is stuck in a call past its timeout; ``stuck`` is how many such calls there are."""

    def __init__(self, stuck: int) -> None:
        super().__init__(f"{stuck} model calls are past their timeout")
        self.stuck = stuck


class ModelThreads:
    """Runs requests' model work on ``threads`` threads, in order of arrival, with a timeout each.

    Jobs wait in one queue that the threads take from directly, so a thread that finishes a job starts
    the next one at once, without a round trip through the event loop (which, on a busy loop, costs as
    much as scoring a small request). A job past its timeout is answered 504: if it had not started it
    is dropped; if it is still running, it keeps its thread until the model returns (a thread cannot be
    stopped). So that one call that hangs does not hold up the requests after it, one of ``spare`` more
    threads takes the stuck one's place while there is one: at most ``threads + spare`` threads ever run.
    Once every thread is stuck, :meth:`run` raises :class:`ModelBusy` at once (503) instead of queueing
    work no thread will take, until a stuck call returns; its thread then works again, or ends when
    ``threads`` others already do.
    """

    def __init__(self, threads: int, *, spare: int = 1, name: str = "openclarify-model") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._name = name
        self._threads = threads
        self._limit = threads + spare
        self._alive = 0  # threads started and not ended
        self._stuck = 0  # of those, threads in a call past its timeout
        self._closed = False
        with self._lock:
            for _ in range(threads):
                self._start_thread()

    @property
    def stuck(self) -> int:
        """Calls past their timeout whose threads have not returned yet."""
        return self._stuck

    @property
    def available(self) -> int:
        """Threads that take new work (the others are stuck)."""
        return self._alive - self._stuck

    def _start_thread(self) -> None:  # with the lock held
        self._alive += 1
        threading.Thread(target=self._work, name=self._name, daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                with self._lock:
                    self._alive -= 1
                return
            if not job.future.set_running_or_notify_cancel():  # timed out while it waited
                continue
            result = b""
            error: BaseException | None = None
            try:
                result = job.fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the request, which answers it
                error = exc
            with self._lock:
                job.done = True
                end = False
                if job.abandoned:  # back from a call past its timeout
                    self._stuck -= 1
                    if self._closed or self._alive - self._stuck > self._threads:  # a spare took its place
                        self._alive -= 1
                        end = True
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
            if end:
                return

    async def run(self, fn: Callable[[], bytes], timeout: float) -> bytes:
        """``fn()`` on a model thread.

        Raises
        ------
        TimeoutError
            It has not returned within ``timeout`` seconds.
        ModelBusy
            Every thread is stuck in a call past its timeout.
        """
        with self._lock:
            if self._alive - self._stuck <= 0:
                raise ModelBusy(self._stuck)
        job = _Job(fn)
        self._jobs.put(job)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            if not job.future.cancel():  # running: its thread is stuck until the call returns
                with self._lock:
                    if not job.done:
                        job.abandoned = True
                        self._stuck += 1
                        if self._alive < self._limit and not self._closed:
                            self._start_thread()
            raise TimeoutError from None

    def close(self) -> None:
        """End the threads once the jobs already queued are done (stuck threads end when their call returns)."""
        with self._lock:
            self._closed = True
            working = self._alive - self._stuck
        for _ in range(working):
            self._jobs.put(None)


async def _on_daemon_thread(fn: Callable[[], None]) -> None:
    """Await ``fn()`` run on a daemon thread (a load that hangs must not keep the process from exiting)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finish() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            fn()
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed while fn ran
                loop.call_soon_threadsafe(finish)

    threading.Thread(target=run, name="openclarify-model-load", daemon=True).start()
    await done


class _State:
    """What a worker process knows: the model once loaded, or why it failed to load."""

    def __init__(self, config: ServeConfig, model: ServedModel | None, explainer: Explainer | None = None) -> None:
        self.config = config
        self.model = model
        self.explainer = explainer
        self.load_error: str | None = None
        self.features = compile_features(config.features)
        self.threads: ModelThreads | None = None
        self.freeze = False  # gc.freeze() once the model is loaded (a worker process of its own)

    def load(self) -> None:
        start = time.perf_counter()
        try:
            model = load_served_model(
                self.config.model,
                feature_names=self.config.feature_names,
                text_columns=self.config.text_columns,
                options=ModelOptions(
                    device=cast(Device | None, self.config.device),
                    runtime=cast(Runtime, self.config.runtime),
                    batch_size=self.config.model_batch_size,
                ),
                positive_only=self.config.positive_only,
            )
        except Exception as exc:  # noqa: BLE001 - any failure is reported by /ping and the log
            self.load_error = f"model failed to load: {exc}"
            log.error("%s", self.load_error)
            return
        if self.config.explainer_config is not None:
            try:
                self.explainer = load_explainer(self.config, model)
            except Exception as exc:  # noqa: BLE001 - reported by /ping and the log, as a failed model load
                self.load_error = f"explainer failed to start: {exc}"
                log.error("%s", self.load_error)
                return
        self.model = model
        if self.freeze:
            # What is loaded now lives as long as the worker: out of the collector's sight, so that a full
            # collection (about 110 ms with fastText, spaCy and a model's objects tracked) stalls no request.
            gc.collect()
            gc.freeze()
        outputs = model.output_names
        log.info(
            "model '%s' loaded in %.2fs (%s)",
            self.config.model,
            time.perf_counter() - start,
            f"{len(outputs)} labels" if outputs else "scores",
        )

    def explain(
        self, explainer: Explainer, request: Request, body: bytes, media: MediaType, charset: str, accept: MediaType
    ) -> Callable[[], bytes]:
        """The model thread's work for an explained request (the headers are read here, on the loop)."""
        headers = request.headers
        enable = enable_override(headers.get(ENABLE_HEADER))
        details = (headers.get(DETAILS_HEADER) or "").strip().lower() == "true"
        first = first_record(headers.get(FIRST_RECORD_HEADER))
        return partial(explainer.respond, body, media, charset, accept, enable=enable, details=details, first_row=first)

    def unavailable(self) -> JSONResponse:
        return error_response(503, self.load_error or "model is loading; try again shortly.")

    def busy(self, stuck: int) -> JSONResponse:
        return error_response(
            503,
            f"model: busy, every model thread is held by a call past the timeout of {self.config.timeout:g}s; "
            f"got {stuck} such calls. Try again when they return.",
        )

    def model_threads(self) -> ModelThreads:
        if self.threads is None:  # served without the lifespan (uvicorn --lifespan off)
            self.threads = ModelThreads(self.config.threads, spare=self.config.spare_threads)
        return self.threads

    def score(self, model: ServedModel, body: bytes, media: MediaType, charset: str, accept: MediaType) -> bytes:
        """Decode, predict and encode one request (runs on a worker thread)."""
        # a text model reads every column as text: which CSV fields were quoted does not matter
        text_model = model.text_columns is True
        payload = decode_request(
            body, media, charset=charset, features=self.features, find_quoted=not text_model, inputs=text_model
        )
        if model.output_names is None and any(k is not None for k in payload.top_k):
            raise RequestError(400, "k: this model has no class labels to rank; leave k out.")
        frame = records_frame(payload, feature_names=model.feature_names, text_columns=model.text_columns)
        return model.encode(model.score(frame), accept, payload)


def explainer_location(source: str) -> str:
    """Validate the explainer config at ``source`` (:class:`~openclarify.errors.ConfigError` when invalid) and
    return where worker processes read it: a local path made absolute, or the URL."""
    import os

    from ..config import load_explainer_config
    from ..io import is_url

    load_explainer_config(source)
    return source if is_url(source) else os.path.abspath(source)


def load_explainer(config: ServeConfig, model: ServedModel) -> Explainer:
    """The explainer of ``config.explainer_config`` for ``model`` (its baseline read and scored)."""
    return load_explainer_for(
        config.explainer_config,
        config.features,
        model,
        config.explanation_cache,
        config.explainer_seed,
        config.explainer_estimator,
        config.explainer_target_error,
    )


def load_explainer_for(
    source: str | None,
    features_option: str | None,
    model: ServedModel,
    cache: int,
    seed: int | None = None,
    estimator: Estimator = "kernel",
    target_error: float | None = None,
) -> Explainer:
    """The explainer of the config file ``source`` for ``model``; ``features_option`` is ``--features``;
    ``seed``, the seed when the config gives none; ``estimator`` and ``target_error``, openclarify's
    extensions (as ``methods.shap``'s)."""
    from pathlib import Path

    from ..config import load_explainer_config
    from ..io import is_url
    from ._explain import build_explainer

    if source is None:
        raise ValueError("no explainer config")
    explainer_config = load_explainer_config(source)
    features = compile_features(features_option)
    if explainer_config.features_attribute is not None:
        if features_option is not None and features_option != explainer_config.features_attribute:
            raise ConfigError(
                f"--features {features_option!r} and FeaturesAttribute {explainer_config.features_attribute!r} "
                "disagree; give one of them.",
                path="InferenceConfig.FeaturesAttribute",
            )
        features = compile_features(explainer_config.features_attribute)
    base_dir = None if is_url(source) else Path(source).resolve().parent
    return build_explainer(
        explainer_config,
        model,
        base_dir=base_dir,
        features=features,
        cache_size=cache,
        seed=seed,
        estimator=estimator,
        target_error=target_error,
    )


def create_app(
    config: ServeConfig,
    *,
    model: ServedModel | None = None,
    load: ModelLoading = "background",
    explainer: Explainer | None = None,
    freeze: bool = False,
) -> Starlette:
    """The ASGI app serving ``config.model`` (or ``model``, already loaded).

    Routes: ``GET /ping`` (200 once the model is loaded, 503 before, when loading failed or while
    every model thread is stuck past the timeout), ``POST /invocations`` (formats in
    :func:`openclarify.serving.decode_request` and :func:`openclarify.serving.encode_scores`),
    ``GET /execution-parameters`` (SageMaker batch transform) and ``GET /openapi.json``.

    ``load`` says when the model is loaded: ``"background"``, on a thread once the app starts, while
    ``/ping`` answers 503; ``"before_serving"``, in the app's startup, which uvicorn completes before it
    accepts a connection. Worker processes that share a port need the second: a connection goes to
    whichever process accepts it, so one still loading must not accept any.

    With ``config.explainer_config`` (or ``explainer``, already built for ``model``), ``/invocations``
    answers Clarify's online-explanation JSON (see :mod:`openclarify.serving._explain`), ``GET /explainer``
    describes the explainer and ``GET /`` serves the live page.

    ``freeze``: once the model is loaded, move every object to :func:`gc.freeze`'s permanent generation, so
    that no full collection scans them during a request (for a process that only serves: ``serve`` sets it).
    """
    if model is not None and explainer is None and config.explainer_config is not None:
        explainer = load_explainer(config, model)
    state = _State(config, model, explainer)
    state.freeze = freeze
    explaining = config.explainer_config is not None or explainer is not None
    document = openapi_document(
        title="openclarify model server",
        content_types=config.content_types,
        max_payload_bytes=config.max_payload_bytes,
        version=_package_version(),
        explained=explaining,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        threads = state.model_threads()
        if state.model is None and load == "before_serving":
            await _on_daemon_thread(state.load)
        elif state.model is None:
            threading.Thread(target=state.load, name="openclarify-model-load", daemon=True).start()
        try:
            yield
        finally:
            threads.close()

    async def ping(request: Request) -> Response:
        if state.model is None:
            return state.unavailable()
        threads = state.model_threads()
        if threads.available <= 0:
            return state.busy(threads.stuck)
        return JSONResponse({"status": "ok"})

    async def invocations(request: Request) -> Response:
        model = state.model
        if model is None:
            return state.unavailable()
        threads = state.model_threads()
        explainer = state.explainer
        limit = config.max_payload_bytes
        if explainer is not None and explainer.max_payload_bytes is not None:
            limit = explainer.max_payload_bytes
        try:
            media, charset = parse_content_type(request.headers.get("content-type"), config.content_types)
            accept = choose_accept(request.headers.get("accept"), media)
            body = await read_body(request, limit, timeout=config.body_timeout, chunk_timeout=config.body_chunk_timeout)
            if explainer is not None:
                work = state.explain(explainer, request, body, media, charset, accept)
            else:
                work = partial(state.score, model, body, media, charset, accept)
            content = await threads.run(work, config.timeout)
        except RequestError as exc:
            return request_error_response(exc)
        except ClientDisconnect:  # gone before the whole body arrived: nobody reads the answer
            return error_response(400, "body: the client closed the connection before sending all of it.")
        except ModelBusy as exc:
            return state.busy(exc.stuck)
        except TimeoutError:
            return error_response(504, f"model: no answer within the timeout of {config.timeout:g}s.")
        except ModelError as exc:
            log.warning("500: %s", exc)
            return error_response(500, str(exc))
        except DataError as exc:  # a record the explanation cannot take (a text past the segmenter's limits)
            return error_response(400, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not end the worker; log it whole
            log.exception("500: unexpected error")
            return error_response(500, f"unexpected {type(exc).__name__}: {exc}")
        return Response(content, media_type="application/json" if explainer is not None else accept)

    async def describe(request: Request) -> Response:
        if state.model is None:
            return state.unavailable()
        if state.explainer is None:
            return error_response(
                404, "GET /explainer: this server explains nothing; start it with --explainer-config."
            )
        return JSONResponse(state.explainer.describe())

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
            *([Route("/explainer", describe, methods=["GET"]), *page_routes()] if explaining else []),
        ],
        lifespan=lifespan,
        exception_handlers=handlers,
    )
