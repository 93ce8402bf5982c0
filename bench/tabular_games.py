#!/usr/bin/env python
"""Tabular-games benchmark of openclarify's Kernel SHAP (algorithms.md section 7, tabular exact regime).

Synthetic data as in algorithms.md section 6 (correlated Gaussian features, binary target from a logit
with interactions), M in {8, 12, 16} features, three sklearn probability models, a single baseline row
(the training mean). Ground truth: exact Shapley values by enumerating all 2**M coalitions. Every method
plays the same game against the same baseline at the same budget B, in one process:

* ``ours-leverage`` / ``ours-kernel``: ``openclarify.shapley.kernel_shap(allocation=...)``
* ``shap-l1off`` / ``shap-default``: ``shap.KernelExplainer(f, baseline, link="identity").shap_values(
  X, nsamples=B, l1_reg=False | <default>, silent=True)``
* ``shapiq``: ``shapiq.KernelSHAP(n=M, max_order=1, pairing_trick=True, random_state=seed)`` with
  ``budget=B+2`` (the empty and the full coalition are part of shapiq's budget)

Usage::

    python bench/tabular_games.py            # full run  -> bench/results/tabular_games.{json,md}
    python bench/tabular_games.py --quick    # smoke run -> bench/results/tabular_games_quick.{json,md}
"""

from __future__ import annotations

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import _common  # noqa: I001 - first: single-threaded BLAS / OpenMP before numpy is imported
import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")

import shap  # noqa: E402
from shapiq import KernelSHAP as ShapiqKernelSHAP  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from openclarify.shapley import kernel_shap  # noqa: E402

TimedModel = _common.TimedModel

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

N_TRAIN = 3000
DATA_SEED = 20240611
TEST_SEED = 7
FEATURE_COUNTS = (8, 12, 16)
BUDGETS = (256, 512, 1024, 2048)  # the protocol budgets (targets are judged on these)
EXTRA_SMALL_BUDGETS = (64, 128)  # M = 8 only: every protocol budget there is >= 2**8 - 2 (exact)
MODELS = ("gbm", "lr_proba", "mlp")
METHODS = ("ours-leverage", "ours-kernel", "shap-l1off", "shap-default", "shapiq")
OURS = ("ours-leverage", "ours-kernel")

# Targets (bench/README.md): judged at every protocol budget, on every model and M where B < 2**M - 2.
TARGET_ERR_VS_SHAP = 0.5
TARGET_OVERHEAD = 0.10
TARGET_SPEEDUP = 20.0

# Cost of ours alone as a function of the number of rows explained in one kernel_shap call.
SCALING_ROWS = (1, 32, 128, 512)
SCALING_ROWS_QUICK = (1, 32)
SCALING_BUDGETS = (1024, 2048)
SCALING_REPEATS = 3


# --------------------------------------------------------------------------------------------- data
def make_data(m: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Correlated Gaussian features (Sigma_ij = 0.3**|i-j|) and a Bernoulli target from a nonlinear logit."""
    idx = np.arange(m)
    cov = 0.3 ** np.abs(idx[:, None] - idx[None, :])
    x = rng.standard_normal((n, m)) @ np.linalg.cholesky(cov).T
    beta = np.array([(-1.0) ** j * 0.8 / (1.0 + 0.25 * j) for j in range(m)])
    logit = x @ beta
    logit += 1.0 * x[:, 0] * x[:, 1] - 0.8 * x[:, 2] * x[:, 3]  # pairwise
    logit += 0.6 * x[:, 1] * x[:, 4] * x[:, 5]  # 3-way
    logit += 1.2 * np.sin(2.0 * x[:, 6])  # sin
    logit += 0.5 * (x[:, 7] ** 2 - 1.0)  # square
    logit += 1.0 * np.maximum(0.0, x[:, 3] - 0.5)  # hinge
    if m >= 12:
        logit += 0.7 * x[:, 8] * x[:, 9] - 0.8 * np.sin(x[:, 10]) + 0.8 * np.maximum(0.0, x[:, 11])
        logit += 0.5 * x[:, 0] * x[:, 8] * x[:, 11]
    if m >= 16:
        logit += 0.6 * x[:, 12] * x[:, 14] + 0.4 * (x[:, 13] ** 2 - 1.0) - 0.7 * np.maximum(0.0, -x[:, 15])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return x, y


def fit_models(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    return {
        "gbm": GradientBoostingClassifier(n_estimators=200, max_depth=4, random_state=0).fit(x, y),
        "lr_proba": LogisticRegression(max_iter=2000).fit(x, y),
        "mlp": MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=500, random_state=0).fit(x, y),
    }


# ------------------------------------------------------------------------------------ ground truth
def all_coalitions(m: int) -> np.ndarray:
    """All 2**m coalitions as a boolean matrix; row k is the bit pattern of k (row 0 empty, last full)."""
    return ((np.arange(2**m)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)


def exact_shapley(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Exact Shapley values of v(S) = f(x_S, b_-S) by full enumeration, with ONE model call.

    phi_i = sum_S v(S) * c(S, i) with c = w(|S|-1) if i in S else -w(|S|), w(s) = s!(m-s-1)!/m!.
    """
    m = x.shape[1]
    masks = all_coalitions(m)
    sizes = masks.sum(axis=1)
    w = np.array([math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)])
    w_in = w[np.clip(sizes - 1, 0, m - 1)]
    w_out = w[np.clip(sizes, 0, m - 1)]
    coef = np.where(masks, w_in[:, None], -w_out[:, None])  # (2**m, m)
    records = np.where(masks[None, :, :], x[:, None, :], b[0][None, None, :]).reshape(-1, m)
    values = np.asarray(f(records), dtype=np.float64).reshape(len(x), 2**m)
    phi = values @ coef
    return {"phi": phi, "f_x": values[:, -1], "f_b": values[:, 0]}


