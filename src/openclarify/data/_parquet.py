"""``application/x-parquet`` datasets: column names and types from the file, streamed in record batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from openclarify.data._columns import Chunk, Layout, layout_for, where_fixed
from openclarify.data._dataset import DatasetSchema, make_schema
from openclarify.data._source import Source
from openclarify.errors import DataError


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


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


def parquet_batches(source: Source, batch_size: int) -> Iterator[list[Any]]:
    """Positional columns of each record batch: numeric columns as float64 arrays, others as Python values."""
    with source.open() as fh:
        for batch in pq.ParquetFile(fh).iter_batches(batch_size=batch_size):
            yield [
                col.cast(pa.float64()).to_numpy(zero_copy_only=False) if _is_number(col.type) else col.to_pylist()
                for col in batch.columns
            ]


@dataclass(frozen=True, slots=True)
class _ParquetReader:
    sources: tuple[Source, ...]
    layout: Layout

    def __call__(self, chunksize: int) -> Iterator[Chunk]:
        for source in self.sources:
            for columns in parquet_batches(source, chunksize):
                yield self.layout.split(columns, where_fixed(f"dataset {source.name!r}"), "")


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
    return make_schema(layout, names), _ParquetReader(tuple(sources), layout)
