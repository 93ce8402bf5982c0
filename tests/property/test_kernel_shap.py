"""Invariants of the Kernel SHAP estimator (hypothesis): efficiency, exactness, dummy, symmetry,
linearity, determinism across batch sizes and chunking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclarify.shapley import default_num_samples, kernel_shap
from support.shapley import brute_force_shapley


def _dot(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    # column by column, so that a record's score does not depend on the other records in the batch
    # (a BLAS matrix product may round differently for different batch shapes)
    acc = np.zeros(len(X))
    for j in range(X.shape[1]):
        acc = acc + X[:, j] * w[j]
    return acc


def _nonlinear(w: np.ndarray):
    def f(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return np.stack([np.tanh(_dot(X, w)) + X[:, 0] * X[:, -1], np.sin(_dot(X, w[::-1])) ** 2], axis=1)

    return f


@st.composite
def games(draw, min_features=2, max_features=8, max_baseline=3):
    n = draw(st.integers(min_features, max_features))
    seed = draw(st.integers(0, 2**32 - 1))
    g = np.random.default_rng(seed)
    n_base = draw(st.integers(1, max_baseline))
    n_rows = draw(st.integers(1, 5))
    return g.normal(size=n), g.normal(size=(n_rows, n)), g.normal(size=(n_base, n))


@pytest.mark.filterwarnings("ignore::openclarify.errors.ApproximationWarning")
@given(games(max_features=10), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_efficiency_holds_for_any_budget_and_seed(game, num_samples, seed):
    w, X, B = game
    res = kernel_shap(_nonlinear(w), X, B, num_samples=num_samples, seed=seed)
    np.testing.assert_allclose(res.phi.sum(axis=1), res.f_x - res.base_value, rtol=1e-9, atol=1e-9)
    assert res.phi.shape == (X.shape[0], X.shape[1], 2)


@given(games(max_features=7))
def test_full_enumeration_matches_brute_force(game):
    w, X, B = game
    f = _nonlinear(w)
    n = X.shape[1]
    res = kernel_shap(f, X, B, num_samples=2**n - 2, seed=0)
    assert res.exact
    for i, x in enumerate(X):
        np.testing.assert_allclose(res.phi[i], brute_force_shapley(f, x, B), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.base_value, f(B).mean(axis=0), rtol=1e-12)


@given(games(max_features=9), st.integers(0, 2**32 - 1))
def test_linear_model_is_exact_at_any_sufficient_budget(game, seed):
    w, X, B = game
    n = X.shape[1]
    res = kernel_shap(lambda Z: Z @ w, X, B, num_samples=max(2 * n, 4), seed=seed)
    np.testing.assert_allclose(res.phi[:, :, 0], w * (X - B.mean(axis=0)), rtol=1e-7, atol=1e-8)


@given(games(min_features=3, max_features=8))
def test_dummy_feature_gets_zero(game):
    w, X, B = game
    w = w.copy()
    f = _nonlinear(np.where(np.arange(len(w)) == 1, 0.0, w))

    def ignores_feature_1(Z):
        Z = np.array(Z, dtype=float)
        Z[:, 1] = 0.0
        return f(Z)

    n = X.shape[1]
    res = kernel_shap(ignores_feature_1, X, B, num_samples=2**n - 2, seed=1)
    np.testing.assert_allclose(res.phi[:, 1, :], 0.0, atol=1e-10)


@given(games(min_features=3, max_features=8))
def test_symmetric_features_get_equal_values(game):
    w, X, B = game
    X = X.copy()
    B = B.copy()
    X[:, 1] = X[:, 0]
    B[:, 1] = B[:, 0]
    w = w.copy()
    w[1] = w[0]

    def symmetric(Z):
        Z = np.asarray(Z, dtype=float)
        return np.tanh(Z @ w) + Z[:, 0] * Z[:, 1]

    n = X.shape[1]
    res = kernel_shap(symmetric, X, B, num_samples=2**n - 2, seed=2)
    np.testing.assert_allclose(res.phi[:, 0], res.phi[:, 1], rtol=1e-9, atol=1e-10)


@pytest.mark.filterwarnings("ignore::openclarify.errors.ApproximationWarning")
@given(games(max_features=10), st.integers(4, 200), st.integers(0, 2**32 - 1))
def test_linearity_in_the_model(game, num_samples, seed):
    w, X, B = game
    f = _nonlinear(w)

    def g(Z):
        return np.cos(np.asarray(Z, dtype=float)).sum(axis=1, keepdims=True) * np.ones((1, 2))

    kw = dict(num_samples=num_samples, seed=seed)
    both = kernel_shap(lambda Z: f(Z) + g(Z), X, B, **kw).phi
    np.testing.assert_allclose(both, kernel_shap(f, X, B, **kw).phi + kernel_shap(g, X, B, **kw).phi, atol=1e-9)


@pytest.mark.filterwarnings("ignore::openclarify.errors.ApproximationWarning")
@given(games(max_features=12), st.integers(1, 500), st.integers(0, 2**32 - 1), st.integers(1, 97))
def test_same_seed_same_bits_for_any_batch_size(game, num_samples, seed, batch):
    w, X, B = game
    f = _nonlinear(w)
    a = kernel_shap(f, X, B, num_samples=num_samples, seed=seed)
    b = kernel_shap(f, X, B, num_samples=num_samples, seed=seed, max_batch_rows=batch)
    assert np.array_equal(a.phi, b.phi)


def test_same_seed_same_bits_for_any_chunking(rng):
    n = 12
    w = rng.normal(size=n)
    X = rng.normal(size=(150, n))
    B = rng.normal(size=(2, n))
    f = _nonlinear(w)
    whole = kernel_shap(f, X, B, num_samples=300, seed=7).phi
    for cut in (1, 64, 100):
        parts = [
            kernel_shap(f, X[:cut], B, num_samples=300, seed=7).phi,
            kernel_shap(f, X[cut:], B, num_samples=300, seed=7, first_row=cut).phi,
        ]
        assert np.array_equal(np.concatenate(parts), whole)
    assert not np.array_equal(kernel_shap(f, X, B, num_samples=300, seed=8).phi, whole)


def test_default_budget_follows_clarify():
    assert default_num_samples(3) == 6
    assert default_num_samples(11) == 2046
    assert default_num_samples(12) == 2 * 12 + 2048
    assert default_num_samples(100) == 2248


def test_categorical_columns_are_masked_with_baseline_values():
    X = pd.DataFrame({"sex": ["M", "F"], "size": [2.0, 3.0]})
    B = pd.DataFrame({"sex": ["I"], "size": [1.0]})
    value = {"M": 10.0, "F": 20.0, "I": 0.0}

    def f(records: pd.DataFrame) -> np.ndarray:
        return records["sex"].map(value).to_numpy() + 5.0 * records["size"].to_numpy()

    res = kernel_shap(f, X, B, num_samples=2, seed=0)
    np.testing.assert_allclose(res.phi[:, :, 0], [[10.0, 5.0], [20.0, 10.0]], atol=1e-12)


@given(games(min_features=3, max_features=10), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_pairwise_interaction_games_are_exact_at_any_budget(game, extra, seed):
    # Paired sampling cancels the even part of the game exactly, and with exact per-size kernel
    # masses a game with interactions of order <= 2 is then recovered exactly (not just on average).
    w, X, B = game
    n = X.shape[1]
    W = np.outer(w, w[::-1]) - np.eye(n)

    def quadratic(Z):
        Z = np.asarray(Z, dtype=float)
        return _dot(Z, w) + np.einsum("ri,ij,rj->r", Z, W, Z)

    res = kernel_shap(quadratic, X, B, num_samples=2 * n + extra, seed=seed)
    for i, x in enumerate(X):
        np.testing.assert_allclose(res.phi[i], brute_force_shapley(quadratic, x, B), rtol=1e-8, atol=1e-9)


@pytest.mark.filterwarnings("ignore::openclarify.errors.ApproximationWarning")
@given(games(max_features=12), st.integers(1, 400), st.integers(0, 2**32 - 1), st.integers(2, 4))
def test_same_seed_same_bits_for_any_number_of_threads(game, num_samples, seed, n_jobs):
    w, X, B = game
    X = np.repeat(X, 7, axis=0)  # several units of work, so the threads really split the rows
    f = _nonlinear(w)
    serial = kernel_shap(f, X, B, num_samples=num_samples, seed=seed, max_batch_rows=50)
    threaded = kernel_shap(f, X, B, num_samples=num_samples, seed=seed, max_batch_rows=50, n_jobs=n_jobs)
    assert np.array_equal(serial.phi, threaded.phi)
    assert serial.model_rows == threaded.model_rows


def test_a_model_failing_in_a_worker_thread_is_a_model_error(rng):
    from openclarify.errors import ModelError

    X = rng.normal(size=(300, 6))

    def fails_on_large_values(Z):
        if (np.abs(Z) > 3.2).any():
            raise ValueError("out of range")
        return Z.sum(axis=1)

    with pytest.raises(ModelError, match="raised ValueError .*out of range"):
        kernel_shap(fails_on_large_values, X * 3, np.zeros((1, 6)), num_samples=30, n_jobs=2, max_batch_rows=100)
