"""Coalition plans and samplers."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclarify.shapley import plan_coalitions, sample_coalitions


@given(st.integers(2, 40), st.integers(1, 5000), st.sampled_from(["leverage", "kernel"]))
def test_plan_uses_the_budget_and_respects_stratum_sizes(n, budget, allocation):
    plan = plan_coalitions(n, budget, allocation)
    full = 2**n - 2
    if budget >= full:
        assert plan.exact and plan.n_coalitions == full
    else:
        assert plan.n_coalitions == 2 * (budget // 2)
    for st_ in plan.strata:
        assert 0 <= st_.n_pairs <= st_.n_candidates
        assert st_.n_candidates == (comb(n, st_.size) // 2 if st_.middle else comb(n, st_.size))
    weights = plan.weights()
    assert weights.shape == (plan.n_coalitions,) and (weights > 0).all()


def test_singletons_are_enumerated_first():
    plan = plan_coalitions(20, 40, "leverage")
    assert plan.strata[0].enumerated and plan.strata[0].size == 1
    assert sum(s.n_pairs for s in plan.strata[1:]) == 0


def test_border_sizes_are_enumerated_when_they_fit():
    plan = plan_coalitions(12, 1024, "leverage")
    assert [s.enumerated for s in plan.strata[:2]] == [True, True]
    assert not plan.exact


def test_exact_weights_are_the_shapley_kernel():
    n = 5
    plan = plan_coalitions(n, 30)
    z = sample_coalitions(plan, np.arange(1), 0)[0]
    sizes = z.sum(axis=1)
    kernel = (n - 1) / (np.array([comb(n, s) for s in sizes]) * sizes * (n - sizes))
    np.testing.assert_allclose(plan.weights(), kernel)
    assert len({tuple(r) for r in z}) == 2**n - 2


@pytest.mark.parametrize("n", [6, 12, 16, 30, 70, 300])
@pytest.mark.parametrize("budget", [40, 500, 2100])
@pytest.mark.parametrize("fused", [False, True])
def test_samples_are_distinct_paired_and_of_the_planned_sizes(n, budget, fused):
    plan = plan_coalitions(n, budget)
    z = sample_coalitions(plan, np.arange(5), n * budget, fused=fused)
    assert z.shape == (5, plan.n_coalitions, n)
    expected_sizes = []
    for st_ in plan.strata:
        expected_sizes += [st_.size] * st_.n_pairs
    expected_sizes += [n - s for s in expected_sizes]
    half = plan.n_coalitions // 2
    for row in z:
        assert len({r.tobytes() for r in row}) == len(row)  # without replacement
        np.testing.assert_array_equal(row.sum(axis=1), expected_sizes)
        np.testing.assert_array_equal(row[half:], ~row[:half])  # halves, then their complements
    w = plan.weights()
    np.testing.assert_array_equal(w[half:], w[:half])


def test_paired_solve_equals_the_generic_solve(rng):
    from openclarify.shapley import solve

    plan = plan_coalitions(9, 120)
    z = sample_coalitions(plan, np.arange(4), 1)
    values = rng.normal(size=(4, plan.n_coalitions, 2))
    base, f_x = rng.normal(size=2), rng.normal(size=(4, 2))
    generic = solve(z, plan.weights(), values, base, f_x)
    paired = solve(z, plan.weights(), values, base, f_x, paired=True)
    np.testing.assert_allclose(paired, generic, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(paired.sum(axis=1), f_x - base, rtol=1e-12)


@pytest.mark.parametrize("n", [16, 60])
def test_a_record_draws_the_same_coalitions_alone_or_among_others(n):
    plan = plan_coalitions(n, 300)
    together = sample_coalitions(plan, np.arange(100, 110), 3)
    assert np.array_equal(sample_coalitions(plan, np.arange(100, 110), 3), together)
    assert np.array_equal(sample_coalitions(plan, np.array([105]), 3)[0], together[5])
    assert np.array_equal(sample_coalitions(plan, np.array([109, 100]), 3), together[[9, 0]])
    assert not np.array_equal(together[0], together[1])
    assert not np.array_equal(sample_coalitions(plan, np.arange(100, 110), 4), together)


def test_random_numbers_are_uniform_and_independent_of_the_row_set():
    from openclarify.shapley._random import RowRandom

    u = RowRandom(7, np.arange(2000)).uniform((1, 2), 50)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.1
    assert np.array_equal(RowRandom(7, np.array([1999, 3])).uniform((1, 2), 50), u[[1999, 3]])
    ints = RowRandom(1, np.arange(5000)).integers((0,), 10, 20)
    counts = np.bincount(ints.ravel(), minlength=10) / ints.size
    assert np.all(np.abs(counts - 0.1) < 0.01)


@pytest.mark.parametrize("n", [5, 64, 130])
def test_repeats_flags_later_copies_within_a_record_only(n):
    from openclarify.shapley._coalitions import _repeats

    rng = np.random.default_rng(n)
    z = rng.random((2, 6, n)) < 0.5
    while any(len({m.tobytes() for m in z[r]}) < 6 for r in range(2)):  # start from distinct masks per record
        z = rng.random((2, 6, n)) < 0.5
    assert _repeats(z) is None
    z[0, 4] = z[0, 1]  # a repeat within record 0
    z[1, 2] = z[0, 3]  # the same mask in another record is not a repeat
    dup = _repeats(z)
    assert dup is not None
    assert np.flatnonzero(dup).tolist() == [4]


def test_the_coalition_cache_gives_the_coalitions_it_would_draw():
    from openclarify.shapley import CoalitionCache

    plan = plan_coalitions(12, 300)
    rows = np.array([0], dtype=np.int64)
    cache = CoalitionCache(max_bytes=3 * sample_coalitions(plan, rows, 5).nbytes)
    first = cache.draw(plan, rows, 5)
    np.testing.assert_array_equal(first, sample_coalitions(plan, rows, 5))
    assert cache.draw(plan, rows, 5) is first and not first.flags.writeable
    assert not np.array_equal(cache.draw(plan, np.array([1]), 5), first)  # another record, other coalitions
    assert not np.array_equal(cache.draw(plan, rows, 6), first)  # another seed
    cache.draw(plan, np.array([2]), 5)  # a fourth array: the least recently used (record 0, seed 5) goes
    assert cache.draw(plan, rows, 5) is not first
