"""The numeric core of Clarify's bias metrics: mergeable counts in, metric values out.

Build :class:`BiasCounts` for a facet split with :meth:`BiasCounts.from_arrays` (or for every value of a
categorical facet at once with :func:`facet_value_counts`), merge the counts of chunks or workers with
:meth:`BiasCounts.merge`, then compute :func:`pre_training_metrics` / :func:`post_training_metrics` (or one
metric through the :data:`PRE_TRAINING` / :data:`POST_TRAINING` registries). FT is not computed here.
"""

from __future__ import annotations

from ._counts import BiasCounts, GroupValue, facet_value_counts
from ._metrics import (
    POST_TRAINING,
    PRE_TRAINING,
    BiasMetric,
    MetricValue,
    divide,
    post_training_metrics,
    pre_training_metrics,
)

__all__ = [
    "POST_TRAINING",
    "PRE_TRAINING",
    "BiasCounts",
    "BiasMetric",
    "GroupValue",
    "MetricValue",
    "divide",
    "facet_value_counts",
    "post_training_metrics",
    "pre_training_metrics",
]
