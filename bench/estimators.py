#!/usr/bin/env python
"""Shapley-value estimators at equal model-evaluation budget, side by side on games with known values.

Every method plays the same game v(S) = f(x_S, b_-S) (one baseline row b = the training mean) on the same
test rows, at the same budget B (model evaluations per explained row besides f(b) and f(x)), in one
process, and is scored by the relative L2 error ||phi_hat - phi|| / ||phi|| against the ground truth:

* exact Shapley values by enumerating all 2**M coalitions for M <= 16 (scikit-learn's bundled diabetes,
  wine and breast-cancer data, and the synthetic generator of ``tabular_games.py``);
* for M = 30 / 60 a high-budget reference (openclarify's ``kernel_shap``, 2**18 coalitions, averaged over
  4 seeds, with its own standard error), or exact interventional TreeSHAP for a gradient-boosting model's
  log-odds (where the reference is computed too, and its actual error measured).

Methods: ``ours-<estimator>`` (``openclarify.shapley.kernel_shap``; ``--ours kernel,gp`` picks the
``estimator=`` values when kernel_shap has that keyword, else only today's estimator runs as
``ours-kernel``), ``shap-l1off`` (``shap.KernelExplainer(l1_reg=False)``) and ten shapiq SV approximators
(budget B + 2: shapiq counts the empty and the full coalition).

Usage::

    python bench/estimators.py                  # full run  -> bench/results/estimators.{json,md}
    python bench/estimators.py --quick          # smoke run -> bench/results/estimators_quick.{json,md}
    python bench/estimators.py --games syn12-mlp,bc30-mlp --budgets 64,1024 --ours kernel --jobs 2
"""

from __future__ import annotations

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import _common  # noqa: I001 - first: single-threaded BLAS / OpenMP before numpy is imported
import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")

import shap  # noqa: E402
import shapiq.approximator as sq  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC, SVR  # noqa: E402
from tabular_games import exact_shapley, make_data  # noqa: E402

from openclarify.shapley import kernel_shap  # noqa: E402

TimedModel = _common.TimedModel

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE = HERE / ".cache" / "estimators"  # git-ignored: finished games of a run, for --resume

BUDGETS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)  # plus 2M + 2 per game; B >= 2**M - 2 is skipped
DATA_SEED = 20240611  # the synthetic data of tabular_games.py
SPLIT_SEED = 0
ROW_SEED = 7
REF_SAMPLES, REF_SEEDS = 2**18, 4  # high-budget reference for M > 16 (quick: 2**15 x 2)
REF_SEED0 = 10_000  # reference seeds are disjoint from the method seeds 0, 1, ...
SLOW_CAP_S = 1.0  # a method predicted above this many seconds per row at the next budget is not run there ...
SLOW_CAP_BEST_S = 5.0  # ... or above this for ours and the KEEP_BEST most accurate shapiq methods at this budget
KEEP_BEST = 3

# targets for a new openclarify estimator (judged on every cell)
TARGET_VS_SHAP = 0.5
TARGET_VS_SHAPIQ = 0.8
TARGET_VS_KERNEL = 1.0
COVERAGE_RANGE = (0.93, 0.97)


# --------------------------------------------------------------------------------------------- games
@dataclass(frozen=True)
class GameSpec:
    name: str
    dataset: str  # diabetes | wine | bc14 | bc30 | syn12 | syn16 | syn60
    model: str  # gbm | rf | mlp | svm | lr | gbm_logit
    m: int
    truth: str  # exact | reference | treeshap


DATASET_M = {"diabetes": 10, "wine": 13, "bc14": 14, "bc30": 30, "syn12": 12, "syn16": 16, "syn60": 60}
DATASET_TASK = {"diabetes": "regression"}  # the rest are classification


def _spec(dataset: str, model: str) -> GameSpec:
    m = DATASET_M[dataset]
    if m <= 16:
        truth = "exact"
    elif model == "gbm_logit":
        truth = "treeshap"
    else:
        truth = "reference"
    tag = dataset if dataset.startswith(("syn", "bc")) else f"{dataset}{m}"
    return GameSpec(f"{tag}-{model}", dataset, model, m, truth)


_MODELS_BY_TASK = {"regression": ("gbm", "rf", "mlp", "svm"), "classification": ("gbm", "rf", "mlp", "svm", "lr")}
GAMES: dict[str, GameSpec] = {}
for _ds in DATASET_M:
    for _mod in _MODELS_BY_TASK[DATASET_TASK.get(_ds, "classification")]:
        GAMES[_spec(_ds, _mod).name] = _spec(_ds, _mod)
    if _ds in ("bc30", "syn60", "syn12", "syn16"):
        GAMES[_spec(_ds, "gbm_logit").name] = _spec(_ds, "gbm_logit")

