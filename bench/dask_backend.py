"""Rows/s of `analyze` on the local backend against a local Dask cluster, by workers and by partitions, the
cost of one partition, and the memory of each worker.

Four sections, each job through `run_analysis` with the same seed, the files of every Dask run compared
byte for byte with the local run's (all but run_summary.json and hidden files, by sha256). Every timing is
repeated `--repeats` times (default 3) with the variants of a section interleaved (order rotated every
repeat); the tables give the median (min-max). The machine has 2 cores and may be shared: the load average
is recorded before and after each section.

1. `workers` (the first version of this benchmark): 12,000 random records (8 features, Kernel SHAP with 128
   samples, one baseline row), partitions of `--chunk-size` (750: 16 partitions), a scikit-learn
   RandomForest (100 trees, n_jobs=1) and a pure-Python model (a loop over the records: it holds the GIL, so
   only processes can run two at once), on the local backend and on a fresh local cluster of 1 and of 2
   worker processes per job (as `analyze --backend dask` starts one; its start-up is timed apart, and the
   workers load the model within the job's time).
2. `partitions`: 1, 2 and 4 partitions per worker (chunksize = records / (2 workers x k)), local against a
   cluster of 2 workers, for the RandomForest on `--scale-rows` records and for the DBpedia fastText model
   (bench/_dbpedia.py) on `--text-rows` abstracts (test split, then the training split), text Kernel SHAP at
   `--granularity` (token) with `--text-samples` (64) samples and an `<UNK>` baseline. One cluster serves
   the whole section, warmed up by one job per model first (the workers then hold the model and spaCy, as
   the bench process does for the local runs): steady-state throughput; the first job's time is reported.
3. `overhead`: a job of many tiny partitions (`--overhead-rows` records in partitions of
   `--overhead-chunk`) of a trivial model (one numpy sum), local and on the warm 2-worker cluster, with
   checkpoints on and off, and the same job in one partition. Per partition: (wall - model time) / partitions,
   and the marginal cost, (wall of the tiny partitions - wall of one partition) / (partitions - 1).
4. `memory`: the peak RSS of each worker process, through `client.run` (the kernel's VmHWM; also
   `resource.getrusage(RUSAGE_SELF).ru_maxrss`, which a worker inherits from the bench process across exec,
   and psutil's current RSS) after the RandomForest job (partitions of `--chunk-size`) on `--rss-rows` records
   (6,000 and 24,000), a fresh 2-worker cluster per job, against the same workers before the job.

Run: `python bench/dask_backend.py` (about 10-15 minutes on 2 shared cores). Shrink with `--repeats 1`,
`--sections workers,overhead`, smaller `--rows`, `--scale-rows`, `--text-rows`, `--rss-rows`. Writes
`bench/results/dask_backend.json` and `.md` (`--out NAME` writes `NAME.*` instead).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import _common  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SECTIONS = ("workers", "partitions", "overhead", "memory")
WORKERS = 2  # the cluster of sections 2-4: one worker process per core here

PYTHON_MODEL = """
import math

def predict(records):
    out = []
    for row in records.itertuples(index=False):
        s = 0.0
        for j, v in enumerate(row):
            s += math.sin(v * (j + 1)) * math.cos(v - j)
        out.append(s)
    return out
"""

TRIVIAL_MODEL = """
def predict(records):
    return records.to_numpy(dtype=float).sum(axis=1)
