"""Run the server or the proxy on uvicorn, with one process per worker, each loading the model once."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette

from ._app import create_app
from ._config import DEFAULT_HEADER_TIMEOUT, ProxyConfig, ServeConfig
from ._proxy import create_proxy_app

if TYPE_CHECKING:
    from ._protocol import HttpImplementation

__all__ = ["background_server", "proxy_app_from_environment", "run_proxy", "serve", "serve_app_from_environment"]

# uvicorn starts each worker as a fresh interpreter that imports an app factory by name; the settings
# travel in the environment, which the workers inherit.
_SERVE_ENV = "OPENCLARIFY_SERVE_CONFIG"
_PROXY_ENV = "OPENCLARIFY_PROXY_CONFIG"


def _worker_logging() -> None:
    log = logging.getLogger("openclarify")
    if not log.handlers:  # a worker process: the CLI's set-up did not run here
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("openclarify: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def serve_app_from_environment() -> Starlette:
    """App factory for worker processes of :func:`serve`: each loads its model before it accepts a connection."""
    _worker_logging()
    return create_app(ServeConfig.from_json(os.environ[_SERVE_ENV]), load="before_serving", freeze=True)


def proxy_app_from_environment() -> Starlette:
    """App factory for worker processes of :func:`run_proxy`."""
    _worker_logging()
    return create_proxy_app(ProxyConfig.from_json(os.environ[_PROXY_ENV]))


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _uvicorn_options(config: ServeConfig | ProxyConfig) -> dict[str, Any]:
    return {
        "host": config.host,
        "port": config.port,
        "access_log": config.access_log,
        "log_level": "info",
        "lifespan": "on",
        "ws": "none",  # no websocket routes; avoids importing a websocket library
        "server_header": False,
    }


def _run_uvicorn(app: Starlette | str, config: ServeConfig | ProxyConfig) -> None:
    """What ``uvicorn.run`` does, with our protocol (the header timeout) in every worker process.

    ``app`` is the app itself for one worker, or the import string of its factory for several: each
    worker process then imports it, builds the app and serves the socket the parent bound.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from ._protocol import UvicornConfig, http_protocol

    options = _uvicorn_options(config)
    server_config = UvicornConfig(
        app,
        header_timeout=config.header_timeout,
        http=http_protocol(),
        workers=config.workers,
        factory=isinstance(app, str),
        **options,
    )
    try:
        if config.workers > 1:
            Multiprocess(server_config, sockets=[server_config.bind_socket()]).run()
        else:
            uvicorn.Server(server_config).run()
    except KeyboardInterrupt:  # pragma: no cover - a second Ctrl-C while shutting down
        pass


_Listening = TypeVar("_Listening", ServeConfig, ProxyConfig)


def _with_seed(config: _Listening) -> _Listening:
    """``config`` with one explanation seed for all workers, drawn now unless it has one."""
    if config.explainer_config is None or config.explainer_seed is not None:
        return config
    from ._explain import draw_seed

    return dataclasses.replace(config, explainer_seed=draw_seed())


def serve(config: ServeConfig) -> None:
    """Serve ``config.model`` until interrupted (SIGINT or SIGTERM).

    With one worker the app runs in this process, and ``/ping`` answers 503 while the model loads. With
    more, uvicorn starts ``config.workers`` processes that each load the model (so memory grows with
    the worker count) and share the port; each loads its model before it accepts a connection, so no
    request reaches a worker that is not ready.

    With an explainer config that gives no ``Seed``, one seed is drawn here for every worker.
    """
    config = _with_seed(config)
    if config.workers == 1:
        _run_uvicorn(create_app(config, freeze=True), config)
        return
    with _environment(_SERVE_ENV, config.to_json()):
        _run_uvicorn(f"{__name__}:serve_app_from_environment", config)


def run_proxy(config: ProxyConfig) -> None:
    """Run the format proxy until interrupted (SIGINT or SIGTERM), with ``config.workers`` processes."""
    config = _with_seed(config)
    if config.workers == 1:
        _run_uvicorn(create_proxy_app(config), config)
        return
    with _environment(_PROXY_ENV, config.to_json()):
        _run_uvicorn(f"{__name__}:proxy_app_from_environment", config)


@contextmanager
def background_server(
    app: Starlette,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = 30.0,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    http: HttpImplementation = "auto",
) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a background thread; yield its base URL.

    For tests and notebooks: the socket is bound before the server starts (no race for the port),
    and the server is stopped when the block ends. The model may still be loading when the URL is
    yielded: wait for ``GET /ping`` to answer 200. ``header_timeout`` bounds the time a connection
    takes to send a request's headers (see :class:`ServeConfig`); ``http`` picks uvicorn's HTTP
    implementation.

    Examples
    --------
    >>> from openclarify.serving import ServeConfig, background_server, create_app
    >>> with background_server(create_app(ServeConfig(model="model/"))) as url:  # doctest: +SKIP
    ...     httpx.get(url + "/ping")
    """
    import uvicorn

    from ._protocol import UvicornConfig, http_protocol

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = UvicornConfig(
        app,
        header_timeout=header_timeout,
        http=http_protocol(http),
        log_level="warning",
        lifespan="on",
        ws="none",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="openclarify-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {host}:{port} did not start")
            time.sleep(0.005)
        yield f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