FULL_GAMES = (
    "diabetes10-gbm",
    "diabetes10-svm",
    "diabetes10-rf",
    "wine13-lr",
    "syn12-gbm",
    "syn12-mlp",
    "syn16-mlp",
    "bc30-mlp",
    "syn60-gbm_logit",
)
QUICK_GAMES = ("diabetes10-gbm", "wine13-svm", "syn12-mlp", "bc30-mlp")
QUICK_MAX_BUDGET = 1024


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Train / test features and targets, and the feature names."""
    if name.startswith("syn"):
        m = int(name[3:])
        x, y = make_data(m, 3000, np.random.default_rng(DATA_SEED + m))
        xt, yt = make_data(m, 2000, np.random.default_rng(DATA_SEED + 1000 + m))
        return x, y, xt, yt, [f"x{i}" for i in range(m)]
    if name == "diabetes":
        d = load_diabetes()
        x, y, names = d.data, d.target, list(d.feature_names)
    elif name == "wine":
        d = load_wine()
        x, y, names = d.data, (d.target == 0).astype(np.int64), list(d.feature_names)  # class 0 vs the rest
    else:
        d = load_breast_cancer()
        k = 14 if name == "bc14" else 30
        x, y, names = d.data[:, :k], d.target, list(d.feature_names[:k])
    strat = None if name == "diabetes" else y
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=SPLIT_SEED, stratify=strat)
    return xtr, ytr, xte, yte, names


def make_model(kind: str, regression: bool) -> Any:
    if regression:
        return {
            "gbm": GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0),
            "rf": RandomForestRegressor(n_estimators=50, max_depth=8, random_state=0),
            "mlp": TransformedTargetRegressor(
                make_pipeline(StandardScaler(), MLPRegressor((32, 32), max_iter=2000, random_state=0)),
                transformer=StandardScaler(),
            ),
            "svm": TransformedTargetRegressor(
                make_pipeline(StandardScaler(), SVR(C=3.0)), transformer=StandardScaler()
            ),
        }[kind]
    return {
        "gbm": GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
        "gbm_logit": GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
        "rf": RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0),
        "mlp": make_pipeline(StandardScaler(), MLPClassifier((32, 32), max_iter=1000, random_state=0)),
        "svm": make_pipeline(StandardScaler(), SVC(probability=True, random_state=0)),
        "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
    }[kind]


def score_function(est: Any, kind: str, regression: bool) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    if regression:
        return est.predict, "prediction"
    if kind == "gbm_logit":
        return est.decision_function, "log-odds of class 1"
    return (lambda x: est.predict_proba(x)[:, 1]), "P(class 1)"


def budgets_for(m: int, requested: list[str]) -> list[int]:
    """The budgets of a game with m players: ``2M+2`` and the numbers asked for, below 2**M - 2 (exact)."""
    out = set()
    for tok in requested:
        b = 2 * m + 2 if tok.upper() == "2M+2" else int(tok)
        if b < 2**m - 2 and b >= m + 1:
            out.add(b)
    return sorted(out)


# -------------------------------------------------------------------------------------- ground truth
def reference_values(
    model: TimedModel, x: np.ndarray, b: np.ndarray, samples: int, seeds: int, oc_kernel_kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Mean of ``seeds`` independent kernel_shap runs at ``samples`` coalitions, and its standard error."""
    runs = []
    for k in range(seeds):
        res = kernel_shap(model, x, b, num_samples=samples, seed=REF_SEED0 + k, **oc_kernel_kwargs)
        runs.append(np.asarray(res.phi[:, :, 0]))
    stack = np.stack(runs)  # (seeds, rows, m)
    phi = stack.mean(axis=0)
    se = stack.std(axis=0, ddof=1) / np.sqrt(seeds)
    est_rel = np.linalg.norm(se, axis=1) / np.linalg.norm(phi, axis=1)
    return {"phi": phi, "se": se, "est_rel_l2": est_rel}


