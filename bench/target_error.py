#!/usr/bin/env python
"""``target_error``: model calls to reach a standard error, in rounds against the fixed budgets.

For each game (exact Shapley values known: tabular games by enumeration, and DBpedia abstracts of 10-14
tokens explained at token level with the fastText model of bench/_dbpedia.py, exact with every coalition)
and target ``t`` (a fraction of the game's largest |phi|):

* ``rounds``: ``kernel_shap`` (or ``kernel_shap_text``) with ``estimator="gp", target_error=t,
  num_samples=4096``: the model rows it scored, the share of records whose largest standard error reached
  ``t``, and the actual errors;
* ``fixed``: the same with ``num_samples=B`` for B in 64, 128, ..., 4096 and no target: the smallest B at
  which every record's largest standard error is at most ``t`` ("a fixed budget that achieves it"), and
  its model rows.

The ratio rounds / fixed (model rows) below 1 means the rounds got there with fewer model calls. The
actual error columns show what the standard errors promise: the RMS error of the values, and the share
of values within 1.96 standard errors of the exact value.

Usage::

    python bench/target_error.py            # -> bench/results/target_error.{json,md}
    python bench/target_error.py --quick    # fewer rows -> target_error_quick.*
    python bench/target_error.py --no-text  # the tabular games only (no fastText)
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass
class Run:
    """One explanation of a game's records: values and standard errors flattened per record."""

    phi: list[np.ndarray]
    stderr: list[np.ndarray]
    model_rows: int
    met: np.ndarray | None  # with a target: whether each record's largest standard error reached it
    used: np.ndarray  # coalitions each record used


@dataclass
class Game:
    name: str
    truth: list[np.ndarray]  # exact values per record, flattened like Run.phi
    explain: Callable[[int, int, float | None], Run]  # (num_samples, seed, target_error)


def tabular_game(name: str, f: Any, X: np.ndarray, b: np.ndarray) -> Game:
    def explain(num_samples: int, seed: int, target: float | None) -> Run:
        r = kernel_shap(f, X, b[None], num_samples=num_samples, seed=seed, estimator="gp", target_error=target)
        assert r.stderr is not None
        used = r.record_num_samples if r.record_num_samples is not None else np.full(len(X), r.num_samples)
        return Run(list(r.phi[:, :, 0]), list(r.stderr[:, :, 0]), r.model_rows, r.target_met, np.asarray(used))

    return Game(name, [exact(f, x, b) for x in X], explain)


def tabular_games(rows: int) -> list[Game]:
    out = []
    X, y = load_diabetes(return_X_y=True)
    gbm = GradientBoostingRegressor(n_estimators=200, max_depth=4, random_state=0).fit(X[:300], y[:300])
    out.append(tabular_game("diabetes10-gbm", gbm.predict, X[300 : 300 + rows], X[:300].mean(axis=0)))
    svr = SVR(C=100).fit(X[:300], y[:300])
    out.append(tabular_game("diabetes10-svr", svr.predict, X[300 : 300 + rows], X[:300].mean(axis=0)))
    x, yy = make_data(12, 3000, np.random.default_rng(20240611))
    test = make_data(12, rows, np.random.default_rng(7))[0]
    g = GradientBoostingClassifier(n_estimators=200, max_depth=4, random_state=0).fit(x, yy)
    out.append(tabular_game("syn12-gbm", lambda a: g.predict_proba(a)[:, 1], test, x.mean(axis=0)))
    mlp = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=500, random_state=0).fit(x, yy)
    out.append(tabular_game("syn12-mlp", lambda a: mlp.predict_proba(a)[:, 1], test, x.mean(axis=0)))
    return out


TEXT_UNITS = (10, 14)  # tokens per abstract: exact values with every coalition (at most 2**14 - 2 each)


