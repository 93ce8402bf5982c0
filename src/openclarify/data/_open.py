"""Public entry points: open a dataset, read a SHAP baseline."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from openclarify._typing import DATASET_TYPES
from openclarify.data._columns import Layout
from openclarify.data._csv import csv_records, open_csv
from openclarify.data._dataset import Dataset, DatasetSchema
from openclarify.data._jsonlines import compile_path, feature_values, json_lines, open_jsonlines
from openclarify.data._parquet import open_parquet, parquet_batches
from openclarify.data._source import list_sources
from openclarify.errors import DataError

_SUPPORTED = ("text/csv", "application/jsonlines", "application/x-parquet")
_BASELINE = "methods.shap.baseline"


def _check_dataset_type(dataset_type: object) -> str:
    if dataset_type not in DATASET_TYPES:
        raise DataError(f"dataset_type: must be one of {', '.join(map(repr, DATASET_TYPES))}; got {dataset_type!r}.")
    if dataset_type not in _SUPPORTED:
        raise DataError(
            f"dataset_type {dataset_type!r}: not supported yet; got {dataset_type!r}. "
            f"Convert the data to one of {', '.join(map(repr, _SUPPORTED))}."
        )
    return str(dataset_type)


def _check_headers(headers: object) -> list[str] | None:
    if headers is None:
        return None
    if isinstance(headers, str | bytes) or not isinstance(headers, Sequence) or not headers:
        raise DataError(f"headers: must be a non-empty list of column names; got {headers!r}.")
    if not all(isinstance(h, str) for h in headers) or len(set(headers)) != len(headers):
        raise DataError(f"headers: must hold distinct strings; got {list(headers)!r}. Fix the names.")
    return list(headers)


def open_dataset(
    path: str | os.PathLike[str],
    *,
    dataset_type: str,
    headers: Sequence[str] | None = None,
    label: int | str | None = None,
    predicted_label: int | str | None = None,
    features: str | None = None,
    joinsource_name_or_index: int | str | None = None,
    excluded_columns: Sequence[int | str] | None = None,
) -> Dataset:
    """Open a Clarify dataset and work out its schema; records are read later, chunk by chunk.

    Parameters
    ----------
    path
        A file, or a directory (or ``s3://`` prefix) whose files, sorted by path, form one dataset.
        Files and folders starting with ``.`` or ``_`` are skipped. A URL is read through
        :mod:`openclarify.io` (fsspec); ``s3://`` needs the ``s3`` extra (fsspec and s3fs).
    dataset_type
        ``text/csv``, ``application/jsonlines`` or ``application/x-parquet``.
    headers
        Column names (JSON Lines: the feature names, then the label name). CSV without ``headers``: the
        first row is a header row when it names a configured column, or when it is all text above data
        with a numeric column; otherwise columns are named ``column_0``, ``column_1``, ...
    label, predicted_label, joinsource_name_or_index, excluded_columns
        CSV / Parquet: column names or 0-based indices. JSON Lines: JMESPath expressions applied to each
        line (``excluded_columns``: feature names or indices). None of them is a model input.
    features
        JSON Lines only (required there): JMESPath giving each line's flat list of feature values.

    Returns
    -------
    Dataset
        Its ``schema`` is known; ``chunks()``, ``read_all()`` and ``sample()`` read the data. Missing
        numbers (an empty cell, ``nan``, ``NA``, JSON ``null``, a Parquet null) are NaN, since some models
        take them; an infinite number (``inf``, ``Infinity``, ``1e999``) stops the reading with a
        :class:`DataError` naming its line (Parquet: row) and column.

    Raises
    ------
    DataError
        Missing path, empty dataset, unknown column, unsupported dataset_type, unreadable first records.
    MissingDependencyError
        An ``s3://`` path without fsspec and s3fs installed (``pip install 'openclarify[s3]'``).
    """
    kind = _check_dataset_type(dataset_type)
    names = _check_headers(headers)
    refs = {
        "label": label,
        "predicted_label": predicted_label,
        "joinsource_name_or_index": joinsource_name_or_index,
    }
    sources, name = list_sources(path), os.fspath(path)
    if kind == "application/jsonlines":
        schema, read = open_jsonlines(
            name, sources, headers=names, features=features, refs=refs, excluded=excluded_columns
        )
    elif kind == "application/x-parquet":
        schema, read = open_parquet(name, sources, headers=names, refs=refs, excluded=excluded_columns)
    else:
        schema, read = open_csv(name, sources, headers=names, refs=refs, excluded=excluded_columns)
    return Dataset(schema, read)


def _baseline_rows(baseline: str | os.PathLike[str], schema: DatasetSchema, kind: str) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for source in list_sources(baseline, _BASELINE):
        at = f"{_BASELINE} {source.name!r}"
        if kind == "text/csv":
            records = list(csv_records(source, _BASELINE))
            if records and tuple(records[0][1]) == schema.feature_names:
                records = records[1:]
            rows += [(f"{at} line {line}", row) for line, row in records]
        elif kind == "application/jsonlines":
            rows += [(f"{at} line {line}", value) for line, value in json_lines(source, _BASELINE)]
        else:
            table = (
                row for columns in parquet_batches(source, 65_536, _BASELINE) for row in zip(*columns, strict=True)
            )
            rows += [(f"{at} row {i}", list(row)) for i, row in enumerate(table, start=1)]
    return rows


def read_baseline(
    baseline: str | os.PathLike[str] | Sequence[Sequence[object]] | Sequence[Mapping[str, object]],
    schema: DatasetSchema,
    *,
    dataset_type: str,
    features: str | None = None,
) -> pd.DataFrame:
    """Read ``methods.shap.baseline``: rows of model inputs only, in ``schema.feature_names`` order.

    Parameters
    ----------
    baseline
        Rows as in Clarify: CSV / Parquet ``[[0, 0, 0, 0], [1, 1, 1, 1]]``; JSON Lines
        ``[{"features": [0, 0, 0, 0]}]`` (read with ``features``). Or the path / URI of a file in the
        dataset's format holding such rows (CSV: no header, though a row equal to the feature names is
        skipped).
    schema
        The dataset's schema; fixes the number, names and types of the columns.
    dataset_type, features
        As given to :func:`open_dataset`.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_baseline_rows, n_features)``, columns ``schema.feature_names``, dtypes as in
        ``DataChunk.features``.

    Raises
    ------
    DataError
        No rows, a row of the wrong length, a non-number or an infinite number in a numeric column (a
        missing value is NaN), an unreadable file.
    """
    kind = _check_dataset_type(dataset_type)
    n, names = len(schema.feature_names), schema.feature_names
    shown = ", ".join(names[:10]) + (", ..." if n > 10 else "")
    if isinstance(baseline, np.ndarray):
        baseline = baseline.tolist()
    if isinstance(baseline, str | os.PathLike):
        rows = _baseline_rows(baseline, schema, kind)
    elif isinstance(baseline, Sequence) and not isinstance(baseline, bytes):
        rows = [(f"{_BASELINE} row {i}", row) for i, row in enumerate(baseline, start=1)]
    else:
        raise DataError(f"{_BASELINE}: must be a list of rows or a file path / URI; got {baseline!r}.")
    if not rows:
        raise DataError(f"{_BASELINE}: has no rows; got {baseline!r}. Give at least one row of {n} values.")
    path = None if features is None else compile_path("features", features)
    values: list[list[object]] = []
    for where, row in rows:
        if isinstance(row, Mapping):
            if path is None:
                raise DataError(
                    f"{where}: a JSON object needs the 'features' JMESPath expression to find its values; "
                    f"got {row!r}. Set 'features', or give the row as a list of {n} values."
                )
            row = feature_values(path.search(row), where, str(features), None)
        if isinstance(row, str | bytes) or not isinstance(row, Sequence):
            raise DataError(
                f"{where}: expected a list of {n} values (the model's input columns: {shown}); got {row!r}."
            )
        if len(row) != n:
            raise DataError(
                f"{where}: expected {n} values (the model's input columns: {shown}); got {len(row)}. "
                "Give one value per model input, in that order, without the label or excluded columns."
            )
        values.append(list(row))
    layout = Layout(names, schema.categorical, tuple(range(n)))
    fix = "Baseline values of a numeric column must be numbers."
    return layout.split(list(zip(*values, strict=True)), lambda i: rows[i][0], fix)[0]
