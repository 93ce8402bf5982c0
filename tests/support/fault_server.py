"""A real HTTP model server on a free loopback port that wraps a scoring function and injects faults.

``FaultServer(score, feature_names=..., faults=Faults(...))`` answers ``POST /invocations`` (and
``GET /ping``) from a thread, the way a SageMaker container does. It reads the request independently
of the client under test (Python's ``csv`` module, ``json``), calls ``score(DataFrame)`` and answers
with ``repr()`` floats, so the scores that reach the client are bit-identical to calling ``score`` in
process. Faults are deterministic: they depend on the request body and on how often that same body
was seen, never on chance.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FaultServer", "Faults", "csv_scores", "json_scores", "jsonlines_scores", "labelled_scores"]


@dataclass
class Faults:
    """Which requests go wrong, and how.

    A request is *faulty* when ``crc32(body) % every == 0`` (``every=1``: all of them) and it holds at
    least ``min_records`` records (2: batches only, not the per-record fallback). The n-th time
    (0-based) the server sees the same faulty body it

    * drops the connection (reads the request, closes the socket, answers nothing) while n < ``drop_first``;
    * then hangs ``hang_seconds`` (longer than the client's timeout) for the next ``hang_first`` times;
    * then answers ``error_status`` for the next ``error_first`` times (with ``Retry-After: retry_after``
      when set);
    * then answers one score row too few for the next ``wrong_count_first`` times;
    * then answers 200 with its body cut short by ``truncate_bytes`` bytes and a ``Content-Length`` that
      matches the cut body, for the next ``truncate_first`` times (a buggy server or proxy: nothing on
      the wire says the answer is incomplete);
    * then answers with a ``Content-Length`` of the whole body but sends only its first half and closes
      the connection, for the next ``cut_first`` times;
    * then answers normally.

    Independently of that, any request whose body contains ``poison`` gets ``poison_status`` every time
    (a record the model always fails on), any containing ``short_poison`` gets one row too few every
    time, and ``status`` (e.g. 415) answers every request with that status and ``status_body``.
    ``always_short`` answers every request (batches and single records) with one score row too few.
    """

    every: int = 1
    min_records: int = 1
    drop_first: int = 0
    hang_first: int = 0
    hang_seconds: float = 5.0
    error_first: int = 0
    error_status: int = 500
    retry_after: str | None = None
    wrong_count_first: int = 0
    truncate_first: int = 0
    truncate_bytes: int = 2
    cut_first: int = 0
    always_short: bool = False
    poison: str | None = None
    poison_status: int = 500
    short_poison: str | None = None
    status: int | None = None
    status_body: str = "unsupported content type"


@dataclass
class Seen:
    """What the server received: one entry per request, in arrival order."""

    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)
    records: int = 0


def csv_scores(scores: np.ndarray) -> bytes:
    """One CSV row per record, floats as ``repr`` (bit-exact when read back with ``float``)."""
    return "\n".join(",".join(repr(float(v)) for v in row) for row in scores).encode()


def jsonlines_scores(key: str = "scores") -> Callable[[np.ndarray], bytes]:
    """One JSON line per record: ``{key: [s0, s1, ...]}``."""

    def encode(scores: np.ndarray) -> bytes:
        return "\n".join(json.dumps({key: [float(v) for v in row]}) for row in scores).encode()

    return encode


def json_scores(key: str = "predictions", inner: str = "scores") -> Callable[[np.ndarray], bytes]:
    """One JSON document: ``{key: [{inner: [s0, s1, ...]}, ...]}``."""

    def encode(scores: np.ndarray) -> bytes:
        return json.dumps({key: [{inner: [float(v) for v in row]} for row in scores]}).encode()

    return encode


def labelled_scores(
    labels: Sequence[str],
    *,
    fmt: str = "jsonlines",
    order: str = "model",
    top_k: int | None = None,
) -> Callable[[np.ndarray], bytes]:
    """Per record ``{"label": [...], "prob": [...]}``, the way BlazingText's hosting answers.

    ``order="model"``: every record lists ``labels`` in the model's order (column j is ``labels[j]``);
    ``order="probability"``: each record lists its labels most probable first (ties: model order), so
    the order changes from record to record; ``top_k``: only the k most probable labels. ``fmt``:
    ``jsonlines`` (one object per line), ``json`` (``{"predictions": [objects]}``), ``blazingtext``
    (BlazingText's top-level JSON list of objects) or ``csv`` (Autopilot's ``"[labels]","[scores]"``
    per line, read with ``label: 0``, ``probability: 1``).
    """

    def objects(scores: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for row in scores:
            columns = list(range(len(labels)))
            if order == "probability" or top_k is not None:
                columns.sort(key=row.__getitem__, reverse=True)  # stable: ties keep the model's order
            if top_k is not None:
                columns = columns[:top_k]
            out.append({"label": [labels[j] for j in columns], "prob": [float(row[j]) for j in columns]})
        return out

    def encode(scores: np.ndarray) -> bytes:
        items = objects(scores)
        if fmt == "csv":
            out = io.StringIO(newline="")
            writer = csv.writer(out, lineterminator="\n")
            writer.writerows([json.dumps(item["label"]), json.dumps(item["prob"])] for item in items)
            return out.getvalue().rstrip("\n").encode()
        if fmt == "jsonlines":
            return "\n".join(json.dumps(item) for item in items).encode()
        return json.dumps(items if fmt == "blazingtext" else {"predictions": items}).encode()

    return encode


class FaultServer:
    """A loopback model server; use as a context manager, ``url`` is its base URL.

    ``score(records) -> (n,) or (n, n_outputs)`` receives a DataFrame with ``feature_names`` as
    columns: ``text_columns`` hold strings, the others floats (an empty cell is NaN). JSON Lines and
    JSON requests are read with ``features_key`` (the list of values, or an object of name -> value,
    of each line / of each item of ``records_key``). ``line_end`` is appended to every 200 answer
    (``"\\n"``: the server ends its answers with a line break, as ``openclarify serve`` does).
    """

    def __init__(
        self,
        score: Callable[[pd.DataFrame], Any],
        *,
        feature_names: Sequence[str],
        text_columns: Sequence[str] = (),
        faults: Faults | None = None,
        encode: Callable[[np.ndarray], bytes] = csv_scores,
        features_key: str = "features",
        records_key: str = "instances",
        line_end: str = "",
    ) -> None:
        self.score = score
        self.feature_names = list(feature_names)
        self.text_columns = set(text_columns)
        self.faults = faults or Faults()
        self.encode = encode
        self.features_key = features_key
        self.records_key = records_key
        self.line_end = line_end.encode()
        self.seen = Seen()
        self._attempts: Counter[bytes] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- request handling ---------------------------------------------------------------------------

    def decide(self, body: bytes, n_records: int) -> str:
        """The action for this request: ``drop``, ``hang``, ``error``, ``poison``, ``short``, ``truncate``,
        ``cut``, ``status`` or ``ok``."""
        f = self.faults
        with self._lock:
            seen = self._attempts[body]
            self._attempts[body] += 1
        if f.status is not None:
            return "status"
        if f.poison is not None and f.poison.encode() in body:
            return "poison"
        if f.always_short or (f.short_poison is not None and f.short_poison.encode() in body):
            return "short"
        if zlib.crc32(body) % f.every == 0 and n_records >= f.min_records:
            for action, count in (
                ("drop", f.drop_first),
                ("hang", f.hang_first),
                ("error", f.error_first),
                ("short", f.wrong_count_first),
                ("truncate", f.truncate_first),
                ("cut", f.cut_first),
            ):
                if seen < count:
                    return action
                seen -= count
        return "ok"

    def records(self, body: bytes, content_type: str) -> pd.DataFrame:
        text = body.decode("utf-8")
        if content_type == "text/csv":
            rows: list[list[Any]] = list(csv.reader(io.StringIO(text, newline="")))
        elif content_type == "application/jsonlines":
            rows = [self._values(json.loads(line)[self.features_key]) for line in text.split("\n") if line.strip()]
        else:
            document = json.loads(text)
            items = document[self.records_key] if isinstance(document, dict) else document
            rows = [self._values(item) for item in items]
        columns = {}
        for j, name in enumerate(self.feature_names):
            values = [row[j] for row in rows]
            if name in self.text_columns:
                columns[name] = pd.Series(values, dtype=object)
            else:
                columns[name] = pd.Series([np.nan if v in ("", None) else float(v) for v in values], dtype=np.float64)
        return pd.DataFrame(columns, columns=self.feature_names)

    def _values(self, item: Any) -> list[Any]:
        if isinstance(item, dict) and self.features_key in item:
            item = item[self.features_key]
        if isinstance(item, dict):
            return [item[name] for name in self.feature_names]
        return list(item)


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK hold every answer back ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:
            self._answer(200 if self.path == "/ping" else 404, b"")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with server._lock:
                server.seen.bodies.append(body)
                server.seen.headers.append(dict(self.headers.items()))
            if self.path != "/invocations":
                self._answer(404, b"not found")
                return
            try:
                records = server.records(body, self.headers.get("Content-Type", "text/csv"))
            except Exception as exc:  # noqa: BLE001 - an unreadable request is a 400, as in a container
                self._answer(400, f"{type(exc).__name__}: {exc}".encode())
                return
            action = server.decide(body, len(records))
            with server._lock:
                server.seen.actions[action] += 1
            f = server.faults
            if action == "drop":
                self.close_connection = True
                return
            if action == "hang":
                server._stop.wait(f.hang_seconds)
                self.close_connection = True
                return
            if action == "status":
                self._answer(f.status or 500, f.status_body.encode())
                return
            if action == "error":
                headers = {"Retry-After": f.retry_after} if f.retry_after is not None else {}
                self._answer(f.error_status, b"injected failure", headers)
                return
            if action == "poison":
                self._answer(f.poison_status, b"the model failed on a poisoned record")
                return
            try:
                scores = np.asarray(server.score(records), dtype=np.float64)
            except Exception as exc:  # noqa: BLE001 - a model failure is a 500, as in a container
                self._answer(500, f"{type(exc).__name__}: {exc}".encode())
                return
            with server._lock:
                server.seen.records += len(records)
            if scores.ndim == 1:
                scores = scores[:, None]
            if action == "short":
                scores = scores[:-1]
            answer = server.encode(scores) + (server.line_end if len(scores) else b"")
            headers = {"Content-Type": self.headers.get("Accept", "text/csv")}
            if action == "truncate":
                answer = answer[: -f.truncate_bytes]
            if action == "cut":
                self._answer(200, answer[: len(answer) // 2], {**headers, "Content-Length": str(len(answer))})
                self.close_connection = True
                return
            self._answer(200, answer, headers)

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                headers = {"Content-Length": str(len(body)), **(headers or {})}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