# ------------------------------------------------------------------------------------------ methods
def run_ours(model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int, allocation: str) -> np.ndarray:
    res = kernel_shap(model, x, b, num_samples=budget, seed=seed, allocation=allocation)
    return np.asarray(res.phi[:, :, 0])


def run_shap(model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int, l1: bool) -> np.ndarray:
    np.random.seed(seed)  # KernelExplainer samples with numpy's global generator
    explainer = shap.KernelExplainer(model, b, link="identity")
    kwargs: dict[str, Any] = {"nsamples": budget, "silent": True}
    if not l1:
        kwargs["l1_reg"] = False
    sv = explainer.shap_values(x, **kwargs)
    return np.asarray(sv, dtype=np.float64).reshape(len(x), x.shape[1])


def run_shapiq(model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int) -> np.ndarray:
    m = x.shape[1]
    approximator = ShapiqKernelSHAP(n=m, max_order=1, pairing_trick=True, random_state=seed)
    out = np.empty((len(x), m))
    for r in range(len(x)):
        row = x[r]

        def game(coalitions: np.ndarray, row: np.ndarray = row) -> np.ndarray:
            return model(np.where(coalitions.astype(bool), row[None, :], b[0][None, :]))

        iv = approximator.approximate(budget=budget + 2, game=game)
        out[r] = [iv[(i,)] for i in range(m)]
    return out


def run_method(method: str, model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int) -> np.ndarray:
    if method == "ours-leverage":
        return run_ours(model, x, b, budget, seed, "leverage")
    if method == "ours-kernel":
        return run_ours(model, x, b, budget, seed, "kernel")
    if method == "shap-l1off":
        return run_shap(model, x, b, budget, seed, l1=False)
    if method == "shap-default":
        return run_shap(model, x, b, budget, seed, l1=True)
    if method == "shapiq":
        return run_shapiq(model, x, b, budget, seed)
    raise ValueError(method)


# ------------------------------------------------------------------------------------------ metrics
def rel_l2(phi_hat: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.norm(phi_hat - phi, axis=1) / np.linalg.norm(phi, axis=1))


def summarize(
    errs: list[np.ndarray], resid: list[np.ndarray], wall: float, model_s: float, rows: int, calls: int, n_expl: int
) -> dict[str, Any]:
    e = np.concatenate(errs)
    return {
        "n_explanations": int(n_expl),
        "rel_l2_mean": float(e.mean()),
        "rel_l2_median": float(np.median(e)),
        "rel_l2_p90": float(np.quantile(e, 0.9)),
        "rel_l2_se": float(e.std(ddof=1) / np.sqrt(len(e))) if len(e) > 1 else float("nan"),
        "rel_sq_mean": float((e**2).mean()),
        "efficiency_residual_max": float(np.max(np.concatenate(resid))),
        "wall_ms_per_row": 1e3 * wall / n_expl,
        "model_ms_per_row": 1e3 * model_s / n_expl,
        "overhead_ms_per_row": 1e3 * (wall - model_s) / n_expl,
        "engine_overhead": (wall - model_s) / model_s if model_s > 0 else float("nan"),
        "model_rows_per_expl": rows / n_expl,
        "model_calls_per_expl": calls / n_expl,
        "model_calls_total": int(calls),
        "wall_s_total": wall,
        "rel_l2_all": [float(f"{v:.6g}") for v in e],  # per explanation, seed-major (for paired comparisons)
    }


