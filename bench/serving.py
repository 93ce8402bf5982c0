#!/usr/bin/env python
"""Serving benchmark: rows/s through ``POST /invocations`` for a DBpedia fastText model, side by side.

Stacks, all serving the SAME ``model.bin`` with the same predictor logic (lower-tokenize normalization,
then fastText's batch predict of all 14 labels):

* ``openclarify serve --model DIR --workers 1`` and ``--workers 2``: the real command, in a subprocess.
  ``DIR`` holds ``model.bin`` and ``openclarify-model.json`` (labels, ``text_normalization:
  lower-tokenize``), so the server normalizes the raw texts as ``openclarify train`` would have.
* ``seed``: gunicorn (2 sync workers) + the Flask app of ``bench/seed_flask_app.py``, which does what the
  seed's BlazingText BYOC container does (``pd.read_csv(io.StringIO(body), header=None)``, fastText
  ``predict``, one ``{"label": [...], "prob": [...]}`` JSON line per record).
* ``in-process``: ``openclarify.models.FastTextPredictor.predict`` on a DataFrame of the same rows, in this
  process, one core.

Load: ``wrk -t1 -c8 --latency`` POSTing a CSV body of 1, 100 or 1000 DBpedia test abstracts (every field
quoted, ``Content-Type: text/csv``, ``Accept: application/jsonlines``); then ``-c1`` for latency without
queueing. wrk and the servers share the machine's cores. Without wrk, a Python load generator (threads,
``http.client`` keep-alive) stands in. rows/s = requests/s x rows per request.

Then ``openclarify analyze`` on the DBpedia text job (token granularity, 1000 samples, baseline
``<UNK>``, CSV in / JSON Lines out) in process (``--model DIR``) and through each server
(``--endpoint-url``): job seconds, ratio, and whether the output files are byte-identical.

Usage::

    python bench/serving.py            # full run  (~6 min) -> bench/results/serving.{json,md}
    python bench/serving.py --quick    # smoke run (~1.5 min) -> bench/results/serving_quick.{json,md}
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import io
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import _common  # noqa: I001 - first: single-threaded BLAS / OpenMP before numpy is imported
import _dbpedia
import fasttext
import numpy as np
import pandas as pd

from openclarify.models import FastTextPredictor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
CACHE = _dbpedia.CACHE
BIN = Path(sys.executable).parent

ROW_COUNTS = (1, 100, 1000)
CONNECTIONS = 8
SEED_WORKERS = 2
OURS_WORKERS = (1, 2)
ANALYZE_SAMPLES = 1000

# Targets (issue 4): rows/s through /invocations >= 3x the seed's stack; >= 50% of in-process rows/s at
# 1000-row requests; analyze through HTTP >= 50% of the in-process speed on the DBpedia text job.
TARGET_VS_SEED = 3.0
TARGET_VS_INPROCESS = 0.5
TARGET_ANALYZE = 0.5
JUDGED_WORKERS = 2  # = the cores here, serve's default; the seed stack also runs 2 workers


# --------------------------------------------------------------------------------------------- data
def model_dir() -> tuple[Path, dict[str, Any]]:
    """The served model folder: the benchmarks' cached fastText model + openclarify-model.json."""
    path, info = _dbpedia.cached_model()
    key = path.stem.removeprefix("dbpedia_fasttext_")
    folder = CACHE / f"serving_model_{key}"
    folder.mkdir(exist_ok=True)
    target = folder / "model.bin"
    if not target.is_file() or target.stat().st_size != path.stat().st_size:
        target.unlink(missing_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    labels = [x.removeprefix("__label__") for x in fasttext.load_model(str(target)).get_labels()]
    meta = {"labels": labels, "text_normalization": "lower-tokenize"}
    (folder / "openclarify-model.json").write_text(json.dumps(meta, indent=1) + "\n")
    info["folder"] = str(folder.relative_to(ROOT))
    info["model_bytes"] = target.stat().st_size
    return folder, info


def csv_body(texts: Sequence[str]) -> bytes:
    """A CSV request body, one quoted text per line (Clarify quotes strings)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for t in texts:
        writer.writerow([t])
    return out.getvalue().encode()


def text_frame(texts: Sequence[str]) -> pd.DataFrame:
    """One text column of Python strings (object dtype), as the data layer and the server build it."""
    return pd.DataFrame({"text": pd.Series(list(texts), dtype=object)})


# ------------------------------------------------------------------------------------------ servers
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ping(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before /ping answered")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as reply:
                if reply.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}/ping did not answer 200 within {timeout:.0f} s")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of the processes (utime + stime from /proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


class Server:
    """A server subprocess in its own session (so it and its workers are stopped together)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path, workers: int) -> None:
        self.name = name
        self.workers = workers
        self.argv = argv
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.log_path = log
        self.startup_s = math.nan
        self.pids: list[int] = []

    def ready(self) -> None:
        self.startup_s = wait_ping(self.url, self.proc)
        time.sleep(0.3)  # let every worker finish loading (each answers /ping on its own)
        self.pids = process_tree(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


def start_ours(folder: Path, workers: int, logs: Path) -> Server:
    port = free_port()
    exe = BIN / "openclarify"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "openclarify"]
    argv = [
        *cmd,
        "serve",
        "--model",
        str(folder),
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    name = f"openclarify serve --workers {workers}"
    return Server(name, argv, dict(os.environ), port, logs / f"ours_{workers}w.log", workers)


def start_seed(folder: Path, logs: Path) -> Server:
    port = free_port()
    exe = BIN / "gunicorn"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "gunicorn"]
    argv = [
        *cmd,
        "--workers",
        str(SEED_WORKERS),
        "--worker-class",
        "sync",
        "--chdir",
        str(HERE),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "seed_flask_app:app",
    ]
    env = {**os.environ, "SEED_MODEL": str(folder / "model.bin")}
    return Server(f"seed: gunicorn {SEED_WORKERS} sync + Flask", argv, env, port, logs / "seed.log", SEED_WORKERS)


