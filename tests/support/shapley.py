"""Exact Shapley values by brute force, for tests that check the estimator against them."""

from __future__ import annotations

import itertools
import math

import numpy as np


def all_coalitions(n: int) -> np.ndarray:
    """Every coalition of ``n`` players, shape (2^n, n), the empty one first and the full one last."""
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool)


def shapley_from_values(masks: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Shapley values from the value of every coalition (``masks`` from :func:`all_coalitions`, ``out`` of
    shape (2^n, n_outputs)) by the permutation-weight formula; shape (n, n_outputs)."""
    n = masks.shape[1]
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


def brute_force_shapley(f, x: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Exact interventional Shapley values by enumerating every coalition; shape (n_features, n_outputs)."""
    n = x.shape[0]
    masks = all_coalitions(n)
    records = np.where(masks[:, None, :], x[None, None, :], baseline[None, :, :]).reshape(-1, n)
    out = np.asarray(f(records), dtype=float)
    out = out.reshape(len(masks), len(baseline), -1).mean(axis=1)  # (2^n, O)
    return shapley_from_values(masks, out)
