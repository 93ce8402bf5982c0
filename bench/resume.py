"""The cost of checkpoints: `run_analysis` with `checkpoint=True` (the default) against `checkpoint=False`,
the size of a checkpoint at its largest, and a resume that restores all but one partition.

One Kernel SHAP job: `--rows` generated records x 8 features (default 100,000), a RandomForestRegressor
(30 trees, n_jobs=1, trained on 5,000 other generated records), `num_samples` `--num-samples` (default 64),
one baseline row, `save_local_shap_values` true, the local backend, at each `--chunk-sizes` (default 8192,
the default of `analyze`, and 1000). Per chunk size and repeat, three variants run one after the other, in
an order rotated every repeat (A B C, B C A, C A B, ...):

* `checkpoint`: the job with `checkpoint=True`; the time spent in the checkpoint's own code is timed too,
  by wrapping it (`Checkpoint.commit`: pickling, hashing and writing each partition's part and its record;
  `Checkpoint.open`, `.remove` and the job's fingerprint; see `CheckpointTimer`);
* `no-checkpoint`: the same job with `checkpoint=False`;
* `resume`: `resume=True` on a copy of a folder that a stopped run left: its checkpoint holds every
  partition but the last one, so the resume restores those and computes one partition.

The stopped run (once per chunk size, before the repeats) is the job with its predictor wrapped so that it
raises a BaseException subclass once it has been asked for more rows than the job needs up to the middle of
its last partition (the rows per record are measured first on two small jobs), as
tests/integration/test_resume.py stops a job; its checkpoint, measured then, is the checkpoint at its
largest. Checks (asserted): every run's files (all but run_summary.json and hidden files, by sha256) are the
bytes of the first `checkpoint` run at the first chunk size, whatever the variant and the chunk size; the
stopped run left exactly all partitions but one; no checkpoint is left after a finished job.

Run: `python bench/resume.py [--rows N] [--repeats N] [--num-samples N] [--chunk-sizes 8192,1000]`.
Writes `bench/results/resume.json` and `.md` (another `--rows` than the default writes `resume_<rows>.*`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (before numpy: single-threaded BLAS)
import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
CHECKPOINT = ".openclarify-checkpoint"
DEFAULT_ROWS = 100_000
TARGET_RATIO = 1.05
FEATURES = 8


class Stopped(BaseException):
    """The job's process 'dies' here (openclarify catches no BaseException that is not its own)."""


