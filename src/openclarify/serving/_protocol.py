"""uvicorn's HTTP/1.1 protocols with a bound on the time (and, for httptools, the size) of a request's head.

uvicorn arms its keep-alive timer only after a response and stops it at the first byte of the next
request, so a client that opens a connection and sends nothing, or trickles its headers a byte at a
time, holds the connection (and a slot of the server's) for ever. Here each connection has a header
clock: it starts when the connection opens and again after each response, and stops once a request's
headers are complete (uvicorn then hands the request to the app, whose ``read_body`` bounds the body).
When it runs out the connection is closed, after a 408 if the client had sent part of a request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._config import DEFAULT_HEADER_TIMEOUT

__all__ = ["MAX_HEADER_BYTES", "HttpImplementation", "UvicornConfig", "http_protocol"]

HttpImplementation = Literal["auto", "h11", "httptools"]

# h11 refuses an incomplete request head past 16 KiB itself; httptools (llhttp) has no limit, so a fast
# client could fill memory within the header timeout.
MAX_HEADER_BYTES = 65_536


class UvicornConfig(uvicorn.Config):
    """uvicorn's settings plus ``header_timeout`` (pickled into each worker process with the rest)."""

    def __init__(self, app: Any, *, header_timeout: float = DEFAULT_HEADER_TIMEOUT, **options: Any) -> None:
        super().__init__(app, **options)
        self.header_timeout = header_timeout


class _HeaderClock:
    """The header timer of one connection, and how much of a request head it has received."""

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, timeout: float) -> None:
        self.loop = loop
        self.transport = transport
        self.timeout = timeout
        self.timer: asyncio.TimerHandle | None = None
        self.head = False  # part of a request line or headers has arrived
        self.received = 0  # bytes of that head

    def start(self) -> None:
        """Run the clock (if it is not running): the connection waits for a request's headers."""
        if self.timer is None and not self.transport.is_closing():
            self.timer = self.loop.call_later(self.timeout, self._expired)

    def stop(self) -> None:
        """A request's headers are complete: the app has the request now."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.head = False
        self.received = 0

    def begin_head(self) -> None:
        self.head = True
        self.received = 0
        self.start()

    def add(self, size: int) -> None:
        if not self.head:
            return
        self.received += size
        if self.received >= MAX_HEADER_BYTES:
            self._refuse(
                431,
                "Request Header Fields Too Large",
                f"request headers: over the limit of {MAX_HEADER_BYTES} bytes; got {MAX_HEADER_BYTES} or more. "
                "Send smaller headers.",
            )

    def _expired(self) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        if not self.head:  # idle, or the rest of a body already answered: nothing to say
            self.transport.close()
            return
        self._refuse(
            408,
            "Request Timeout",
            f"request headers: not received in full within {self.timeout:g}s; got {self.received} bytes. "
            "Send the request line and headers without pauses.",
        )

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self.stop()
        if self.transport.is_closing():
            return
        body = json.dumps({"error": message}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        self.transport.close()


def _timeout(config: uvicorn.Config) -> float:
    return config.header_timeout if isinstance(config, UvicornConfig) else DEFAULT_HEADER_TIMEOUT


class H11HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with the header clock (h11 limits the head to 16 KiB itself)."""

    _clock: _HeaderClock

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._clock = _HeaderClock(self.loop, transport, _timeout(self.config))
        self._clock.start()

    def _sync_clock(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            self._clock.stop()  # the app has a request
            return
        self._clock.start()
        # h11 buffers an incomplete request head; IDLE means no request is under way
        pending = len(self.conn.trailing_data[0]) if self.conn.their_state is h11.IDLE else 0
        self._clock.head = pending > 0
        self._clock.received = pending

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._sync_clock()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._sync_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clock.stop()
        super().connection_lost(exc)


class HttpToolsHeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the header clock and a limit on the size of a request head."""

    _clock: _HeaderClock

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._clock = _HeaderClock(self.loop, transport, _timeout(self.config))
        self._clock.start()

    # the parser's callbacks mark where a request head begins and ends
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._clock.begin_head()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._clock.stop()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._clock.add(len(data))  # counted only while the head is incomplete after this data

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle.response_complete:  # no pipelined request was started: wait for the next one
            self._clock.start()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clock.stop()
        super().connection_lost(exc)


def http_protocol(implementation: HttpImplementation = "auto") -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's ``http`` setting; ``auto`` is httptools, as uvicorn[standard] picks."""
    if implementation == "h11":
        return H11HeaderTimeoutProtocol
    return HttpToolsHeaderTimeoutProtocol
