"""BiasCounts: built in one pass, merged exactly, and the same metrics bit for bit from any split of the rows."""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pytest

from openclarify.bias import BiasCounts, facet_value_counts, post_training_metrics, pre_training_metrics

GROUP_VALUES = np.array(["west", "east", "north", "south", "mid"])


def _data(seed: int, n: int):
    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, 4, n)  # -1: none of the four facet values
    label = rng.random(n) < 0.35
    predicted = rng.random(n) < 0.45
    group = rng.integers(0, len(GROUP_VALUES), n)
    return codes, label, predicted, group


def _chunk_counts(codes, label, predicted, group, lo, hi, value=0):
    """Counts of rows lo..hi-1, with the chunk's own group coding (np.unique over the chunk's values)."""
    values, local = np.unique(GROUP_VALUES[group[lo:hi]], return_inverse=True)
    return BiasCounts.from_arrays(codes[lo:hi] == value, label[lo:hi], predicted[lo:hi], local, values)


def _bits(results):
    return [(m.name, m.error, None if m.value is None else np.float64(m.value).tobytes()) for m in results]


@pytest.mark.parametrize("seed", range(5))
def test_merged_chunks_equal_the_whole_bit_for_bit(seed):
    codes, label, predicted, group = _data(seed, 400)
    whole = _chunk_counts(codes, label, predicted, group, 0, 400)
    rng = np.random.default_rng(100 + seed)
    cuts = [0, *sorted(rng.choice(np.arange(1, 400), size=int(rng.integers(1, 8)), replace=False)), 400]
    parts = [_chunk_counts(codes, label, predicted, group, lo, hi) for lo, hi in zip(cuts, cuts[1:], strict=False)]
    merged = reduce(BiasCounts.merge, parts, BiasCounts.empty(has_predicted=True, has_group=True))
    assert merged == whole
    assert merged.groups == tuple(sorted(GROUP_VALUES.tolist()))
    assert reduce(BiasCounts.merge, parts[::-1]) == whole  # integer counts: any order
    assert _bits(pre_training_metrics(merged)) == _bits(pre_training_metrics(whole))
    assert _bits(post_training_metrics(merged)) == _bits(post_training_metrics(whole))


def test_one_vs_rest_counts_equal_single_splits_and_merge():
    codes, label, predicted, group = _data(7, 300)
    many = facet_value_counts(codes, 4, label, predicted, group, GROUP_VALUES)
    assert len(many) == 4
    for v, c in enumerate(many):
        single = BiasCounts.from_arrays(codes == v, label, predicted, group, GROUP_VALUES)
        assert c == single
        assert c.n_rows == 300
    halves = [
        facet_value_counts(codes[s], 4, label[s], predicted[s], group[s], GROUP_VALUES)
        for s in (
            slice(0, 123),
            slice(123, 300),
        )
    ]
    merged = [a.merge(b) for a, b in zip(*halves, strict=True)]
    assert merged == many
    for a, b in zip(merged, many, strict=True):
        assert _bits(pre_training_metrics(a)) == _bits(pre_training_metrics(b))


def test_merge_without_group_or_predictions():
    codes, label, _, _ = _data(3, 50)
    whole = BiasCounts.from_arrays(codes == 1, label)
    parts = [BiasCounts.from_arrays(codes[s] == 1, label[s]) for s in (slice(0, 20), slice(20, 21), slice(21, 50))]
    assert reduce(BiasCounts.merge, parts) == whole
    assert BiasCounts.empty().merge(whole) == whole
    assert not whole.has_predicted and whole.groups is None
    with pytest.raises(ValueError, match="predictions"):
        whole.merge(BiasCounts.empty(has_predicted=True))
    with pytest.raises(ValueError, match="group"):
        whole.merge(BiasCounts.empty(has_group=True))