def text_game(rows: int) -> tuple[Game, dict[str, Any]]:
    """DBpedia abstracts of 10-14 tokens, the 14 class probabilities of the benchmarks' fastText model,
    token level against the baseline ``<UNK>``."""
    import _dbpedia
    import fasttext
    import pandas as pd

    from openclarify.models import FastTextPredictor
    from openclarify.shapley import kernel_shap_text
    from openclarify.text import Segmenter

    path, info = _dbpedia.cached_model()
    predictor = FastTextPredictor(fasttext.load_model(str(path)), name="dbpedia", text_normalization="lower-tokenize")
    seg = Segmenter("token", "en")
    _, texts = _dbpedia.load_split("test")
    picked = [t for t in texts if TEXT_UNITS[0] <= len(seg(t)) <= TEXT_UNITS[1]][:rows]
    frame, baseline = pd.DataFrame({"text": picked}), pd.DataFrame({"text": ["<UNK>"]})

    def run(num_samples: int, seed: int, target: float | None, estimator: str = "gp") -> Any:
        return kernel_shap_text(
            predictor, frame, baseline, text_columns=["text"], segmenter=seg, num_samples=num_samples, seed=seed,
            estimator=estimator, target_error=target,  # type: ignore[arg-type]
        )  # fmt: skip

    def explain(num_samples: int, seed: int, target: float | None) -> Run:
        r = run(num_samples, seed, target)
        assert r.stderr is not None
        return Run([p.reshape(-1) for p in r.phi], [e.reshape(-1) for e in r.stderr], r.model_rows, r.target_met,
                   np.asarray(r.num_samples))  # fmt: skip

    every = run(2 ** TEXT_UNITS[1] - 2, 0, None, "kernel")
    assert bool(np.all(every.exact)), "every coalition of each abstract is scored"
    units = [len(p) for p in every.players]
    meta = {"model": info, "records": len(picked), "units": units, "outputs": int(every.f_x.shape[1])}
    return Game("dbpedia-fasttext-tokens", [p.reshape(-1) for p in every.phi], explain), meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-text", action="store_true", help="leave out the DBpedia fastText game")
    args = parser.parse_args()
    rows, seeds = (6, 1) if args.quick else (16, 3)
    started = time.perf_counter()
    cells = []
    games = tabular_games(rows)
    text_meta = None
    if not args.no_text:
        text, text_meta = text_game(rows)
        games.append(text)
    for game in games:
        truth = np.concatenate(game.truth)
        scale = float(np.abs(truth).max())
        for share, seed in itertools.product(TARGETS, range(seeds)):
            t = share * scale
            r = game.explain(CAP, seed, t)
            assert r.met is not None
            err = np.concatenate(r.phi) - truth
            cell: dict[str, Any] = {
                "game": game.name, "target_share": share, "target": t, "seed": seed, "rounds_model_rows": r.model_rows,
                "rounds_met": float(r.met.mean()), "rounds_mean_num_samples": float(r.used.mean()),
                "rounds_rms_error": float(np.sqrt((err**2).mean())),
                # an exact value has standard error 0 and an error of rounding: within 1e-9 of the scale counts
                "rounds_covered": float((np.abs(err) <= 1.96 * np.concatenate(r.stderr) + 1e-9 * scale).mean()),
            }  # fmt: skip
            cell["fixed_budget"] = None
            for budget in BUDGETS:
                fixed = game.explain(budget, seed, None)
                achieved = all(float(e.max(initial=0.0)) <= t for e in fixed.stderr)
                if achieved or budget == BUDGETS[-1]:
                    ferr = np.concatenate(fixed.phi) - truth
                    cell.update(fixed_budget=budget if achieved else None, fixed_model_rows=fixed.model_rows,
                                fixed_rms_error=float(np.sqrt((ferr**2).mean())))  # fmt: skip
                    break
            cell["ratio"] = (cell["rounds_model_rows"] / cell["fixed_model_rows"]) if cell["fixed_budget"] else None
            cells.append(cell)
            print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in cell.items()}), flush=True)
    out = HERE / "results" / ("target_error_quick" if args.quick else "target_error")
    libraries = ["numpy", "scipy", "scikit-learn"] + ([] if args.no_text else ["fasttext", "pandas"])
    env = _common.environment(libraries, openclarify=_common.version("openclarify"))
    document = {"environment": env, "rows": rows, "seeds": seeds, "cap": CAP, "budgets": BUDGETS, "text": text_meta,
                "cells": cells, "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        "# target_error: model rows to reach a standard error (`bench/target_error.py`)",
        "",
        f"{rows} rows x {seeds} seeds per game and target; rounds capped at num_samples = {CAP}; fixed budgets "
        f"{', '.join(map(str, BUDGETS))}. Target = a share of the game's largest |phi|. Single-threaded BLAS, "
        f"{env['cpu_count']} CPUs; {document['seconds']} s.",
        "",
    ]
    if text_meta is not None:
        lines += [
            f"dbpedia-fasttext-tokens: the first {text_meta['records']} test abstracts of {TEXT_UNITS[0]}-"
            f"{TEXT_UNITS[1]} tokens (units {'/'.join(map(str, text_meta['units']))}), token level against "
            f"`<UNK>`, all {text_meta['outputs']} class probabilities explained (every value's standard error "
            "counts); exact values from every coalition.",
            "",
        ]
    lines += [
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
