"""NDCG as Model Monitor computes it: sklearn's ndcg_score, ties in the current scores averaged."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from openclarify.monitoring import ndcg

IDEAL = 3 + 2 / np.log2(3) + 1 / 2  # iDCG of the gains 3, 2, 1


def test_the_aws_documentation_example():
    # baseline SAT 0.70, GPA 0.50, Class rank 0.05; live 0.10, 0.20, 0.70 (Model Monitor's developer guide)
    assert ndcg([0.70, 0.50, 0.05], [0.10, 0.20, 0.70]) == pytest.approx(0.687639624122622, abs=1e-15)


@pytest.mark.parametrize(
    ("baseline", "current", "expected"),
    [
        pytest.param([3.0, 2.0, 1.0], [30.0, 20.0, 10.0], 1.0, id="same-order-any-scale"),
        pytest.param([3.0, 2.0, 1.0], [1.0, 2.0, 3.0], (1 + 2 / np.log2(3) + 3 / 2) / IDEAL, id="reversed"),
        # features 1 and 2 tie now: they share (2 + 1) / 2 over positions 2 and 3
        pytest.param([3.0, 2.0, 1.0], [5.0, 1.0, 1.0], (3 + 1.5 * (1 / np.log2(3) + 1 / 2)) / IDEAL, id="tie"),
        pytest.param([1.0, 1.0], [0.0, 5.0], 1.0, id="tied-baseline"),
        pytest.param([0.0, 0.0], [1.0, 2.0], 0.0, id="zero-baseline-as-sklearn"),
    ],
)  # fmt: skip
def test_hand_computed_cases(baseline, current, expected):
    assert ndcg(baseline, current) == pytest.approx(expected, abs=1e-12)


@settings(deadline=None, max_examples=200)
@given(
    st.integers(2, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0, 10, allow_nan=False), min_size=n, max_size=n),
            st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=n, max_size=n),  # many ties
        )
    )
)
def test_equals_sklearns_ndcg_score_with_ties(pair):
    baseline, current = pair
    if not any(baseline):
        return  # sklearn warns and returns 0.0 there; the all-zero case is tested above
    assert ndcg(baseline, current) == pytest.approx(ndcg_score([baseline], [current]), abs=1e-12)