# -------------------------------------------------------------------------------------------- checks
def exactness_check(
    model: TimedModel, x: np.ndarray, b: np.ndarray, truth: dict[str, np.ndarray], shap_rows: int
) -> dict[str, Any]:
    m = x.shape[1]
    full = 2**m - 2
    out: dict[str, Any] = {"M": m, "num_samples": full}
    res = kernel_shap(model, x, b, num_samples=full, seed=0)
    d = res.phi[:, :, 0] - truth["phi"]
    out["ours_exact_flag"] = bool(res.exact)
    out["ours_num_samples_used"] = int(res.num_samples)
    out["ours_max_abs_diff"] = float(np.abs(d).max())
    out["ours_max_rel_l2"] = float(rel_l2(res.phi[:, :, 0], truth["phi"]).max())
    out["ours_pass_1e-9"] = bool(out["ours_max_abs_diff"] <= 1e-9)
    out["truth_efficiency_residual_max"] = float(np.abs(truth["phi"].sum(1) - (truth["f_x"] - truth["f_b"])).max())
    if shap_rows > 0:
        np.random.seed(0)
        sv = run_shap(model, x[:shap_rows], b, full, 0, l1=False)
        out["shap_rows_checked"] = int(shap_rows)
        out["shap_max_abs_diff"] = float(np.abs(sv - truth["phi"][:shap_rows]).max())
    return out


def determinism_check(model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int) -> dict[str, Any]:
    """Same seed -> bit-identical; split rows (first_row) and small batches -> same values."""
    r1 = kernel_shap(model, x, b, num_samples=budget, seed=3)
    r2 = kernel_shap(model, x, b, num_samples=budget, seed=3)
    h = len(x) // 2
    a = kernel_shap(model, x[:h], b, num_samples=budget, seed=3)
    c = kernel_shap(model, x[h:], b, num_samples=budget, seed=3, first_row=h)
    split = np.concatenate([a.phi, c.phi])
    small = kernel_shap(model, x, b, num_samples=budget, seed=3, max_batch_rows=1000)
    return {
        "budget": budget,
        "same_seed_bit_identical": bool(np.array_equal(r1.phi, r2.phi)),
        "split_rows_max_abs_diff": float(np.abs(split - r1.phi).max()),
        "small_batches_max_abs_diff": float(np.abs(small.phi - r1.phi).max()),
        "small_batches_model_calls": int(small.model_calls),
    }


def scaling_cells(
    model: TimedModel, name: str, pool: np.ndarray, b: np.ndarray, rows_list: tuple[int, ...]
) -> list[dict[str, Any]]:
    """Cost of ours (leverage) per row when R rows are explained in one call; median of a few repeats."""
    out = []
    for budget in SCALING_BUDGETS:
        for n in rows_list:
            xs = pool[:n]
            walls, models, rows, calls = [], [], 0, 0
            for rep in range(SCALING_REPEATS):
                model.reset()
                t0 = time.perf_counter()
                run_ours(model, xs, b, budget, rep, "leverage")
                walls.append(time.perf_counter() - t0)
                models.append(model.seconds)
                rows, calls = model.rows, model.calls
            w, ms = float(np.median(walls)), float(np.median(models))
            out.append(
                {
                    "model": name,
                    "M": b.shape[1],
                    "B": budget,
                    "rows": n,
                    "repeats": SCALING_REPEATS,
                    "wall_ms_per_row": 1e3 * w / n,
                    "model_ms_per_row": 1e3 * ms / n,
                    "overhead_ms_per_row": 1e3 * (w - ms) / n,
                    "engine_overhead": (w - ms) / ms,
                    "model_rows_per_expl": rows / n,
                    "model_calls": calls,
                }
            )
    return out


def source_info() -> dict[str, Any]:
    """Which estimator code was measured: git HEAD, whether src/ differs from it, and file hashes."""
    shapley = HERE.parent / "src" / "openclarify" / "shapley"
    return _common.source_info(["src/openclarify/shapley", "src/openclarify/models"], sorted(shapley.glob("*.py")))