def test_group_values_canonical_form():
    """Slots: distinct values that occur, ascending; codes sharing a value are added; unused codes dropped."""
    facet = np.array([1, 0, 0, 1, 0], dtype=bool)
    label = np.array([1, 1, 0, 0, 1], dtype=bool)
    group = np.array([0, 1, 3, 3, 0])
    c = BiasCounts.from_arrays(facet, label, group=group, group_values=[20, 10, 99, np.int64(20)])
    assert c.groups == (10, 20)  # 99 (code 2) has no row; codes 0 and 3 are both 20
    assert type(c.groups[1]) is int
    # slot 20: rows 0 (d +), 2 (a -), 3 (d -), 4 (a +)
    assert c.table[1].tolist() == [[[1, 0], [1, 0]], [[1, 0], [1, 0]]]
    assert c.table[0].tolist() == [[[0, 0], [1, 0]], [[0, 0], [0, 0]]]
    default = BiasCounts.from_arrays(facet, label, group=np.array([2, 0, 2, 2, 0]))
    assert default.groups == (0, 2)
    with pytest.raises(ValueError, match="comparable"):
        BiasCounts.from_arrays(facet, label, group=group, group_values=["a", 1, 2, 3])


def test_counts_are_read_only_and_validated():
    c = BiasCounts.from_arrays(np.array([True, False]), np.array([True, True]), np.array([False, True]))
    with pytest.raises(ValueError):
        c.table[0, 0, 0, 0] = 5
    assert c.benefit_counts == (1, 1, 0)  # row 0: y=1, yhat=0 (b = 0); row 1: TP (b = 1)
    with pytest.raises(ValueError, match="boolean"):
        BiasCounts.from_arrays(np.array([1, 0]), np.array([True, True]))
    with pytest.raises(ValueError, match="shape"):
        BiasCounts.from_arrays(np.array([True]), np.array([True, True]))
    with pytest.raises(ValueError, match="group codes"):
        BiasCounts.from_arrays(
            np.array([True, False]), np.array([True, True]), group=np.array([0, 3]), group_values=[7]
        )
    with pytest.raises(ValueError, match="facet codes"):
        facet_value_counts(np.array([0, 4]), 4, np.array([True, True]))
    with pytest.raises(ValueError, match="shape"):
        BiasCounts(np.zeros((2, 2, 2, 2), np.int64), None, True)


def test_fairlearn_agreement():
    fl = pytest.importorskip("fairlearn.metrics")
    rng = np.random.default_rng(11)
    facet = rng.random(500) < 0.3
    label = rng.random(500) < 0.5
    predicted = rng.random(500) < np.where(facet, 0.3, 0.6)
    c = BiasCounts.from_arrays(facet, label, predicted)
    got = {m.name: m.value for m in post_training_metrics(c, ["DPPL", "DI"])}
    kw = {"y_true": label, "y_pred": predicted, "sensitive_features": facet}
    assert abs(got["DPPL"]) == pytest.approx(fl.demographic_parity_difference(**kw))  # fairlearn: max - min >= 0
    di = got["DI"]
    assert min(di, 1 / di) == pytest.approx(fl.demographic_parity_ratio(**kw))  # fairlearn: min / max <= 1
    assert math.isfinite(di)


def test_weights_count_a_row_as_many_records() -> None:
    rng = np.random.default_rng(3)
    n = 50
    codes = rng.integers(-1, 3, n)
    label, pred = rng.random(n) < 0.4, rng.random(n) < 0.5
    group = rng.integers(0, 4, n)
    weights = rng.integers(0, 5, n)
    repeat = np.repeat(np.arange(n), weights)
    weighted = facet_value_counts(codes, 3, label, pred, group, weights=weights)
    repeated = facet_value_counts(codes[repeat], 3, label[repeat], pred[repeat], group[repeat])
    assert [w.table.tolist() for w in weighted] == [r.table.tolist() for r in repeated]
    with pytest.raises(ValueError, match="weights"):
        facet_value_counts(codes, 3, label, weights=-weights - 1)
