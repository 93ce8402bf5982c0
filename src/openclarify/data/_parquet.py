"""``application/x-parquet`` datasets: column names and types from the file, streamed in record batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from openclarify.data._columns import Chunk, Layout, layout_for
from openclarify.data._dataset import DatasetSchema, make_schema
from openclarify.data._source import Source
from openclarify.errors import DataError


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def _is_scalar(kind: pa.DataType) -> bool:
    """Whether a column of this type is read as numbers or as text: numbers, strings, booleans, times and
    dates (as their text, as a CSV file would hold them), nulls, and dictionaries of those."""
    if pa.types.is_dictionary(kind):
        return _is_scalar(kind.value_type)
    return bool(
        _is_number(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or getattr(pa.types, "is_string_view", lambda _: False)(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_null(kind)
    )


def parquet_schema(source: Source, where: str = "dataset") -> tuple[pa.Schema, int]:
    """The Arrow schema and row count of a Parquet file, or a DataError when it is not one."""
    try:
        with source.open() as fh:
            parquet = pq.ParquetFile(fh)
            return parquet.schema_arrow, parquet.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{where} {source.name!r}: not a readable Parquet file; got {str(exc)!r}. "
            "Check the file and the dataset_type."
        ) from exc


def parquet_batches(source: Source, batch_size: int, where: str = "dataset") -> Iterator[list[Any]]:
    """Positional columns of each record batch: numeric columns as float64 arrays, others as Python values.

    Integers beyond 2**53 become the nearest float64, as the CSV and JSON Lines readers read them.

    Raises
    ------
    DataError
        A record batch cannot be read (a damaged file).
    """
    done = 0
    with source.open() as fh:
        batches = pq.ParquetFile(fh).iter_batches(batch_size=batch_size)
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise DataError(
                    f"{where} {source.name!r}: cannot read the records after row {done}; got {str(exc)!r}. "
                    "Check the file."
                ) from exc
            if batch is None:
                return
            done += batch.num_rows
            yield [
                col.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
                if _is_number(col.type)
                else col.to_pylist()
                for col in batch.columns
            ]


def _where_rows(source: Source, first: int) -> Callable[[int], str]:
    """Message prefix naming row ``first + i + 1`` of the file (rows numbered from 1, as in baselines)."""
    return lambda i: f"dataset {source.name!r} row {first + i + 1}"


@dataclass(frozen=True, slots=True)
class _ParquetReader:
    sources: tuple[Source, ...]
    layout: Layout

    def __call__(self, chunksize: int) -> Iterator[Chunk]:
        for source in self.sources:
            first = 0
            for columns in parquet_batches(source, chunksize):
                n = len(columns[0]) if columns else 0
                yield self.layout.split(columns, _where_rows(source, first), "")
                first += n


def _check_types(name: str, schema: pa.Schema, names: Sequence[str], layout: Layout) -> None:
    """Every column the job reads (features, label, join source) holds numbers or text.

    Others (lists, structs, maps, bytes) have no value a model reading CSV-like records could take:
    ``str()`` of a list is not data. JSON Lines refuses nested feature values the same way.
    """
    used = [*layout.features, *(j for j in (layout.label, layout.joinsource) if j is not None)]
    for j in sorted(used):
        kind = schema.types[j]
        if not _is_scalar(kind):
            raise DataError(
                f"dataset {name!r}, column {names[j]!r}: must hold numbers or text; got Parquet type {str(kind)!r}. "
                "Convert the column to numbers or strings, or list it in 'excluded_columns'."
            )


def open_parquet(
    name: str,
    sources: Sequence[Source],
    *,
    headers: Sequence[str] | None,
    refs: dict[str, int | str | None],
    excluded: Sequence[int | str] | None,
) -> tuple[DatasetSchema, Callable[[int], Iterator[Chunk]]]:
    """Read the Parquet schemas (every file must agree); return the dataset schema and the reader."""
    found = [parquet_schema(source) for source in sources]
    first = found[0][0]
    for source, (schema, _) in zip(sources, found, strict=True):
        kinds = [_is_number(t) for t in schema.types]
        if schema.names != first.names or kinds != [_is_number(t) for t in first.types]:
            raise DataError(
                f"dataset {source.name!r}: columns differ from those of {sources[0].name!r}; got "
                f"{[str(f) for f in schema]!r}. Every file of a dataset needs the same columns and types."
            )
    if sum(rows for _, rows in found) == 0:
        raise DataError(f"dataset {name!r}: is empty; got 0 rows. Point the dataset at a file with data.")
    names = tuple(first.names)
    if headers is not None:
        if len(headers) != len(names):
            raise DataError(
                f"headers: the Parquet file has {len(names)} columns {list(names)!r}; got {len(headers)} "
                f"names {list(headers)!r}. Give one name per column, or leave 'headers' out."
            )
        names = tuple(headers)
    text = [not _is_number(t) for t in first.types]
    layout = layout_for(names, text, where=f"dataset {name!r}", refs=refs, excluded=excluded)
    for source, (schema, _) in zip(sources, found, strict=True):
        _check_types(name if len(sources) == 1 else source.name, schema, names, layout)
    return make_schema(layout, names), _ParquetReader(tuple(sources), layout)
