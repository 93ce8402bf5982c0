"""Bias metrics: openclarify's one counting pass against fairlearn's MetricFrame, side by side.

1,000,000 records (default), a 4-valued categorical facet explained one value against the rest, a
binary label, model predictions and a 5-valued group variable. Timed, each the best of 3:

- openclarify, pre-training: every pre-training metric (CI, DPL, KL, JS, LP, TVD, KS, CDDL) for every
  facet value, counts included (one ``np.bincount`` pass over the records);
- openclarify, post-training: every count-based post-training metric (all but FT) for every facet value;
- fairlearn: ``demographic_parity_difference`` and ``demographic_parity_ratio`` per value against the
  rest (the metrics both have: DPPL and DI; timed once, it is slow), and one ``MetricFrame`` of the
  selection rate by facet value (fairlearn's cheapest way to the same counts);
- the end-to-end job, ``run_analysis`` with ``methods.pre_training_bias`` on a CSV of the same records
  (reading the CSV included), at ``--rows-job`` records (default 200,000).

The values both compute are checked to agree (|DPPL| and DI against fairlearn's one-vs-rest difference
and ratio) before anything is timed. Run: ``python bench/bias.py [--rows N]``. Writes
``bench/results/bias.json`` and ``bench/results/bias.md``.
"""

from __future__ import annotations

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import _common  # noqa: F401  (one BLAS thread; import before numpy)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from openclarify import parse_analysis_config, run_analysis  # noqa: E402
from openclarify.bias import facet_value_counts, post_training_metrics, pre_training_metrics  # noqa: E402

RESULTS = Path(__file__).parent / "results"
BIAS = "src/openclarify/bias"


def _best(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def _data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    facet = rng.integers(0, 4, n)
    group = rng.integers(0, 5, n)
    label = rng.random(n) < 0.3 + 0.1 * facet
    predicted = rng.random(n) < 0.25 + 0.12 * facet
    return {"facet": facet, "group": group, "label": label, "predicted": predicted}


def _openclarify_pre(d: dict[str, np.ndarray]) -> list[list[Any]]:
    counts = facet_value_counts(d["facet"], 4, d["label"], None, d["group"])
    return [pre_training_metrics(c) for c in counts]


def _openclarify_post(d: dict[str, np.ndarray]) -> list[list[Any]]:
    counts = facet_value_counts(d["facet"], 4, d["label"], d["predicted"], d["group"])
    return [post_training_metrics(c) for c in counts]


def _fairlearn(d: dict[str, np.ndarray]) -> list[tuple[float, float]]:
    from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio

    out = []
    y, yhat = d["label"].astype(int), d["predicted"].astype(int)
    for v in range(4):
        sensitive = d["facet"] == v
        out.append(
            (
                demographic_parity_difference(y, yhat, sensitive_features=sensitive),
                demographic_parity_ratio(y, yhat, sensitive_features=sensitive),
            )
        )
    return out


def _fairlearn_frame(d: dict[str, np.ndarray]) -> Any:
    from fairlearn.metrics import MetricFrame, selection_rate

    y, yhat = d["label"].astype(int), d["predicted"].astype(int)
    return MetricFrame(metrics=selection_rate, y_true=y, y_pred=yhat, sensitive_features=d["facet"]).by_group


def _job(n: int, folder: Path) -> float:
    d = _data(n, seed=1)
    frame = pd.DataFrame({"facet": d["facet"], "group": d["group"], "x": np.arange(n) % 7, "y": d["label"].astype(int)})
    frame.to_csv(folder / "d.csv", index=False)
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "facet"}],
            "group_variable": "group",
            "methods": {"pre_training_bias": {"methods": "all"}},
        }
    )
    seconds, _ = _best(
        lambda: run_analysis(config, model=None, data=folder / "d.csv", output_dir=folder / "out", overwrite=True),
        repeat=2,
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows-job", type=int, default=200_000)
    args = parser.parse_args()
    d = _data(args.rows)

    # agreement on the metrics both have, before timing
    post = _openclarify_post(d)
    theirs = _fairlearn(d)
    for v, (metrics, (difference, ratio)) in enumerate(zip(post, theirs, strict=True)):
        by = {m.name: m.value for m in metrics}
        assert abs(abs(by["DPPL"]) - difference) < 1e-12, (v, by["DPPL"], difference)
        assert abs(min(by["DI"], 1 / by["DI"]) - ratio) < 1e-12, (v, by["DI"], ratio)

    t_pre, _ = _best(lambda: _openclarify_pre(d))
    t_post, _ = _best(lambda: _openclarify_post(d))
    t_fair, _ = _best(lambda: _fairlearn(d), repeat=1)
    t_frame, _ = _best(lambda: _fairlearn_frame(d))
    with tempfile.TemporaryDirectory() as tmp:
        t_job = _job(args.rows_job, Path(tmp))

    result = {
        "rows": args.rows,
        "facet_values": 4,
        "group_values": 5,
        "seconds": {
            "openclarify_pre_training_all_8": t_pre,
            "openclarify_post_training_all_12_count_based": t_post,
            "fairlearn_dppl_and_di_one_vs_rest": t_fair,
            "fairlearn_metricframe_selection_rate_by_value": t_frame,
            f"openclarify_job_pre_training_csv_{args.rows_job}_rows": t_job,
        },
        "ratio_fairlearn_metricframe_over_openclarify_post": t_frame / t_post,
        "environment": _common.environment(["numpy", "pandas", "fairlearn", "scikit-learn"]),
        "source": _common.source_info(["src/openclarify/bias"], sorted((_common.ROOT / BIAS).glob("*.py"))),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bias.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Bias metrics, {args.rows:,} records, a 4-valued facet (one value against the rest), 5 groups",
        "",
        "| what | seconds |",
        "|---|---|",
        f"| openclarify: all 8 pre-training metrics for the 4 values, counting included | {_common.fmt(t_pre)} |",
        f"| openclarify: all 12 count-based post-training metrics for the 4 values | {_common.fmt(t_post)} |",
        "| fairlearn: demographic parity difference and ratio (DPPL, DI), each value against the rest | "
        f"{_common.fmt(t_fair)} |",
        f"| fairlearn: one `MetricFrame` of the selection rate by facet value | {_common.fmt(t_frame)} |",
        f"| openclarify job: pre-training bias from a {args.rows_job:,}-record CSV, end to end | "
        f"{_common.fmt(t_job)} |",
        "",
        f"one fairlearn MetricFrame (1 rate per value) / openclarify (12 metrics per value): {t_frame / t_post:.0f}x",
        "",
    ]
    (RESULTS / "bias.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