class StopAfter:
    """A predictor that stops the job once it has been asked for more than ``rows`` predictions."""

    def __init__(self, inner: Any, rows: int) -> None:
        self.inner = inner
        self.rows = rows
        self.seen = 0

    def predict(self, records: Any) -> Any:
        self.seen += len(records)
        if self.seen > self.rows:
            raise Stopped
        return self.inner.predict(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CheckpointTimer:
    """Adds up the time spent in the checkpoint's code, by wrapping it: ``Checkpoint.commit`` (pickle, sha256,
    write a part and its record), ``Checkpoint.load`` (read, check and unpickle a part: the restore),
    ``Checkpoint.open``, ``Checkpoint.remove`` and the job's fingerprint (``_pipeline._fingerprint``)."""

    NAMES = ("commit", "load", "open", "remove", "fingerprint")

    def __init__(self) -> None:
        import openclarify._pipeline as pipeline
        from openclarify.outputs._checkpoint import Checkpoint

        self.seconds = dict.fromkeys(self.NAMES, 0.0)
        self.calls = dict.fromkeys(self.NAMES, 0)

        def timed(name: str, fn: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds[name] += time.perf_counter() - t0
                    self.calls[name] += 1

            return wrapper

        for name in ("commit", "load", "remove"):
            setattr(Checkpoint, name, timed(name, getattr(Checkpoint, name)))
        Checkpoint.open = classmethod(timed("open", Checkpoint.open.__func__))  # type: ignore[method-assign]
        pipeline._fingerprint = timed("fingerprint", pipeline._fingerprint)

    def reset(self) -> None:
        self.seconds = dict.fromkeys(self.NAMES, 0.0)
        self.calls = dict.fromkeys(self.NAMES, 0)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file but run_summary.json and hidden files (or files in hidden folders)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.name != "run_summary.json"
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def tree_bytes(folder: Path) -> tuple[int, int]:
    """Bytes and number of the files under ``folder``."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def spread(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "spread_pct": 100 * (max(values) - min(values)) / statistics.median(values),
        "values": values,
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import joblib
    from sklearn.ensemble import RandomForestRegressor

    from openclarify import run_analysis
    from openclarify.config import parse_analysis_config
    from openclarify.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--chunk-sizes", default="8192,1000", help="comma-separated partition sizes")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed)")
    args = parser.parse_args(argv)
    chunk_sizes = [int(x) for x in args.chunk_sizes.split(",")]
    started = time.perf_counter()
    load_before = load()

    work = Path(tempfile.mkdtemp(prefix="oc-resume-bench-"))
    rng = np.random.default_rng(0)
    names = [f"x{j}" for j in range(FEATURES)]
    train = pd.DataFrame(rng.normal(size=(5000, FEATURES)), columns=names)
    target = train["x0"] * train["x1"] + train["x2"] + np.sin(3 * train["x3"])
    forest = RandomForestRegressor(n_estimators=30, n_jobs=1, random_state=0).fit(train, target)
    joblib.dump(forest, work / "forest.joblib")
    data = pd.DataFrame(rng.normal(size=(args.rows, FEATURES)), columns=names)
    data.to_csv(work / "data.csv", index=False)
    for n in (500, 1000):
        data.head(n).to_csv(work / f"probe{n}.csv", index=False)
    model = load_model(str(work / "forest.joblib"))
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "predictor": {"content_type": "text/csv", "accept_type": "text/csv"},
            "methods": {
                "shap": {
                    "baseline": [[0.0] * FEATURES],
                    "num_samples": args.num_samples,
                    "seed": 1,
                    "save_local_shap_values": True,
                }
            },
        }
    )
    timer = CheckpointTimer()

    def job(out: Path, chunksize: int, predictor: Any = model, data_file: str = "data.csv", **options: Any) -> Any:
        # one model name for every run: the checkpoint's fingerprint names the model, and the stopped run's
        # predictor is a wrapper
        return run_analysis(config, model=predictor, output_dir=out, data=work / data_file, chunksize=chunksize,
                            model_description="forest.joblib", **options)  # fmt: skip

    # model rows a job asks for: base + per_record x records (and a warm-up of the imports)
    probe = {
        n: job(work / f"probe{n}", 8192, data_file=f"probe{n}.csv", overwrite=True).model_rows for n in (500, 1000)
    }
    per_record = (probe[1000] - probe[500]) / 500
    base_rows = probe[500] - 500 * per_record
    print(f"model rows: {base_rows:.0f} + {per_record:.0f} per record", flush=True)

    stopped: dict[int, dict[str, Any]] = {}
    for cs in chunk_sizes:
        n_parts = -(-args.rows // cs)
        last = args.rows - (n_parts - 1) * cs
        stop_at = int(base_rows + (args.rows - last / 2) * per_record)
        out = work / f"stopped_{cs}"
        timer.reset()
        t0 = time.perf_counter()
        try:
            job(out, cs, predictor=StopAfter(model, stop_at))
        except Stopped:
            pass
        else:
            raise AssertionError(f"chunksize {cs}: the job finished before {stop_at} model rows")
        wall = time.perf_counter() - t0
        parts = sorted((out / CHECKPOINT).rglob("part-*.json"))
        assert len(parts) == n_parts - 1, f"chunksize {cs}: {len(parts)} committed parts, want {n_parts - 1}"
        assert not (out / "analysis.json").exists()
        size, files = tree_bytes(out / CHECKPOINT)
        pickles = sorted((out / CHECKPOINT).rglob("part-*.pickle"))
        stopped[cs] = {
            "partitions": n_parts,
            "last_partition_rows": last,
            "stopped_after_model_rows": stop_at,
            "committed_partitions": len(parts),
            "checkpoint_bytes": size,
            "checkpoint_files": files,
            "largest_part_bytes": max(p.stat().st_size for p in pickles),
            "wall_s": wall,
            "checkpoint_code_s": dict(timer.seconds),
        }
        print(f"stopped cs={cs}: {json.dumps(stopped[cs])}", flush=True)

    variants = ["checkpoint", "no-checkpoint", "resume"]
    runs: list[dict[str, Any]] = []
    reference: dict[str, str] | None = None
    output_bytes: dict[int, int] = {}
    for rep in range(args.repeats):
        for cs in chunk_sizes:
            order = variants[rep % 3 :] + variants[: rep % 3]
            for variant in order:
                out = work / f"{variant}_{cs}"
                shutil.rmtree(out, ignore_errors=True)
                options: dict[str, Any] = {}
                if variant == "resume":
                    shutil.copytree(work / f"stopped_{cs}", out)
                    options["resume"] = True
                else:
                    options["checkpoint"] = variant == "checkpoint"
                timer.reset()
                load_at = os.getloadavg()[0]
                t0 = time.perf_counter()
                result = job(out, cs, **options)
                wall = time.perf_counter() - t0
                files = digest(out)
                assert not (out / CHECKPOINT).exists(), f"{variant} cs={cs}: a checkpoint was left"
                if reference is None:
                    reference = files
                if files != reference:
                    differ = sorted(k for k in set(files) | set(reference) if files.get(k) != reference.get(k))
                    raise AssertionError(f"{variant} cs={cs} rep {rep}: files differ from the reference: {differ}")
                if variant == "resume":
                    assert result.restored_partitions == stopped[cs]["partitions"] - 1, result.restored_partitions
                output_bytes[cs] = tree_bytes(out)[0]
                run = {
                    "repeat": rep,
                    "chunksize": cs,
                    "variant": variant,
                    "wall_s": wall,
                    "explain_s": result.explain_seconds,
                    "model_s": result.model_seconds,
                    "model_rows": result.model_rows,
                    "checkpoint_code_s": timer.total,
                    "checkpoint_code": {k: [timer.calls[k], timer.seconds[k]] for k in timer.NAMES},
                    "restored_partitions": result.restored_partitions,
                    "load_1min_before": round(load_at, 2),
                }
                runs.append(run)
                print(json.dumps(run), flush=True)

    cells: dict[str, Any] = {}
    for cs in chunk_sizes:
        walls = {v: [r["wall_s"] for r in runs if r["chunksize"] == cs and r["variant"] == v] for v in variants}
        by_repeat = {(r["variant"], r["repeat"]): r["wall_s"] for r in runs if r["chunksize"] == cs}
        pairs = {
            v: [by_repeat[v, rep] / by_repeat["no-checkpoint", rep] for rep in range(args.repeats)]
            for v in ("checkpoint", "resume")
        }
        ours = [r for r in runs if r["chunksize"] == cs and r["variant"] == "checkpoint"]
        code = [r["checkpoint_code_s"] for r in ours]
        full = [r["wall_s"] for r in ours]
        resumed = [r for r in runs if r["chunksize"] == cs and r["variant"] == "resume"]
        cells[str(cs)] = {
            "wall_s": {v: spread(walls[v]) for v in variants},
            "ratio_checkpoint_over_off_median_walls": statistics.median(walls["checkpoint"])
            / statistics.median(walls["no-checkpoint"]),
            "ratio_checkpoint_over_off_per_repeat": spread(pairs["checkpoint"]),
            "checkpoint_code_s": spread(code),
            "commit_s": spread([r["checkpoint_code"]["commit"][1] for r in ours]),
            "checkpoint_code_share_of_wall": spread([c / w for c, w in zip(code, full, strict=True)]),
            "resume_restore_s": spread([r["checkpoint_code"]["load"][1] for r in resumed]),
            "resume_checkpoint_code_s": spread([r["checkpoint_code_s"] for r in resumed]),
            "resume_over_full_median_walls": statistics.median(walls["resume"])
            / statistics.median(walls["checkpoint"]),
            "resume_over_off_per_repeat": spread(pairs["resume"]),
            "last_partition_share_of_records": stopped[cs]["last_partition_rows"] / args.rows,
            "output_bytes": output_bytes[cs],
            "stopped": stopped[cs],
        }

    load_after = load()
    result = {
        "benchmark": "resume",
        "args": vars(args),
        "environment": _common.environment(
            ["numpy", "pandas", "scikit-learn"], openclarify=_common.version("openclarify")
        ),
        "source": _common.source_info(
            ["src/openclarify", "bench/resume.py"],
            [
                ROOT_SRC / "_pipeline.py",
                ROOT_SRC / "outputs" / "_checkpoint.py",
                ROOT_SRC / "outputs" / "_staging.py",
                ROOT_SRC / "backends" / "_local.py",
            ],
        ),
        "model_rows": {"base": base_rows, "per_record": per_record},
        "load_before": load_before,
        "load_after": load_after,
        "total_s": time.perf_counter() - started,
        "same_bytes": True,  # asserted for every run above
        "files": sorted(reference or {}),
        "cells": cells,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "resume" if args.rows == DEFAULT_ROWS else f"resume_{args.rows}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    (RESULTS / f"{stem}.md").write_text(md)
    print(md)
    if args.keep:
        print(f"work folder: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return result


ROOT_SRC = _common.ROOT / "src" / "openclarify"


def _s(cell: dict[str, Any]) -> str:
    return f"{cell['median']:.2f} ({cell['min']:.2f}-{cell['max']:.2f})"


def _ms(cell: dict[str, Any]) -> str:
    return f"{1000 * cell['median']:.1f} ({1000 * cell['min']:.1f}-{1000 * cell['max']:.1f})"


def _r(cell: dict[str, Any], digits: int = 3) -> str:
    return f"{cell['median']:.{digits}f} ({cell['min']:.{digits}f}-{cell['max']:.{digits}f})"


def markdown(result: dict[str, Any]) -> str:
    a = result["args"]
    env = result["environment"]
    fmt_load = ", ".join(f"{x:.2f}" for x in result["load_before"]), ", ".join(f"{x:.2f}" for x in result["load_after"])
    lines = [
        "# The cost of checkpoints (`bench/resume.py`)",
        "",
        f"{a['rows']:,} records x {FEATURES} features, RandomForestRegressor(30 trees, n_jobs=1), Kernel SHAP "
        f"num_samples {a['num_samples']}, one baseline row, save_local_shap_values, local backend; "
        f"{result['model_rows']['per_record']:.0f} model rows per record. {a['repeats']} repeats, the variants "
        f"of a chunk size interleaved (order rotated every repeat); median (min-max) of the repeats. "
        f"{env['cpu_count']} CPUs, shared: load average (1, 5, 15 min) {fmt_load[0]} before and {fmt_load[1]} "
        f"after; the numbers were taken under that load (the 1-min load before each run is in the JSON). "
        f"Whole script {result['total_s'] / 60:.1f} min. git {result['source'].get('git_head', '?')[:10]}"
        f"{' (src modified)' if result['source'].get('src_dirty') else ''}.",
        "",
        f"Every run's files (all but run_summary.json, by sha256: {len(result['files'])} files) are the same bytes "
        "for every variant and chunk size, the resumed runs' included.",
        "",
        "| chunksize (partitions) | checkpoint s | no checkpoint s | ratio of medians | ratio per repeat | "
        "in checkpoint code ms (share of wall) | target <= 1.05 |",
        "|---|---|---|---|---|---|---|",
    ]
    for cs, c in result["cells"].items():
        w = c["wall_s"]
        ratio = c["ratio_checkpoint_over_off_median_walls"]
        share = c["checkpoint_code_share_of_wall"]
        lines.append(
            f"| {int(cs):,} ({c['stopped']['partitions']}) | {_s(w['checkpoint'])} | {_s(w['no-checkpoint'])} | "
            f"{ratio:.3f} | {_r(c['ratio_checkpoint_over_off_per_repeat'])} | {_ms(c['checkpoint_code_s'])} "
            f"({100 * share['median']:.1f} %) | "
            f"{'met' if ratio <= TARGET_RATIO else 'not met'} by the walls, "
            f"{'met' if 1 + share['max'] <= TARGET_RATIO else 'not met'} by the code's time |"
        )
    lines += [
        "",
        "| chunksize | checkpoint at its largest (parts) | largest part | output files | resume s (restores all "
        "but one) | of which restoring ms | resume / full | last partition's share of records |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cs, c in result["cells"].items():
        st = c["stopped"]
        lines.append(
            f"| {int(cs):,} | {st['checkpoint_bytes'] / 2**20:.1f} MiB ({st['committed_partitions']}) | "
            f"{st['largest_part_bytes'] / 2**20:.2f} MiB | {c['output_bytes'] / 2**20:.1f} MiB | "
            f"{_s(c['wall_s']['resume'])} | {_ms(c['resume_restore_s'])} | {c['resume_over_full_median_walls']:.3f} | "
            f"{c['last_partition_share_of_records']:.3f} |"
        )
    lines += [
        "",
        "checkpoint / no checkpoint: wall time of `run_analysis`, reading the CSV and writing the files included. "
        '"ratio per repeat": the two runs of the same repeat (next to each other in time) divided, median (min-max). '
        '"in checkpoint code": time inside `Checkpoint.commit` (pickle, sha256, write part and record), '
        "`Checkpoint.open`, `.remove` and the fingerprint: the direct cost, which the wall-time ratio cannot resolve "
        'on a loaded machine (its spread between repeats is larger). "of which restoring": time inside '
        "`Checkpoint.load` (read, check the sha256, unpickle). "
        "The checkpoint at its largest is measured in a run stopped in its last partition (all partitions but that "
        "one committed); resume = `resume=True` on a copy of that folder: it reads and checks the committed parts "
        "and computes the last partition.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
