"""Type aliases and closed sets of choices shared across the package."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

AggMethod = Literal["mean_abs", "median", "mean_sq"]
AGG_METHODS: tuple[AggMethod, ...] = ("mean_abs", "median", "mean_sq")

Granularity = Literal["token", "sentence", "paragraph"]
GRANULARITIES: tuple[Granularity, ...] = ("token", "sentence", "paragraph")

DatasetType = Literal[
    "text/csv",
    "application/jsonlines",
    "application/json",
    "application/x-parquet",
    "application/x-image",
    "application/sagemakercapturejson",
]
DATASET_TYPES: tuple[DatasetType, ...] = (
    "text/csv",
    "application/jsonlines",
    "application/json",
    "application/x-parquet",
    "application/x-image",
    "application/sagemakercapturejson",
)

# How coalition sizes share the sampling budget (see shapley/_coalitions.py).
SizeAllocation = Literal["leverage", "kernel"]
# How kernel_shap turns sampled coalitions into Shapley values (shapley/_estimator.py, shapley/_gp.py).
Estimator = Literal["kernel", "gp"]
ESTIMATOR_NAMES: tuple[Estimator, ...] = ("kernel", "gp")
