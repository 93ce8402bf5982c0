"""Agreement with aif360 on the metrics both compute (aif360 subtracts the other way: unprivileged minus
privileged, where Clarify's differences are facet a minus facet d, a being the privileged rows)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from openclarify.bias import BiasCounts, post_training_metrics, pre_training_metrics


@pytest.fixture(scope="module")
def aif360():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # aif360 logs its optional extras at import
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            datasets = pytest.importorskip("aif360.datasets")
            metrics = pytest.importorskip("aif360.metrics")
    finally:
        root.setLevel(level)
    return datasets, metrics


def test_aif360_agreement(aif360):
    datasets, metrics = aif360
    rng = np.random.default_rng(21)
    n = 800
    facet = rng.random(n) < 0.35
    label = rng.random(n) < np.where(facet, 0.35, 0.55)
    predicted = np.where(rng.random(n) < 0.8, label, ~label) & (rng.random(n) < np.where(facet, 0.8, 0.95))
    frame = pd.DataFrame({"d": facet.astype(float), "x": rng.normal(size=n), "y": label.astype(float)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = datasets.BinaryLabelDataset(
            df=frame, label_names=["y"], protected_attribute_names=["d"], favorable_label=1.0, unfavorable_label=0.0
        )
        guess = truth.copy()
        guess.labels = predicted.astype(float).reshape(-1, 1)
        groups = {"unprivileged_groups": [{"d": 1.0}], "privileged_groups": [{"d": 0.0}]}
        on_labels = metrics.BinaryLabelDatasetMetric(truth, **groups)
        on_predictions = metrics.ClassificationMetric(truth, guess, **groups)
        theirs = {
            "DPL": -on_labels.statistical_parity_difference(),
            "DPPL": -on_predictions.statistical_parity_difference(),
            "DI": on_predictions.disparate_impact(),
            "RD": -on_predictions.equal_opportunity_difference(),  # true positive rate, unprivileged - privileged
            "AD": on_predictions.accuracy(privileged=True) - on_predictions.accuracy(privileged=False),
            "CI": (on_labels.num_instances(privileged=True) - on_labels.num_instances(privileged=False)) / n,
        }
    counts = BiasCounts.from_arrays(facet, label, predicted)
    ours = {m.name: m.value for m in [*pre_training_metrics(counts), *post_training_metrics(counts)]}
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name
