#!/usr/bin/env python
"""Online explanations benchmark: the latency of one explained record, against one batched model call.

``openclarify serve --explainer-config`` answers ``POST /invocations`` with SageMaker Clarify's online
JSON (each record's Kernel SHAP values). For three models, one baseline record, the default budget:

* ``abalone-forest``: the abalone pipeline (one-hot Sex + 7 numbers, ``RandomForestRegressor(100,
  n_jobs=1)`` in a ``ColumnTransformer`` pipeline), baseline = the training medians with Sex ``M``;
  8 features, 254 coalitions (exact);
* ``gbm-20``: ``GradientBoostingClassifier(100)`` on a 20-feature ``make_classification`` set, baseline =
  the training medians; 2,088 coalitions (sampled);
* ``fasttext-12``: the DBpedia fastText model of ``bench/_dbpedia.py`` on a test abstract cut to 12 tokens,
  token granularity, baseline ``<UNK>``; the default budget is min(2M + 2048, 2^M - 2) = 2,072 coalitions
  (sampled); ``fasttext-12-exact`` is the same at ``NumberOfSamples`` 4,094 (every coalition).

Measured, in one process, interleaved (every round runs every measurement once, the order rotated):

* the floor: the served predictor's ``predict`` of all the record's coalition rows in one call (the rows
  the explanation scores: each coalition's masked record), and one plain call on the record;
* one explained record in process (``Explainer.respond``, cache off) and over HTTP (the app of
  ``openclarify serve`` under uvicorn on a loopback socket via ``background_server``, one ``http.client``
  keep-alive connection), p50 / p99; a cache hit (cache on, the same request again), both ways;
* 10 records in one request against the same 10 records in 10 single-record requests (in process);
* for the forest and the GBM, ``shap.KernelExplainer(f, baseline).shap_values(record, nsamples=<the same
  coalition count>)``, with its default ``l1_reg`` and with ``l1_reg=False``, as the peer;
* explained records/s under load: 4 client threads (in a separate process, keep-alive connections) for
  8 s against the app with ``threads=2`` and ``threads=1`` (in this process), and against ``openclarify serve
  --workers 2`` (a subprocess), 1- and 10-record requests;
* where the time of a request goes: timing splits (decode, model, engine, records, answer) and a cProfile.

Usage::

    python bench/online.py            # full run  (~4 min)   -> bench/results/online.{json,md}
    python bench/online.py --quick    # smoke run (~55 s)    -> bench/results/online_quick.{json,md}
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import http.client
import json
import math
import os
import pstats
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import _common  # noqa: I001 - first: single-threaded BLAS / OpenMP before numpy is imported
import _dbpedia
import joblib
import numpy as np
import pandas as pd
import serving  # bench/serving.py: the served fastText folder, server subprocesses, their CPU time

from openclarify.config import parse_explainer_config
from openclarify.serving import ServeConfig, _explain, background_server, create_app, load_served_model
from openclarify.serving._explain import Explainer, build_explainer
from openclarify.text import Segmenter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

TEXT_TOKENS = 12
BATCH = 10  # records in the multi-record request
LOAD_CLIENTS = 4
LOAD_THREADS = (2, 1)
LOAD_WORKERS = 2  # and `openclarify serve --workers 2` (processes, threads=1 each) in a subprocess
CACHE_SIZE = 1024

# Targets (issue): an explained record costs at most 1.5x one batched model call over its coalitions; a
# 12-token fastText explanation p50 under 30 ms.
TARGET_FLOOR = 1.5
TARGET_TEXT_MS = 30.0
JUDGED = ("abalone-forest", "gbm-20", "fasttext-12")


# --------------------------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One served model and what is sent to it."""

    name: str
    title: str
    model_path: Path
    clarify: dict[str, Any]  # the ClarifyExplainerConfig
    body: bytes  # one record
    bodies: list[bytes]  # BATCH single records (the first is ``body``)
    text: bool
    load: bool = True  # load runs, cache and 10-record measurements
    shap: dict[str, Callable[[], Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def body10(self) -> bytes:
        return b"".join(b + b"\n" for b in self.bodies)


def csv_line(values: Sequence[Any]) -> str:
    """A CSV record as Clarify sends it: strings quoted, numbers as Python writes them."""
    return ",".join('"' + v.replace('"', '""') + '"' if isinstance(v, str) else repr(float(v)) for v in values)


def forest_case(work: Path) -> tuple[Case, Any, pd.DataFrame, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(ROOT / "data" / "abalone" / "abalone.csv")
    features = list(frame.columns[:8])
    numbers = features[1:]
    train, test = frame.iloc[:3177], frame.iloc[3177:]
    t0 = time.perf_counter()
    model = Pipeline(
        [
            ("cols", ColumnTransformer([("sex", OneHotEncoder(), ["Sex"]), ("num", "passthrough", numbers)])),
            ("forest", RandomForestRegressor(n_estimators=100, n_jobs=1, random_state=0)),
        ]
    ).fit(train[features], train["Rings"])
    fit_s = time.perf_counter() - t0
    path = work / "forest.joblib"
    joblib.dump(model, path)
    baseline = ["M", *train[numbers].median().tolist()]
    records = [[r[0], *map(float, r[1:])] for r in test[features].iloc[:BATCH].itertuples(index=False)]
    case = Case(
        name="abalone-forest",
        title="abalone pipeline, RandomForestRegressor(100, n_jobs=1), 8 features",
        model_path=path,
        clarify={"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": csv_line(baseline)}, "Seed": 1}},
        body=csv_line(records[0]).encode(),
        bodies=[csv_line(r).encode() for r in records],
        text=False,
        info={"train_records": len(train), "fit_seconds": fit_s, "baseline": baseline},
    )
    base_df = pd.DataFrame([baseline], columns=features).astype({c: float for c in numbers})
    rec_df = pd.DataFrame([records[0]], columns=features).astype({c: float for c in numbers})

    def f(x: np.ndarray) -> np.ndarray:  # shap passes an object array; the pipeline takes a typed frame
        return model.predict(pd.DataFrame(x, columns=features).astype({c: float for c in numbers}))

    return case, f, base_df, rec_df


def gbm_case(work: Path) -> tuple[Case, Any, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = make_classification(n_samples=3000, n_features=20, n_informative=10, n_redundant=5, random_state=0)
    t0 = time.perf_counter()
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X[:2000], y[:2000])
    fit_s = time.perf_counter() - t0
    path = work / "gbm.joblib"
    joblib.dump(model, path)
    baseline = np.median(X[:2000], axis=0)
    records = X[2000 : 2000 + BATCH]
    case = Case(
        name="gbm-20",
        title="GradientBoostingClassifier(100), make_classification, 20 features",
        model_path=path,
        clarify={"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": csv_line(baseline.tolist())}, "Seed": 1}},
        body=csv_line(records[0].tolist()).encode(),
        bodies=[csv_line(r.tolist()).encode() for r in records],
        text=False,
        info={"train_records": 2000, "fit_seconds": fit_s, "test_accuracy": float(model.score(X[2000:], y[2000:]))},
    )
    return case, model.predict_proba, baseline[None, :], records[:1]


