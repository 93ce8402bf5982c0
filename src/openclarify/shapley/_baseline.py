"""Baseline records: a K-means (K-prototypes with categorical columns) summary of the dataset.

Clarify computes the baseline, when none is given, by clustering the input dataset with K-means,
or K-prototypes when there are categorical columns, into ``num_clusters`` clusters or an optimal
number between 1 and 12; each cluster centre is one baseline record.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["MAX_AUTO_CLUSTERS", "summarize_baseline"]

MAX_AUTO_CLUSTERS = 12
_FIT_ROWS = 5000  # rows used to fit the clusters
_SCORE_ROWS = 2000  # rows used to score a choice of k


def _categories(column: pd.Series) -> np.ndarray:
    """A categorical column as an array of str, a missing value being the category ''."""
    return np.asarray(
        [("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for v in column], dtype=object
    )


def _encode(frame: pd.DataFrame, categorical: Sequence[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numeric columns standardized (NaN -> mean), categorical columns one-hot; returns (Z, mean, std)."""
    num = frame.loc[:, [not c for c in categorical]].to_numpy(dtype=np.float64)
    mean = np.nanmean(num, axis=0) if num.size else np.zeros(num.shape[1])
    mean = np.where(np.isnan(mean), 0.0, mean)
    num = np.where(np.isnan(num), mean, num)
    std = num.std(axis=0) if num.size else np.ones(num.shape[1])
    std = np.where(std > 0, std, 1.0)
    parts = [(num - mean) / std]
    for j, is_cat in enumerate(categorical):
        if is_cat:
            # codes of the sorted categories (np.unique's order), without a fixed-width string array: one
            # category of millions of characters would make every cell that wide
            codes, levels = pd.factorize(_categories(frame.iloc[:, j]), sort=True)
            # one-hot scaled so that two different categories are as far apart as 1 numeric std
            parts.append((codes[:, None] == np.arange(len(levels))[None, :]) / np.sqrt(2.0))
    return np.hstack(parts) if parts else np.zeros((len(frame), 0)), mean, std


def _choose_k(encoded: np.ndarray, seed: int) -> int:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n_distinct = len(np.unique(encoded, axis=0))
    upper = min(MAX_AUTO_CLUSTERS, n_distinct - 1, len(encoded) - 1)
    if upper < 2:
        return 1
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(encoded), size=min(len(encoded), _SCORE_ROWS), replace=False)
    sample = encoded[idx]
    best_k, best_score = 1, -np.inf
    for k in range(2, upper + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(sample)
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(sample, labels, random_state=seed))
        if score > best_score + 1e-12:
            best_k, best_score = k, score
    return best_k


def summarize_baseline(
    data: pd.DataFrame, categorical: Sequence[bool], *, num_clusters: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """Summarise ``data`` by cluster centres, one baseline record per cluster.

    Parameters
    ----------
    data
        Feature records, shape ``(n_rows, n_features)`` (a sample of the dataset is enough).
    categorical
        Per column, whether it is categorical (K-prototypes is used when any is).
    num_clusters
        Number of clusters; default: the K-means silhouette optimum in ``1..12``.
    seed
        Seed of the clustering.

    Returns
    -------
    pandas.DataFrame
        ``(n_clusters, n_features)``, same columns and dtypes as ``data``; numeric columns hold cluster
        means, categorical columns the most frequent category of each cluster.

    Raises
    ------
    DataError
        ``data`` is empty, or a numerical column holds no value at all.
    """
    if len(data) == 0:
        raise DataError(
            "baseline: cannot compute a baseline from an empty dataset; got 0 rows. Give methods.shap.baseline."
        )
    empty = [
        name
        for name, is_cat in zip(data.columns, categorical, strict=True)
        if not is_cat and pd.to_numeric(data[name], errors="coerce").isna().all()
    ]
    if empty:
        raise DataError(
            f"baseline: numerical columns {empty!r} have no value in the {len(data)} records sampled for the K-means "
            "baseline (every cell is missing), so there is no mean to take; got only missing values. Give "
            "methods.shap.baseline, or fill or drop those columns."
        )
    data = data.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    if len(data) > _FIT_ROWS:
        data = data.iloc[np.sort(rng.choice(len(data), size=_FIT_ROWS, replace=False))].reset_index(drop=True)
    encoded, mean, std = _encode(data, categorical)
    n_distinct = len(np.unique(encoded, axis=0))
    k = _choose_k(encoded, seed) if num_clusters is None else int(num_clusters)
    k = max(1, min(k, n_distinct))

    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on duplicate points is harmless here
        labels = (
            KMeans(n_clusters=k, n_init=5, random_state=seed).fit_predict(encoded)
            if k > 1
            else np.zeros(len(data), int)
        )
        if any(categorical) and k > 1:
            labels = _kprototypes(data, categorical, labels, k, mean, std, seed)

    rows = []
    for c in range(k):
        members = data[labels == c]
        if len(members) == 0:
            continue
        row: dict[str, object] = {}
        for j, name in enumerate(data.columns):
            col = members.iloc[:, j]
            if categorical[j]:
                mode = col.dropna().astype(str).mode()
                row[name] = mode.iloc[0] if len(mode) else None
            else:
                value = pd.to_numeric(col, errors="coerce").mean()
                row[name] = float(mean[sum(1 for cc in categorical[:j] if not cc)]) if np.isnan(value) else float(value)
        rows.append(row)
    return pd.DataFrame(rows, columns=data.columns).astype(data.dtypes.to_dict())


def _kprototypes(
    data: pd.DataFrame,
    categorical: Sequence[bool],
    init_labels: np.ndarray,
    k: int,
    mean: np.ndarray,
    std: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Refine the K-means partition with K-prototypes (standardized numeric distance + mismatches)."""
    from kmodes.kprototypes import KPrototypes

    cat_idx = [j for j, c in enumerate(categorical) if c]
    num_idx = [j for j, c in enumerate(categorical) if not c]
    mixed = np.zeros((len(data), len(categorical)))
    if num_idx:
        num = data.iloc[:, num_idx].to_numpy(dtype=np.float64)
        mixed[:, num_idx] = (np.where(np.isnan(num), mean, num) - mean) / std
    for j in cat_idx:  # kmodes wants integer category codes
        mixed[:, j] = pd.factorize(_categories(data.iloc[:, j]))[0]
    present = [c for c in range(k) if (init_labels == c).any()]
    init_num = np.array([mixed[init_labels == c][:, num_idx].mean(axis=0) for c in present])
    init_cat = np.array([[pd.Series(mixed[init_labels == c][:, j]).mode().iloc[0] for j in cat_idx] for c in present])
    if not num_idx:
        from kmodes.kmodes import KModes

        km = KModes(n_clusters=len(present), init=init_cat, n_init=1, random_state=seed)
        return np.asarray(km.fit_predict(mixed[:, cat_idx]))
    kp = KPrototypes(n_clusters=len(present), init=[init_num, init_cat], n_init=1, random_state=seed, max_iter=50)
    return np.asarray(kp.fit_predict(mixed, categorical=cat_idx))