"""


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.name != "run_summary.json"
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def _worker_memory() -> dict[str, Any]:
    """Run on each worker by `client.run`: its peak RSS (KiB), as ``ru_maxrss`` and as the kernel's high-water
    mark of this process image (VmHWM, Linux), and its current RSS.

    ``ru_maxrss`` is kept across ``execve``: a worker process, forked from the process that runs the nanny (here
    the bench's own, a few hundred MiB) and then exec'd, starts with the bench process's peak as its own, so it
    only shows a worker's growth beyond that. VmHWM starts afresh with the exec'd image."""
    import os
    import resource

    found: dict[str, Any] = {"pid": os.getpid(), "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    found[line.split(":")[0]] = int(line.split()[1])  # kB
    except OSError:
        pass
    try:
        import psutil

        found["rss_bytes"] = psutil.Process().memory_info().rss
    except ImportError:
        pass
    return found


def _spread(values: list[float]) -> dict[str, Any]:
    med = statistics.median(values)
    return {"median": med, "min": min(values), "max": max(values), "values": values}


def _mm(cell: dict[str, Any], digits: int = 0, scale: float = 1.0) -> str:
    """median (min-max) of a spread, scaled."""
    m, lo, hi = (cell[k] * scale for k in ("median", "min", "max"))
    return f"{m:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _rotated(items: list[Any], rep: int) -> list[Any]:
    k = rep % len(items)
    return items[k:] + items[:k]


@contextmanager
def local_cluster(workers: int) -> Iterator[tuple[Any, float]]:
    """A local cluster of ``workers`` single-threaded processes with the settings `analyze --backend dask`
    gives its own (the profiler off, ...), and its start-up seconds."""
    import dask
    import distributed

    from openclarify.backends._dask import _SETTINGS

    with dask.config.set(_SETTINGS):
        t0 = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address="127.0.0.1:0")  # fmt: skip
        started = time.perf_counter() - t0
        try:
            yield cluster, started
        finally:
            cluster.close()


def worker_memory(address: str) -> list[dict[str, Any]]:
    import distributed

    with distributed.Client(address, set_as_default=False) as client:
        return sorted(client.run(_worker_memory).values(), key=lambda m: m["pid"])


class Bench:
    """The data, models and configs of the jobs, and one timed job."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        import joblib
        from sklearn.ensemble import RandomForestRegressor

        from openclarify.config import parse_analysis_config

        self.args, self.work = args, work
        names = [f"x{j}" for j in range(8)]
        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.normal(size=(args.rows, 8)), columns=names)
        # the forest of the first version of this benchmark: fitted on the records it explains
        forest = RandomForestRegressor(n_estimators=100, n_jobs=1, random_state=0).fit(X, X["x0"] * X["x1"] + X["x2"])
        joblib.dump(forest, work / "forest.joblib")
        most = max([args.rows, args.scale_rows, *args.rss_rows, args.overhead_rows])
        if most > args.rows:  # more records of the same kind, after the first ones
            more = np.random.default_rng(1).normal(size=(most - args.rows, 8))
            X = pd.concat([X, pd.DataFrame(more, columns=names)], ignore_index=True)
        self.tabular = X
        (work / "model.py").write_text(PYTHON_MODEL)
        (work / "trivial.py").write_text(TRIVIAL_MODEL)
        self.specs = {
            "forest": str(work / "forest.joblib"),
            "python": f"{work / 'model.py'}:predict",
            "trivial": f"{work / 'trivial.py'}:predict",
        }
        self._models: dict[str, Any] = {}
        self._data: dict[int, Path] = {}
        self.local_files: dict[int, dict[str, str]] = {}  # the forest's local runs, by records

        def shap(**extra: Any) -> dict[str, Any]:
            return {"seed": 1, "save_local_shap_values": True, **extra}

        tabular = {"dataset_type": "text/csv", "predictor": {"content_type": "text/csv", "accept_type": "text/csv"}}
        self.configs = {
            "tabular": parse_analysis_config(
                {**tabular, "methods": {"shap": shap(baseline=[[0.0] * 8], num_samples=args.num_samples)}}
            ),
            "trivial": parse_analysis_config(
                {**tabular, "methods": {"shap": shap(baseline=[[0.0] * 8], num_samples=args.overhead_samples)}}
            ),
        }
        self.text_info: dict[str, Any] = {}
        self.text_data: Path | None = None

    def data(self, rows: int) -> Path:
        """A CSV of the first ``rows`` generated records."""
        if rows not in self._data:
            path = self.work / f"data{rows}.csv"
            self.tabular.head(rows).to_csv(path, index=False)
            self._data[rows] = path
        return self._data[rows]

    def model(self, name: str) -> Any:
        from openclarify.models import load_model

        if name not in self._models:
            self._models[name] = load_model(self.specs[name])
        return self._models[name]

    def setup_text(self) -> None:
        """The DBpedia fastText model (cached, as bench/text_games.py and bench/serving.py train it) in a
        model folder, its abstracts in a CSV, and the text job's config."""
        import _dbpedia
        import fasttext

        from openclarify.config import parse_analysis_config

        path, info = _dbpedia.cached_model()
        folder = _dbpedia.CACHE / f"dask_model_{path.stem.removeprefix('dbpedia_fasttext_')}"
        folder.mkdir(exist_ok=True)
        target = folder / "model.bin"
        if not target.is_file() or target.stat().st_size != path.stat().st_size:
            target.unlink(missing_ok=True)
            shutil.copyfile(path, target)
        labels = [x.removeprefix("__label__") for x in fasttext.load_model(str(target)).get_labels()]
        meta = {"labels": labels, "text_normalization": "lower-tokenize"}
        (folder / "openclarify-model.json").write_text(json.dumps(meta, indent=1) + "\n")
        texts = _dbpedia.load_split("test")[1]
        if len(texts) < self.args.text_rows:
            texts += _dbpedia.load_split("train")[1]
        texts = texts[: self.args.text_rows]
        self.text_data = self.work / "dbpedia.csv"
        with self.text_data.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            for t in texts:
                writer.writerow([t])
        self.specs["fasttext"] = str(folder)
        self.configs["text"] = parse_analysis_config(
            {
                "dataset_type": "text/csv",
                "headers": ["Text"],
                "predictor": {
                    "content_type": "text/csv",
                    "accept_type": "application/jsonlines",
                    "label": "label",
                    "probability": "prob",
                },  # fmt: skip
                "methods": {
                    "shap": {
                        "baseline": [["<UNK>"]],
                        "num_samples": self.args.text_samples,
                        "seed": 11,
                        "save_local_shap_values": True,
                        "text_config": {"granularity": self.args.granularity, "language": "english"},
                    }
                },
            }
        )
        self.text_info = {
            **info,
            "folder": str(folder.relative_to(_common.ROOT)),
            "records": len(texts),
            "mean_chars": float(np.mean([len(t) for t in texts])),
        }

    def run(self, model: str, config: str, data: Path, out: Path, chunksize: int, scheduler: str | None = None,
            **options: Any) -> dict[str, Any]:  # fmt: skip
        """One job; its wall time, model time and files."""
        from openclarify import run_analysis
        from openclarify.models import FileModelSpec

        if scheduler is not None:
            options.update(backend="dask", scheduler=scheduler, model_spec=FileModelSpec.of(self.specs[model]))
        load_at = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = run_analysis(self.configs[config], model=self.model(model), output_dir=out, data=data,
                              chunksize=chunksize, overwrite=True, **options)  # fmt: skip
        wall = time.perf_counter() - t0
        return {
            "wall_s": wall,
            "model_s": result.model_seconds,
            "model_rows": result.model_rows,
            "records": result.n_rows,
            "load_1min_before": round(load_at, 2),
            "files": _digest(out),
        }