def text_records(segmenter: Segmenter) -> list[str]:
    """The first BATCH DBpedia test abstracts that have TEXT_TOKENS tokens once cut to that many words."""
    _, texts = _dbpedia.load_split("test")
    out = []
    for t in texts:
        cut = " ".join(t.split()[:TEXT_TOKENS])
        if len(segmenter(cut)) == TEXT_TOKENS:
            out.append(cut)
        if len(out) == BATCH:
            return out
    raise RuntimeError("not enough DBpedia test abstracts of 12 tokens")


def text_cases(folder: Path, texts: list[str]) -> list[Case]:
    bodies = [csv_line([t]).encode() for t in texts]
    text_config = {"Language": "en", "Granularity": "token"}
    shap_config = {"ShapBaselineConfig": {"ShapBaseline": '"<UNK>"'}, "Seed": 1, "TextConfig": text_config}
    exact = 2**TEXT_TOKENS - 2
    return [
        Case(
            name="fasttext-12",
            title=f"DBpedia fastText, {TEXT_TOKENS} tokens, default budget",
            model_path=folder,
            clarify={"ShapConfig": shap_config},
            body=bodies[0],
            bodies=bodies,
            text=True,
        ),
        Case(
            name="fasttext-12-exact",
            title=f"DBpedia fastText, {TEXT_TOKENS} tokens, NumberOfSamples {exact} (exact)",
            model_path=folder,
            clarify={"ShapConfig": {**shap_config, "NumberOfSamples": exact}},
            body=bodies[0],
            bodies=bodies,
            text=True,
            load=False,
        ),
    ]


# ------------------------------------------------------------------------------------ floor rows
def tabular_rows(ex: Explainer, body: bytes, n_coal: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n_coal`` masked records of the record in ``body`` (every coalition when that is all of them):
    each feature the record's or the baseline's, typed as the explainer types requests."""
    record, _ = ex.frame(body, "text/csv", "utf-8")
    baseline = ex.shap.plan.baseline
    m = record.shape[1]
    if n_coal >= 2**m - 2:
        codes = np.arange(1, 2**m - 1, dtype=np.int64)
    else:
        codes = rng.choice(np.arange(1, 2**m - 1, dtype=np.int64), size=n_coal, replace=False)
    keep = ((codes[:, None] >> np.arange(m)) & 1).astype(bool)
    data = {}
    for j, name in enumerate(record.columns):
        x, b = record[name].to_numpy(), baseline[name].to_numpy()
        data[name] = pd.Series(np.where(keep[:, j], x[0], b[0]), dtype=record[name].dtype)
    return pd.DataFrame(data)


def text_rows(segmenter: Segmenter, text: str, column: str, n_coal: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n_coal`` distinct masked copies of ``text``: each absent token replaced by ``<UNK>``."""
    spans = list(segmenter(text))
    m = len(spans)
    codes = np.arange(1, 2**m - 1, dtype=np.int64)
    if n_coal < len(codes):
        codes = rng.choice(codes, size=n_coal, replace=False)
    out = []
    for code in codes.tolist():
        pieces, last = [], 0
        for j, (s, e) in enumerate(spans):
            pieces.append(text[last:s])
            pieces.append(text[s:e] if (code >> j) & 1 else "<UNK>")
            last = e
        pieces.append(text[last:])
        out.append("".join(pieces))
    return pd.DataFrame({column: pd.Series(out, dtype=object)})


# -------------------------------------------------------------------------------------------- HTTP
class Conn:
    """One keep-alive connection to a server's ``/invocations``."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def post(self, body: bytes) -> bytes:
        self.conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
        reply = self.conn.getresponse()
        content = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"POST /invocations: {reply.status} {content[:300]!r}")
        return content

    def close(self) -> None:
        self.conn.close()


def wait_ping(url: str, timeout: float = 180.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=5) as reply:
                if reply.status == 200:
                    return time.monotonic() - start
        except urllib.error.HTTPError as exc:
            if exc.code == 503 and b"failed" in exc.read():
                raise RuntimeError(f"{url}: the model or explainer failed to load") from None
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}/ping did not answer 200 within {timeout:.0f} s")


# A separate process, so that the load generator does not share the servers' interpreter lock: opens its
# connections, says "ready", waits for a line on stdin, then POSTs back to back on each for ``seconds``.
LOAD_CLIENT = r"""
import http.client, json, sys, threading, time
host, port, path, clients, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
body = open(path, "rb").read()
headers = {"Content-Type": "text/csv"}
conns = [http.client.HTTPConnection(host, port, timeout=300) for _ in range(clients)]
for c in conns:
    c.connect()
lat = [[] for _ in range(clients)]
errors = [0] * clients
print("ready", flush=True)
sys.stdin.readline()
def work(k):
    conn = conns[k]
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/invocations", body=body, headers=headers)
            reply = conn.getresponse()
            reply.read()
        except (OSError, http.client.HTTPException):
            errors[k] += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=300)
            continue
        if reply.status != 200:
            errors[k] += 1
            continue
        lat[k].append(time.perf_counter() - t0)
