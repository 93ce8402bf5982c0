#!/usr/bin/env python
"""``target_error``: model calls to reach a standard error, in rounds against the fixed budgets.

For each game (exact Shapley values known) and target ``t`` (a fraction of the game's largest |phi|):

* ``rounds``: ``kernel_shap(estimator="gp", target_error=t, num_samples=4096)``: the model rows it scored,
  the share of records whose largest standard error reached ``t``, and the actual errors;
* ``fixed``: ``kernel_shap(estimator="gp", num_samples=B)`` for B in 64, 128, ..., 4096: the smallest B at
  which every record's largest standard error is at most ``t`` ("a fixed budget that achieves it"), and
  its model rows.

The ratio rounds / fixed (model rows) below 1 means the rounds got there with fewer model calls. The
actual error columns show what the standard errors promise: the RMS error of the values, and the share
of values within 1.96 standard errors of the exact value.

Usage::

    python bench/target_error.py            # -> bench/results/target_error.{json,md}
    python bench/target_error.py --quick    # fewer rows -> target_error_quick.*
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import _common  # noqa: I001 - first: single-threaded BLAS / OpenMP before numpy is imported
import numpy as np

warnings.filterwarnings("ignore")

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.svm import SVR  # noqa: E402
from tabular_games import make_data  # noqa: E402

from openclarify.shapley import kernel_shap  # noqa: E402

HERE = Path(__file__).resolve().parent
BUDGETS = (64, 128, 256, 512, 1024, 2048, 4096)
CAP = 4096
TARGETS = (0.02, 0.005, 0.002)  # of the game's largest |phi|


def exact(f: Any, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact interventional Shapley values against one baseline row, by enumerating 2**M coalitions."""
    m = len(x)
    z = np.array(list(itertools.product([0, 1], repeat=m)), dtype=bool)
    v = f(np.where(z, x, b))
    index = z @ (1 << np.arange(m)[::-1])
    where = np.empty(len(z), dtype=np.int64)
    where[index] = np.arange(len(z))
    size = z.sum(axis=1)
    w = np.array([math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)])
    phi = np.zeros(m)
    for i in range(m):
        without = np.flatnonzero(~z[:, i])
        with_i = where[index[without] | (1 << (m - 1 - i))]
        phi[i] = np.sum(w[size[without]] * (v[with_i] - v[without]))
    return phi


def games(rows: int) -> list[tuple[str, Any, np.ndarray, np.ndarray]]:
    out = []
    X, y = load_diabetes(return_X_y=True)
    gbm = GradientBoostingRegressor(n_estimators=200, max_depth=4, random_state=0).fit(X[:300], y[:300])
    out.append(("diabetes10-gbm", gbm.predict, X[300 : 300 + rows], X[:300].mean(axis=0)))
    svr = SVR(C=100).fit(X[:300], y[:300])
    out.append(("diabetes10-svr", svr.predict, X[300 : 300 + rows], X[:300].mean(axis=0)))
    x, yy = make_data(12, 3000, np.random.default_rng(20240611))
    test = make_data(12, rows, np.random.default_rng(7))[0]
    g = GradientBoostingClassifier(n_estimators=200, max_depth=4, random_state=0).fit(x, yy)
    out.append(("syn12-gbm", lambda a: g.predict_proba(a)[:, 1], test, x.mean(axis=0)))
    mlp = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=500, random_state=0).fit(x, yy)
    out.append(("syn12-mlp", lambda a: mlp.predict_proba(a)[:, 1], test, x.mean(axis=0)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows, seeds = (6, 1) if args.quick else (16, 3)
    started = time.perf_counter()
    cells = []
    for name, f, X, b in games(rows):
        truth = np.array([exact(f, x, b) for x in X])
        scale = float(np.abs(truth).max())
        for share, seed in itertools.product(TARGETS, range(seeds)):
            t = share * scale
            r = kernel_shap(f, X, b[None], num_samples=CAP, seed=seed, estimator="gp", target_error=t)
            err = r.phi[:, :, 0] - truth
            cell: dict[str, Any] = {
                "game": name, "target_share": share, "target": t, "seed": seed, "rounds_model_rows": r.model_rows,
                "rounds_met": float(r.target_met.mean()), "rounds_mean_num_samples": float(r.record_num_samples.mean()),
                "rounds_rms_error": float(np.sqrt((err**2).mean())),
                # an exact value has standard error 0 and an error of rounding: within 1e-9 of the scale counts
                "rounds_covered": float((np.abs(err) <= 1.96 * r.stderr[:, :, 0] + 1e-9 * scale).mean()),
            }  # fmt: skip
            cell["fixed_budget"] = None
            for budget in BUDGETS:
                fixed = kernel_shap(f, X, b[None], num_samples=budget, seed=seed, estimator="gp")
                if (fixed.stderr.reshape(len(X), -1).max(axis=1) <= t).all() or budget == BUDGETS[-1]:
                    achieved = bool((fixed.stderr.reshape(len(X), -1).max(axis=1) <= t).all())
                    ferr = fixed.phi[:, :, 0] - truth
                    cell.update(fixed_budget=budget if achieved else None, fixed_model_rows=fixed.model_rows,
                                fixed_rms_error=float(np.sqrt((ferr**2).mean())))  # fmt: skip
                    break
            cell["ratio"] = (cell["rounds_model_rows"] / cell["fixed_model_rows"]) if cell["fixed_budget"] else None
            cells.append(cell)
            print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in cell.items()}), flush=True)
    out = HERE / "results" / ("target_error_quick" if args.quick else "target_error")
    env = _common.environment(["numpy", "scipy", "scikit-learn"], openclarify=_common.version("openclarify"))
    document = {"environment": env, "rows": rows, "seeds": seeds, "cap": CAP, "budgets": BUDGETS, "cells": cells,
                "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        "# target_error: model rows to reach a standard error (`bench/target_error.py`)",
        "",
        f"{rows} rows x {seeds} seeds per game and target; rounds capped at num_samples = {CAP}; fixed budgets "
        f"{', '.join(map(str, BUDGETS))}. Target = a share of the game's largest |phi|. Single-threaded BLAS, "
        f"{env['cpu_count']} CPUs; {document['seconds']} s.",
        "",
        "| game | target (share of max abs phi) | rounds: model rows | met | mean coalitions | RMS error "
        "| within 1.96 SE | smallest fixed budget that achieves it | its model rows | its RMS error | rounds / fixed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, group in itertools.groupby(cells, key=lambda c: (c["game"], c["target_share"])):
        g = list(group)

        def mean(k: str, g: list[dict[str, Any]] = g) -> float:
            values = [c[k] for c in g if c.get(k) is not None]
            return float(np.mean(values)) if values else math.nan

        budgets = sorted({c["fixed_budget"] for c in g if c["fixed_budget"]})
        lines.append(
            f"| {key[0]} | {key[1]} | {mean('rounds_model_rows'):.0f} | {mean('rounds_met'):.0%} | "
            f"{mean('rounds_mean_num_samples'):.0f} | {_common.fmt(mean('rounds_rms_error'), 3)} | "
            f"{mean('rounds_covered'):.1%} | {'/'.join(map(str, budgets)) or 'none <= ' + str(CAP)} | "
            f"{mean('fixed_model_rows'):.0f} | {_common.fmt(mean('fixed_rms_error'), 3)} | "
            f"{_common.fmt(mean('ratio'), 3)} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
