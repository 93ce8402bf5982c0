"""Every bias metric on a 16-row table, against values worked out by hand from its confusion counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openclarify.bias import (
    POST_TRAINING,
    PRE_TRAINING,
    BiasCounts,
    post_training_metrics,
    pre_training_metrics,
)

# (in facet d, label positive, prediction positive, group)
ROWS = [
    (1, 1, 1, "g1"),  # d TP
    (1, 1, 1, "g2"),  # d TP
    (1, 0, 1, "g1"),  # d FP
    (1, 1, 0, "g2"),  # d FN
    (1, 0, 0, "g1"),  # d TN
    (1, 0, 0, "g2"),  # d TN
    (0, 1, 1, "g1"),  # a TP
    (0, 1, 1, "g1"),  # a TP
    (0, 1, 1, "g2"),  # a TP
    (0, 0, 1, "g1"),  # a FP
    (0, 0, 1, "g2"),  # a FP
    (0, 0, 1, "g2"),  # a FP
    (0, 1, 0, "g1"),  # a FN
    (0, 0, 0, "g1"),  # a TN
    (0, 0, 0, "g2"),  # a TN
    (0, 0, 0, "g2"),  # a TN
]
# d: TP 2, FP 1, FN 1, TN 2 (n_d = 6); a: TP 3, FP 3, FN 1, TN 3 (n_a = 10)


def counts_of(rows, *, predicted=True, group=True) -> BiasCounts:
    facet = np.array([r[0] for r in rows], dtype=bool)
    label = np.array([r[1] for r in rows], dtype=bool)
    pred = np.array([r[2] for r in rows], dtype=bool) if predicted else None
    if not group:
        return BiasCounts.from_arrays(facet, label, pred)
    values = ["g2", "g1"]  # codes deliberately not in sorted order
    codes = np.array([values.index(r[3]) for r in rows], dtype=np.int64)
    return BiasCounts.from_arrays(facet, label, pred, codes, values)


C = counts_of(ROWS)

PA = [6 / 10, 4 / 10]  # facet a: negative, positive label
PD = [3 / 6, 3 / 6]
PM = [(PA[0] + PD[0]) / 2, (PA[1] + PD[1]) / 2]

EXPECTED = {
    "CI": (10 - 6) / 16,
    "DPL": 4 / 10 - 3 / 6,
    "KL": PA[0] * math.log(PA[0] / PD[0]) + PA[1] * math.log(PA[1] / PD[1]),
    "JS": 0.5 * sum(PA[k] * math.log(PA[k] / PM[k]) + PD[k] * math.log(PD[k] / PM[k]) for k in (0, 1)),
    "LP": math.sqrt((6 / 10 - 3 / 6) ** 2 + (4 / 10 - 3 / 6) ** 2),
    "TVD": 0.5 * (abs(6 / 10 - 3 / 6) + abs(4 / 10 - 3 / 6)),
    "KS": max(abs(6 / 10 - 3 / 6), abs(4 / 10 - 3 / 6)),
    # g1: 8 rows, labels +: rows 1,7,8,13 (d: 1) ; labels -: 3,5,10,14 (d: 3,5)
    # g2: 8 rows, labels +: rows 2,4,9 (d: 2,4) ; labels -: 6,11,12,15,16 (d: 6)
    "CDDL": (8 * (2 / 4 - 1 / 4) + 8 * (1 / 5 - 2 / 3)) / 16,
    "DPPL": 6 / 10 - 3 / 6,
    "DI": (3 / 6) / (6 / 10),
    "DCA": 4 / 6 - 3 / 3,  # observed / predicted positives, a - d
    "DCR": 3 / 3 - 6 / 4,  # observed / predicted negatives, d - a
    "RD": 3 / 4 - 2 / 3,
    "SD": 2 / 3 - 3 / 6,
    "DAR": 3 / 6 - 2 / 3,
    "DRR": 2 / 3 - 3 / 4,
    "AD": (3 + 3) / 10 - (2 + 2) / 6,
    # g1: predicted +: rows 1,3,7,8,10 (d: 1,3) ; predicted -: 5,13,14 (d: 5)
    # g2: predicted +: rows 2,9,11,12 (d: 2) ; predicted -: 4,6,15,16 (d: 4,6)
    "CDDPL": (8 * (1 / 3 - 2 / 5) + 8 * (2 / 4 - 1 / 4)) / 16,
    "TE": 1 / 1 - 1 / 3,
    # b = yhat - y + 1: FN -> 0 (2 rows), TP/TN -> 1 (10 rows), FP -> 2 (4 rows); mu = 18/16
    "GE": (2 * (0 - 1) + 10 * ((16 / 18) ** 2 - 1) + 4 * ((32 / 18) ** 2 - 1)) / (2 * 16),
}


def test_the_table_has_the_intended_confusion_counts():
    # [facet][label][prediction]
    assert C.confusion.tolist() == [[[3, 3], [1, 3]], [[2, 1], [1, 2]]]
    assert C.n_rows == 16
    assert C.benefit_counts == (2, 10, 4)
    assert C.groups == ("g1", "g2")


@pytest.mark.parametrize("code", sorted(PRE_TRAINING) + sorted(POST_TRAINING))
def test_formula(code):
    registry = PRE_TRAINING if code in PRE_TRAINING else POST_TRAINING
    result = registry[code](C)
    assert result.error is None
    assert result.name == code
    assert result.value == pytest.approx(EXPECTED[code], rel=1e-12, abs=1e-15)


def test_binary_collapse_identities():
    """On the binary label with both outcomes in both facets: KS = TVD = |DPL|, LP = sqrt(2) |DPL|."""
    v = {m.name: m.value for m in pre_training_metrics(C)}
    assert v["KS"] == pytest.approx(abs(v["DPL"]))
    assert v["TVD"] == pytest.approx(abs(v["DPL"]))
    assert v["LP"] == pytest.approx(math.sqrt(2) * abs(v["DPL"]))


def test_descriptions_are_clarify_strings():
    expected = {
        "CI": "Class Imbalance (CI)",
        "DPL": "Difference in Positive Proportions in Labels (DPL)",
        "KL": "Kullback-Liebler Divergence (KL)",
        "JS": "Jensen-Shannon Divergence (JS)",
        "LP": "L-p Norm (LP)",
        "TVD": "Total Variation Distance (TVD)",
        "KS": "Kolmogorov-Smirnov Distance (KS)",
        "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
        "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
        "DI": "Disparate Impact (DI)",
        "DCA": "Difference in Conditional Acceptance (DCA)",
        "DCR": "Difference in Conditional Rejection (DCR)",
        "RD": "Recall Difference (RD)",
        "SD": "Specificity Difference (SD)",
        "DAR": "Difference in Acceptance Rates (DAR)",
        "DRR": "Difference in Rejection Rates (DRR)",
        "AD": "Accuracy Difference (AD)",
        "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
        "TE": "Treatment Equality (TE)",
        "GE": "Generalized Entropy (GE)",
    }
    got = {code: m.description for code, m in {**PRE_TRAINING, **POST_TRAINING}.items()}
    assert got == expected
    for m in post_training_metrics(C) + pre_training_metrics(C):
        assert m.description == expected[m.name]


def test_registries_are_in_name_order_and_leave_out_ft():
    assert list(PRE_TRAINING) == ["CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD"]
    assert list(POST_TRAINING) == ["AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "GE", "RD", "SD", "TE"]
    assert "FT" not in POST_TRAINING
    assert [m.name for m in post_training_metrics(C)] == list(POST_TRAINING)
    assert [m.name for m in pre_training_metrics(C, ["KL", "CI", "KL"])] == ["CI", "KL"]


def test_unknown_code_and_missing_predictions_are_caller_errors():
    with pytest.raises(ValueError, match="XX"):
        pre_training_metrics(C, ["CI", "XX"])
    with pytest.raises(ValueError, match="FT"):
        post_training_metrics(C, ["FT"])
    without = counts_of(ROWS, predicted=False)
    assert [m.error for m in pre_training_metrics(without)] == [None] * 8
    with pytest.raises(ValueError, match="predicted"):
        POST_TRAINING["DI"](without)


def test_group_values_are_sorted_and_cdd_sums_in_that_order():
    """Three groups coded in reverse order: CDD adds n_i * DD_i over the values in ascending order."""
    # group "c": d+, a-            -> A = 1/1, D = 0/1
    # group "b": d-, a+, a-        -> A = 0/1, D = 1/2
    # group "a": d+, d-, a+, a+    -> A = 1/3, D = 1/1
    rows = [(1, 1, "c"), (0, 0, "c"), (1, 0, "b"), (0, 1, "b"), (0, 0, "b"), (1, 1, "a"), (1, 0, "a")]
    rows += [(0, 1, "a"), (0, 1, "a")]
    values = ["c", "b", "a"]
    c = BiasCounts.from_arrays(
        np.array([r[0] for r in rows], dtype=bool),
        np.array([r[1] for r in rows], dtype=bool),
        group=np.array([values.index(r[2]) for r in rows]),
        group_values=values,
    )
    assert c.groups == ("a", "b", "c")
    dd = np.array([4 * (1 - 1 / 3), 3 * (1 / 2 - 0), 2 * (0 - 1)])  # a, b, c
    assert PRE_TRAINING["CDDL"](c).value == float(np.sum(dd) / 9)
    assert PRE_TRAINING["CDDL"](c).value == pytest.approx((4 * (2 / 3) + 3 * (1 / 2) - 2) / 9)