def _check(files: dict[str, str], want: dict[str, str], what: str) -> bool:
    if files != want:
        differ = sorted(k for k in set(files) | set(want) if files.get(k) != want.get(k))
        raise AssertionError(f"{what}: the files differ from the local run's: {differ}")
    return True


def section_workers(bench: Bench) -> dict[str, Any]:
    """Local, a fresh cluster of 1 worker and one of 2 workers per job, for the forest and the Python model."""
    args = bench.args
    data = bench.data(args.rows)
    rows: list[dict[str, Any]] = []
    for label, model in (("RandomForest(100, n_jobs=1)", "forest"), ("pure-Python loop", "python")):
        walls: dict[str, list[float]] = {"local": [], "dask_1": [], "dask_2": []}
        starts: dict[str, list[float]] = {"dask_1": [], "dask_2": []}
        want: dict[str, str] | None = None
        same: dict[str, bool] = {}
        for rep in range(args.repeats):
            for variant in _rotated(["local", "dask_1", "dask_2"], rep):
                out = bench.work / f"workers_{model}_{variant}"
                if variant == "local":
                    run = bench.run(model, "tabular", data, out, args.chunk_size)
                else:
                    with local_cluster(int(variant[-1])) as (cluster, started):
                        starts[variant].append(started)
                        run = bench.run(model, "tabular", data, out, args.chunk_size, cluster.scheduler_address)
                walls[variant].append(run["wall_s"])
                if variant == "local" and want is None:
                    want = run["files"]
                    if model == "forest":
                        bench.local_files[args.rows] = want
                if want is not None and variant != "local":
                    same[variant] = _check(run["files"], want, f"workers {model} {variant} rep {rep}")
                print(f"workers {model} {variant} rep {rep}: {run['wall_s']:.2f} s", flush=True)
        med = {v: statistics.median(w) for v, w in walls.items()}
        row = {
            "model": label,
            "wall_s": {v: _spread(w) for v, w in walls.items()},
            "rows_per_s": {v: _spread([args.rows / x for x in w]) for v, w in walls.items()},
            "rows_per_s_local": args.rows / med["local"],
            **{f"rows_per_s_dask_{w}": args.rows / med[f"dask_{w}"] for w in (1, 2)},
            "dask_2_over_local": med["local"] / med["dask_2"],
            "dask_2_over_dask_1": med["dask_1"] / med["dask_2"],
            "cluster_start_s": {v: _spread(s) for v, s in starts.items()},
            "same_bytes": same,
        }
        rows.append(row)
    return {"rows": rows}