c0 = time.process_time()
start = time.perf_counter()
stop = start + seconds
threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - start
print(json.dumps({"elapsed_s": elapsed, "latencies_s": [x for l in lat for x in l], "errors": sum(errors),
                  "client_cpu_s": time.process_time() - c0}), flush=True)
"""


def load_run(
    url: str, body_file: Path, records: int, seconds: float, pids: Sequence[int] | None = None
) -> dict[str, Any]:
    """One load run; the server's CPU is this process's (in-process servers) or that of ``pids``."""
    host, port = url.removeprefix("http://").split(":")
    argv = [sys.executable, "-c", LOAD_CLIENT, host, port, str(body_file), str(LOAD_CLIENTS), str(seconds)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None  # noqa: S101 - pipes were asked for
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("load client failed to start")
    cpu = time.process_time if pids is None else partial(serving.cpu_seconds, pids)
    cpu0 = cpu()  # in-process servers: this process's main thread only waits here
    proc.stdin.write("go\n")
    proc.stdin.flush()
    spread = None
    if pids is not None and len(pids) > 2:  # several workers: how the connections went to them, halfway
        time.sleep(seconds / 2)
        spread = serving.connections_per_process(pids, int(port))
    line = proc.stdout.readline()
    server_cpu = cpu() - cpu0
    proc.wait(timeout=60)
    raw = json.loads(line)
    lat = np.array(raw["latencies_s"]) * 1e3
    n = len(lat)
    return {
        "requests": n,
        "records_per_request": records,
        "elapsed_s": raw["elapsed_s"],
        "req_s": n / raw["elapsed_s"],
        "records_s": n * records / raw["elapsed_s"],
        "p50_ms": float(np.percentile(lat, 50)) if n else math.nan,
        "p99_ms": float(np.percentile(lat, 99)) if n else math.nan,
        "errors": raw["errors"],
        "server_cpu_ms_per_record": 1e3 * server_cpu / max(1, n * records),
        "server_cores_busy": server_cpu / raw["elapsed_s"],
        "client_cpu_share": raw["client_cpu_s"] / raw["elapsed_s"],
        "connections_per_worker": spread,
    }


class GcPauses:
    """The garbage collector's pauses while installed (``gc.callbacks``): generation and ms of each."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), 1e3 * (time.perf_counter() - self._t0)))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for g in (0, 1, 2):
            ms = [p for gen, p in self.pauses if gen == g]
            out[f"gen{g}"] = {"count": len(ms), "total_ms": float(sum(ms)), "max_ms": float(max(ms, default=0.0))}
        return out


