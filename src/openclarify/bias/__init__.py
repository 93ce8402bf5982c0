"""The numeric core of Clarify's bias metrics: mergeable counts in, metric values out.

:func:`column_kind` and :func:`positive_mask` turn a label or facet column into a boolean mask
(:func:`facet_codes` gives one-vs-rest codes, :func:`value_string` the ``analysis.json`` strings).
:meth:`BiasCounts.from_arrays` counts one facet split from such masks, :func:`facet_value_counts` every
value of a categorical facet at once; :meth:`BiasCounts.merge` adds the counts of chunks or workers.
:func:`pre_training_metrics` / :func:`post_training_metrics` (or one metric of the :data:`PRE_TRAINING` /
:data:`POST_TRAINING` registries) compute the metrics; FT, which needs the features, is :func:`flip_test`.
"""

from __future__ import annotations

from ._columns import (
    UNIQUENESS_THRESHOLD,
    ColumnKind,
    DtypeKind,
    check_threshold,
    column_kind,
    dtype_kind,
    facet_codes,
    kind_from_values,
    matches,
    positive_mask,
    value_string,
)
from ._counts import BiasCounts, GroupValue, facet_value_counts
from ._flip import FT_DESCRIPTION, flip_test
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
    "FT_DESCRIPTION",
    "POST_TRAINING",
    "PRE_TRAINING",
    "UNIQUENESS_THRESHOLD",
    "BiasCounts",
    "BiasMetric",
    "ColumnKind",
    "DtypeKind",
    "GroupValue",
    "MetricValue",
    "check_threshold",
    "column_kind",
    "divide",
    "dtype_kind",
    "facet_codes",
    "facet_value_counts",
    "flip_test",
    "kind_from_values",
    "matches",
    "positive_mask",
    "post_training_metrics",
    "pre_training_metrics",
    "value_string",
]
