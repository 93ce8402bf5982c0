"""Rows/s of `analyze` on the local backend against a local Dask cluster of 1 and 2 worker processes.

Two models on 12,000 random records (8 features, Kernel SHAP with 128 samples, one baseline row):
a scikit-learn RandomForest (100 trees, n_jobs=1), and a pure-Python model (a loop over the records:
it holds the GIL, so threads cannot run two at once, and only processes can). Each job runs through
`run_analysis` with the same seed; the files of every run are compared with the local run's, byte for
byte. The cluster's start-up is timed apart from the jobs (it is paid once per `analyze`). The partition
size is `--chunk-size` (default 750 records, 16 partitions).

Run: `python bench/dask_backend.py`. Writes `bench/results/dask_backend.json` and `.md`.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

RESULTS = Path(__file__).parent / "results"

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


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "run_summary.json" and not p.name.startswith(".")
    }


def main(argv: list[str] | None = None) -> dict:
    import joblib
    from sklearn.ensemble import RandomForestRegressor

    from openclarify import run_analysis
    from openclarify.config import parse_analysis_config
    from openclarify.models import FileModelSpec, load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12000)
    parser.add_argument("--chunk-size", type=int, default=750)
    parser.add_argument("--num-samples", type=int, default=128)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="oc-dask-bench-"))
    rng = np.random.default_rng(0)
    names = [f"x{j}" for j in range(8)]
    X = pd.DataFrame(rng.normal(size=(args.rows, 8)), columns=names)
    X.to_csv(work / "data.csv", index=False)
    forest = RandomForestRegressor(n_estimators=100, n_jobs=1, random_state=0).fit(X, X["x0"] * X["x1"] + X["x2"])
    joblib.dump(forest, work / "forest.joblib")
    (work / "model.py").write_text(PYTHON_MODEL)
    models = {
        "RandomForest(100, n_jobs=1)": str(work / "forest.joblib"),
        "pure-Python loop": f"{work / 'model.py'}:predict",
    }
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "predictor": {"content_type": "text/csv", "accept_type": "text/csv"},
            "methods": {
                "shap": {
                    "baseline": [[0.0] * 8],
                    "num_samples": args.num_samples,
                    "seed": 1,
                    "save_local_shap_values": True,
                }
            },  # fmt: skip
        }
    )
    import distributed

    rows = []
    for label, spec in models.items():
        model = load_model(spec)
        timings: dict[str, float] = {}
        same: dict[str, bool] = {}
        start = time.perf_counter()
        run_analysis(config, model=model, output_dir=work / "local", data=work / "data.csv",
                     chunksize=args.chunk_size, overwrite=True)  # fmt: skip
        timings["local"] = time.perf_counter() - start
        want = _digest(work / "local")
        for workers in (1, 2):
            t0 = time.perf_counter()
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address="127.0.0.1:0")  # fmt: skip
            timings[f"start_{workers}"] = time.perf_counter() - t0
            try:
                out = work / f"dask{workers}"
                start = time.perf_counter()
                run_analysis(config, model=model, output_dir=out, data=work / "data.csv", chunksize=args.chunk_size,
                             overwrite=True, backend="dask", scheduler=cluster.scheduler_address,
                             model_spec=FileModelSpec.of(spec))  # fmt: skip
                timings[f"dask_{workers}"] = time.perf_counter() - start
                same[f"dask_{workers}"] = _digest(out) == want
            finally:
                cluster.close()
        row = {
            "model": label,
            "rows_per_s_local": args.rows / timings["local"],
            **{f"rows_per_s_dask_{w}": args.rows / timings[f"dask_{w}"] for w in (1, 2)},
            "dask_2_over_local": timings["local"] / timings["dask_2"],
            "dask_2_over_dask_1": timings["dask_1"] / timings["dask_2"],
            "cluster_start_s": {w: timings[f"start_{w}"] for w in (1, 2)},
            "same_bytes": same,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"benchmark": "dask_backend", "args": vars(args), "cpus": os.cpu_count(), "load": os.getloadavg(),
              "rows": rows}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dask_backend.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# `analyze` on a local Dask cluster (`bench/dask_backend.py`)",
        "",
        f"{args.rows} records x 8 features, Kernel SHAP num_samples {args.num_samples}, partitions of "
        f"{args.chunk_size} records; {os.cpu_count()} CPUs, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}. Cluster start-up timed apart.",
        "",
        "| model | local rows/s | dask 1 worker | dask 2 workers | 2 workers / local | 2 / 1 worker | "
        "cluster start s (1, 2) | same bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['rows_per_s_local']:.0f} | {r['rows_per_s_dask_1']:.0f} | "
            f"{r['rows_per_s_dask_2']:.0f} | {r['dask_2_over_local']:.2f}x | {r['dask_2_over_dask_1']:.2f}x | "
            f"{r['cluster_start_s'][1]:.1f}, {r['cluster_start_s'][2]:.1f} | {all(r['same_bytes'].values())} |"
        )
    (RESULTS / "dask_backend.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