# ------------------------------------------------------------------------------------------ splits
class _Clock:
    """Seconds spent in wrapped calls, by name; model calls inside ``explain`` counted apart."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.inside = False

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            key = f"{name} (in explain)" if name == "model" and self.inside else name
            outer = name == "explain"
            if outer:
                self.inside = True
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
                if outer:
                    self.inside = False

        return timed


PROFILE_PHASES: dict[str, list[tuple[str, str]]] = {
    "decode (frame)": [("serving/_explain.py", "frame")],
    "cache key": [("serving/_explain.py", "_record_key")],
    "sampling": [("shapley/_play.py", "_sample")],
    "masking": [("shapley/_game.py", "_records"), ("shapley/_text.py", "_block")],
    "model": [("models/_inprocess.py", "predict"), ("models/_fasttext.py", "predict")],
    "solve": [("shapley/_play.py", "_solve")],
    "records": [("analyses/shap/_online.py", "records")],
    "answer JSON": [("json/__init__.py", "dumps")],
}


def splits(case: Case, n: int) -> dict[str, Any]:
    """Where one request's time goes: a fresh explainer (cache off) with its parts wrapped in timers, then
    the same under cProfile (ms per request; cProfile slows Python code more than compiled code)."""
    served = load_served_model(str(case.model_path))
    ex = build_explainer(parse_explainer_config({"ClarifyExplainerConfig": case.clarify}), served, cache_size=0)
    clock = _Clock()
    ex.frame = clock.wrap("decode", ex.frame)  # type: ignore[method-assign]
    ex.shap.explain = clock.wrap("explain", ex.shap.explain)  # type: ignore[method-assign]
    ex.shap.records = clock.wrap("records", ex.shap.records)  # type: ignore[method-assign]
    predictor: Any = served.predictor
    predictor.predict = clock.wrap("model", predictor.predict)
    for _ in range(3):
        respond(ex, case.body)
    clock.seconds.clear()
    totals = []
    for _ in range(n):
        t0 = time.perf_counter()
        out = respond(ex, case.body)
        totals.append(time.perf_counter() - t0)
    ms = {k: 1e3 * v / n for k, v in clock.seconds.items()}
    total = 1e3 * float(np.mean(totals))
    model_in = ms.get("model (in explain)", 0.0)
    model_out = ms.get("model", 0.0)
    answer = json.loads(out)
    frame, _ = ex.frame(case.body, "text/csv", "utf-8")
    t0 = time.perf_counter()
    for _ in range(n):
        json.dumps(answer, ensure_ascii=False, allow_nan=False).encode("utf-8")
    json_ms = 1e3 * (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        _explain._record_key(frame)
    key_ms = 1e3 * (time.perf_counter() - t0) / n
    out_splits = {
        "respond_ms": total,
        "decode_ms": ms.get("decode", 0.0),
        "model_ms": model_in + model_out,
        "model_outside_explain_ms": model_out,
        "engine_ms": ms.get("explain", 0.0) - model_in,
        "records_ms": ms.get("records", 0.0),
        "answer_ms": total - ms.get("decode", 0.0) - ms.get("explain", 0.0) - ms.get("records", 0.0) - model_out,
        "answer_json_ms": json_ms,
        "cache_key_ms": key_ms,
        "answer_bytes": len(out),
    }
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        respond(ex, case.body)
    profile.disable()
    raw: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    phases: dict[str, float] = {}
    total_p = 0.0
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in raw.items():
        fname = filename.replace("\\", "/")
        if fname.endswith("serving/_explain.py") and func == "respond":
            total_p += ct
        for phase, keys in PROFILE_PHASES.items():
            if any(fname.endswith(suffix) and func == name for suffix, name in keys):
                phases[phase] = phases.get(phase, 0.0) + ct
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:20]
    out_splits["profile_ms"] = {"respond": 1e3 * total_p / n, **{k: 1e3 * v / n for k, v in phases.items()}}
    out_splits["profile_top_tottime"] = [
        {"function": f"{Path(k[0]).name}:{k[1]}({k[2]})", "calls": v[1] / n, "tottime_ms": 1e3 * v[2] / n,
         "cumtime_ms": 1e3 * v[3] / n}
        for k, v in top
    ]  # fmt: skip
    return out_splits


# --------------------------------------------------------------------------------------------- run
def stats(samples: Sequence[float]) -> dict[str, float]:
    """Median, p99, min, max (ms) and the sample count of seconds."""
    arr = np.array(samples, dtype=float) * 1e3
    if arr.size == 0:
        return {"n": 0, "p50": math.nan, "p99": math.nan, "min": math.nan, "max": math.nan}
    return {
        "n": int(arr.size),
        "p50": float(np.median(arr)),
        "p99": float(np.percentile(arr, 99)),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def respond(ex: Explainer, body: bytes) -> bytes:
    """One request's answer, in process (CSV in; CSV predictions, as over HTTP without an Accept header)."""
    return ex.respond(body, "text/csv", "utf-8", "text/csv")


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    rounds = 5 if quick else 30
    load_seconds = 1.0 if quick else 8.0
    split_calls = 5 if quick else 20
    load_start = os.getloadavg()
    rng = np.random.default_rng(0)
    warnings.filterwarnings("ignore", category=UserWarning)  # sklearn's feature-name notes on shap's arrays
    import shap

    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "environment": _common.environment(
            ["numpy", "pandas", "scikit-learn", "fasttext", "spacy", "shap", "uvicorn", "starlette", "httptools"],
            openclarify=_common.version("openclarify"),
        ),
        "source": _common.source_info(
            ["src/openclarify/serving", "src/openclarify/analyses/shap", "src/openclarify/shapley", "bench/online.py"],
            [
                *sorted((ROOT / "src" / "openclarify" / "serving").glob("*.py")),
                *sorted((ROOT / "src" / "openclarify" / "analyses" / "shap").glob("*.py")),
                *sorted((ROOT / "src" / "openclarify" / "shapley").glob("*.py")),
            ],
        ),
        "config": {
            "rounds": rounds,
            "load_clients": LOAD_CLIENTS,
            "load_seconds": load_seconds,
            "load_threads": list(LOAD_THREADS),
            "load_workers": LOAD_WORKERS,
            "batch_records": BATCH,
            "cache_size": CACHE_SIZE,
            "split_calls": split_calls,
        },
        "load_average": {"start": list(load_start)},
    }

    with tempfile.TemporaryDirectory(prefix="openclarify-online-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        forest, forest_f, forest_base, forest_rec = forest_case(work)
        gbm, gbm_f, gbm_base, gbm_rec = gbm_case(work)
        folder, ft_info = serving.model_dir()
        segmenter = Segmenter("token", "en")
        texts = text_records(segmenter)
        cases = [forest, gbm, *text_cases(folder, texts)]
        cases[2].info = {**ft_info, "record": texts[0]}
        cases[3].info = {"record": texts[0]}
        print(f"models ready ({time.perf_counter() - started:.0f} s)", flush=True)

        # ---------------------------------------------------------------- explainers and servers
        state: dict[str, dict[str, Any]] = {}
        for case in cases:
            cfg_path = work / f"{case.name}.explainer.json"
            cfg_path.write_text(json.dumps({"ClarifyExplainerConfig": case.clarify}))
            served = load_served_model(str(case.model_path))
            config = parse_explainer_config({"ClarifyExplainerConfig": case.clarify})
            ex = build_explainer(config, served, cache_size=0)
            cached = build_explainer(config, served, cache_size=CACHE_SIZE)
            details = json.loads(ex.respond(case.body, "text/csv", "utf-8", "text/csv", details=True))
            n_coal = int(details["openclarify"]["num_samples"][0])
            exact = bool(details["openclarify"]["exact"][0])
            entry = details["explanations"]["kernel_shap"][0]
            units = len(entry[0]["attributions"]) if case.text else len(entry)
            column = served.feature_names[0] if served.feature_names else "text"
            if case.text:
                if units != TEXT_TOKENS:
                    raise RuntimeError(f"{case.name}: {units} units, not {TEXT_TOKENS}")
                rows = text_rows(segmenter, texts[0], column, n_coal, rng)
                rows10 = pd.concat([text_rows(segmenter, t, column, n_coal, rng) for t in texts], ignore_index=True)
                record_frame = pd.DataFrame({column: pd.Series([texts[0]], dtype=object)})
            else:
                rows = tabular_rows(ex, case.body, n_coal, rng)
                rows10 = pd.concat([tabular_rows(ex, b, n_coal, rng) for b in case.bodies], ignore_index=True)
                record_frame, _ = ex.frame(case.body, "text/csv", "utf-8")
            servers: dict[str, str] = {}
            kinds = [("threads1", 1, 0)]
            if case.load:
                kinds += [("threads2", 2, 0), ("cached", 1, CACHE_SIZE)]
            for kind, threads, cache in kinds:
                app = create_app(
                    ServeConfig(
                        model=str(case.model_path), explainer_config=str(cfg_path), threads=threads,
                        explanation_cache=cache,
                    )
                )  # fmt: skip
                url = stack.enter_context(background_server(app))
                servers[kind] = url
            state[case.name] = {
                "served": served,
                "ex": ex,
                "cached": cached,
                "rows": rows,
                "rows10": rows10,
                "record_frame": record_frame,
                "servers": servers,
            }
            case.info.update(
                {
                    "n_coalitions": n_coal,
                    "exact": exact,
                    "players": units,
                    "outputs": len(details["openclarify"]["expected_value"][0]),
                    "floor_rows": len(rows),
                    "floor10_rows": len(rows10),
                    "request_bytes": len(case.body),
                    "answer_bytes": len(respond(ex, case.body)),
                    "predictor": type(served.predictor).__name__,
                }
            )
        for case in cases:
            for kind, url in state[case.name]["servers"].items():
                case.info[f"startup_s_{kind}"] = wait_ping(url)
        print(f"servers ready ({time.perf_counter() - started:.0f} s)", flush=True)

        # ---------------------------------------------------------------- checks
        checks: dict[str, Any] = {}
        conns: dict[tuple[str, str], Conn] = {}
        for case in cases:
            st = state[case.name]
            for kind, url in st["servers"].items():
                conns[(case.name, kind)] = stack.enter_context(contextlib.closing(Conn(url)))
            local = respond(st["ex"], case.body)
            over_http = conns[(case.name, "threads1")].post(case.body)
            check = {"http_equals_in_process": over_http == local}
            if case.load:
                respond(st["cached"], case.body)
                hit = respond(st["cached"], case.body)
                conns[(case.name, "cached")].post(case.body)
                check["cache_hit_equals_miss"] = hit == local and conns[(case.name, "cached")].post(case.body) == local
                check["cache_hits"] = st["cached"].cache.hits
                one = json.loads(respond(st["ex"], case.body10))
                check["batch_records_explained"] = sum(e is not None for e in one["explanations"]["kernel_shap"])
            checks[case.name] = check
        # shap's values of the forest's record are exact at 254 coalitions, as ours: they must agree
        ours = json.loads(respond(state["abalone-forest"]["ex"], forest.body))
        ours_phi = np.array([f["attributions"][0]["attribution"][0] for f in ours["explanations"]["kernel_shap"][0]])
        forest_explainer = shap.KernelExplainer(forest_f, forest_base)
        gbm_explainer = shap.KernelExplainer(gbm_f, gbm_base)
        n_forest = forest.info["n_coalitions"]
        n_gbm = gbm.info["n_coalitions"]
        np.random.seed(0)
        shap_phi = np.asarray(forest_explainer.shap_values(forest_rec, nsamples=n_forest, silent=True)).ravel()
        checks["abalone-forest"]["shap_max_abs_diff"] = float(np.abs(ours_phi - shap_phi).max())
        results["checks"] = checks
        print(f"checks {checks}", flush=True)

        def shap_call(explainer: Any, record: Any, n: int, l1: Any) -> Callable[[], Any]:
            def call() -> Any:
                np.random.seed(0)
                return explainer.shap_values(record, nsamples=n, silent=True, l1_reg=l1)

            return call

        forest.shap = {
            "shap": shap_call(forest_explainer, forest_rec, n_forest, "auto"),
            "shap_l1off": shap_call(forest_explainer, forest_rec, n_forest, False),
        }
        gbm.shap = {
            "shap": shap_call(gbm_explainer, gbm_rec, n_gbm, "auto"),
            "shap_l1off": shap_call(gbm_explainer, gbm_rec, n_gbm, False),
        }

        # ---------------------------------------------------------------- interleaved rounds
        tasks: list[tuple[str, str, int, Callable[[], Any]]] = []  # (case, what, repeats, call)
        for case in cases:
            st = state[case.name]
            predictor = st["served"].predictor
            ex, cached = st["ex"], st["cached"]
            body, body10 = case.body, case.body10
            tasks += [
                (case.name, "floor", 3, lambda p=predictor, r=st["rows"]: p.predict(r)),
                (case.name, "plain", 5, lambda p=predictor, r=st["record_frame"]: p.predict(r)),
                (case.name, "in_process", 4, lambda e=ex, b=body: respond(e, b)),
                (case.name, "http", 4, lambda c=conns[(case.name, "threads1")], b=body: c.post(b)),
            ]
            if case.load:
                tasks += [
                    (case.name, "hit_in_process", 3, lambda e=cached, b=body: respond(e, b)),
                    (case.name, "hit_http", 3, lambda c=conns[(case.name, "cached")], b=body: c.post(b)),
                    (case.name, "floor10", 1, lambda p=predictor, r=st["rows10"]: p.predict(r)),
                    (case.name, "batch10", 1, lambda e=ex, b=body10: respond(e, b)),
                    (
                        case.name,
                        "singles10",
                        1,
                        lambda e=ex, bs=tuple(case.bodies): [respond(e, b) for b in bs],
                    ),
                ]
            for what, call in case.shap.items():
                tasks.append((case.name, what, 1, call))
        for _, _, _, call in tasks:  # warm-up: first calls, caches, connections
            call()
            call()
        samples: dict[tuple[str, str], list[float]] = {(c, w): [] for c, w, _, _ in tasks}
        t0 = time.perf_counter()
        gc.collect()
        results["gc"] = {"objects": len(gc.get_objects()), "full_collection_ms": 1e3 * (time.perf_counter() - t0)}
        # as `openclarify serve` does once its model is loaded: what is loaded now is out of the collector's sight
        gc.freeze()
        pauses = GcPauses()
        gc.callbacks.append(pauses)
        for r in range(rounds):
            k = (r * 7) % len(tasks)
            for case_name, what, repeats, call in tasks[k:] + tasks[:k]:
                for _ in range(repeats):
                    samples[(case_name, what)].append(timed(call))
            if (r + 1) % 10 == 0 or r + 1 == rounds:
                print(f"  round {r + 1}/{rounds} ({time.perf_counter() - started:.0f} s)", flush=True)
        gc.callbacks.remove(pauses)
        results["gc"]["rounds"] = pauses.summary()
        results["load_average"]["after_rounds"] = list(os.getloadavg())

        # ---------------------------------------------------------------- load
        # the --workers servers: the real command, in a subprocess (its own interpreters, one per worker)
        workers: dict[str, serving.Server] = {}
        for case in cases:
            if case.load:
                port = serving.free_port()
                exe = serving.BIN / "openclarify"
                cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "openclarify"]
                argv = [
                    *cmd, "serve", "--model", str(case.model_path), "--explainer-config",
                    str(work / f"{case.name}.explainer.json"), "--workers", str(LOAD_WORKERS), "--threads", "1",
                    "--explanation-cache", "0", "--host", "127.0.0.1", "--port", str(port),
                ]  # fmt: skip
                log = work / f"{case.name}_workers.log"
                workers[case.name] = serving.Server(case.name, argv, dict(os.environ), port, log, LOAD_WORKERS)
                stack.callback(workers[case.name].stop)
        for case_name, server in workers.items():
            server.ready()
            next(c for c in cases if c.name == case_name).info["startup_s_workers"] = server.startup_s
            Conn(server.url).post(next(c for c in cases if c.name == case_name).body)  # warm up one worker
        load: list[dict[str, Any]] = []
        modes = [f"threads={t}" for t in LOAD_THREADS] + [f"--workers {LOAD_WORKERS}"]
        plan = [(case, mode, n) for mode in modes for n in (1, BATCH) for case in cases if case.load]
        for case, mode, n in plan:
            body_file = work / f"{case.name}_{n}.csv"
            body_file.write_bytes(case.body if n == 1 else case.body10)
            if mode.startswith("threads="):
                url, pids = state[case.name]["servers"]["threads" + mode.removeprefix("threads=")], None
            else:
                url, pids = workers[case.name].url, workers[case.name].pids
            row = {"case": case.name, "server": mode, **load_run(url, body_file, n, load_seconds, pids)}
            load.append(row)
            print(
                f"  load {case.name} {mode} {n} record(s)/request: {row['records_s']:.1f} records/s "
                f"p50 {row['p50_ms']:.1f} ms ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        for server in workers.values():
            results.setdefault("workers_log_tail", {})[server.name] = server.log_path.read_text(errors="replace")[-600:]
            server.stop()
        results["load"] = load
        results["load_average"]["after_load"] = list(os.getloadavg())

        # ---------------------------------------------------------------- splits
        results["splits"] = {case.name: splits(case, split_calls) for case in cases}

    # ---------------------------------------------------------------- summary
    summary: dict[str, Any] = {}
    for case in cases:
        s = {what: stats(v) for (c, what), v in samples.items() if c == case.name}
        row: dict[str, Any] = {"title": case.title, "info": case.info, "latency_ms": s}
        row["samples_ms"] = {w: [round(1e3 * x, 3) for x in v] for (c, w), v in samples.items() if c == case.name}
        floor, ip = s["floor"]["p50"], s["in_process"]["p50"]
        row["in_process_over_floor"] = ip / floor
        row["in_process_p99_over_floor"] = s["in_process"]["p99"] / floor
        row["in_process_over_plain"] = ip / s["plain"]["p50"]
        row["http_over_floor"] = s["http"]["p50"] / floor
        row["http_adds_ms"] = s["http"]["p50"] - ip
        if case.load:
            row["batch10_over_singles10"] = s["batch10"]["p50"] / s["singles10"]["p50"]
            row["batch10_over_floor10"] = s["batch10"]["p50"] / s["floor10"]["p50"]
            row["hit_over_miss"] = s["hit_in_process"]["p50"] / ip
        for what in case.shap:
            row[f"ours_over_{what}"] = ip / s[what]["p50"]
        summary[case.name] = row
    results["cases"] = summary
    for row in results["load"]:
        key = (row["case"], "threads=1", 1)
        single = next(r for r in results["load"] if (r["case"], r["server"], r["records_per_request"]) == key)
        row["vs_threads1_single"] = row["records_s"] / single["records_s"]

    targets = []
    for name in JUDGED:
        ratio = summary[name]["in_process_over_floor"]
        targets.append(
            {
                "target": f"{name}: explained record p50 <= {TARGET_FLOOR:g}x the floor (in process)",
                "measured": ratio,
                "pass": ratio <= TARGET_FLOOR,
                "note": f"p50 {summary[name]['latency_ms']['in_process']['p50']:.2f} ms, floor "
                f"{summary[name]['latency_ms']['floor']['p50']:.2f} ms ({summary[name]['info']['n_coalitions']} "
                f"coalitions); p99 {summary[name]['in_process_p99_over_floor']:.2f}x; over HTTP "
                f"{summary[name]['http_over_floor']:.2f}x",
            }
        )
    ft, fte = summary["fasttext-12"], summary["fasttext-12-exact"]
    p50 = ft["latency_ms"]["in_process"]["p50"]
    targets.append(
        {
            "target": f"fasttext-12: explained record p50 < {TARGET_TEXT_MS:g} ms (in process, default budget)",
            "measured": p50,
            "pass": p50 < TARGET_TEXT_MS,
            "note": f"{ft['info']['n_coalitions']} coalitions; over HTTP {ft['latency_ms']['http']['p50']:.2f} ms; at "
            f"{fte['info']['n_coalitions']} (exact) {fte['latency_ms']['in_process']['p50']:.2f} ms in process, "
            f"{fte['latency_ms']['http']['p50']:.2f} ms over HTTP",
        }
    )
    results["targets"] = targets
    results["load_average"]["end"] = list(os.getloadavg())
    results["total_seconds"] = time.perf_counter() - started
    return results


# ---------------------------------------------------------------------------------------- markdown
def fmt(v: Any, digits: int = 3) -> str:
    return _common.fmt(v, digits, missing="-")


def render_markdown(results: dict[str, Any]) -> str:
    env, cfg, la = results["environment"], results["config"], results["load_average"]
    lines: list[str] = []
    add = lines.append
    add(f"# Online explanations: one explained record against one batched model call ({results['mode']} run)\n")
    add('Generated by `bench/online.py`; protocol in `bench/README.md` ("Online explanations").\n')
    add(
        f"Environment: Python {env['python']}, numpy {env['numpy']}, pandas {env['pandas']}, scikit-learn "
        f"{env['scikit-learn']}, fasttext {env['fasttext']}, spaCy {env['spacy']}, shap {env['shap']}, uvicorn "
        f"{env['uvicorn']}, starlette {env['starlette']}, httptools {env['httptools']}, openclarify "
        f"{env['openclarify']}; {env['platform']}, {env['cpu_count']} CPUs, BLAS threads {env['blas_threads']}. "
        f"Load average (1 / 5 / 15 min) at the start {' / '.join(f'{x:.2f}' for x in la['start'])}, after the "
        f"rounds {' / '.join(f'{x:.2f}' for x in la['after_rounds'])}, at the end "
        f"{' / '.join(f'{x:.2f}' for x in la['end'])}. Total run time {results['total_seconds']:.0f} s. Source: git "
        f"HEAD `{results['source'].get('git_head', 'unknown')[:12]}`"
        + (" with uncommitted changes" if results["source"].get("src_dirty") else "")
        + ".\n"
    )
    add("## Targets\n")
    add("| target | measured | result | note |")
    add("|---|---|---|---|")
    for t in results["targets"]:
        add(f"| {t['target']} | {fmt(t['measured'])} | {'MET' if t['pass'] else 'NOT MET'} | {t['note']} |")
    add("")
    add(
        f"## One explained record\n\n{cfg['rounds']} interleaved rounds; p50 / p99 in ms over every repeat (n "
        "samples in the JSON). floor = the served predictor's `predict` of the record's coalition rows in one call; "
        "plain = one `predict` of the record; in process = `Explainer.respond` (cache off); HTTP = `POST "
        "/invocations` on a loopback socket (uvicorn via `background_server`, `threads=1`, one keep-alive "
        "connection); hit = the same request again with the cache on.\n"
    )
    add(
        "| case | coalitions | floor ms | plain ms | in process p50 / p99 | / floor | / plain | HTTP p50 / p99 | "
        "HTTP adds ms | hit in process / HTTP |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|")
    for name, row in results["cases"].items():
        s, info = row["latency_ms"], row["info"]
        hit = f"{fmt(s['hit_in_process']['p50'])} / {fmt(s['hit_http']['p50'])}" if "hit_in_process" in s else "-"
        add(
            f"| {name} | {info['n_coalitions']:,}{' (exact)' if info['exact'] else ''} | {fmt(s['floor']['p50'])} | "
            f"{fmt(s['plain']['p50'])} | {fmt(s['in_process']['p50'])} / {fmt(s['in_process']['p99'])} | "
            f"{fmt(row['in_process_over_floor'])} | {fmt(row['in_process_over_plain'])} | "
            f"{fmt(s['http']['p50'])} / {fmt(s['http']['p99'])} | {fmt(row['http_adds_ms'])} | {hit} |"
        )
    g = results["gc"]
    r = g["rounds"]
    add(
        f"\nThe garbage collector during the rounds: {r['gen2']['count']} full (generation 2) collections of up to "
        f"{fmt(r['gen2']['max_ms'])} ms (this process tracks {g['objects']:,} objects: spaCy's pipeline, shap, the "
        f"models; one full collection took {fmt(g['full_collection_ms'])} ms before the rounds), "
        f"{r['gen1']['count']} of generation 1 ({fmt(r['gen1']['total_ms'])} ms in all, up to "
        f"{fmt(r['gen1']['max_ms'])} ms), {r['gen0']['count']} of generation 0 ({fmt(r['gen0']['total_ms'])} ms in "
        "all). A request that a full collection lands in is late by that much: the largest samples (in the JSON), "
        "and a p99 where they are more than 1 in 100 of a cell's.\n"
    )
    add(
        "## Against shap.KernelExplainer (same process, same model, same coalition count)\n\n"
        "`shap.KernelExplainer(f, baseline).shap_values(record, nsamples=N, silent=True)` with shap's default "
        "`l1_reg` and with `l1_reg=False`; the forest's `f` turns shap's object array into the pipeline's typed "
        "frame. ours / shap < 1: ours is faster.\n"
    )
    add(
        "| case | ours p50 ms | shap p50 / p99 ms | ours / shap | shap l1_reg=False p50 / p99 ms | ours / shap l1 off |"
    )
    add("|---|---|---|---|---|---|")
    for name, row in results["cases"].items():
        s = row["latency_ms"]
        if "shap" not in s:
            continue
        add(
            f"| {name} | {fmt(s['in_process']['p50'])} | {fmt(s['shap']['p50'])} / {fmt(s['shap']['p99'])} | "
            f"{fmt(row['ours_over_shap'])} | {fmt(s['shap_l1off']['p50'])} / {fmt(s['shap_l1off']['p99'])} | "
            f"{fmt(row['ours_over_shap_l1off'])} |"
        )
    add(
        f"\nThe forest's values agree with shap's (both exact at 254 coalitions): max |difference| "
        f"{fmt(results['checks']['abalone-forest']['shap_max_abs_diff'])}.\n"
    )
    add(
        f"## {cfg['batch_records']} records in one request\n\nIn process, cache off: one request of "
        f"{cfg['batch_records']} records against the same records in {cfg['batch_records']} single-record "
        f"requests (back to back; their total), and the floor of the {cfg['batch_records']} records (one call "
        "over all their coalition rows).\n"
    )
    add("| case | one request ms | 10 requests ms | one / ten | floor of 10 ms | one / floor |")
    add("|---|---|---|---|---|---|")
    for name, row in results["cases"].items():
        s = row["latency_ms"]
        if "batch10" not in s:
            continue
        add(
            f"| {name} | {fmt(s['batch10']['p50'])} | {fmt(s['singles10']['p50'])} | "
            f"{fmt(row['batch10_over_singles10'])} | {fmt(s['floor10']['p50'])} | {fmt(row['batch10_over_floor10'])} |"
        )
    add("")
    add(
        f"## Under load\n\n{cfg['load_clients']} client threads in a separate process, each on a keep-alive "
        f"connection, POSTing back to back for {cfg['load_seconds']:g} s, cache off. `threads=N`: the app under "
        "uvicorn in the benchmark process (`background_server`, one interpreter) with N model threads; "
        f"`--workers {cfg['load_workers']}`: `openclarify serve --workers {cfg['load_workers']} --threads 1` in a "
        "subprocess (a process per worker). server CPU = the server's CPU time per explained record; cores busy "
        "= its CPU seconds per second; client = the load generator's share of one core; connections per worker = "
        "how the 4 connections were spread over the worker processes, seen halfway (`4` = one worker took all).\n"
    )
    add(
        "| case | server | records/request | explained records/s | req/s | p50 ms | p99 ms | server CPU ms/record | "
        "cores busy | client | vs threads=1, 1 record | connections per worker | errors |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results["load"]:
        add(
            f"| {r['case']} | {r['server']} | {r['records_per_request']} | {fmt(r['records_s'], 4)} | "
            f"{fmt(r['req_s'], 4)} | {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['server_cpu_ms_per_record'])} | "
            f"{fmt(r['server_cores_busy'], 2)} | {fmt(r['client_cpu_share'], 2)} | {fmt(r['vs_threads1_single'])} | "
            f"{'/'.join(map(str, r['connections_per_worker'] or [])) or '-'} | {r['errors']} |"
        )
    add("")
    add(
        f"## Where a request's time goes\n\nA fresh explainer (cache off), {cfg['split_calls']} requests of one "
        "record, mean ms: decode = `Explainer.frame` (CSV to typed records); model = every predictor call (text: "
        "the plain scoring call + the coalition call); engine = `OnlineShap.explain` less its model calls "
        "(sampling, masked records, solve); records = building the per-record results; answer = the rest "
        "(cache key, predictions, the answer dict, JSON), of which JSON = `json.dumps` of the answer and key = "
        "the cache key (measured apart).\n"
    )
    add("| case | respond | decode | model | engine | records | answer | (JSON) | (key) | answer bytes |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for name, sp in results["splits"].items():
        add(
            f"| {name} | {fmt(sp['respond_ms'])} | {fmt(sp['decode_ms'])} | {fmt(sp['model_ms'])} | "
            f"{fmt(sp['engine_ms'])} | {fmt(sp['records_ms'])} | {fmt(sp['answer_ms'])} | "
            f"{fmt(sp['answer_json_ms'])} | {fmt(sp['cache_key_ms'])} | {sp['answer_bytes']:,} |"
        )
    add("\nThe same under cProfile (ms per request, cumulative; cProfile inflates Python-heavy parts most):\n")
    phases = list(PROFILE_PHASES)
    add("| case | respond | " + " | ".join(phases) + " |")
    add("|---|---|" + "---|" * len(phases))
    for name, sp in results["splits"].items():
        pm = sp["profile_ms"]
        add(f"| {name} | {fmt(pm.get('respond'))} | " + " | ".join(fmt(pm.get(p)) for p in phases) + " |")
    add("")
    add("## Cases and checks\n")
    add("| case | model | players | outputs | request bytes | answer bytes | HTTP = in process | checks |")
    add("|---|---|---|---|---|---|---|---|")
    for name, row in results["cases"].items():
        info, check = row["info"], results["checks"][name]
        extra = {k: v for k, v in check.items() if k != "http_equals_in_process"}
        add(
            f"| {name} | {row['title']} | {info['players']} | {info['outputs']} | {info['request_bytes']} | "
            f"{info['answer_bytes']:,} | {check['http_equals_in_process']} | "
            + (", ".join(f"{k}: {fmt(v) if isinstance(v, float) else v}" for k, v in extra.items()) or "-")
            + " |"
        )
    add("")
    return "\n".join(lines)


def print_table(results: dict[str, Any]) -> None:
    print(
        f"{'case':<18} {'coal':>5} {'floor':>7} {'plain':>6} {'in-proc p50':>11} {'p99':>7} {'/floor':>6} "
        f"{'http p50':>8} {'p99':>7} {'+http':>6} {'hit':>6} {'ours/shap':>9}"
    )
    for name, row in results["cases"].items():
        s = row["latency_ms"]
        hit = s["hit_in_process"]["p50"] if "hit_in_process" in s else math.nan
        vs = row.get("ours_over_shap", math.nan)
        print(
            f"{name:<18} {row['info']['n_coalitions']:>5} {s['floor']['p50']:>7.2f} {s['plain']['p50']:>6.2f} "
            f"{s['in_process']['p50']:>11.2f} {s['in_process']['p99']:>7.2f} {row['in_process_over_floor']:>6.2f} "
            f"{s['http']['p50']:>8.2f} {s['http']['p99']:>7.2f} {row['http_adds_ms']:>6.2f} {hit:>6.2f} {vs:>9.2f}"
        )
    for r in results["load"]:
        print(
            f"load {r['case']:<16} {r['server']:<11} {r['records_per_request']:>2} rec/req: "
            f"{r['records_s']:>7.1f} records/s  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms"
        )
    for t in results["targets"]:
        print(f"  {'MET' if t['pass'] else 'NOT MET'}  {t['target']}: {fmt(t['measured'])} ({t['note']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 rounds, 1 s load runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder (default bench/results)")
    args = parser.parse_args()
    results = run(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "online_quick" if args.quick else "online"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (args.out / f"{stem}.md").write_text(render_markdown(results) + "\n")
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')} in {results['total_seconds']:.0f} s")
    print_table(results)


if __name__ == "__main__":
    main()
