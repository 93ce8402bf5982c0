"""Dataset readers: CSV, JSON Lines and Parquet files or folders, streamed in chunks; SHAP baselines."""

from __future__ import annotations

from openclarify.data._dataset import DataChunk, Dataset, DatasetSchema
from openclarify.data._open import open_dataset, read_baseline

__all__ = ["DataChunk", "Dataset", "DatasetSchema", "open_dataset", "read_baseline"]