def post(url: str, body: bytes) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(
            "POST", "/invocations", body=body, headers={"Content-Type": "text/csv", "Accept": "application/jsonlines"}
        )
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def check_answers(server: Server, body: bytes, expected: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """POST ``body`` and compare each record's probabilities with the in-process predictor's, by label."""
    status, content = post(server.url, body)
    lines = content.decode().splitlines()
    out: dict[str, Any] = {"status": status, "records": len(lines), "expected_records": len(expected)}
    if status != 200 or len(lines) != len(expected):
        out["identical_to_in_process"] = False
        return out
    got = np.zeros_like(expected)
    order = {name: j for j, name in enumerate(labels)}
    for i, line in enumerate(lines):
        obj = json.loads(line)
        for name, p in zip(obj["label"], obj["prob"], strict=True):
            got[i, order[str(name).removeprefix("__label__")]] = p
    out["fixed_label_order"] = all(json.loads(line)["label"] == list(labels) for line in lines[:5])
    out["max_abs_diff"] = float(np.abs(got - expected).max())
    out["identical_to_in_process"] = bool(np.array_equal(got, expected))
    return out


# --------------------------------------------------------------------------------------------- load
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Accept"] = "application/jsonlines"
local f = io.open(os.getenv("BODY"), "rb")
wrk.body = f:read("*a")
f:close()
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if m is None:
        return math.nan
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(
    url: str,
    body_file: Path,
    lua: Path,
    connections: int,
    seconds: float,
    during: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """One wrk run; ``during()`` is called halfway through and its answer kept as ``during``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    duration = max(1, round(seconds))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency", "-s", str(lua)]
    proc = subprocess.Popen(
        [*cmd, url + "/invocations"],
        env={**os.environ, "BODY": str(body_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = None
    if during is not None:
        time.sleep(duration / 2)
        seen = during()
    try:
        text, err = proc.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        text, err = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out: dict[str, Any] = {"returncode": proc.returncode}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["req_s"] = float(m.group(1)) if m else math.nan
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    out["requests"] = int(m.group(1)) if m else 0
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{q}(?:\.000)?%\s+(\S+)", text, re.M)
        out[f"p{q}_ms"] = _ms(m.group(1)) if m else math.nan
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    out["wrk_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if seen is not None:
        out["during"] = seen
    if proc.returncode != 0 or math.isnan(out["req_s"]):
        out["stderr"] = err[-500:]
    return out


def connections_per_process(pids: Sequence[int], port: int) -> list[int]:
    """Established TCP connections on ``port`` held by each process (from /proc), most first."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    counts = []
    for pid in pids:
        n = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    link = os.readlink(fd)
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    n += 1
        except OSError:
            continue
        if n:
            counts.append(n)
    return sorted(counts, reverse=True)


def run_python_load(url: str, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    """Fallback load generator: ``connections`` threads, each a keep-alive http.client connection."""
    host, port = url.removeprefix("http://").split(":")
    headers = {"Content-Type": "text/csv", "Accept": "application/jsonlines"}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.perf_counter() + seconds

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/invocations", body=body, headers=headers)
                reply = conn.getresponse()
                reply.read()
                if reply.status != 200:
                    errors[k] += 1
            except (OSError, http.client.HTTPException):
                errors[k] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                continue
            latencies[k].append(time.perf_counter() - t0)
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = np.array([x for ls in latencies for x in ls]) * 1e3
    out: dict[str, Any] = {"req_s": len(lat) / elapsed, "requests": len(lat), "non_2xx": sum(errors)}
    for q in (50, 75, 90, 99):
        out[f"p{q}_ms"] = float(np.percentile(lat, q)) if len(lat) else math.nan
    out["socket_errors"] = 0
    out["wrk_cpu_s"] = math.nan
    return out


def in_process(predictor: FastTextPredictor, frame: pd.DataFrame, seconds: float) -> dict[str, Any]:
    """``predictor.predict(frame)`` over and over for ``seconds``: calls/s and per-call latency."""
    times: list[float] = []
    c0 = time.process_time()
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        predictor.predict(frame)
        t1 = time.perf_counter()
        times.append(t1 - t0)
        if t1 - start >= seconds and len(times) >= 3:
            break
    wall = time.perf_counter() - start
    lat = np.array(times) * 1e3
    return {
        "req_s": len(times) / wall,
        "requests": len(times),
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "cpu_s": time.process_time() - c0,
        "wall_s": wall,
    }


# ------------------------------------------------------------------------------------------ analyze
SUMMARY = re.compile(r"explained (\d+) records .* in ([\d.]+)s .*?(\d+) model calls taking ([\d.]+)s")


def analyze_job(work: Path, texts: Sequence[str]) -> Path:
    """The DBpedia text job of the seed notebook: CSV in, JSON Lines (label / prob) out, token granularity."""
    work.mkdir(parents=True, exist_ok=True)
    with (work / "test.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        for t in texts:
            writer.writerow([t])
    config = {
        "dataset_type": "text/csv",
        "headers": ["Text"],
        "predictor": {
            "model_name": "blazingtext",
            "content_type": "text/csv",
            "accept_type": "application/jsonlines",
            "label": "label",
            "probability": "prob",
        },
        "methods": {
            "shap": {
                "baseline": [["<UNK>"]],
                "num_samples": ANALYZE_SAMPLES,
                "seed": 11,
                "agg_method": "mean_abs",
                "save_local_shap_values": True,
                "text_config": {"granularity": "token", "language": "english"},
            }
        },
    }
    (work / "cfg.json").write_text(json.dumps(config, indent=1))
    return work


def run_analyze(work: Path, out: str, model_args: list[str]) -> dict[str, Any]:
    exe = BIN / "openclarify"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "openclarify"]
    target = work / out
    shutil.rmtree(target, ignore_errors=True)
    argv = [*cmd, "analyze", "--config", str(work / "cfg.json"), "--data", str(work / "test.csv")]
    argv += ["--output", str(target), *model_args]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    wall = time.perf_counter() - t0
    res: dict[str, Any] = {"returncode": done.returncode, "cli_wall_s": wall}
    m = SUMMARY.search(done.stdout + done.stderr)
    if done.returncode != 0 or m is None:
        res["error"] = (done.stdout + done.stderr)[-1000:]
        return res
    res["records"] = int(m.group(1))
    res["job_s"] = float(m.group(2))
    res["model_calls"] = int(m.group(3))
    res["model_s"] = float(m.group(4))
    res["files"] = {
        p.relative_to(target).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(target.rglob("*"))
        if p.is_file()
    }
    return res


# ------------------------------------------------------------------------------------------- run
def summarize(values: Sequence[float]) -> dict[str, float]:
    arr = np.array([v for v in values if not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return {"median": math.nan, "min": math.nan, "max": math.nan}
    return {"median": float(np.median(arr)), "min": float(arr.min()), "max": float(arr.max())}


def run(quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    runs = 1 if quick else 3
    seconds = 2.0 if quick else 5.0
    c1_seconds = 2.0 if quick else 4.0
    n_analyze = 20 if quick else 40
    analyze_repeats = 1 if quick else 2
    wrk = shutil.which("wrk")
    load_tool = "wrk 4 (-t1, Lua script POSTing the body)" if wrk else "Python threads + http.client keep-alive"

    folder, model_info = model_dir()
    predictor = FastTextPredictor(folder)  # reads openclarify-model.json: lower-tokenize, as the server does
    test_labels, test_texts = _dbpedia.load_split("test")
    scores = predictor.predict(text_frame(test_texts))
    pred = np.array([int(predictor.labels[j]) for j in scores.argmax(axis=1)])
    model_info["test_accuracy"] = float(np.mean(pred == test_labels))
    model_info["test_records"] = len(test_texts)
    model_info["predictor"] = (
        f"FastTextPredictor(text_normalization={predictor.text_normalization!r}) from openclarify-model.json"
    )
    print(f"model {model_info['folder']}: test accuracy {model_info['test_accuracy']:.4f}", flush=True)

    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "environment": _common.environment(
            ["numpy", "pandas", "fasttext", "uvicorn", "starlette", "httptools", "uvloop", "gunicorn", "flask"],
            openclarify=_common.version("openclarify"),
            wrk=subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
            if wrk
            else "not installed",
        ),
        "source": _common.source_info(
            ["src/openclarify/serving", "src/openclarify/models", "bench/serving.py", "bench/seed_flask_app.py"],
            [
                *sorted((ROOT / "src" / "openclarify" / "serving").glob("*.py")),
                *sorted((ROOT / "src" / "openclarify" / "models").glob("*.py")),
            ],
        ),
        "model": model_info,
        "config": {
            "row_counts": list(ROW_COUNTS),
            "connections": CONNECTIONS,
            "runs": runs,
            "seconds_per_run": seconds,
            "c1_seconds": c1_seconds,
            "load_tool": load_tool,
            "body": "first N DBpedia test abstracts (title + content), every field quoted, one per line",
            "body_bytes": {},
            "analyze_records": n_analyze,
            "analyze_samples": ANALYZE_SAMPLES,
            "analyze_repeats": analyze_repeats,
        },
    }
    load: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="openclarify-serving-bench-") as tmp:
        work = Path(tmp)
        lua = work / "post.lua"
        lua.write_text(LUA)
        bodies: dict[int, tuple[Path, bytes]] = {}
        for n in ROW_COUNTS:
            body = csv_body(test_texts[:n])
            path = work / f"body_{n}.csv"
            path.write_bytes(body)
            bodies[n] = (path, body)
            results["config"]["body_bytes"][str(n)] = len(body)
        frames = {n: text_frame(test_texts[:n]) for n in ROW_COUNTS}
        expected = predictor.predict(frames[100])

        servers = [start_ours(folder, w, work) for w in OURS_WORKERS] + [start_seed(folder, work)]
        try:
            checks: dict[str, Any] = {}
            for s in servers:
                s.ready()
                checks[s.name] = check_answers(s, bodies[100][1], expected, predictor.labels)
                checks[s.name]["startup_s"] = s.startup_s
                print(f"{s.name}: up in {s.startup_s:.1f} s, check {checks[s.name]}", flush=True)
            results["checks"] = checks

            def hit(s: Server, n: int, connections: int, secs: float) -> dict[str, Any]:
                pids = s.pids or [s.proc.pid]
                c0 = cpu_seconds(pids)
                t0 = time.perf_counter()
                if wrk:
                    port = int(s.url.rsplit(":", 1)[1])
                    keep_alive = s.name.startswith("openclarify")  # gunicorn's sync workers close each connection
                    spread = partial(connections_per_process, pids, port) if keep_alive and s.workers > 1 else None
                    r = run_wrk(s.url, bodies[n][0], lua, connections, secs, during=spread)
                else:
                    r = run_python_load(s.url, bodies[n][1], connections, secs)
                r["wall_s"] = time.perf_counter() - t0
                r["server_cpu_s"] = cpu_seconds(pids) - c0
                return r

            for s in servers:  # warm-up (imports, first requests, caches); not recorded
                hit(s, 100, CONNECTIONS, 1.0)
            for n in ROW_COUNTS:
                in_process(predictor, frames[n], 0.5)

            raw: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for r in range(runs):  # interleaved, so that outside load hits every stack alike
                for n in ROW_COUNTS:
                    raw.setdefault(("in-process", n), []).append(in_process(predictor, frames[n], seconds))
                    for s in servers:
                        raw.setdefault((s.name, n), []).append(hit(s, n, CONNECTIONS, seconds))
                print(f"  run {r + 1}/{runs} done ({time.perf_counter() - started:.0f} s)", flush=True)
            c1: dict[tuple[str, int], dict[str, Any]] = {}
            for n in ROW_COUNTS:
                for s in servers:
                    c1[(s.name, n)] = hit(s, n, 1, c1_seconds)

            names = ["in-process"] + [s.name for s in servers]
            for name in names:
                for n in ROW_COUNTS:
                    rs = raw[(name, n)]
                    req = summarize([x["req_s"] for x in rs])
                    row: dict[str, Any] = {
                        "stack": name,
                        "rows_per_request": n,
                        "req_s": req,
                        "rows_s": {k: v * n for k, v in req.items()},
                        "p50_ms": summarize([x["p50_ms"] for x in rs])["median"],
                        "p99_ms": summarize([x["p99_ms"] for x in rs])["median"],
                        "runs": rs,
                    }
                    if name != "in-process":
                        total_req = sum(x["requests"] for x in rs)
                        row["errors"] = sum(x["non_2xx"] + x["socket_errors"] for x in rs)
                        row["server_cpu_ms_per_request"] = 1e3 * sum(x["server_cpu_s"] for x in rs) / max(total_req, 1)
                        row["wrk_cpu_share"] = sum(x["wrk_cpu_s"] for x in rs) / sum(x["wall_s"] for x in rs)
                        row["c1"] = c1[(name, n)]
                    else:
                        row["cpu_ms_per_request"] = 1e3 * sum(x["cpu_s"] for x in rs) / sum(x["requests"] for x in rs)
                    load.append(row)
            results["load"] = load

            # ---------------------------------------------------------------- analyze
            job = analyze_job(work / "analyze", test_texts[:n_analyze])
            analyze: dict[str, list[dict[str, Any]]] = {}
            ours = [s for s in servers if s.name.startswith("openclarify")]
            for r in range(analyze_repeats):
                analyze.setdefault("in-process", []).append(run_analyze(job, f"local{r}", ["--model", str(folder)]))
                for s in ours:
                    analyze.setdefault(s.name, []).append(
                        run_analyze(job, f"{s.name[-1]}w{r}", ["--endpoint-url", s.url])
                    )
                print(f"  analyze repeat {r + 1}/{analyze_repeats} done ({time.perf_counter() - started:.0f} s)")
            reference = analyze["in-process"][0].get("files")
            summary: list[dict[str, Any]] = []
            for name, rs in analyze.items():
                summary.append(
                    {
                        "mode": name,
                        "job_s": summarize([x.get("job_s", math.nan) for x in rs]),
                        "model_s": summarize([x.get("model_s", math.nan) for x in rs]),
                        "cli_wall_s": summarize([x["cli_wall_s"] for x in rs]),
                        "model_calls": rs[0].get("model_calls"),
                        "identical_files": all(x.get("files") == reference for x in rs) and reference is not None,
                        "errors": [x["error"] for x in rs if "error" in x],
                        "runs": rs,
                    }
                )
            base = summary[0]["job_s"]["min"]
            for row in summary:
                row["speed_vs_in_process"] = base / row["job_s"]["min"]
                row["cli_speed_vs_in_process"] = summary[0]["cli_wall_s"]["min"] / row["cli_wall_s"]["min"]
            results["analyze"] = summary
        finally:
            for s in servers:
                s.stop()
            results["server_logs_tail"] = {
                s.name: s.log_path.read_text(errors="replace")[-800:] for s in servers if s.log_path.is_file()
            }

    # ---------------------------------------------------------------- ratios and targets
    by = {(row["stack"], row["rows_per_request"]): row for row in load}
    seed_name = f"seed: gunicorn {SEED_WORKERS} sync + Flask"
    judged = f"openclarify serve --workers {JUDGED_WORKERS}"
    for row in load:
        n = row["rows_per_request"]
        row["vs_seed"] = row["rows_s"]["median"] / by[(seed_name, n)]["rows_s"]["median"]
        row["vs_in_process"] = row["rows_s"]["median"] / by[("in-process", n)]["rows_s"]["median"]
    vs_seed = {n: by[(judged, n)]["vs_seed"] for n in ROW_COUNTS}
    vs_seed_1w = {n: by[("openclarify serve --workers 1", n)]["vs_seed"] for n in ROW_COUNTS}
    inproc_1000 = by[(judged, 1000)]["vs_in_process"]
    inproc_1000_1w = by[("openclarify serve --workers 1", 1000)]["vs_in_process"]
    ana = {row["mode"]: row for row in results["analyze"]}
    ana_judged = ana[judged]["speed_vs_in_process"]
    # Overhead = the server's CPU per request beyond the predictor's own (in-process CPU per call); and the
    # best any server could do here: the predictor alone on every core, with no load generator.
    cores = os.cpu_count() or 1
    for row in load:
        n = row["rows_per_request"]
        inproc = by[("in-process", n)]
        if "server_cpu_ms_per_request" in row:
            row["overhead_cpu_ms_per_request"] = row["server_cpu_ms_per_request"] - inproc["cpu_ms_per_request"]
    ceiling = {
        n: cores * by[("in-process", n)]["rows_s"]["median"] / by[(seed_name, n)]["rows_s"]["median"]
        for n in ROW_COUNTS
    }
    overhead_ratio = {
        n: by[(seed_name, n)]["overhead_cpu_ms_per_request"] / by[(judged, n)]["overhead_cpu_ms_per_request"]
        for n in ROW_COUNTS
    }
    results["ceiling_vs_seed"] = {str(n): v for n, v in ceiling.items()}
    results["seed_overhead_over_ours"] = {str(n): v for n, v in overhead_ratio.items()}
    results["targets"] = [
        {
            "target": f">= {TARGET_VS_SEED:g}x the seed stack's rows/s (--workers {JUDGED_WORKERS} vs 2 sync workers)",
            "measured": min(vs_seed.values()),
            "pass": all(v >= TARGET_VS_SEED for v in vs_seed.values()),
            "note": "per request size: "
            + ", ".join(f"{n} rows {v:.2f}x" for n, v in vs_seed.items())
            + "; --workers 1: "
            + ", ".join(f"{v:.2f}x" for v in vs_seed_1w.values())
            + f". Ceiling ({cores} cores x in-process rows/s over the seed's): "
            + ", ".join(f"{v:.1f}x" for v in ceiling.values())
            + ". Serving overhead (server CPU per request beyond the predictor's), seed over ours: "
            + ", ".join(f"{v:.1f}x" for v in overhead_ratio.values()),
        },
        {
            "target": f">= {TARGET_VS_INPROCESS:.0%} of in-process rows/s at 1000-row requests",
            "measured": inproc_1000,
            "pass": inproc_1000 >= TARGET_VS_INPROCESS,
            "note": f"--workers {JUDGED_WORKERS} (in-process: one core); --workers 1: {inproc_1000_1w:.2f}",
        },
        {
            "target": f"analyze through HTTP >= {TARGET_ANALYZE:.0%} of the in-process speed (DBpedia text job)",
            "measured": ana_judged,
            "pass": ana_judged >= TARGET_ANALYZE and all(r["identical_files"] for r in results["analyze"]),
            "note": f"job time ratio (run_analysis, fastest repeat) against --workers {JUDGED_WORKERS}; --workers 1: "
            f"{ana['openclarify serve --workers 1']['speed_vs_in_process']:.2f}; whole command incl. start-up: "
            f"{ana[judged]['cli_speed_vs_in_process']:.2f}; output files identical: "
            f"{all(r['identical_files'] for r in results['analyze'])}",
        },
    ]
    results["total_seconds"] = time.perf_counter() - started
    return results


# ----------------------------------------------------------------------------------------- markdown
def fmt(v: Any, digits: int = 3) -> str:
    return _common.fmt(v, digits, missing="-")


def _spread(row: dict[str, Any]) -> str:
    """How the connections of each run were spread over the worker processes (``4/4``; ``8`` = one took all)."""
    seen = [r["during"] for r in row.get("runs", []) if "during" in r]
    return ", ".join("/".join(map(str, counts)) or "?" for counts in seen) or "-"


def render_markdown(results: dict[str, Any]) -> str:
    env, cfg, mi = results["environment"], results["config"], results["model"]
    lines: list[str] = []
    add = lines.append
    add(f"# Serving benchmark: DBpedia fastText through /invocations ({results['mode']} run)\n")
    add('Generated by `bench/serving.py`; protocol in `bench/README.md` ("Serving").\n')
    add(
        f"Environment: Python {env['python']}, numpy {env['numpy']}, pandas {env['pandas']}, fasttext "
        f"{env['fasttext']}, uvicorn {env['uvicorn']}, starlette {env['starlette']}, httptools {env['httptools']}, "
        f"uvloop {env['uvloop']}, gunicorn {env['gunicorn']}, Flask {env['flask']}, openclarify "
        f"{env['openclarify']}; load: {cfg['load_tool']} ({env['wrk']}); {env['platform']}, {env['cpu_count']} "
        f"CPUs shared by the load generator and the servers. Total run time {results['total_seconds']:.0f} s. "
        f"Source: git HEAD `{results['source'].get('git_head', 'unknown')[:12]}`"
        + (" with uncommitted changes" if results["source"].get("src_dirty") else "")
        + ".\n"
    )
    add(
        f"Model: fastText `train_supervised({', '.join(f'{k}={v}' for k, v in mi['params'].items())})` on the "
        f"lower-tokenized DBpedia training abstracts (test accuracy {mi['test_accuracy']:.4f} on "
        f"{mi['test_records']}), served from `{mi['folder']}` (`model.bin` + `openclarify-model.json` with "
        "`text_normalization: lower-tokenize`). Every stack runs the same normalization and fastText's batch "
        "predict of all 14 labels, and answers the same probabilities (checked on a 100-row request).\n"
    )
    add("## Targets\n")
    add("| target | measured | result | note |")
    add("|---|---|---|---|")
    for t in results["targets"]:
        add(f"| {t['target']} | {fmt(t['measured'])} | {'MET' if t['pass'] else 'NOT MET'} | {t['note']} |")
    add("")
    add(
        f"## Throughput and latency\n\n{cfg['runs']} run(s) of {cfg['seconds_per_run']:g} s per cell with "
        f"{cfg['connections']} connections, interleaved across stacks; rows/s = requests/s x rows per request, "
        "median over runs [range]; p50 / p99 from wrk's latency distribution (median over runs). c=1: one "
        f"connection, {cfg['c1_seconds']:g} s. server CPU = user + system CPU of the server's processes per "
        "request (less dependent on how the cores were shared); overhead CPU = server CPU - the in-process CPU per "
        "call of the same size (what serving adds to the predictor); wrk CPU = the load generator's share of one "
        "core; connections per worker = how wrk's connections were spread over the worker processes, sampled "
        "halfway through each run (`8` = one worker took them all). "
        "In-process: `predict` on a DataFrame of the rows, back to back, one core; its p50 / p99 are per call. "
        f"Bodies: {', '.join(f'{n} rows = {b:,} B' for n, b in cfg['body_bytes'].items())}.\n"
    )
    add(
        "| stack | rows/request | rows/s | req/s | p50 ms | p99 ms | c=1 p50 / p99 ms | server CPU ms/request | "
        "overhead CPU ms/request | wrk CPU | vs seed | vs in-process | connections per worker | errors |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in results["load"]:
        rs = row["rows_s"]
        c1 = row.get("c1")
        cpu = row.get("server_cpu_ms_per_request", row.get("cpu_ms_per_request"))
        add(
            f"| {row['stack']} | {row['rows_per_request']} | {rs['median']:,.0f} [{rs['min']:,.0f}-{rs['max']:,.0f}] | "
            f"{fmt(row['req_s']['median'], 4)} | {fmt(row['p50_ms'])} | {fmt(row['p99_ms'])} | "
            + (f"{fmt(c1['p50_ms'])} / {fmt(c1['p99_ms'])}" if c1 else "-")
            + f" | {fmt(cpu)} | {fmt(row.get('overhead_cpu_ms_per_request'))} | {fmt(row.get('wrk_cpu_share'), 2)} | "
            f"{fmt(row['vs_seed'])} | "
            f"{fmt(row['vs_in_process'])} | {_spread(row)} | {row.get('errors', '-')} |"
        )
    add("")
    add(
        f"## analyze through HTTP\n\n`openclarify analyze` on the first {cfg['analyze_records']} DBpedia test "
        f"abstracts, token granularity, num_samples {cfg['analyze_samples']}, baseline `<UNK>`, CSV requests "
        "and JSON Lines answers (`label` / `prob`), in process (`--model`) and through the servers "
        f"(`--endpoint-url`); {cfg['analyze_repeats']} repeat(s), fastest shown. job = `run_analysis` time from "
        "the command's summary (reading, segmenting, the model, the estimator, writing; not interpreter start-up "
        "or imports); model = time in the model calls (in-process predict, or the HTTP requests); command = the "
        "whole subprocess.\n"
    )
    add("| mode | job s | model s | command s | model calls | speed vs in-process (job) | (command) | same files |")
    add("|---|---|---|---|---|---|---|---|")
    for row in results["analyze"]:
        add(
            f"| {row['mode']} | {fmt(row['job_s']['min'])} | {fmt(row['model_s']['min'])} | "
            f"{fmt(row['cli_wall_s']['min'])} | {row['model_calls']} | {fmt(row['speed_vs_in_process'])} | "
            f"{fmt(row['cli_speed_vs_in_process'])} | {row['identical_files']} |"
        )
    add("")
    add("## Answer checks (100-row request vs in-process `predict`)\n")
    add("| stack | status | records | identical probabilities | fixed label order | start-up s |")
    add("|---|---|---|---|---|---|")
    for name, c in results["checks"].items():
        add(
            f"| {name} | {c['status']} | {c['records']} | {c.get('identical_to_in_process')} | "
            f"{c.get('fixed_label_order')} | {fmt(c.get('startup_s'))} |"
        )
    add("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run of 2 s per cell, 20 abstracts")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder (default bench/results)")
    args = parser.parse_args()
    results = run(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "serving_quick" if args.quick else "serving"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (args.out / f"{stem}.md").write_text(render_markdown(results) + "\n")
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')} in {results['total_seconds']:.0f} s")
    print(f"{'stack':<36} {'rows':>5} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs seed':>8} {'vs inproc':>9}")
    for row in results["load"]:
        print(
            f"{row['stack']:<36} {row['rows_per_request']:>5} {row['rows_s']['median']:>9.0f} {row['p50_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {row['vs_seed']:>8.2f} {row['vs_in_process']:>9.2f}"
        )
    for row in results["analyze"]:
        print(
            f"analyze {row['mode']:<32} job {row['job_s']['min']:.2f} s  model {row['model_s']['min']:.2f} s  "
            f"x{row['speed_vs_in_process']:.2f}  same files: {row['identical_files']}"
        )
    for t in results["targets"]:
        print(f"  {'MET' if t['pass'] else 'NOT MET'}  {t['target']}: {fmt(t['measured'])} ({t['note']})")


if __name__ == "__main__":
    main()
