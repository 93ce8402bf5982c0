"""Shared fixtures: a seeded rng (OPENCLARIFY_TEST_SEED), brute-force Shapley values, toy models."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(int(os.environ.get("OPENCLARIFY_TEST_SEED", "0")))


def brute_force_shapley(f, x: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Exact interventional Shapley values by enumerating every coalition; shape (n_features, n_outputs)."""
    n = x.shape[0]
    masks = np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool)  # (2^n, n)
    records = np.where(masks[:, None, :], x[None, None, :], baseline[None, :, :]).reshape(-1, n)
    out = np.asarray(f(records), dtype=float)
    out = out.reshape(len(masks), len(baseline), -1).mean(axis=1)  # (2^n, O)
    index = {tuple(m): i for i, m in enumerate(masks)}
    phi = np.zeros((n, out.shape[1]))
    for i in range(n):
        for m_idx, m in enumerate(masks):
            if m[i]:
                continue
            s = int(m.sum())
            with_i = m.copy()
            with_i[i] = True
            w = math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
            phi[i] += w * (out[index[tuple(with_i)]] - out[m_idx])
    return phi


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/compat/cases/*/expected from the current code (the tests then fail: review the diff)",
    )