# ------------------------------------------------------------------------------------------- driver
def environment() -> dict[str, Any]:
    return _common.environment(("numpy", "scikit-learn", "shap", "shapiq", "openclarify"))


def run(quick: bool) -> dict[str, Any]:
    n_rows = 6 if quick else 32
    seeds = list(range(2 if quick else 6))
    shap_rows = n_rows  # rows given to shap.KernelExplainer (the first shap_rows test rows)
    source = source_info()
    started = time.perf_counter()
    test_rng = np.random.default_rng(TEST_SEED)
    cells: list[dict[str, Any]] = []
    exact_checks: list[dict[str, Any]] = []
    determinism: list[dict[str, Any]] = []
    truth_info: list[dict[str, Any]] = []
    model_info: list[dict[str, Any]] = []
    scaling: list[dict[str, Any]] = []

    for m in FEATURE_COUNTS:
        x_train, y_train = make_data(m, N_TRAIN, np.random.default_rng(DATA_SEED + m))
        x_test_pool, y_test = make_data(m, 2000, np.random.default_rng(DATA_SEED + 1000 + m))
        pick = test_rng.choice(len(x_test_pool), size=n_rows, replace=False)
        x_test = x_test_pool[np.sort(pick)]
        baseline = x_train.mean(axis=0, keepdims=True)
        t0 = time.perf_counter()
        estimators = fit_models(x_train, y_train)
        fit_s = time.perf_counter() - t0
        budgets = [bb for bb in BUDGETS if bb < 2**m - 2]
        if m == 8:
            budgets = list(EXTRA_SMALL_BUDGETS) + budgets
        for name in MODELS:
            est = estimators[name]
            model = TimedModel(lambda x, est=est: est.predict_proba(x)[:, 1])  # P(class 1)
            acc = float((est.predict(x_test_pool) == y_test).mean())
            model_info.append({"model": name, "M": m, "test_accuracy": acc, "fit_seconds_all_models": fit_s})

            t0 = time.perf_counter()
            truth = exact_shapley(model, x_test, baseline)
            truth_info.append(
                {
                    "model": name,
                    "M": m,
                    "rows": n_rows,
                    "seconds": time.perf_counter() - t0,
                    "model_rows": model.rows,
                    "model_calls": model.calls,
                    "phi_l2_mean": float(np.linalg.norm(truth["phi"], axis=1).mean()),
                }
            )
            check_shap_rows = 0 if m > 12 else (n_rows if m == 8 else min(4, n_rows))
            exact_checks.append({"model": name, **exactness_check(model, x_test, baseline, truth, check_shap_rows)})
            if m == 12:
                determinism.append({"model": name, "M": m, **determinism_check(model, x_test, baseline, 1024)})
            print(
                f"[{time.perf_counter() - started:7.1f}s] M={m} {name}: acc={acc:.3f} "
                f"truth {truth_info[-1]['seconds']:.2f}s, exact check ours max|d|="
                f"{exact_checks[-1]['ours_max_abs_diff']:.2e}",
                flush=True,
            )

            # warm-up (import-time and first-call costs are not counted)
            for method in METHODS:
                run_method(method, model, x_test[:2], baseline, budgets[0], 12345)

            target = truth["f_x"] - truth["f_b"]
            for budget in budgets:
                for method in METHODS:
                    rows_for = shap_rows if method.startswith("shap-") else n_rows
                    xs = x_test[:rows_for]
                    errs, resid = [], []
                    wall = model_s = 0.0
                    mrows = mcalls = 0
                    for seed in seeds:
                        model.reset()
                        t1 = time.perf_counter()
                        phi_hat = run_method(method, model, xs, baseline, budget, seed)
                        wall += time.perf_counter() - t1
                        model_s += model.seconds
                        mrows += model.rows
                        mcalls += model.calls
                        errs.append(rel_l2(phi_hat, truth["phi"][:rows_for]))
                        resid.append(np.abs(phi_hat.sum(axis=1) - target[:rows_for]))
                    cell = {
                        "model": name,
                        "M": m,
                        "B": budget,
                        "method": method,
                        "rows": rows_for,
                        "seeds": len(seeds),
                        "protocol_budget": budget in BUDGETS,
                        **summarize(errs, resid, wall, model_s, mrows, mcalls, rows_for * len(seeds)),
                    }
                    cells.append(cell)
                print(
                    f"[{time.perf_counter() - started:7.1f}s]   B={budget}: "
                    + "  ".join(
                        f"{c['method']}={c['rel_l2_mean']:.4f}/{c['wall_ms_per_row']:.1f}ms"
                        for c in cells[-len(METHODS) :]
                    ),
                    flush=True,
                )
            if m >= 12:
                scaling += scaling_cells(
                    model, name, x_test_pool, baseline, SCALING_ROWS_QUICK if quick else SCALING_ROWS
                )

    return {
        "benchmark": "tabular_games",
        "mode": "quick" if quick else "full",
        "environment": environment(),
        "source": source,
        "config": {
            "n_train": N_TRAIN,
            "feature_counts": list(FEATURE_COUNTS),
            "budgets": list(BUDGETS),
            "extra_small_budgets_M8": list(EXTRA_SMALL_BUDGETS),
            "rows": n_rows,
            "shap_rows": shap_rows,
            "seeds": seeds,
            "baseline": "training mean (1 row)",
            "models": list(MODELS),
            "methods": list(METHODS),
            "shapiq_budget": "B + 2",
            "max_batch_rows": "default (16384)",
        },
        "models": model_info,
        "ground_truth": truth_info,
        "exactness_checks": exact_checks,
        "determinism_checks": determinism,
        "cells": cells,
        "scaling": scaling,
        "total_seconds": time.perf_counter() - started,
    }


