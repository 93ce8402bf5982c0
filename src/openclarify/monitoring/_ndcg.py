"""NDCG of a feature ranking, as SageMaker Model Monitor's feature-attribution drift check computes it.

Model Monitor (bias-drift-spec §6.1) ranks the features by their current global attributions and scores
that ranking with the baseline attributions as gains: ``NDCG = DCG / iDCG`` with
``DCG = Σ_i a(f'_i) / log2(i + 1)`` over the current order and ``iDCG`` the same over the baseline's own
order. The developer guide points at ``sklearn.metrics.ndcg_score(y_true=[baseline], y_score=[current])``,
which averages the gains of features whose current scores tie (``ignore_ties=False``); so does this.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._typing import FloatArray

__all__ = ["ndcg"]


def _discounts(n: int) -> np.ndarray:
    return np.asarray(1.0 / np.log2(np.arange(2, n + 2)), dtype=np.float64)


def ndcg(baseline: Sequence[float] | FloatArray, current: Sequence[float] | FloatArray) -> float:
    """The NDCG of ``current``'s ranking with ``baseline``'s values as gains (``sklearn.metrics.ndcg_score``).

    Ties in ``current`` share the mean gain of their group over the positions they span; the current values
    only order the features (scaling them changes nothing). ``baseline`` must be >= 0 (the caller ranks by
    magnitude when it is not); an all-zero baseline gives 0.0, as scikit-learn does.

    Examples
    --------
    >>> round(ndcg([0.70, 0.50, 0.05], [0.10, 0.20, 0.70]), 12)  # Model Monitor's documentation example
    0.687639624122
    """
    gains = np.asarray(baseline, dtype=np.float64)
    scores = np.asarray(current, dtype=np.float64)
    n = gains.shape[0]
    discount = _discounts(n)
    ideal = float(np.sort(gains)[::-1] @ discount)
    if ideal == 0.0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    ranked_scores = scores[order]
    ranked_gains = gains[order]
    dcg = 0.0
    start = 0
    while start < n:  # groups of equal current scores share their mean gain
        stop = start + 1
        while stop < n and ranked_scores[stop] == ranked_scores[start]:
            stop += 1
        dcg += float(ranked_gains[start:stop].mean()) * float(discount[start:stop].sum())
        start = stop
    return dcg / ideal
