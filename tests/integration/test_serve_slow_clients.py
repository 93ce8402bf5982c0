"""Slow clients on a real loopback socket: headers or a body trickled forever get 408 and lose the connection.

uvicorn bounds neither (its keep-alive timeout starts only after a response, and the first byte of a
request stops it): the server's own protocol bounds the headers, ``read_body`` the body. Both of
uvicorn's HTTP implementations are checked, with timeouts short enough for a test.
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

from openclarify.models import CallablePredictor
from openclarify.serving import ProxyConfig, ServeConfig, ServedModel, background_server, create_app, create_proxy_app

HEADERS = b"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\n"
GOOD = HEADERS + b"Content-Length: 2\r\n\r\n1\n"

pytestmark = pytest.mark.parametrize("http", ["h11", "httptools"])


def zeros(records: pd.DataFrame) -> np.ndarray:
    return np.zeros(len(records))


@contextmanager
def server(http: str, **settings: float) -> Iterator[tuple[str, int]]:
    header_timeout = settings.pop("header_timeout", 10.0)
    config = ServeConfig(**settings)  # type: ignore[arg-type]
    app = create_app(config, model=ServedModel(CallablePredictor(zeros), ("x",), frozenset(), None))
    with background_server(app, header_timeout=header_timeout, http=http) as url:
        parts = urlsplit(url)
        yield parts.hostname or "", parts.port or 0


class Answer:
    def __init__(self, raw: bytes, closed: bool) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else 0
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.closed = closed

    def error(self) -> str:
        assert self.headers["content-type"] == "application/json"
        return str(json.loads(self.body)["error"])


def answer(sock: socket.socket, within: float = 10.0) -> Answer:
    """Everything the server sends until it closes the connection (or ``within`` seconds pass)."""
    raw = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return Answer(raw, True)
        if not data:
            return Answer(raw, True)
        raw += data
    return Answer(raw, False)


def trickle(sock: socket.socket, data: bytes, interval: float, within: float = 10.0) -> int:
    """Send ``data`` a byte at a time until the server answers or closes; the number of bytes sent."""
    sent = 0
    deadline = time.monotonic() + within
    for byte in data:
        if select.select([sock], [], [], interval)[0] or time.monotonic() > deadline:
            break
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # closed under us
            break
        sent += 1
    return sent


def test_headers_trickled_forever_get_408_and_the_connection_closes(http):
    with server(http, header_timeout=0.5) as address, socket.create_connection(address, timeout=10) as sock:
        start = time.monotonic()
        sent = trickle(sock, HEADERS + b"X-Slow: " + b"a" * 10_000, interval=0.05)
        got = answer(sock)
        elapsed = time.monotonic() - start
    assert got.status == 408 and got.closed
    assert got.headers["connection"] == "close"
    match = re.fullmatch(
        r"request headers: not received in full within 0\.5s; got (\d+) bytes\. "
        r"Send the request line and headers without pauses\.",
        got.error(),
    )
    assert match and 0 < int(match.group(1)) <= sent, got.error()
    assert 0.4 < elapsed < 5


def test_an_idle_connection_is_closed_without_an_answer(http):
    with server(http, header_timeout=0.5) as address, socket.create_connection(address, timeout=10) as sock:
        start = time.monotonic()
        got = answer(sock)
        elapsed = time.monotonic() - start
    assert got.closed and got.status == 0 and got.body == b""
    assert 0.4 < elapsed < 5


def test_after_a_response_the_next_request_has_the_header_timeout_too(http):
    with server(http, header_timeout=0.5) as address, socket.create_connection(address, timeout=10) as sock:
        sock.sendall(GOOD)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        trickle(sock, HEADERS, interval=0.05)  # keep-alive: uvicorn stops its own timer at the first byte
        got = answer(sock)
    assert got.status == 408 and got.closed
    assert got.error().startswith("request headers: not received in full within 0.5s; got ")


def test_keep_alive_requests_each_within_the_header_timeout_are_served(http):
    """The clock starts again after each response: the connection outlives one header timeout."""
    with server(http, header_timeout=2.0) as address, socket.create_connection(address, timeout=10) as sock:
        for _ in range(4):
            sock.sendall(GOOD)
            data = sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"0.0\n"), data
            time.sleep(0.8)


def test_a_body_that_pauses_longer_than_the_chunk_timeout_gets_408(http):
    settings = {"body_chunk_timeout": 0.5, "body_timeout": 30.0}
    with server(http, **settings) as address, socket.create_connection(address, timeout=10) as sock:
        sock.sendall(HEADERS + b"Content-Length: 10\r\n\r\n1")
        start = time.monotonic()
        got = answer(sock)
        elapsed = time.monotonic() - start
    assert got.status == 408 and got.closed
    assert got.headers["connection"] == "close"
    assert got.error() == "body: no data for 0.5s; got 1 of 10 bytes. Send the body without pauses."
    assert 0.4 < elapsed < 5


def test_a_body_trickled_forever_gets_408_at_the_body_timeout(http):
    settings = {"body_chunk_timeout": 30.0, "body_timeout": 1.0}
    with server(http, **settings) as address, socket.create_connection(address, timeout=10) as sock:
        sock.sendall(HEADERS + b"Content-Length: 100000\r\n\r\n")
        start = time.monotonic()
        sent = trickle(sock, b"1\n" * 50_000, interval=0.05)
        got = answer(sock)
        elapsed = time.monotonic() - start
    assert got.status == 408 and got.closed
    match = re.fullmatch(
        r"body: not received in full within 1s; got (\d+) of 100000 bytes\. "
        r"Send it faster, or raise the body timeout\.",
        got.error(),
    )
    assert match and 0 < int(match.group(1)) <= sent, got.error()
    assert 0.9 < elapsed < 5


def test_the_proxy_bounds_a_slow_body_too(http):
    config = ProxyConfig(upstream="http://127.0.0.1:9", body_chunk_timeout=0.5)
    with background_server(create_proxy_app(config), http=http) as url:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(HEADERS + b"Content-Length: 10\r\n\r\n1")
            got = answer(sock)
    assert got.status == 408 and got.closed
    assert got.error() == "body: no data for 0.5s; got 1 of 10 bytes. Send the body without pauses."


def test_headers_past_the_size_limit_are_refused_at_once(http):
    """httptools sets no limit of its own (h11 refuses past 16 KiB with uvicorn's plain-text 400)."""
    with server(http) as address, socket.create_connection(address, timeout=10) as sock:
        try:
            sock.sendall(HEADERS + b"X-Big: " + b"a" * 100_000 + b"\r\n")
        except OSError:  # closed while sending: the answer is already there
            pass
        got = answer(sock)
    assert got.closed
    if http == "h11":
        assert got.status == 400
    else:
        assert got.status == 431
        assert got.error() == (
            "request headers: over the limit of 65536 bytes; got 65536 or more. Send smaller headers."
        )


def test_pipelined_requests_are_all_answered(http):
    with server(http, header_timeout=0.5) as address, socket.create_connection(address, timeout=10) as sock:
        sock.sendall(GOOD * 3)
        raw = b""
        deadline = time.monotonic() + 10
        while raw.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
            raw += sock.recv(65536)
        assert raw.count(b"HTTP/1.1 200") == 3, raw
        got = answer(sock)  # then idle: closed at the header timeout, without another answer
    assert got.closed and got.body == b"" and got.status == 0


def test_a_client_that_leaves_mid_body_is_no_server_error(http, caplog):
    with server(http) as address:
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n12")
            time.sleep(0.2)
        time.sleep(0.5)  # the server notices the disconnect
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