# ------------------------------------------------------------------------------- ratios and targets
def cell_index(cells: list[dict[str, Any]]) -> dict[tuple[str, int, int, str], dict[str, Any]]:
    return {(c["model"], c["M"], c["B"], c["method"]): c for c in cells}


def paired_z(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Mean of the paired per-explanation error difference a - b over its standard error (< 0: a better)."""
    d = np.asarray(a["rel_l2_all"]) - np.asarray(b["rel_l2_all"])
    se = d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean() / se) if se > 0 else 0.0


def compute_ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    idx = cell_index(results["cells"])
    out = []
    for (model, m, b, method), c in idx.items():
        if method != "ours-leverage":
            continue
        row: dict[str, Any] = {"model": model, "M": m, "B": b, "protocol_budget": c["protocol_budget"]}
        for ours in OURS:
            o = idx[(model, m, b, ours)]
            tag = ours.split("-")[1]
            row[f"err_{tag}_over_shap_l1off"] = o["rel_l2_mean"] / idx[(model, m, b, "shap-l1off")]["rel_l2_mean"]
            row[f"err_{tag}_over_shap_default"] = o["rel_l2_mean"] / idx[(model, m, b, "shap-default")]["rel_l2_mean"]
            row[f"err_{tag}_over_shapiq"] = o["rel_l2_mean"] / idx[(model, m, b, "shapiq")]["rel_l2_mean"]
            row[f"wall_shap_l1off_over_{tag}"] = (
                idx[(model, m, b, "shap-l1off")]["wall_ms_per_row"] / o["wall_ms_per_row"]
            )
            row[f"wall_shap_default_over_{tag}"] = (
                idx[(model, m, b, "shap-default")]["wall_ms_per_row"] / o["wall_ms_per_row"]
            )
            row[f"wall_shapiq_over_{tag}"] = idx[(model, m, b, "shapiq")]["wall_ms_per_row"] / o["wall_ms_per_row"]
        lev = idx[(model, m, b, "ours-leverage")]
        row["z_leverage_vs_shapiq"] = paired_z(lev, idx[(model, m, b, "shapiq")])
        row["z_leverage_vs_shap_l1off"] = paired_z(lev, idx[(model, m, b, "shap-l1off")])
        row["z_leverage_vs_kernel"] = paired_z(lev, idx[(model, m, b, "ours-kernel")])
        row["err_leverage_over_kernel"] = (
            idx[(model, m, b, "ours-leverage")]["rel_l2_mean"] / idx[(model, m, b, "ours-kernel")]["rel_l2_mean"]
        )
        out.append(row)
    return out


def compute_targets(results: dict[str, Any], ratios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Targets for ours with its default allocation (leverage), judged on every protocol cell."""
    idx = cell_index(results["cells"])
    prot = [r for r in ratios if r["protocol_budget"]]
    targets = []

    def worst(rows: list[dict[str, Any]], key: str, higher_is_worse: bool) -> dict[str, Any]:
        return (max if higher_is_worse else min)(rows, key=lambda r: r[key])

    for b in BUDGETS:
        rows = [r for r in prot if r["B"] == b]
        if not rows:
            continue
        w = worst(rows, "err_leverage_over_shap_l1off", True)
        ok = all(r["err_leverage_over_shap_l1off"] <= TARGET_ERR_VS_SHAP for r in rows)
        n_fail = sum(r["err_leverage_over_shap_l1off"] > TARGET_ERR_VS_SHAP for r in rows)
        targets.append(
            {
                "target": f"mean rel L2 <= {TARGET_ERR_VS_SHAP}x shap(l1 off)",
                "B": b,
                "pass": ok,
                "measured": w["err_leverage_over_shap_l1off"],
                "worst_cell": f"{w['model']} M={w['M']}",
                "cells_failing": f"{n_fail}/{len(rows)}",
            }
        )
        w = worst(rows, "err_leverage_over_shapiq", True)
        n_fail = sum(r["err_leverage_over_shapiq"] >= 1.0 for r in rows)
        targets.append(
            {
                "target": "mean rel L2 < shapiq",
                "B": b,
                "pass": n_fail == 0,
                "measured": w["err_leverage_over_shapiq"],
                "worst_cell": f"{w['model']} M={w['M']} (paired z = {w['z_leverage_vs_shapiq']:+.1f})",
                "cells_failing": f"{n_fail}/{len(rows)}",
            }
        )
    for model in MODELS:
        rows = [idx[(model, r["M"], r["B"], "ours-leverage")] for r in prot if r["model"] == model]
        w = max(rows, key=lambda c: c["engine_overhead"])
        n_fail = sum(c["engine_overhead"] > TARGET_OVERHEAD for c in rows)
        targets.append(
            {
                "target": f"engine overhead <= {TARGET_OVERHEAD:.0%} of model time",
                "B": f"{model}",
                "pass": n_fail == 0,
                "measured": w["engine_overhead"],
                "worst_cell": f"M={w['M']} B={w['B']} ({w['overhead_ms_per_row']:.3f} ms/row)",
                "cells_failing": f"{n_fail}/{len(rows)}",
            }
        )
    for b in BUDGETS:
        rows = [r for r in prot if r["B"] == b]
        if not rows:
            continue
        w = worst(rows, "wall_shap_l1off_over_leverage", False)
        n_fail = sum(r["wall_shap_l1off_over_leverage"] < TARGET_SPEEDUP for r in rows)
        targets.append(
            {
                "target": f">= {TARGET_SPEEDUP:.0f}x less wall/row than shap.KernelExplainer",
                "B": b,
                "pass": n_fail == 0,
                "measured": w["wall_shap_l1off_over_leverage"],
                "worst_cell": f"{w['model']} M={w['M']}",
                "cells_failing": f"{n_fail}/{len(rows)}",
            }
        )
    exact = results["exactness_checks"]
    worst_exact = max(exact, key=lambda e: e["ours_max_abs_diff"])
    targets.append(
        {
            "target": "exact (<= 1e-9) at num_samples = 2^M - 2 vs brute force",
            "B": "2^M-2",
            "pass": all(e["ours_pass_1e-9"] and e["ours_exact_flag"] for e in exact),
            "measured": worst_exact["ours_max_abs_diff"],
            "worst_cell": f"{worst_exact['model']} M={worst_exact['M']}",
            "cells_failing": f"{sum(not e['ours_pass_1e-9'] for e in exact)}/{len(exact)}",
        }
    )
    return targets


# ----------------------------------------------------------------------------------------- markdown
def fmt(v: float, digits: int = 4) -> str:
    return _common.fmt(v, digits)


def render_markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    cfg = results["config"]
    idx = cell_index(results["cells"])
    lines: list[str] = []
    add = lines.append
    add(f"# Tabular games benchmark ({results['mode']} run)\n")
    add("Generated by `bench/tabular_games.py`; protocol in `bench/README.md` (algorithms.md section 7).\n")
    add(
        f"Environment: Python {env['python']}, numpy {env['numpy']}, scikit-learn {env['scikit-learn']}, "
        f"shap {env['shap']}, shapiq {env['shapiq']}, openclarify {env['openclarify']}; {env['platform']}, "
        f"{env['cpu_count']} CPUs, BLAS threads = {env['blas_threads']}. Total run time "
        f"{results['total_seconds']:.0f} s.\n"
    )
    src = results["source"]
    add(
        f"Estimator source: git HEAD `{src.get('git_head', 'unknown')[:12]}`"
        + (" with uncommitted changes in src/openclarify/shapley or models" if src.get("src_dirty") else "")
        + "; shapley/ file hashes in the JSON.\n"
    )
    add(
        f"Game: single baseline row = training mean; {cfg['rows']} test rows x {len(cfg['seeds'])} seeds per cell "
        f"(shap.KernelExplainer on the first {cfg['shap_rows']} of those rows"
        + (", i.e. all of them" if cfg["shap_rows"] == cfg["rows"] else "")
        + "). Ground truth: exact Shapley values by enumerating all 2^M coalitions. "
        f"Budgets B = {cfg['budgets']} coalitions per row (M = 8 has 2^8 - 2 = 254 < 256, so it is run at the "
        f"extra budgets {cfg['extra_small_budgets_M8']}, which are not judged by the targets). shapiq gets "
        "budget B + 2 (it counts the empty and full coalitions).\n"
    )

    add("## Targets (ours = `kernel_shap`, default allocation `leverage`)\n")
    add("| target | B / model | measured (worst cell) | worst cell | cells failing | result |")
    add("|---|---|---|---|---|---|")
    for t in results["targets"]:
        add(
            f"| {t['target']} | {t['B']} | {fmt(t['measured'], 3)} | {t['worst_cell']} | {t['cells_failing']} | "
            f"{'PASS' if t['pass'] else 'FAIL'} |"
        )
    add("")

    add("## Exactness check (num_samples = 2^M - 2 vs our brute-force enumeration)\n")
    add(
        "| model | M | ours: exact flag | ours: coalitions used | ours: max abs diff | ours: max rel L2 | "
        "<= 1e-9 | shap KernelExplainer(nsamples=2^M-2, l1 off): max abs diff (rows) | "
        "brute-force efficiency residual |"
    )
    add("|---|---|---|---|---|---|---|---|---|")
    for e in results["exactness_checks"]:
        shap_col = f"{fmt(e['shap_max_abs_diff'])} ({e['shap_rows_checked']})" if "shap_max_abs_diff" in e else "-"
        add(
            f"| {e['model']} | {e['M']} | {e['ours_exact_flag']} | {e['ours_num_samples_used']} | "
            f"{fmt(e['ours_max_abs_diff'])} | {fmt(e['ours_max_rel_l2'])} | "
            f"{'PASS' if e['ours_pass_1e-9'] else 'FAIL'} | {shap_col} | {fmt(e['truth_efficiency_residual_max'])} |"
        )
    add("")
    if results["determinism_checks"]:
        add(
            "Determinism (ours, M = 12, B = 1024): same seed twice, rows split in two calls (`first_row`), "
            "`max_batch_rows=1000`:\n"
        )
        add("| model | bit-identical | split rows max abs diff | small batches max abs diff (model calls) |")
        add("|---|---|---|---|")
        for d in results["determinism_checks"]:
            add(
                f"| {d['model']} | {d['same_seed_bit_identical']} | {fmt(d['split_rows_max_abs_diff'])} | "
                f"{fmt(d['small_batches_max_abs_diff'])} ({d['small_batches_model_calls']}) |"
            )
        add("")

    add("## Accuracy: mean / p90 relative L2 error ||phi_hat - phi|| / ||phi|| (lower is better)\n")
    for model in MODELS:
        add(f"### {model}\n")
        ms = sorted({c["M"] for c in results["cells"] if c["model"] == model})
        bs = sorted({c["B"] for c in results["cells"] if c["model"] == model})
        add("| M | method | " + " | ".join(f"B={b}" for b in bs) + " |")
        add("|---|---|" + "---|" * len(bs))
        for m in ms:
            for method in METHODS:
                vals = []
                for b in bs:
                    c = idx.get((model, m, b, method))
                    vals.append(f"{fmt(c['rel_l2_mean'])} / {fmt(c['rel_l2_p90'])}" if c else "-")
                add(f"| {m} | {method} | " + " | ".join(vals) + " |")
        add("")

    add("## Ratios (mean relative L2 ratio < 1: ours better; wall ratio > 1: ours faster)\n")
    add(
        "| model | M | B | lev/shap(l1 off) | ker/shap(l1 off) | lev/shap(default) | lev/shapiq | ker/shapiq | "
        "lev/ker | z lev-shapiq | z lev-ker | shap(l1 off) wall / ours(lev) | shap(default) wall / ours(lev) | "
        "shapiq wall / ours(lev) |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(results["ratios"], key=lambda r: (MODELS.index(r["model"]), r["M"], r["B"])):
        star = "" if r["protocol_budget"] else "*"
        add(
            f"| {r['model']} | {r['M']} | {r['B']}{star} | {fmt(r['err_leverage_over_shap_l1off'], 3)} | "
            f"{fmt(r['err_kernel_over_shap_l1off'], 3)} | {fmt(r['err_leverage_over_shap_default'], 3)} | "
            f"{fmt(r['err_leverage_over_shapiq'], 3)} | {fmt(r['err_kernel_over_shapiq'], 3)} | "
            f"{fmt(r['err_leverage_over_kernel'], 3)} | {r['z_leverage_vs_shapiq']:+.1f} | "
            f"{r['z_leverage_vs_kernel']:+.1f} | {fmt(r['wall_shap_l1off_over_leverage'], 3)} | "
            f"{fmt(r['wall_shap_default_over_leverage'], 3)} | {fmt(r['wall_shapiq_over_leverage'], 3)} |"
        )
    add(
        "\n`*` extra budget below the protocol range (not judged by the targets). `z a-b`: mean paired "
        "per-explanation error difference over its standard error (same rows and seeds; negative: leverage "
        "better; |z| < 2 is within noise).\n"
    )

    def cost_table(cells: list[dict[str, Any]]) -> None:
        add(
            "| model | M | B | method | wall ms/row | model ms/row | overhead (wall-model)/model | "
            "overhead ms/row | model rows/expl | model calls/expl | max efficiency residual |"
        )
        add("|---|---|---|---|---|---|---|---|---|---|---|")
        for c in cells:
            add(
                f"| {c['model']} | {c['M']} | {c['B']} | {c['method']} | {fmt(c['wall_ms_per_row'], 3)} | "
                f"{fmt(c['model_ms_per_row'], 3)} | {fmt(c['engine_overhead'], 3)} | "
                f"{fmt(c['overhead_ms_per_row'], 3)} | {fmt(c['model_rows_per_expl'], 5)} | "
                f"{fmt(c['model_calls_per_expl'], 3)} | {fmt(c['efficiency_residual_max'], 2)} |"
            )
        add("")

    order = sorted(
        results["cells"], key=lambda c: (MODELS.index(c["model"]), c["M"], c["B"], METHODS.index(c["method"]))
    )
    add("## Cost at B = 1024 (per explained row)\n")
    cost_table([c for c in order if c["B"] == 1024])
    add("## Cost of ours at every budget\n")
    cost_table([c for c in order if c["method"] in OURS])
    add("## Appendix: cost of every cell\n")
    cost_table(order)

    add(
        "## Cost of ours vs rows explained per call (leverage; median of "
        f"{SCALING_REPEATS} repeats; not judged by the targets)\n"
    )
    add(
        "| model | M | B | rows | wall ms/row | model ms/row | overhead ms/row | overhead (wall-model)/model | "
        "model calls |"
    )
    add("|---|---|---|---|---|---|---|---|---|")
    for c in results["scaling"]:
        add(
            f"| {c['model']} | {c['M']} | {c['B']} | {c['rows']} | {fmt(c['wall_ms_per_row'], 3)} | "
            f"{fmt(c['model_ms_per_row'], 3)} | {fmt(c['overhead_ms_per_row'], 3)} | "
            f"{fmt(c['engine_overhead'], 3)} | {c['model_calls']} |"
        )
    add("")
    add("## Ground truth cost (one model call per model x M)\n")
    add("| model | M | rows | model rows | seconds | mean ||phi|| | test accuracy |")
    add("|---|---|---|---|---|---|---|")
    accs = {(mi["model"], mi["M"]): mi["test_accuracy"] for mi in results["models"]}
    for t in results["ground_truth"]:
        add(
            f"| {t['model']} | {t['M']} | {t['rows']} | {t['model_rows']} | {t['seconds']:.2f} | "
            f"{fmt(t['phi_l2_mean'])} | {accs[(t['model'], t['M'])]:.3f} |"
        )
    add("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 6 rows x 2 seeds (about 1-2 minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder (default bench/results)")
    args = parser.parse_args()
    results = run(args.quick)
    results["ratios"] = compute_ratios(results)
    results["targets"] = compute_targets(results, results["ratios"])
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "tabular_games_quick" if args.quick else "tabular_games"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    md = render_markdown(results)
    (args.out / f"{stem}.md").write_text(md + "\n")
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')} in {results['total_seconds']:.0f} s")
    for t in results["targets"]:
        print(
            f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']} [{t['B']}]: {fmt(t['measured'], 3)} "
            f"(worst {t['worst_cell']}, failing {t['cells_failing']})"
        )


if __name__ == "__main__":
    main()