def section_partitions(bench: Bench, address: str) -> dict[str, Any]:
    """1, 2 and 4 partitions per worker, local against the warm cluster of 2 workers at ``address``."""
    args = bench.args
    bench.setup_text()
    assert bench.text_data is not None
    jobs = {
        "forest": ("RandomForest(100, n_jobs=1)", "tabular", bench.data(args.scale_rows), args.scale_rows),
        "fasttext": (f"DBpedia fastText, {args.granularity}s", "text", bench.text_data, bench.text_info["records"]),
    }
    ks = (1, 2, 4)
    out: dict[str, Any] = {"text_model": bench.text_info, "models": []}
    for model, (label, config, data, n) in jobs.items():
        chunks = {k: -(-n // (WORKERS * k)) for k in ks}
        # warm-up: the bench process and the workers load the model (and spaCy for text) once
        first = {
            "local": bench.run(model, config, data, bench.work / f"warm_{model}_local", chunks[2]),
            "dask": bench.run(model, config, data, bench.work / f"warm_{model}_dask", chunks[2], address),
        }
        want = first["local"]["files"]
        _check(first["dask"]["files"], want, f"partitions {model} warm-up")
        if model == "forest":
            bench.local_files[n] = want
        walls: dict[str, list[float]] = {}
        model_s: dict[str, list[float]] = {}
        variants = [(backend, k) for k in ks for backend in ("local", "dask")]
        for rep in range(args.repeats):
            for backend, k in _rotated(variants, rep):
                target = bench.work / f"part_{model}_{backend}_{k}"
                run = bench.run(model, config, data, target, chunks[k], address if backend == "dask" else None)
                _check(run["files"], want, f"partitions {model} {backend} k={k} rep {rep}")
                walls.setdefault(f"{backend}_{k}", []).append(run["wall_s"])
                model_s.setdefault(f"{backend}_{k}", []).append(run["model_s"])
                print(f"partitions {model} {backend} k={k} rep {rep}: {run['wall_s']:.2f} s", flush=True)
        cells = []
        for k in ks:
            local, dask = statistics.median(walls[f"local_{k}"]), statistics.median(walls[f"dask_{k}"])
            cells.append(
                {
                    "partitions_per_worker": k,
                    "chunksize": chunks[k],
                    "partitions": -(-n // chunks[k]),
                    "rows_per_s_local": _spread([n / w for w in walls[f"local_{k}"]]),
                    "rows_per_s_dask": _spread([n / w for w in walls[f"dask_{k}"]]),
                    "dask_over_local": local / dask,
                    "model_s_local": _spread(model_s[f"local_{k}"]),
                    "model_s_dask_sum_of_workers": _spread(model_s[f"dask_{k}"]),
                }
            )
        out["models"].append(
            {
                "model": label,
                "records": n,
                "first_job_s": {b: first[b]["wall_s"] for b in first},
                "cells": cells,
                "same_bytes": True,  # checked for every run
            }
        )
    return out


def section_overhead(bench: Bench, address: str) -> dict[str, Any]:
    """Many tiny partitions of a trivial model, local and on the warm cluster (``address``)."""
    args = bench.args
    n, tiny = args.overhead_rows, args.overhead_chunk
    data = bench.data(n)
    parts = -(-n // tiny)
    variants = [
        ("local", tiny, True),
        ("local", tiny, False),
        ("local", n, True),
        ("dask", tiny, True),
        ("dask", tiny, False),
        ("dask", n, True),
    ]
    want = bench.run("trivial", "trivial", data, bench.work / "over_warm", tiny)["files"]
    bench.run("trivial", "trivial", data, bench.work / "over_warm_dask", tiny, address)
    runs: dict[str, list[dict[str, Any]]] = {}
    for rep in range(args.repeats):
        for backend, chunk, checkpoint in _rotated(variants, rep):
            key = f"{backend}_{'tiny' if chunk == tiny else 'one'}_{'checkpoint' if checkpoint else 'off'}"
            run = bench.run("trivial", "trivial", data, bench.work / f"over_{key}", chunk,
                            address if backend == "dask" else None, checkpoint=checkpoint)  # fmt: skip
            _check(run["files"], want, f"overhead {key} rep {rep}")
            runs.setdefault(key, []).append(run)
            print(f"overhead {key} rep {rep}: {run['wall_s']:.2f} s", flush=True)
    cells = []
    for backend in ("local", "dask"):
        if f"{backend}_one_checkpoint" not in runs:
            continue
        one = statistics.median(r["wall_s"] for r in runs[f"{backend}_one_checkpoint"])
        for checkpoint in ("checkpoint", "off"):
            rs = runs[f"{backend}_tiny_{checkpoint}"]
            cells.append(
                {
                    "backend": backend,
                    "checkpoint": checkpoint == "checkpoint",
                    "wall_s": _spread([r["wall_s"] for r in rs]),
                    "model_s": _spread([r["model_s"] for r in rs]),
                    "per_partition_ms": _spread([1000 * (r["wall_s"] - r["model_s"]) / parts for r in rs]),
                    "marginal_ms": _spread([1000 * (r["wall_s"] - one) / (parts - 1) for r in rs]),
                    "one_partition_wall_s": _spread([r["wall_s"] for r in runs[f"{backend}_one_checkpoint"]]),
                }
            )
    return {"records": n, "chunksize": tiny, "partitions": parts, "cells": cells}


def section_memory(bench: Bench) -> dict[str, Any]:
    """Peak RSS of each worker after the forest job at each size, a fresh cluster per job."""
    args = bench.args
    runs: list[dict[str, Any]] = []
    seen = dict(bench.local_files)  # the local runs' files, where one ran on as many records
    for rep in range(args.repeats):
        for n in _rotated(list(args.rss_rows), rep):
            with local_cluster(WORKERS) as (cluster, _):
                before = worker_memory(cluster.scheduler_address)
                run = bench.run("forest", "tabular", bench.data(n), bench.work / f"mem_{n}", args.chunk_size,
                                cluster.scheduler_address)  # fmt: skip
                after = worker_memory(cluster.scheduler_address)
            if n in seen:
                _check(run["files"], seen[n], f"memory {n} rep {rep}")
            else:
                seen[n] = run["files"]
            runs.append(
                {
                    "records": n,
                    "repeat": rep,
                    "wall_s": run["wall_s"],
                    "peak_kib_before": [m.get("VmHWM", m["ru_maxrss_kib"]) for m in before],
                    "peak_kib_after": [m.get("VmHWM", m["ru_maxrss_kib"]) for m in after],
                    "peak_source": "VmHWM" if "VmHWM" in after[0] else "ru_maxrss",
                    "ru_maxrss_kib_before": [m["ru_maxrss_kib"] for m in before],
                    "ru_maxrss_kib_after": [m["ru_maxrss_kib"] for m in after],
                    "rss_bytes_after": [m.get("rss_bytes") for m in after],
                }
            )
            print(f"memory {n} rep {rep}: {json.dumps(runs[-1])}", flush=True)
    cells = []
    psutil_there = all(None not in r["rss_bytes_after"] for r in runs)
    for n in args.rss_rows:
        rs = [r for r in runs if r["records"] == n]
        cells.append(
            {
                "records": n,
                "partitions": -(-n // args.chunk_size),
                "peak_mib_after": _spread([max(r["peak_kib_after"]) / 1024 for r in rs]),
                "peak_mib_before": _spread([max(r["peak_kib_before"]) / 1024 for r in rs]),
                "growth_mib": _spread(
                    [
                        max(a - b for a, b in zip(r["peak_kib_after"], r["peak_kib_before"], strict=True)) / 1024
                        for r in rs
                    ]
                ),
                "rss_mib_after": _spread([max(r["rss_bytes_after"]) / 2**20 for r in rs]) if psutil_there else None,
                "ru_maxrss_mib_after": _spread([max(r["ru_maxrss_kib_after"]) / 1024 for r in rs]),
                "rows_per_s": _spread([n / r["wall_s"] for r in rs]),
            }
        )
    return {"chunksize": args.chunk_size, "peak_source": runs[0]["peak_source"], "cells": cells, "runs": runs}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12000, help="records of section 1 (workers)")
    parser.add_argument("--chunk-size", type=int, default=750, help="partition size of sections 1 and 4")
    parser.add_argument("--num-samples", type=int, default=128, help="Kernel SHAP samples of the tabular jobs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale-rows", type=int, default=6000, help="records of the forest in section 2")
    parser.add_argument("--text-rows", type=int, default=1400, help="DBpedia abstracts in section 2")
    parser.add_argument("--text-samples", type=int, default=64)
    parser.add_argument("--granularity", choices=("token", "sentence"), default="token")
    parser.add_argument("--overhead-rows", type=int, default=2000)
    parser.add_argument("--overhead-chunk", type=int, default=10)
    parser.add_argument("--overhead-samples", type=int, default=16)
    parser.add_argument("--rss-rows", default="6000,24000", help="comma-separated dataset sizes of section 4")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--out", default="dask_backend", help="name of the result files in bench/results/")
    args = parser.parse_args(argv)
    args.rss_rows = [int(x) for x in args.rss_rows.split(",")]
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"--sections: unknown {sorted(unknown)}")

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="oc-dask-bench-"))
    bench = Bench(args, work)
    result: dict[str, Any] = {
        "benchmark": "dask_backend",
        "args": vars(args),
        "environment": _common.environment(
            ["numpy", "pandas", "scikit-learn", "dask", "distributed", "fasttext", "psutil"],
            openclarify=_common.version("openclarify"),
        ),
        "source": _common.source_info(
            ["src/openclarify", "bench/dask_backend.py"],
            [_common.ROOT / "src" / "openclarify" / p for p in ("_pipeline.py", "backends/_dask.py")],
        ),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "sections": {},
    }
    warm: dict[str, Any] = {}

    def on_warm_cluster(step: Callable[[str], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        # sections 2 and 3 share one cluster, started (timed) for the first of them
        def run() -> dict[str, Any]:
            if not warm:
                warm["context"] = local_cluster(WORKERS)
                cluster, warm["start_s"] = warm["context"].__enter__()
                warm["address"] = cluster.scheduler_address
            return {**step(warm["address"]), "cluster_start_s": warm["start_s"]}

        return run

    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    if "workers" in sections:
        steps.append(("workers", lambda: section_workers(bench)))
    if "partitions" in sections:
        steps.append(("partitions", on_warm_cluster(lambda address: section_partitions(bench, address))))
    if "overhead" in sections:
        steps.append(("overhead", on_warm_cluster(lambda address: section_overhead(bench, address))))
    if "memory" in sections:
        steps.append(("memory", lambda: section_memory(bench)))
    try:
        for name, step in steps:
            if name == "memory" and warm:  # fresh clusters only, nothing else running
                warm.pop("context").__exit__(None, None, None)
            before = _load()
            t0 = time.perf_counter()
            found = step()
            found.update(load_before=before, load_after=_load(), seconds=time.perf_counter() - t0)
            result["sections"][name] = found
            print(f"section {name}: {found['seconds']:.0f} s, load {found['load_before']} -> {found['load_after']}")
    finally:
        if "context" in warm:
            warm["context"].__exit__(None, None, None)
    result["load_after"] = _load()
    result["total_s"] = time.perf_counter() - started
    if "workers" in result["sections"]:
        result["rows"] = result["sections"]["workers"]["rows"]  # the first version's key
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    (RESULTS / f"{args.out}.md").write_text(md)
    print(md)
    shutil.rmtree(work, ignore_errors=True)
    return result


def markdown(result: dict[str, Any]) -> str:
    a = result["args"]
    s = result["sections"]

    def loads(x: dict[str, Any]) -> str:
        return (
            f"load average (1, 5, 15 min) {', '.join(f'{v:.1f}' for v in x['load_before'])} before, "
            f"{', '.join(f'{v:.1f}' for v in x['load_after'])} after"
        )

    lines = [
        "# `analyze` on a local Dask cluster (`bench/dask_backend.py`)",
        "",
        f"{result['cpus']} CPUs, shared with other people's test runs: {loads(result)} the whole run "
        f"({result['total_s'] / 60:.1f} min); the numbers were taken under that load. {a['repeats']} repeats, the "
        "variants of a section interleaved (order rotated every repeat): median (min-max). Every Dask run's files "
        "are the bytes of the local run's (checked). git "
        f"{result['source'].get('git_head', '?')[:10]}"
        f"{' (src modified)' if result['source'].get('src_dirty') else ''}.",
    ]
    if "workers" in s:
        w = s["workers"]
        lines += [
            "",
            "## Workers",
            "",
            f"{a['rows']:,} records x 8 features, Kernel SHAP num_samples {a['num_samples']}, partitions of "
            f"{a['chunk_size']} records; a fresh cluster per Dask job (its start-up timed apart, the workers' model "
            f"loading in the job); {loads(w)}.",
            "",
            "| model | local rows/s | dask 1 worker | dask 2 workers | 2 workers / local | 2 / 1 worker | "
            "cluster start s (1, 2) | same bytes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in w["rows"]:
            rs = r["rows_per_s"]
            lines.append(
                f"| {r['model']} | {_mm(rs['local'])} | {_mm(rs['dask_1'])} | {_mm(rs['dask_2'])} | "
                f"{r['dask_2_over_local']:.2f}x | {r['dask_2_over_dask_1']:.2f}x | "
                f"{r['cluster_start_s']['dask_1']['median']:.1f}, {r['cluster_start_s']['dask_2']['median']:.1f} | "
                f"{all(r['same_bytes'].values())} |"
            )
    if "partitions" in s:
        p = s["partitions"]
        t = p["text_model"]
        lines += [
            "",
            "## Partitions per worker",
            "",
            f"Local backend against a cluster of {WORKERS} workers (one, warmed up: steady state), chunksize = "
            f"records / ({WORKERS} x k). RandomForest: {a['scale_rows']:,} records, num_samples {a['num_samples']}. "
            f"fastText: {t['records']:,} DBpedia abstracts (mean {t['mean_chars']:.0f} characters), "
            f"{a['granularity']} granularity, num_samples {a['text_samples']}, `<UNK>` baseline; {loads(p)}.",
            "",
            "| model | k partitions / worker | chunksize (partitions) | local rows/s | dask 2 workers rows/s | "
            "dask / local |",
            "|---|---|---|---|---|---|",
        ]
        for m in p["models"]:
            for c in m["cells"]:
                lines.append(
                    f"| {m['model']} | {c['partitions_per_worker']} | {c['chunksize']:,} ({c['partitions']}) | "
                    f"{_mm(c['rows_per_s_local'])} | {_mm(c['rows_per_s_dask'])} | {c['dask_over_local']:.2f}x |"
                )
        lines += [
            "",
            "First job (untimed warm-up: the bench process and the workers load the model, and spaCy for text), s: "
            + "; ".join(
                f"{m['model']}: local {m['first_job_s']['local']:.1f}, dask {m['first_job_s']['dask']:.1f}"
                for m in p["models"]
            )
            + f". Cluster start-up {p['cluster_start_s']:.1f} s.",
        ]
    if "overhead" in s:
        o = s["overhead"]
        lines += [
            "",
            "## Cost of one partition",
            "",
            f"{o['records']:,} records in {o['partitions']} partitions of {o['chunksize']}, a trivial model (one numpy "
            f"sum), num_samples {a['overhead_samples']}; dask: the warm {WORKERS}-worker cluster. per partition = "
            "(wall - model time) / partitions (on dask the model time is the workers' sum); marginal = (wall - wall of "
            "the same job in one partition) / (partitions - 1).",
            "",
            "| backend | checkpoint | wall s | model s | per partition ms | marginal ms | one partition wall s |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in o["cells"]:
            lines.append(
                f"| {c['backend']} | {'on' if c['checkpoint'] else 'off'} | {_mm(c['wall_s'], 2)} | "
                f"{_mm(c['model_s'], 2)} | {_mm(c['per_partition_ms'], 2)} | {_mm(c['marginal_ms'], 2)} | "
                f"{_mm(c['one_partition_wall_s'], 2)} |"
            )
    if "memory" in s:
        m = s["memory"]
        lines += [
            "",
            "## Memory per worker",
            "",
            f"The RandomForest job (num_samples {a['num_samples']}, partitions of {m['chunksize']}) on a fresh "
            f"{WORKERS}-worker cluster per job, read on each worker through `client.run`: peak RSS "
            f"({m['peak_source']}, the kernel's high-water mark of the worker's process image) of the larger of "
            "the two workers after the "
            "job, the same before it (the started, idle worker), the largest growth of one worker, psutil's current "
            "RSS after, and `ru_maxrss` after (which a worker inherits from the process that forked it, the bench's "
            f"own, across exec: it shows only growth beyond that); {loads(m)}.",
            "",
            "| records (partitions) | peak RSS after, MiB | before the job | growth | current RSS after | "
            "ru_maxrss after | rows/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in m["cells"]:
            rss = _mm(c["rss_mib_after"]) if c["rss_mib_after"] else "n/a"
            lines.append(
                f"| {c['records']:,} ({c['partitions']}) | {_mm(c['peak_mib_after'])} | {_mm(c['peak_mib_before'])} | "
                f"{_mm(c['growth_mib'])} | {rss} | {_mm(c['ru_maxrss_mib_after'])} | {_mm(c['rows_per_s'])} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
