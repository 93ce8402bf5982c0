"""Speed-up from worker threads (`kernel_shap(n_jobs=...)`), and a check that results are identical.

Three scikit-learn models on the M = 12 synthetic game of `tabular_games.py`'s kind, 512 rows,
B = 1024, one baseline row; each timing is the best of 3. Run: `python bench/threads.py`.
Writes `bench/results/threads.json` and `bench/results/threads.md`.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from openclarify.shapley import kernel_shap  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    rng = np.random.default_rng(0)
    n_features, rows, budget = 12, 512, 1024
    X = rng.normal(size=(3000, n_features))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) - X[:, 3] * X[:, 4] * X[:, 5] > 0
    gbm = GradientBoostingClassifier(n_estimators=200, max_depth=4, random_state=0).fit(X, y)
    mlp = MLPClassifier((64, 64), max_iter=300, random_state=0).fit(X, y)
    forest = RandomForestRegressor(n_estimators=100, min_samples_leaf=5, n_jobs=1, random_state=0).fit(X, y * 1.0)
    models = {
        "GradientBoostingClassifier(200, depth 4)": lambda Z: gbm.predict_proba(Z)[:, 1],
        "MLPClassifier(64, 64)": lambda Z: mlp.predict_proba(Z)[:, 1],
        "RandomForestRegressor(100, n_jobs=1)": forest.predict,
    }
    test = rng.normal(size=(rows, n_features))
    base = X.mean(axis=0, keepdims=True)
    cells = []
    for name, model in models.items():
        timings, phis = {}, {}
        for n_jobs in (1, 2):
            best = np.inf
            for _ in range(3):
                start = time.perf_counter()
                res = kernel_shap(model, test, base, num_samples=budget, seed=0, n_jobs=n_jobs)
                best = min(best, time.perf_counter() - start)
            timings[n_jobs], phis[n_jobs] = best, res.phi
        cells.append(
            {
                "model": name,
                "ms_per_row_1_thread": 1e3 * timings[1] / rows,
                "ms_per_row_2_threads": 1e3 * timings[2] / rows,
                "speedup": timings[1] / timings[2],
                "bit_identical": bool(np.array_equal(phis[1], phis[2])),
            }
        )
        print(cells[-1])
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "threads.json").write_text(json.dumps({"environment": env, "cells": cells}, indent=2) + "\n")
    lines = [
        "# Worker threads (M = 12, B = 1024, 512 rows, best of 3)",
        "",
        f"Environment: {env}",
        "",
        "| model | 1 thread ms/row | 2 threads ms/row | speed-up | identical |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['model']} | {c['ms_per_row_1_thread']:.2f} | {c['ms_per_row_2_threads']:.2f} | "
        f"{c['speedup']:.2f}x | {c['bit_identical']} |"
        for c in cells
    ]
    (RESULTS / "threads.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
