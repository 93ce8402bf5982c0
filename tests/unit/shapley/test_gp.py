"""The ``gp`` estimator: efficiency, exactness, error bars that cover, the same bits for any split of the
records, and smaller errors than Kernel SHAP's regression on games with interactions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openclarify.errors import ConfigError
from openclarify.shapley import kernel_shap
from openclarify.shapley._gp import _krawtchouk, permutations
from support.shapley import brute_force_shapley


def _game(n: int, seed: int):
    """A smooth model with two- and three-way interactions and its records."""
    g = np.random.default_rng(seed)
    w = g.normal(size=n)

    def f(X):
        X = np.asarray(X, dtype=float)
        # column by column: a record's score must not depend on the other records in the batch (as BLAS may)
        dot = sum(X[:, j] * w[j] for j in range(n))
        out = np.tanh(dot) + 0.5 * X[:, 0] * X[:, 1] * X[:, 2] + np.sin(X[:, -1] * X[:, 1])
        return np.stack([out, out * X[:, 0] - X[:, 3] ** 3], axis=1)

    return f, g.normal(size=(6, n)), g.normal(size=(1, n))


def test_krawtchouk_table_is_the_elementary_symmetric_polynomial_of_signs():
    rng = np.random.default_rng(0)
    for n in (1, 5, 9):
        table = _krawtchouk(n)
        for d in range(n + 1):
            signs = np.array([-1.0] * d + [1.0] * (n - d))
            rng.shuffle(signs)
            e = np.poly(-signs)  # prod(x + s_i) = sum_k e_k x**(n - k): e_k at index k
            np.testing.assert_allclose(table[:, d], e, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(4, 11), st.integers(1, 400), st.integers(0, 2**32 - 1))
def test_efficiency_holds_to_1e9_for_any_budget(n, num_samples, seed):
    f, X, B = _game(n, seed % 1000)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = kernel_shap(f, X, B, num_samples=num_samples, seed=seed, estimator="gp")
    np.testing.assert_allclose(res.phi.sum(axis=1), res.f_x - res.base_value, rtol=0, atol=1e-9)
    assert res.stderr is not None and res.stderr.shape == res.phi.shape and (res.stderr >= 0).all()


def test_exact_when_the_budget_covers_every_coalition_with_zero_error_bars():
    f, X, B = _game(7, 3)
    res = kernel_shap(f, X, B, num_samples=2**7 - 2, seed=1, estimator="gp")
    assert res.exact
    for i, x in enumerate(X):
        np.testing.assert_allclose(res.phi[i], brute_force_shapley(f, x, B), rtol=1e-9, atol=1e-10)
    assert res.stderr is not None and not res.stderr.any()


def test_the_same_bits_for_any_chunking_batch_size_and_threads():
    f, X, B = _game(9, 5)
    X = np.repeat(X, 5, axis=0) + np.arange(30)[:, None] * 0.01
    whole = kernel_shap(f, X, B, num_samples=200, seed=11, estimator="gp")
    parts = [kernel_shap(f, X[a:b], B, num_samples=200, seed=11, estimator="gp", first_row=a)
             for a, b in ((0, 7), (7, 8), (8, 30))]  # fmt: skip
    assert np.array_equal(whole.phi, np.concatenate([p.phi for p in parts]))
    assert np.array_equal(whole.stderr, np.concatenate([p.stderr for p in parts]))
    small = kernel_shap(f, X, B, num_samples=200, seed=11, estimator="gp", max_batch_rows=64)
    threads = kernel_shap(f, X, B, num_samples=200, seed=11, estimator="gp", max_batch_rows=64, n_jobs=2)
    assert np.array_equal(whole.phi, small.phi) and np.array_equal(whole.phi, threads.phi)
    assert np.array_equal(whole.stderr, threads.stderr)
    other = kernel_shap(f, X, B, num_samples=200, seed=12, estimator="gp")
    assert not np.array_equal(whole.phi, other.phi)


def test_each_record_relabels_the_shared_design_by_its_own_number():
    perm = permutations(7, np.arange(50), 12)
    assert (np.sort(perm, axis=1) == np.arange(12)).all()
    assert len({tuple(p) for p in perm}) == 50
    assert np.array_equal(perm[10:20], permutations(7, np.arange(10, 20), 12))


def test_smaller_errors_than_kernel_shap_on_a_game_with_interactions_and_intervals_that_cover():
    n = 10
    f, X, B = _game(n, 8)
    truth = np.array([brute_force_shapley(f, x, B) for x in X])
    errors: dict[str, list[float]] = {"kernel": [], "gp": []}
    covered = []
    for seed in range(4):
        for estimator in errors:
            res = kernel_shap(f, X, B, num_samples=300, seed=seed, estimator=estimator)
            errors[estimator] += list(np.linalg.norm(res.phi - truth, axis=1).ravel()
                                      / np.linalg.norm(truth, axis=1).ravel())  # fmt: skip
            if estimator == "gp":
                covered.append(np.abs(res.phi - truth) <= 1.96 * res.stderr)
    assert np.mean(errors["gp"]) < 0.6 * np.mean(errors["kernel"])  # 0.50x measured
    assert 0.85 <= np.mean(covered) <= 1.0


def test_an_unknown_estimator_is_refused():
    f, X, B = _game(4, 0)
    with pytest.raises(ConfigError, match="estimator: must be one of kernel, gp; got 'leverage'"):
        kernel_shap(f, X, B, estimator="leverage")  # type: ignore[arg-type]
    assert kernel_shap(f, X, B, num_samples=10, seed=0).stderr is None


def test_a_budget_too_large_for_the_solve_is_refused_unless_it_covers_every_coalition():
    f, X, B = _game(14, 0)
    with pytest.raises(ConfigError, match="num_samples: must be at most 8192 with estimator 'gp'"):
        kernel_shap(f, X[:1], B, num_samples=9000, estimator="gp")
    exact = kernel_shap(f, X[:1], B[:, :14], num_samples=2**14 - 2, seed=0, estimator="gp")
    assert exact.exact and not exact.stderr.any()


def test_target_error_samples_in_rounds_until_every_error_is_below_it():
    f, X, B = _game(10, 2)
    X = np.repeat(X, 3, axis=0) * np.linspace(0.1, 1.5, 18)[:, None]  # small records are easier
    res = kernel_shap(f, X, B, num_samples=1000, seed=4, estimator="gp", target_error=0.01)
    assert res.record_num_samples is not None and res.target_met is not None
    assert res.target_met.all() and (res.stderr.reshape(18, -1).max(axis=1) <= 0.01).all()
    assert set(res.record_num_samples) <= {64, 128, 256, 512, 1000}
    assert len(set(res.record_num_samples)) > 1  # records stop at different rounds
    np.testing.assert_allclose(res.phi.sum(axis=1), res.f_x - res.base_value, rtol=0, atol=1e-9)
    # a record's rounds depend on its own scores only: the same bits in any split
    parts = [kernel_shap(f, X[a:b], B, num_samples=1000, seed=4, estimator="gp", target_error=0.01, first_row=a)
             for a, b in ((0, 5), (5, 18))]  # fmt: skip
    assert np.array_equal(res.phi, np.concatenate([p.phi for p in parts]))
    assert np.array_equal(res.record_num_samples, np.concatenate([p.record_num_samples for p in parts]))
    # fewer model rows than the fixed budget the slowest record needed
    fixed = kernel_shap(f, X, B, num_samples=int(res.record_num_samples.max()), seed=4, estimator="gp")
    assert res.model_rows < fixed.model_rows


def test_a_target_the_budget_cannot_reach_is_reported_and_an_exact_budget_ends_with_no_error():
    f, X, B = _game(9, 6)
    short = kernel_shap(f, X, B, num_samples=100, seed=0, estimator="gp", target_error=1e-9)
    assert not short.target_met.any() and (short.record_num_samples == 100).all()
    full = kernel_shap(f, X, B, num_samples=2**9 - 2, seed=0, estimator="gp", target_error=1e-12)
    reached_all = full.record_num_samples == 2**9 - 2
    assert reached_all.any() and not full.stderr[reached_all].any()
    for i in np.flatnonzero(reached_all):
        np.testing.assert_allclose(full.phi[i], brute_force_shapley(f, X[i], B), rtol=1e-9, atol=1e-10)
    with pytest.raises(ConfigError, match="target_error: needs estimator 'gp'"):
        kernel_shap(f, X, B, target_error=0.1)
    with pytest.raises(ConfigError, match="target_error: must be a number > 0"):
        kernel_shap(f, X, B, estimator="gp", target_error=0)


def test_a_game_with_nothing_above_order_three_is_recovered_once_the_design_passes_its_span():
    """n = 12: the priors without terms above order 3 span 12 + C(12, 3) = 232 parities, more than the
    marginal likelihood's first observations. Past them, each record's observations are checked against
    that span: a game inside it gets its exact values; a game outside it (tanh) keeps honest errors."""
    n = 12
    g = np.random.default_rng(8)
    w, triples = g.normal(size=n), [tuple(g.choice(n, 3, replace=False)) for _ in range(6)]

    def cubic(X):
        X = np.asarray(X, dtype=float)
        out = sum(X[:, j] * w[j] for j in range(n)) + X[:, 0] * X[:, 5]  # an even term, which the values ignore
        for i, j, k in triples:
            out = out + 0.7 * X[:, i] * X[:, j] * X[:, k]
        return out[:, None]

    def tanh(X):
        return np.tanh(cubic(X) / 2)

    X, B = g.normal(size=(4, n)), g.normal(size=(1, n))
    for f, inside in ((cubic, True), (tanh, False)):
        res = kernel_shap(f, X, B, num_samples=700, seed=2, estimator="gp")
        exact = np.array([brute_force_shapley(f, x, B) for x in X])
        error = np.abs(res.phi - exact)
        if inside:
            assert error.max() < 1e-8 * np.abs(exact).max() and res.stderr.max() < 1e-5 * np.abs(exact).max()
        else:
            assert error.max() > 1e-4 and np.mean(error <= 1.96 * res.stderr) > 0.7
