"""The dataset as the estimators see it: a schema plus a re-iterable stream of chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openclarify.data._columns import Chunk, Layout
from openclarify.errors import DataError

_READ_ALL_CHUNKSIZE = 65_536


@dataclass(frozen=True, slots=True)
class DatasetSchema:
    """Column names and roles of a dataset.

    Attributes
    ----------
    headers
        Every column of the dataset, in file order. For JSON Lines: the feature names, then the label name.
    feature_names
        The model's input columns, in column order: every column except the label, the predicted label,
        the join source and the excluded columns.
    label_name, joinsource_name
        Names of the label and join-source columns, or None when the config names none.
    predicted_label_name
        Name of the predicted-label column (``predicted_label``), or None.
    categorical
        Per feature: True when the column is not numeric (text, booleans, categories).
    """

    headers: tuple[str, ...]
    feature_names: tuple[str, ...]
    label_name: str | None
    joinsource_name: str | None
    categorical: tuple[bool, ...]
    predicted_label_name: str | None = None


@dataclass(frozen=True, slots=True)
class DataChunk:
    """A run of consecutive records.

    Attributes
    ----------
    start_row
        0-based index, in the whole dataset, of the chunk's first record.
    features
        Shape ``(n_rows, n_features)``; columns are ``schema.feature_names``, numeric columns float64 (NaN
        where empty), categorical columns object dtype holding ``str`` (None where empty); RangeIndex from 0.
    label, join_source, predicted_label
        Shape ``(n_rows,)``, or None when the config names no such column. The join source holds ``str``.
    """

    start_row: int
    features: pd.DataFrame
    label: pd.Series | None
    join_source: pd.Series | None
    predicted_label: pd.Series | None = None


def make_schema(layout: Layout, headers: Sequence[str]) -> DatasetSchema:
    """The schema of a dataset whose raw columns are described by ``layout``."""
    names = layout.names
    return DatasetSchema(
        headers=tuple(headers),
        feature_names=tuple(names[j] for j in layout.features),
        label_name=None if layout.label is None else names[layout.label],
        joinsource_name=None if layout.joinsource is None else names[layout.joinsource],
        categorical=tuple(layout.text[j] for j in layout.features),
        predicted_label_name=None if layout.predicted is None else names[layout.predicted],
    )


def _check_count(where: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataError(f"{where}: must be an integer >= {minimum}; got {value!r}.")
    return int(value)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset opened by :func:`open_dataset`; every iteration re-reads the file(s).

    Attributes
    ----------
    schema
        Column names and roles, known before any chunk is read.
    """

    schema: DatasetSchema
    _read: Callable[[int], Iterator[Chunk]] = field(repr=False)

    def chunks(self, chunksize: int = 10_000) -> Iterator[DataChunk]:
        """Stream the records in chunks of at most ``chunksize`` rows (a chunk never spans two files).

        Raises
        ------
        DataError
            A record cannot be read (wrong column count, a non-number in a numeric column, bad encoding).
        """
        start = 0
        for features, label, join, predicted in self._read(_check_count("chunksize", chunksize, 1)):
            yield DataChunk(start, features, label, join, predicted)
            start += len(features)

    def read_all(self) -> DataChunk:
        """The whole dataset as one chunk starting at row 0."""
        parts = list(self.chunks(_READ_ALL_CHUNKSIZE))

        def concat(series: list[pd.Series | None]) -> pd.Series | None:
            return None if series[0] is None else pd.concat(series, ignore_index=True)

        return DataChunk(
            0,
            pd.concat([p.features for p in parts], ignore_index=True),
            concat([p.label for p in parts]),
            concat([p.join_source for p in parts]),
            concat([p.predicted_label for p in parts]),
        )

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        """Uniform sample without replacement of up to ``n`` feature rows, in one streaming pass.

        Each row draws a uniform key and the ``n`` smallest keys are kept (bottom-k sampling), so the
        result depends on ``seed`` only, not on how the data is chunked. Rows keep dataset order.

        Returns
        -------
        pandas.DataFrame
            Shape ``(min(n, n_rows), n_features)``, same columns and dtypes as ``DataChunk.features``.
        """
        n = _check_count("sample: n", n, 0)
        rng = np.random.default_rng(_check_count("sample: seed", seed, 0))
        kept = pd.DataFrame({name: pd.Series(dtype=np.float64) for name in self.schema.feature_names})
        keys = np.empty(0)
        for chunk in self.chunks():
            kept = pd.concat([kept, chunk.features], ignore_index=True) if len(kept) else chunk.features
            keys = np.concatenate([keys, rng.random(len(chunk.features))])
            if len(keys) > n:
                best = np.sort(np.argpartition(keys, n)[:n])
                kept, keys = kept.iloc[best].reset_index(drop=True), keys[best]
        return kept
