"""The edge rules of smclarify: divide, both-infinite, empty facets, truncated distributions, CDD and GE errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openclarify.bias import POST_TRAINING, PRE_TRAINING, BiasCounts, _metrics, divide

INF = math.inf


def counts(facet, label, predicted=None, group=None) -> BiasCounts:
    """Counts of rows given as 0/1 lists (group: list of values, coded in order of appearance)."""
    f = np.array(facet, dtype=bool)
    y = np.array(label, dtype=bool)
    p = None if predicted is None else np.array(predicted, dtype=bool)
    if group is None:
        return BiasCounts.from_arrays(f, y, p)
    values = list(dict.fromkeys(group))
    return BiasCounts.from_arrays(f, y, p, np.array([values.index(g) for g in group], dtype=np.int64), values)


def value(code, c):
    m = (PRE_TRAINING | POST_TRAINING)[code](c)
    assert m.error is None, m.error
    return m.value


def error(code, c):
    m = (PRE_TRAINING | POST_TRAINING)[code](c)
    assert m.value is None
    return m.error


# -- divide and both-infinite -------------------------------------------------------------------------------


def test_divide():
    assert divide(0, 0) == 0.0 and isinstance(divide(0, 0), float)
    assert divide(3, 0) == INF
    assert divide(-3, 0) == -INF
    assert divide(0.0, 0.0) == 0.0
    assert divide(3, 4) == 3 / 4


def test_both_infinite_rule_of_the_helper():
    assert _metrics._minus(INF, INF) == 0 and type(_metrics._minus(INF, INF)) is int
    assert _metrics._minus(INF, INF, 0.0) == 0.0 and type(_metrics._minus(INF, INF, 0.0)) is float
    assert _metrics._minus(INF, 2.0) == INF
    assert _metrics._minus(2.0, INF) == -INF


def test_dca_and_te_both_infinite_give_zero():
    """No positive prediction but positive labels in both facets: c_a = c_d = +inf; FP = 0 < FN: tau = +inf."""
    c = counts(facet=[0, 0, 0, 1, 1], label=[1, 1, 0, 1, 0], predicted=[0, 0, 0, 0, 0])
    assert value("DCA", c) == 0 and type(value("DCA", c)) is int  # smclarify writes the int 0
    assert value("TE", c) == 0.0 and type(value("TE", c)) is float
    # the 0/0 rule for the same data: nobody predicted positive
    assert value("DPPL", c) == 0.0
    assert value("DI", c) == 0.0
    assert value("DAR", c) == 0.0  # precision 0/0 in both facets
    assert value("RD", c) == 0.0  # recall 0/1 - 0/1


def test_dcr_both_infinite_gives_zero():
    """Everybody predicted positive, negatives in both facets: r_a = r_d = +inf."""
    c = counts(facet=[0, 0, 0, 1, 1], label=[1, 0, 0, 0, 1], predicted=[1, 1, 1, 1, 1])
    assert value("DCR", c) == 0 and type(value("DCR", c)) is int


def test_one_infinite_side():
    # a: FN only (tau_a = 1/0 = inf); d: FN 1, FP 2 (tau_d = 1/2) -> TE = 1/2 - inf
    c = counts(facet=[0, 1, 1, 1], label=[1, 1, 0, 0], predicted=[0, 0, 1, 1])
    assert value("TE", c) == -INF
    # c_a = 1/0 (a has a positive label, no positive prediction), c_d = 1/2 -> DCA = inf - 1/2
    assert value("DCA", c) == INF
    # a: observed negatives 0, predicted negatives 1 -> r_a = 0; d: 2 / 1 -> DCR = 2 - 0
    assert value("DCR", c) == 2.0
    # DI: a never predicted positive, d sometimes -> +inf
    c = counts(facet=[0, 0, 1, 1], label=[0, 1, 0, 1], predicted=[0, 0, 1, 0])
    assert value("DI", c) == INF


# -- empty facets -------------------------------------------------------------------------------------------

EMPTY_D = {
    "CI": "CI: facet set is empty. Check that x[facet] has non-zero length.",
    "DPL": "Facet set is empty.",
    "DPPL": "Facet set is empty.",
    "DI": "Facet set is empty",
    "DCA": "DCO: Facet set is empty",
    "DCR": "DCO: Facet set is empty",
    "DAR": "DLR: Facet set is empty",
    "DRR": "DLR: Facet set is empty",
    "RD": "DLA: Facet set is empty",
    "SD": "DLA: Facet set is empty",
    "AD": "Facet set is empty",
    "TE": "Facet set is empty",
    **dict.fromkeys(["KL", "JS", "LP", "TVD", "KS"], "No instance of common facet found, dataset may be too small"),
}
EMPTY_A = {
    "CI": "CI: negated facet set is empty. Check that x[~facet] has non-zero length.",
    "DPL": "Negative facet set is empty.",
    "DPPL": "Negative facet set is empty.",
    "DI": "Negated facet set is empty",
    "DCA": "DCO: Negated Facet set is empty",
    "DCR": "DCO: Negated Facet set is empty",
    "DAR": "DLR: Negated Facet set is empty",
    "DRR": "DLR: Negated Facet set is empty",
    "RD": "DLA: Negated Facet set is empty",
    "SD": "DLA: Negated Facet set is empty",
    "AD": "Negated Facet set is empty",
    "TE": "Negated Facet set is empty",
    **dict.fromkeys(["KL", "JS", "LP", "TVD", "KS"], "No instance of common facet found, dataset may be too small"),
}
LABEL, PRED, GROUP = [1, 0, 1, 0, 0, 1], [1, 1, 0, 0, 1, 0], ["x", "y", "x", "y", "x", "x"]


# CDD checks no facet. d empty: every A_i = D_i = 0. a empty: A_i = 1 where group i has a positive, D_i = 1
# where it has a negative; group "y" (2 rows) has negative labels only: CDDL = 2 * (1 - 0) / 6.
@pytest.mark.parametrize(
    ("facet", "messages", "cddl"), [([0] * 6, EMPTY_D, 0.0), ([1] * 6, EMPTY_A, 2 * (1 - 0) / 6)], ids=["d", "a"]
)
def test_empty_facet_errors(facet, messages, cddl):
    c = counts(facet, LABEL, PRED, GROUP)
    for code, message in messages.items():
        assert error(code, c) == message, code
    assert value("CDDL", c) == pytest.approx(cddl)
    assert value("CDDPL", c) == 0.0  # both groups have both predicted outcomes
    # GE ignores the facet: b = [1, 2, 0, 1, 2, 0], mu = 1
    assert value("GE", c) == pytest.approx((2 * (0 - 1) + 2 * (1 - 1) + 2 * (4 - 1)) / (2 * 6))


def test_no_rows_at_all():
    c = counts([], [], [], [])
    assert error("CI", c) == EMPTY_A["CI"]  # smclarify checks facet a first for CI, DPL, DI ...
    assert error("DPL", c) == EMPTY_A["DPL"]
    assert error("DI", c) == EMPTY_A["DI"]
    assert error("DCA", c) == EMPTY_D["DCA"]  # ... and facet d first for the others
    assert error("TE", c) == EMPTY_D["TE"]
    assert error("CDDL", c) == "Group variable is empty or not provided"
    assert error("GE", c) == "dataset must be non-empty"


# -- distributions over the collapsed label, truncated to common outcomes ------------------------------------


def test_smclarify_kl_quirk_value():
    """smclarify's test: labels [T,T,T,F,F,F], facet [T,F,F,F,F,F]. d = {T}; a: 2 of 5 positive.
    Only the positive outcome is non-zero in both: KL = Pa(+) ln(Pa(+)/Pd(+)) = 2/5 ln(2/5) < 0."""
    c = counts(facet=[1, 0, 0, 0, 0, 0], label=[1, 1, 1, 0, 0, 0])
    assert value("KL", c) == pytest.approx(2 / 5 * math.log(2 / 5), rel=1e-12)
    assert value("KL", c) == pytest.approx(-0.366516, abs=1e-6)
    assert value("JS", c) == pytest.approx(0.5 * (2 / 5 * math.log((2 / 5) / (7 / 10)) + math.log(1 / (7 / 10))))
    assert value("JS", c) == pytest.approx(0.06641431438228168)  # smclarify's expected value
    assert value("LP", c) == pytest.approx(1 - 2 / 5)
    assert value("TVD", c) == pytest.approx((1 - 2 / 5) / 2)  # half the true TVD
    assert value("KS", c) == pytest.approx(1 - 2 / 5)
    # smclarify's second case: both facets half positive -> 0
    c = counts(facet=[1, 0, 0, 0, 1, 0], label=[1, 1, 1, 0, 0, 0])
    assert value("KL", c) == 0.0 and value("JS", c) == 0.0 and value("LP", c) == 0.0


def test_facet_without_positives():
    """d has no positive label: the distributions keep the negative outcome only; its recall is 0/0 = 0."""
    c = counts(facet=[0, 0, 0, 0, 0, 1, 1, 1], label=[1, 1, 0, 0, 0, 0, 0, 0], predicted=[1, 0, 0, 1, 0, 0, 1, 0])
    assert value("DPL", c) == pytest.approx(2 / 5 - 0 / 3)
    assert value("KL", c) == pytest.approx(3 / 5 * math.log(3 / 5 / 1))
    assert value("JS", c) == pytest.approx(0.5 * (3 / 5 * math.log((3 / 5) / (4 / 5)) + math.log(1 / (4 / 5))))
    assert value("LP", c) == pytest.approx(2 / 5)
    assert value("TVD", c) == pytest.approx(1 / 5)
    assert value("KS", c) == pytest.approx(2 / 5)
    # a: TP 1, FN 1, FP 1, TN 2 ; d: FP 1, TN 2
    assert value("RD", c) == pytest.approx(1 / 2 - 0.0)
    assert value("DCA", c) == pytest.approx(2 / 2 - 0 / 1)
    assert value("TE", c) == pytest.approx(0 / 1 - 1 / 1)


def test_no_common_outcome():
    c = counts(facet=[1, 1, 0, 0], label=[1, 1, 0, 0])
    for code in ("KL", "JS", "LP", "TVD", "KS"):
        assert error(code, c) == "No instance of common facet found, dataset may be too small"
    assert value("DPL", c) == -1.0


# -- CDD and GE errors ----------------------------------------------------------------------------------------


def test_cdd_errors():
    c = counts(facet=[1, 0, 1, 0], label=[1, 0, 0, 1], predicted=[1, 1, 0, 0])
    assert error("CDDL", c) == "Group variable is empty or not provided"
    assert error("CDDPL", c) == "Group variable is empty or not provided"
    g = ["u", "v", "u", "v"]
    c = counts(facet=[1, 0, 1, 0], label=[0, 0, 0, 0], predicted=[1, 1, 1, 1], group=g)
    assert error("CDDL", c) == "No positive labels in set"
    assert error("CDDPL", c) == "No negative labels in set"
    c = counts(facet=[1, 0, 1, 0], label=[1, 1, 1, 1], predicted=[0, 0, 0, 0], group=g)
    assert error("CDDL", c) == "No negative labels in set"
    assert error("CDDPL", c) == "No positive labels in set"


def test_ge_all_false_negatives():
    c = counts(facet=[1, 0, 0], label=[1, 1, 1], predicted=[0, 0, 0])
    assert error("GE", c) == (
        "All predicted labels are false negatives. There should be at least one prediction that is not false negative."
    )


def test_ge_perfect_predictions_is_zero():
    c = counts(facet=[1, 0, 0, 1], label=[1, 0, 1, 0], predicted=[1, 0, 1, 0])
    assert value("GE", c) == 0.0