def ground_truth(
    spec: GameSpec, est: Any, model: TimedModel, x: np.ndarray, b: np.ndarray, quick: bool, oc_kw: dict[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    t0 = time.perf_counter()
    info: dict[str, Any] = {"kind": spec.truth}
    model.reset()
    if spec.truth == "exact":
        phi = exact_shapley(model, x, b)["phi"]
        info["method"] = f"enumeration of all 2^{spec.m} = {2**spec.m} coalitions (one model call)"
    else:
        samples, seeds = (2**15, 2) if quick else (REF_SAMPLES, REF_SEEDS)
        ref = reference_values(model, x, b, samples, seeds, oc_kw)
        info["reference"] = {
            "method": f"openclarify kernel_shap (today's estimator), num_samples={samples}, mean of {seeds} seeds "
            f"{REF_SEED0}..{REF_SEED0 + seeds - 1}",
            "num_samples": samples,
            "seeds": seeds,
            "estimated_rel_l2_mean": float(ref["est_rel_l2"].mean()),
            "estimated_rel_l2_max": float(ref["est_rel_l2"].max()),
        }
        phi = ref["phi"]
        info["method"] = info["reference"]["method"]
        if spec.truth == "treeshap":
            explainer = shap.TreeExplainer(est, data=b, feature_perturbation="interventional", model_output="raw")
            phi = np.asarray(explainer.shap_values(x), dtype=np.float64).reshape(x.shape)
            fx, fb = model(x), model(b)
            info["method"] = "exact interventional TreeSHAP, shap.TreeExplainer(data=baseline row, model_output='raw')"
            info["treeshap_efficiency_residual_max"] = float(np.abs(phi.sum(1) - (fx - fb[0])).max())
            err = np.linalg.norm(ref["phi"] - phi, axis=1) / np.linalg.norm(phi, axis=1)
            info["reference"]["actual_rel_l2_mean_vs_treeshap"] = float(err.mean())
            info["reference"]["actual_rel_l2_max_vs_treeshap"] = float(err.max())
    info["seconds"] = time.perf_counter() - t0
    info["model_rows"] = model.rows
    info["phi_l2_mean"] = float(np.linalg.norm(phi, axis=1).mean())
    return phi, info


# ------------------------------------------------------------------------------------------- methods
def _poly_terms(m: int, budget: int) -> int:
    """PolySHAP frontier: orders <= 3, capped at B // 3 terms (and 1024, which bounds its regression's cost)."""
    full = 1 + m + math.comb(m, 2) + math.comb(m, 3)
    return int(min(full, max(m + 1, budget // 3), 1024))


SHAPIQ_METHODS: dict[str, tuple[Callable[[int, int, int], Any], str]] = {
    "shapiq-KernelSHAP": (
        lambda m, b, s: sq.KernelSHAP(n=m, max_order=1, pairing_trick=True, random_state=s),
        "KernelSHAP(n=M, max_order=1, pairing_trick=True)",
    ),
    "shapiq-LeverageSHAP": (
        lambda m, b, s: sq.LeverageSHAP(n=m, pairing_trick=True, random_state=s),
        "LeverageSHAP(n=M, pairing_trick=True) (deterministic_counts=True by default)",
    ),
    "shapiq-RegressionMSR": (
        lambda m, b, s: sq.RegressionMSR(n=m, index="SV", pairing_trick=True, random_state=s),
        "RegressionMSR(n=M, index='SV', pairing_trick=True), default XGBoost proxy",
    ),
    "shapiq-ProxySHAP": (
        lambda m, b, s: sq.ProxySHAP(n=m, max_order=1, index="SV", random_state=s),
        "ProxySHAP(n=M, max_order=1, index='SV'), defaults: XGBoost proxy, pairing, no adjustment",
    ),
    "shapiq-OddSHAP": (
        lambda m, b, s: sq.OddSHAP(n=m, random_state=s),
        "OddSHAP(n=M) (paired by construction), LightGBM screening, interaction_factor=10",
    ),
    "shapiq-PolySHAP3": (
        lambda m, b, s: sq.PolySHAP(n=m, max_order=3, max_terms=_poly_terms(m, b), pairing_trick=True, random_state=s),
        "PolySHAP(n=M, max_order=3, max_terms=min(#terms of order <= 3, max(M+1, B//3), 1024), pairing_trick=True)",
    ),
    "shapiq-kADDSHAP": (
        lambda m, b, s: sq.kADDSHAP(n=m, max_order=2, pairing_trick=True, random_state=s),
        "kADDSHAP(n=M, max_order=2, pairing_trick=True); its order-1 values",
    ),
    "shapiq-SVARM": (
        lambda m, b, s: sq.SVARM(n=m, index="SV", pairing_trick=True, random_state=s),
        "SVARM(n=M, index='SV', pairing_trick=True)",
    ),
    "shapiq-PermutationSV": (
        lambda m, b, s: sq.PermutationSamplingSV(n=m, random_state=s),
        "PermutationSamplingSV(n=M): floor(B / (M - 1)) permutations (no pairing option)",
    ),
    "shapiq-UnbiasedKernelSHAP": (
        lambda m, b, s: sq.UnbiasedKernelSHAP(n=m, pairing_trick=True, random_state=s),
        "UnbiasedKernelSHAP(n=M, pairing_trick=True) (negative control)",
    ),
}


def kernel_shap_estimators() -> bool:
    """Whether this kernel_shap takes ``estimator=``."""
    return "estimator" in inspect.signature(kernel_shap).parameters


def run_ours(
    model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int, estimator: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    kwargs: dict[str, Any] = {} if estimator is None else {"estimator": estimator}
    res = kernel_shap(model, x, b, num_samples=budget, seed=seed, **kwargs)
    se = getattr(res, "stderr", None)
    return np.asarray(res.phi[:, :, 0]), (None if se is None else np.asarray(se).reshape(len(x), x.shape[1]))


def run_shap(model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int) -> np.ndarray:
    np.random.seed(seed)  # KernelExplainer samples with numpy's global generator
    explainer = shap.KernelExplainer(model, b, link="identity")
    sv = explainer.shap_values(x, nsamples=budget, l1_reg=False, silent=True)
    return np.asarray(sv, dtype=np.float64).reshape(len(x), x.shape[1])


def run_shapiq(method: str, model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int) -> np.ndarray:
    m = x.shape[1]
    approximator = SHAPIQ_METHODS[method][0](m, budget, seed)  # one per seed; its generator moves on per row
    out = np.empty((len(x), m))
    for r in range(len(x)):
        row = x[r]

        def game(coalitions: np.ndarray, row: np.ndarray = row) -> np.ndarray:
            c = np.atleast_2d(np.asarray(coalitions, dtype=bool))
            return model(np.where(c, row[None, :], b[0][None, :]))

        iv = approximator.approximate(budget=budget + 2, game=game)
        out[r] = [iv[(i,)] for i in range(m)]
    return out


def run_method(
    method: str, model: TimedModel, x: np.ndarray, b: np.ndarray, budget: int, seed: int, has_estimator: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    if method.startswith("ours-"):
        return run_ours(model, x, b, budget, seed, method[5:] if has_estimator else None)
    if method == "shap-l1off":
        return run_shap(model, x, b, budget, seed), None
    return run_shapiq(method, model, x, b, budget, seed), None


# ------------------------------------------------------------------------------------------- metrics
def rel_l2(phi_hat: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.norm(phi_hat - phi, axis=1) / np.linalg.norm(phi, axis=1))


def summarize(
    errs: list[np.ndarray],
    resid: list[np.ndarray],
    cover: list[np.ndarray],
    zs: list[np.ndarray],
    wall: float,
    model_s: float,
    rows: int,
    calls: int,
    n_expl: int,
) -> dict[str, Any]:
    e = np.concatenate(errs)
    out: dict[str, Any] = {
        "n_explanations": int(n_expl),
        "rel_l2_mean": float(e.mean()),
        "rel_l2_median": float(np.median(e)),
        "rel_l2_p90": float(np.quantile(e, 0.9)),
        "rel_l2_se": float(e.std(ddof=1) / np.sqrt(len(e))) if len(e) > 1 else float("nan"),
        "rel_sq_mean": float((e**2).mean()),
        "efficiency_residual_max": float(np.max(np.concatenate(resid))),
        "wall_ms_per_row": 1e3 * wall / n_expl,
        "model_ms_per_row": 1e3 * model_s / n_expl,
        "model_rows_per_expl": rows / n_expl,
        "model_calls_per_expl": calls / n_expl,
        "wall_s_total": wall,
        "rel_l2_all": [float(f"{v:.6g}") for v in e],  # per explanation, seed-major (for paired comparisons)
    }
    if cover:
        c = np.concatenate([v.ravel() for v in cover])
        z = np.concatenate([v.ravel() for v in zs])
        z = z[np.isfinite(z)]
        out["coverage95"] = float(c.mean())
        out["coverage_entries"] = int(c.size)
        out["coverage_hits"] = int(c.sum())
        out["z_rms"] = float(np.sqrt((z**2).mean())) if z.size else float("nan")
    return out


# -------------------------------------------------------------------------------------------- a game
def run_game(spec: GameSpec, cfg: dict[str, Any]) -> dict[str, Any]:
    """Fit the model, compute the ground truth and run every method x budget x seed on one game."""
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    regression = DATASET_TASK.get(spec.dataset) == "regression"
    xtr, ytr, xte, yte, names = load_dataset(spec.dataset)
    est = make_model(spec.model, regression)
    t0 = time.perf_counter()
    est.fit(xtr, ytr)
    fit_s = time.perf_counter() - t0
    test_score = float(est.score(xte, yte))
    f, output = score_function(est, spec.model, regression)
    if spec.dataset == "wine" and spec.model != "gbm_logit":
        output = "P(wine class 0)"
    model = TimedModel(f)
    pick = np.sort(np.random.default_rng(ROW_SEED).choice(len(xte), size=cfg["rows"], replace=False))
    x = np.ascontiguousarray(xte[pick], dtype=np.float64)
    b = xtr.mean(axis=0, keepdims=True)
    has_est = cfg["has_estimator"]
    oc_kernel_kw = {"estimator": "kernel"} if has_est else {}
    phi, truth = ground_truth(spec, est, model, x, b, cfg["quick"], oc_kernel_kw)
    model.reset()
    f_x, f_b = model(x), model(b)[0]
    target = f_x - f_b
    budgets = budgets_for(spec.m, cfg["budgets"])
    if cfg["max_budget"]:
        budgets = [bb for bb in budgets if bb <= cfg["max_budget"]]
    methods = cfg["methods"]
    log = cfg.get("log", True)

    def say(msg: str) -> None:
        if log:
            print(f"[{spec.name} {time.perf_counter() - started:7.1f}s] {msg}", flush=True)

    say(
        f"M={spec.m} {output}, test score {test_score:.3f}, truth {truth['kind']} in {truth['seconds']:.1f}s"
        + (
            f" (reference est. rel err {truth['reference']['estimated_rel_l2_mean']:.1e})"
            if "reference" in truth
            else ""
        )
    )
    failures: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    dead: dict[str, str] = {}  # method -> why it is not run at larger budgets
    per_row: dict[str, list[tuple[int, float]]] = {}  # method -> (budget, seconds per row) so far
    # warm-up (imports, first calls), not timed
    for method in methods:
        try:
            run_method(method, model, x[:1], b, budgets[0], 12345, has_est)
        except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
            say(f"warm-up of {method} failed: {type(exc).__name__}: {exc}")
    cells: list[dict[str, Any]] = []
    for i, budget in enumerate(budgets):
        line = []
        for method in methods:
            if method in dead:
                skipped.append({"game": spec.name, "B": budget, "method": method, "why": dead[method]})
                continue
            errs, resid, cover, zs = [], [], [], []
            wall = model_s = 0.0
            mrows = mcalls = 0
            try:
                for seed in cfg["seeds"]:
                    model.reset()
                    t1 = time.perf_counter()
                    phi_hat, se = run_method(method, model, x, b, budget, seed, has_est)
                    wall += time.perf_counter() - t1
                    model_s += model.seconds
                    mrows += model.rows
                    mcalls += model.calls
                    if not np.all(np.isfinite(phi_hat)):
                        raise FloatingPointError("non-finite values")
                    errs.append(rel_l2(phi_hat, phi))
                    resid.append(np.abs(phi_hat.sum(axis=1) - target))
                    if se is not None:
                        cover.append(np.abs(phi_hat - phi) <= 1.96 * se)
                        with np.errstate(divide="ignore", invalid="ignore"):
                            zs.append((phi_hat - phi) / se)
            except Exception as exc:  # noqa: BLE001
                failures.append(
                    {
                        "game": spec.name,
                        "B": budget,
                        "method": method,
                        "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                        "where": traceback.format_exc(limit=-2)[-600:],
                    }
                )
                line.append(f"{method}=FAIL")
                continue
            n_expl = len(x) * len(cfg["seeds"])
            cell = {
                "game": spec.name,
                "M": spec.m,
                "B": budget,
                "method": method,
                "rows": len(x),
                "seeds": len(cfg["seeds"]),
                **summarize(errs, resid, cover, zs, wall, model_s, mrows, mcalls, n_expl),
            }
            cells.append(cell)
            line.append(f"{method.replace('shapiq-', '')}={cell['rel_l2_mean']:.2e}")
        say(f"B={budget}: " + " ".join(line))
        if i + 1 < len(budgets):
            here = {c["method"]: c for c in cells if c["B"] == budget}
            ranked = sorted((c for m, c in here.items() if m in SHAPIQ_METHODS), key=lambda c: c["rel_l2_mean"])
            favoured = {c["method"] for c in ranked[: cfg["keep_best"]]} | {m for m in here if m.startswith("ours-")}
            for method, cell in here.items():
                seconds = cell["wall_ms_per_row"] / 1e3
                predicted = predict_seconds(per_row.setdefault(method, []), budget, seconds, budgets[i + 1])
                cap = cfg["slow_cap_best"] if method in favoured else cfg["slow_cap"]
                if predicted > cap:
                    dead[method] = (
                        f"too slow: {seconds:.2f} s/row at B={budget}, predicted {predicted:.1f} s/row at "
                        f"B={budgets[i + 1]} > {cap} s/row"
                    )
    return {
        "game": {
            **asdict(spec),
            "task": "regression" if regression else "classification",
            "output": output,
            "features": names,
            "n_train": len(xtr),
            "n_test": len(xte),
            "test_score": test_score,
            "test_score_kind": "R^2" if regression else "accuracy",
            "fit_seconds": fit_s,
            "budgets": budgets,
            "truth": truth,
            "f_b": float(f_b),
            "seconds": time.perf_counter() - started,
        },
        "cells": cells,
        "failures": failures,
        "skipped": skipped,
    }


def predict_seconds(history: list[tuple[int, float]], budget: int, seconds: float, next_budget: int) -> float:
    """Seconds per row at ``next_budget``, from the growth exponent of the last two budgets (clipped to [1, 3])."""
    history.append((budget, seconds))
    power = 1.0
    earlier = [(b0, t0) for b0, t0 in history[:-1] if budget / b0 >= 1.5 and t0 > 0]  # close budgets: noise
    if earlier and seconds > 0:
        b0, t0 = earlier[-1]
        power = float(np.clip(math.log(seconds / t0) / math.log(budget / b0), 1.0, 3.0))
    return seconds * (next_budget / budget) ** power


def _game_worker(spec: GameSpec, cfg: dict[str, Any]) -> dict[str, Any]:
    return run_game(spec, cfg)


# ------------------------------------------------------------------------------- ratios and targets
def cell_index(cells: list[dict[str, Any]]) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(c["game"], c["B"], c["method"]): c for c in cells}


def paired_z(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Mean of the paired per-explanation error difference a - b over its standard error (< 0: a better)."""
    d = np.asarray(a["rel_l2_all"]) - np.asarray(b["rel_l2_all"])
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    return float(d.mean() / se) if se > 0 else 0.0


def best_shapiq(idx: dict[tuple[str, int, str], dict[str, Any]], game: str, budget: int) -> dict[str, Any] | None:
    cands = [idx[(game, budget, m)] for m in SHAPIQ_METHODS if (game, budget, m) in idx]
    return min(cands, key=lambda c: c["rel_l2_mean"]) if cands else None


def compute_ratios(cells: list[dict[str, Any]], ours: list[str]) -> list[dict[str, Any]]:
    idx = cell_index(cells)
    out = []
    for (game, budget, method), c in sorted(idx.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if method not in ours:
            continue
        row: dict[str, Any] = {"game": game, "M": c["M"], "B": budget, "ours": method, "rel_l2": c["rel_l2_mean"]}
        shp = idx.get((game, budget, "shap-l1off"))
        row["shap_l1off"] = shp["rel_l2_mean"] if shp else None
        row["over_shap_l1off"] = c["rel_l2_mean"] / shp["rel_l2_mean"] if shp else None
        row["z_vs_shap_l1off"] = paired_z(c, shp) if shp else None
        best = best_shapiq(idx, game, budget)
        row["shapiq_missing"] = [m.replace("shapiq-", "") for m in SHAPIQ_METHODS if (game, budget, m) not in idx]
        row["best_shapiq"] = best["method"].replace("shapiq-", "") if best else None
        row["best_shapiq_rel_l2"] = best["rel_l2_mean"] if best else None
        row["over_best_shapiq"] = c["rel_l2_mean"] / best["rel_l2_mean"] if best else None
        row["z_vs_best_shapiq"] = paired_z(c, best) if best else None
        ker = idx.get((game, budget, "ours-kernel"))
        if method != "ours-kernel" and ker:
            row["over_ours_kernel"] = c["rel_l2_mean"] / ker["rel_l2_mean"]
            row["z_vs_ours_kernel"] = paired_z(c, ker)
        row["wall_ms_per_row"] = c["wall_ms_per_row"]
        row["coverage95"] = c.get("coverage95")
        out.append(row)
    return out


def compute_targets(cells: list[dict[str, Any]], ratios: list[dict[str, Any]], ours: list[str]) -> list[dict[str, Any]]:
    """Per openclarify estimator: judged on every cell (game x budget) where it ran."""
    targets = []

    def judge(rows: list[dict[str, Any]], key: str, limit: float, what: str, est: str) -> None:
        rows = [r for r in rows if r.get(key) is not None]
        if not rows:
            return
        worst = max(rows, key=lambda r: r[key])
        fails = [r for r in rows if r[key] > limit]
        extra = f" vs {worst['best_shapiq']}" if key == "over_best_shapiq" else ""
        partial = [r for r in rows if r["shapiq_missing"]] if key == "over_best_shapiq" else []
        targets.append(
            {
                "estimator": est,
                "target": what,
                "pass": not fails,
                "measured_worst": worst[key],
                "worst_cell": f"{worst['game']} B={worst['B']}{extra}",
                "median": float(np.median([r[key] for r in rows])),
                "cells_failing": f"{len(fails)}/{len(rows)}"
                + (f" ({len(partial)} cells without every shapiq method)" if partial else ""),
            }
        )

    for est in ours:
        rows = [r for r in ratios if r["ours"] == est]
        judge(rows, "over_shap_l1off", TARGET_VS_SHAP, f"mean rel L2 <= {TARGET_VS_SHAP}x shap-l1off", est)
        judge(rows, "over_best_shapiq", TARGET_VS_SHAPIQ, f"mean rel L2 <= {TARGET_VS_SHAPIQ}x best shapiq", est)
        if est != "ours-kernel":
            judge(rows, "over_ours_kernel", TARGET_VS_KERNEL, "never worse than ours-kernel (ratio <= 1)", est)
        cov = [c for c in cells if c["method"] == est and "coverage95" in c]
        if cov:
            hits = sum(c["coverage_hits"] for c in cov)
            n = sum(c["coverage_entries"] for c in cov)
            lo, hi = COVERAGE_RANGE
            outside = [c for c in cov if not lo <= c["coverage95"] <= hi]
            worst = max(cov, key=lambda c: abs(c["coverage95"] - 0.95))
            targets.append(
                {
                    "estimator": est,
                    "target": f"coverage of phi_hat +- 1.96 stderr in [{lo:.0%}, {hi:.0%}] (overall)",
                    "pass": lo <= hits / n <= hi,
                    "measured_worst": hits / n,
                    "worst_cell": f"{worst['game']} B={worst['B']} ({worst['coverage95']:.1%})",
                    "median": float(np.median([c["coverage95"] for c in cov])),
                    "cells_failing": f"{len(outside)}/{len(cov)} cells outside",
                }
            )
    return targets


# ----------------------------------------------------------------------------------------- markdown
def fmt(v: Any, digits: int = 3) -> str:
    return _common.fmt(v, digits, missing="-")


def render_markdown(res: dict[str, Any]) -> str:
    env, cfg = res["environment"], res["config"]
    idx = cell_index(res["cells"])
    ours = cfg["ours_methods"]
    lines: list[str] = []
    add = lines.append
    add(f"# Shapley estimators at equal budget ({res['mode']} run)\n")
    add("Generated by `bench/estimators.py`; protocol in `bench/README.md` (section Shapley estimators).\n")
    add(
        f"Environment: Python {env['python']}, numpy {env['numpy']}, scikit-learn {env['scikit-learn']}, "
        f"shap {env['shap']}, shapiq {env['shapiq']}, xgboost {env['xgboost-cpu']} (xgboost-cpu), "
        f"lightgbm {env['lightgbm']}, "
        f"openclarify {env['openclarify']}; {env['platform']}, {env['cpu_count']} CPUs, BLAS threads = "
        f"{env['blas_threads']}, {cfg['jobs']} game(s) at a time. Total run time {res['total_seconds']:.0f} s"
        + (f" (games resumed from a stopped run: {', '.join(cfg['resumed_games'])})" if cfg["resumed_games"] else "")
        + ".\n"
    )
    src = res["source"]
    add(
        f"Estimator source: git HEAD `{src.get('git_head', 'unknown')[:12]}`"
        + (" with uncommitted changes in src/openclarify/shapley" if src.get("src_dirty") else "")
        + f"; `kernel_shap(estimator=)` {'accepted' if cfg['kernel_shap_has_estimator'] else 'not accepted yet'}"
        + f", openclarify estimators run: {', '.join(ours)}.\n"
    )
    add(
        f"{cfg['rows']} test rows x {len(cfg['seeds'])} seeds per cell; one baseline row (training mean); "
        "B = model evaluations per explained row besides f(x) and f(baseline) (shapiq: `budget=B+2`). "
        "Errors: mean / p90 of ||phi_hat - phi||_2 / ||phi||_2 over the explanations of a cell.\n"
    )

    add("## Targets\n")
    add("| estimator | target | worst cell ratio | worst cell | median | cells failing | result |")
    add("|---|---|---|---|---|---|---|")
    for t in res["targets"]:
        add(
            f"| {t['estimator']} | {t['target']} | {fmt(t['measured_worst'])} | {t['worst_cell']} | "
            f"{fmt(t['median'])} | {t['cells_failing']} | {'PASS' if t['pass'] else 'FAIL'} |"
        )
    add("")

    add("## Games\n")
    add("| game | data | M | model, output | test score | ground truth | truth error | budgets | seconds |")
    add("|---|---|---|---|---|---|---|---|---|")
    for g in res["games"]:
        tr = g["truth"]
        if g["truth"]["kind"] == "exact":
            terr = "0 (enumeration)"
        else:
            ref = tr["reference"]
            terr = f"reference: est. {fmt(ref['estimated_rel_l2_mean'], 2)} (max {fmt(ref['estimated_rel_l2_max'], 2)})"
            if "actual_rel_l2_mean_vs_treeshap" in ref:
                terr = (
                    f"TreeSHAP exact (efficiency residual {fmt(tr['treeshap_efficiency_residual_max'], 2)}); "
                    f"the reference's est. {fmt(ref['estimated_rel_l2_mean'], 2)}, actual "
                    f"{fmt(ref['actual_rel_l2_mean_vs_treeshap'], 2)}"
                )
        add(
            f"| {g['name']} | {g['dataset']} ({g['n_train']}/{g['n_test']}) | {g['m']} | {g['model']}, {g['output']} | "
            f"{g['test_score_kind']} {g['test_score']:.3f} | {tr['kind']} | {terr} | "
            f"{', '.join(map(str, g['budgets']))} | {g['seconds']:.0f} |"
        )
    add("")

    add("## Summary: mean rel L2 of ours vs shap-l1off vs the best shapiq estimator\n")
    head = "| game | B | " + " | ".join(ours) + " | shap-l1off | best shapiq (which) |"
    for est in ours:
        head += f" {est}/shap | {est}/best shapiq |"
    for est in ours:
        if est != "ours-kernel":
            head += f" {est}/ours-kernel |"
    add(head)
    add("|" + "---|" * (head.count("|") - 1))
    ratio_idx = {(r["game"], r["B"], r["ours"]): r for r in res["ratios"]}
    for g in res["games"]:
        for budget in g["budgets"]:
            best = best_shapiq(idx, g["name"], budget)
            shp = idx.get((g["name"], budget, "shap-l1off"))
            vals = [
                fmt(idx[(g["name"], budget, e)]["rel_l2_mean"]) if (g["name"], budget, e) in idx else "-" for e in ours
            ]
            row = f"| {g['name']} | {budget} | " + " | ".join(vals) + f" | {fmt(shp['rel_l2_mean']) if shp else '-'} | "
            row += f"{fmt(best['rel_l2_mean'])} ({best['method'].replace('shapiq-', '')}) |" if best else "- |"
            for est in ours:
                r = ratio_idx.get((g["name"], budget, est))
                row += f" {fmt(r['over_shap_l1off']) if r else '-'} | {fmt(r['over_best_shapiq']) if r else '-'} |"
            for est in ours:
                if est != "ours-kernel":
                    r = ratio_idx.get((g["name"], budget, est))
                    row += f" {fmt(r.get('over_ours_kernel')) if r else '-'} |"
            add(row)
    add(
        "\nRatios < 1: ours more accurate. The per-cell paired z statistics (same rows and seeds) are in the "
        "ratios table below and the JSON.\n"
    )

    methods = cfg["methods"]

    def per_game(heading: Callable[[dict[str, Any]], str], cell: Callable[[dict[str, Any]], str]) -> None:
        """One table per game: a row per method, a column per budget."""
        for g in res["games"]:
            add(heading(g))
            add("| method | " + " | ".join(f"B={b}" for b in g["budgets"]) + " |")
            add("|---|" + "---|" * len(g["budgets"]))
            for method in methods:
                vals = []
                for budget in g["budgets"]:
                    c = idx.get((g["name"], budget, method))
                    vals.append(cell(c) if c else _missing(res, g, budget, method))
                add(f"| {method} | " + " | ".join(vals) + " |")
            add("")

    add("## Accuracy per game: mean / p90 rel L2 (lower is better)\n")
    per_game(
        lambda g: f"### {g['name']} (M = {g['m']}, {g['model']}, truth: {g['truth']['kind']})\n",
        lambda c: f"{fmt(c['rel_l2_mean'])} / {fmt(c['rel_l2_p90'])}",
    )

    add("## Ratios and paired z per cell\n")
    add(
        "| game | B | ours | rel L2 | / shap-l1off (z) | / best shapiq (z) | best shapiq | shapiq not run | "
        "/ ours-kernel (z) | coverage 95% |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|")
    for r in res["ratios"]:
        zk = f" ({r['z_vs_ours_kernel']:+.1f})" if r.get("z_vs_ours_kernel") is not None else ""
        zs = f" ({r['z_vs_shap_l1off']:+.1f})" if r.get("z_vs_shap_l1off") is not None else ""
        zb = f" ({r['z_vs_best_shapiq']:+.1f})" if r.get("z_vs_best_shapiq") is not None else ""
        add(
            f"| {r['game']} | {r['B']} | {r['ours']} | {fmt(r['rel_l2'])} | {fmt(r['over_shap_l1off'])}{zs} | "
            f"{fmt(r['over_best_shapiq'])}{zb} | {r['best_shapiq'] or '-'} | {', '.join(r['shapiq_missing']) or '-'} | "
            f"{fmt(r.get('over_ours_kernel'))}{zk} | "
            f"{fmt(r.get('coverage95'))} |"
        )
    add(
        "\n`z`: mean paired per-explanation error difference over its standard error (negative: ours better; "
        "|z| < 2 is within noise).\n"
    )

    cov = [c for c in res["cells"] if "coverage95" in c]
    if cov:
        add("## Coverage of nominal 95% intervals (phi_hat +- 1.96 stderr contains the true value)\n")
        add("| method | game | B | coverage | entries | rms of (phi_hat - phi) / stderr |")
        add("|---|---|---|---|---|---|")
        for c in cov:
            add(
                f"| {c['method']} | {c['game']} | {c['B']} | {c['coverage95']:.3f} | {c['coverage_entries']} | "
                f"{fmt(c['z_rms'])} |"
            )
        for est in ours:
            sel = [c for c in cov if c["method"] == est]
            if sel:
                hits = sum(c["coverage_hits"] for c in sel)
                n = sum(c["coverage_entries"] for c in sel)
                add(f"\nOverall {est}: {hits}/{n} = {hits / n:.3f}.")
        add("")

    add("## Cost: wall ms per explained row (model rows per explanation)\n")
    add("Each method's wall time over all rows and seeds of a cell, divided by the explanations made.\n")
    per_game(
        lambda g: f"### {g['name']}\n",
        lambda c: f"{fmt(c['wall_ms_per_row'])} ({fmt(c['model_rows_per_expl'], 5)})",
    )

    if res["failures"] or res["skipped"]:
        add("## Failures and skipped cells\n")
        add("| game | B | method | what |")
        add("|---|---|---|---|")
        for f in res["failures"]:
            add(f"| {f['game']} | {f['B']} | {f['method']} | failed: {f['error'][:160].replace('|', '/')} |")
        for s in res["skipped"]:
            add(f"| {s['game']} | {s['B']} | {s['method']} | skipped: {s['why']} |")
        add("")

    add("## Methods\n")
    add("| method | call |")
    add("|---|---|")
    for name, text in cfg["method_calls"].items():
        add(f"| {name} | `{text}` |")
    add("")
    return "\n".join(lines)


def _missing(res: dict[str, Any], g: dict[str, Any], budget: int, method: str) -> str:
    for f in res["failures"]:
        if f["game"] == g["name"] and f["B"] == budget and f["method"] == method:
            return "fail"
    for s in res["skipped"]:
        if s["game"] == g["name"] and s["B"] == budget and s["method"] == method:
            return "slow"
    return "-"


# -------------------------------------------------------------------------------------------- driver
def source_info() -> dict[str, Any]:
    shapley = HERE.parent / "src" / "openclarify" / "shapley"
    return _common.source_info(["src/openclarify/shapley"], sorted(shapley.glob("*.py")))


def environment() -> dict[str, Any]:
    return _common.environment(
        ("numpy", "scipy", "scikit-learn", "shap", "shapiq", "xgboost-cpu", "lightgbm", "openclarify")
    )


def estimated_cost(spec: GameSpec) -> float:
    """A rough relative cost, to start the longest games first."""
    return spec.m * (1 + (spec.m > 16)) * (1 + (spec.model in ("rf", "mlp")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 rows x 2 seeds, 4 games, B <= 1024")
    parser.add_argument("--games", default=None, help=f"comma list of games or 'all' (known: {', '.join(GAMES)})")
    parser.add_argument(
        "--budgets", default="2M+2," + ",".join(map(str, BUDGETS)), help="comma list; '2M+2' is per game"
    )
    parser.add_argument("--ours", default="kernel,gp", help="openclarify estimators (kernel_shap estimator=)")
    parser.add_argument("--rows", type=int, default=None, help="test rows per game (default 16; quick 4)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 4; quick 2)")
    parser.add_argument("--jobs", type=int, default=1, help="games run at the same time, one process each")
    parser.add_argument("--slow-cap", type=float, default=SLOW_CAP_S, help="seconds per row (see README)")
    parser.add_argument(
        "--slow-cap-best", type=float, default=SLOW_CAP_BEST_S, help="the cap for ours and the best shapiq methods"
    )
    parser.add_argument("--keep-best", type=int, default=KEEP_BEST, help="how many shapiq methods get that cap")
    parser.add_argument("--skip", default="", help="comma list of methods not to run (e.g. shapiq-SVARM)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder (default bench/results)")
    parser.add_argument("--stem", default=None, help="output file stem (default estimators / estimators_quick)")
    parser.add_argument(
        "--resume", action="store_true", help="reuse the games a stopped run with the same settings finished"
    )
    args = parser.parse_args()

    if args.games in (None, ""):
        names = list(QUICK_GAMES if args.quick else FULL_GAMES)
    elif args.games == "all":
        names = list(GAMES)
    else:
        names = [n.strip() for n in args.games.split(",") if n.strip()]
    unknown = [n for n in names if n not in GAMES]
    if unknown:
        parser.error(f"unknown games {unknown}; known: {', '.join(GAMES)}")
    has_est = kernel_shap_estimators()
    wanted = [e.strip() for e in args.ours.split(",") if e.strip()]
    ours_names = wanted if has_est else ["kernel"]
    if not has_est and wanted != ["kernel"]:
        print(f"kernel_shap has no estimator= yet: running ours-kernel only (asked for {wanted})", flush=True)
    ours = [f"ours-{e}" for e in ours_names]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    methods = [m for m in [*ours, "shap-l1off", *SHAPIQ_METHODS] if m not in skip]
    rows = args.rows or (4 if args.quick else 16)
    seeds = list(range(args.seeds or (2 if args.quick else 4)))
    cfg = {
        "quick": args.quick,
        "rows": rows,
        "seeds": seeds,
        "budgets": [t.strip() for t in args.budgets.split(",") if t.strip()],
        "max_budget": QUICK_MAX_BUDGET if args.quick else None,
        "methods": methods,
        "has_estimator": has_est,
        "slow_cap": args.slow_cap,
        "slow_cap_best": args.slow_cap_best,
        "keep_best": args.keep_best,
        "log": True,
    }
    source = source_info()
    started = time.perf_counter()
    specs = sorted((GAMES[n] for n in names), key=estimated_cost, reverse=True)
    stem = args.stem or ("estimators_quick" if args.quick else "estimators")
    parts = CACHE / Path(stem).name  # one file per finished game, for --resume
    parts.mkdir(parents=True, exist_ok=True)
    key = {k: v for k, v in cfg.items() if k != "log"}
    outputs: dict[str, dict[str, Any]] = {}
    if args.resume:
        for s in specs:
            part = parts / f"{s.name}.json"
            if part.is_file():
                saved = json.loads(part.read_text())
                if saved.get("key") == key:
                    outputs[s.name] = saved["output"]
                    print(f"resumed {s.name} from {part}", flush=True)
    todo = [s for s in specs if s.name not in outputs]
    resumed = sorted(outputs)

    def keep(name: str, out: dict[str, Any]) -> None:
        outputs[name] = out
        out["game"]["source_sha256"] = source["sha256"]
        (parts / f"{name}.json").write_text(json.dumps({"key": key, "output": out}) + "\n")
        print(f"[{time.perf_counter() - started:7.1f}s] done {name}", flush=True)

    if args.jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_game_worker, s, cfg): s.name for s in todo}
            for fut in as_completed(futures):
                keep(futures[fut], fut.result())
    else:
        for s in todo:
            keep(s.name, run_game(s, cfg))
    order = [n for n in names if n in outputs]
    cells = [c for n in order for c in outputs[n]["cells"]]
    method_calls = {
        **{
            o: f"kernel_shap(f, X, baseline, num_samples=B, seed=s{', estimator=' + repr(o[5:]) if has_est else ''})"
            for o in ours
        },
        "shap-l1off": 'shap.KernelExplainer(f, baseline, link="identity").shap_values(X, nsamples=B, l1_reg=False, '
        "silent=True) after np.random.seed(s)",
        **{
            k: f"shapiq.approximator.{v[1]}, random_state=s; approximate(budget=B+2, game)"
            for k, v in SHAPIQ_METHODS.items()
        },
    }
    results: dict[str, Any] = {
        "benchmark": "estimators",
        "mode": "quick" if args.quick else "full",
        "argv": sys.argv[1:],
        "environment": environment(),
        "source": source,
        "config": {
            **{k: v for k, v in cfg.items() if k not in ("log", "has_estimator")},
            "kernel_shap_has_estimator": has_est,
            "ours_requested": wanted,
            "ours_methods": ours,
            "games": order,
            "jobs": args.jobs,
            "resumed_games": resumed,
            "baseline": "training mean (1 row)",
            "budget_matching": "B coalitions per row besides the empty and the full one: ours num_samples=B, "
            "shap nsamples=B, shapiq budget=B+2",
            "reference": {"num_samples": REF_SAMPLES, "seeds": REF_SEEDS, "first_seed": REF_SEED0}
            if not args.quick
            else {"num_samples": 2**15, "seeds": 2, "first_seed": REF_SEED0},
            "method_calls": method_calls,
            "pid": os.getpid(),
        },
        "games": [outputs[n]["game"] for n in order],
        "cells": cells,
        "failures": [f for n in order for f in outputs[n]["failures"]],
        "skipped": [s for n in order for s in outputs[n]["skipped"]],
        "total_seconds": time.perf_counter() - started,
    }
    results["ratios"] = compute_ratios(cells, ours)
    results["targets"] = compute_targets(cells, results["ratios"], ours)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(render_markdown(results) + "\n")
    print(f"wrote {args.out / (stem + '.json')} and .md in {results['total_seconds']:.0f} s")
    for t in results["targets"]:
        print(
            f"  {'PASS' if t['pass'] else 'FAIL'}  {t['estimator']}: {t['target']}: worst {fmt(t['measured_worst'])} "
            f"({t['worst_cell']}), median {fmt(t['median'])}, failing {t['cells_failing']}"
        )
    for f in results["failures"]:
        print(f"  failed: {f['game']} B={f['B']} {f['method']}: {f['error'][:120]}")


if __name__ == "__main__":
    main()
