"""FT, the Flip Test: the one bias metric that needs the records' features, not just counts.

smclarify's definition (bias-drift-spec §3): a k-nearest-neighbours classifier (Euclidean, uniform
votes, ``k = 5`` when facet *a* has more than 9 records, else 1) is fitted on facet *a*'s features with
the model's predicted labels, and predicts every record of facet *d*. With ``yhat`` the model's
prediction and ``knn`` the neighbours' for a *d* record,
``FT = (#{yhat = 1, knn = 0} - #{yhat = 0, knn = 1}) / n_d`` (the sign is the opposite of the Developer
Guide's prose, as smclarify computes it). The features are the raw, unscaled columns.
"""

from __future__ import annotations

from .._typing import BoolArray, FloatArray
from ._metrics import MetricValue

__all__ = ["FT_DESCRIPTION", "flip_test"]

FT_DESCRIPTION = "Flip Test (FT)"
_NEIGHBOURS, _FEW_NEIGHBOURS, _FEW_RECORDS = 5, 1, 9


def flip_test(features: FloatArray | None, facet: BoolArray, predicted: BoolArray) -> MetricValue:
    """FT of the split ``facet`` (True: in facet *d*), with ``predicted`` the model's positive predictions.

    ``features`` is ``(n_records, n_features)`` of numbers, every column but the facet, label and predicted
    label; None when a column is not numeric (smclarify's error then). Errors are returned, not raised.
    """
    n_d = int(facet.sum())
    if n_d == 0:
        return MetricValue("FT", FT_DESCRIPTION, None, "Facet set is empty")
    if n_d == len(facet):
        return MetricValue("FT", FT_DESCRIPTION, None, "Negated Facet set is empty")
    if features is None:
        return MetricValue("FT", FT_DESCRIPTION, None, "FlipTest does not support non-numeric columns")
    from sklearn.neighbors import KNeighborsClassifier

    a = ~facet
    k = _NEIGHBOURS if int(a.sum()) > _FEW_RECORDS else _FEW_NEIGHBOURS
    knn = KNeighborsClassifier(n_neighbors=k, weights="uniform", algorithm="auto", leaf_size=30, p=2)
    try:
        knn.fit(features[a], predicted[a])
        neighbours = knn.predict(features[facet]).astype(bool)
    except ValueError as exc:  # missing values among the features: scikit-learn's message, as smclarify gives it
        return MetricValue("FT", FT_DESCRIPTION, None, str(exc).strip().splitlines()[0])
    model = predicted[facet]
    flipped_up = int((model & ~neighbours).sum())
    flipped_down = int((~model & neighbours).sum())
    return MetricValue("FT", FT_DESCRIPTION, (flipped_up - flipped_down) / n_d)
