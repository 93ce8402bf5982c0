"""``text/csv`` datasets: Python's ``csv.excel`` dialect, UTF-8, streamed with pandas' C parser.

pandas parses the data. The ``csv`` module (the dialect Clarify documents) peeks at the first records
to detect the header row and the column types, and re-walks a file to find the physical line of a record
that pandas rejected or silently padded: pandas pads short rows with NaN instead of failing.
"""

from __future__ import annotations

import csv
import io
import itertools
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import IO

import numpy as np
import pandas as pd

from openclarify.data._columns import (
    NA_TOKENS,
    Chunk,
    Layout,
    has_number,
    is_numeric,
    layout_for,
)
from openclarify.data._dataset import DatasetSchema, make_schema
from openclarify.data._source import Source, utf8_error
from openclarify.errors import DataError

_PEEK_ROWS = 1000  # records per dataset used to detect the header row and the column types
_FIX_VALUE = "Fix the value, or list the column in 'excluded_columns'."


def csv_records(source: Source, where: str = "dataset") -> Generator[tuple[int, list[str]], None, None]:
    """Yield ``(line, fields)`` per non-blank record; ``line`` is the 1-based line the record starts on."""
    # Long text fields (reviews) exceed the csv module's 128 KiB default.
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))
    with source.open() as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text, dialect="excel")
        previous = 0
        try:
            for row in reader:
                start, previous = previous + 1, reader.line_num
                if row and not (len(row) == 1 and not row[0].strip()):  # pandas skips blank lines too
                    yield start, row
        except UnicodeDecodeError:
            raise utf8_error(source, where) from None
        except csv.Error as exc:
            raise DataError(
                f"{where} {source.name!r} line {reader.line_num}: not valid CSV; got {str(exc)!r}. "
                "Fix the file (Clarify reads the Python csv 'excel' dialect)."
            ) from exc


def _wrong_count(source: Source, line: int, expected: int, origin: str, got: int) -> DataError:
    return DataError(
        f"dataset {source.name!r} line {line}: expected {expected} columns ({origin}); got {got}. "
        "Every record needs the same number of fields: fix the line or the 'headers'."
    )


def _looks_like_header(first: list[str], rest: list[list[str]], names: set[str]) -> bool:
    """Clarify-style sniffing: config column names in the first row, or a text row over numeric data."""
    if names & set(first):
        return True
    if any(has_number([cell]) for cell in first):
        return False
    columns = zip(*(row for row in rest if len(row) == len(first)), strict=False)
    return any(is_numeric(col) and has_number(col) for col in columns)


def _header_names(source: Source, row: list[str]) -> tuple[str, ...]:
    names = tuple(name if name.strip() else f"column_{j}" for j, name in enumerate(row))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(
            f"dataset {source.name!r} header row: duplicate column names; got {duplicates!r}. "
            "Rename the columns, or give unique names with 'headers'."
        )
    return names


class _Cursor:
    """Walks a file with the csv module, forward only, to find the line of a record pandas rejected."""

    def __init__(self, source: Source) -> None:
        self._records = csv_records(source)
        self._next = 0

    def at(self, index: int) -> tuple[int, list[str]] | None:
        found = next(itertools.islice(self._records, index - self._next, None), None)
        self._next = index + 1
        return found


def _is_number_cell(cell: str) -> bool:
    """Fast per-cell version of ``is_numeric`` for re-walking a file (close enough to locate a bad value)."""
    if cell in NA_TOKENS:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return "_" not in cell


def _where_record(source: Source, first: int) -> Callable[[int], str]:
    """Message prefix naming the line of row ``i`` of a chunk whose first row is csv record ``first``.

    Only called for an error (a value that cannot be used): it re-walks the file to find the line.
    """

    def where(i: int) -> str:
        found = _Cursor(source).at(first + i)
        return f"dataset {source.name!r}" + (f" line {found[0]}" if found is not None else "")

    return where


@dataclass(frozen=True, slots=True)
class _CsvReader:
    sources: tuple[Source, ...]
    layout: Layout
    header_row: tuple[str, ...] | None  # a file's first record equal to this is its header row
    origin: str  # where the column count comes from, for messages

    def __call__(self, chunksize: int) -> Iterator[Chunk]:
        for source in self.sources:
            with closing(csv_records(source)) as records:
                first = next(records, None)
            if first is None:
                continue
            skip = tuple(first[1]) == self.header_row
            if not skip and len(first[1]) != len(self.layout.names):  # pandas would drop the extra fields
                raise _wrong_count(source, first[0], len(self.layout.names), self.origin, len(first[1]))
            yield from self._read_file(source, skip, chunksize)

    def _read_file(self, source: Source, skip: bool, chunksize: int) -> Iterator[Chunk]:
        n = len(self.layout.names)
        cursor = _Cursor(source)
        record = int(skip)  # index, among the file's csv records, of the next chunk's first row
        with source.open() as fh:
            frames = self._frames(fh, skip, chunksize)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    return
                except UnicodeDecodeError:
                    raise utf8_error(source, "dataset") from None
                except ValueError as exc:  # ParserError included
                    raise self._locate(source, cursor, record, exc) from exc
                # pandas pads a short record with NaN: check the records whose last field is empty.
                for i in np.flatnonzero(frame[n - 1].isna().to_numpy()):
                    found = cursor.at(record + int(i))
                    if found is not None and len(found[1]) != n:
                        raise _wrong_count(source, found[0], n, self.origin, len(found[1]))
                where = _where_record(source, record)
                record += len(frame)
                yield self.layout.split([frame[j] for j in range(n)], where, "")

    def _frames(self, fh: IO[bytes], skip: bool, chunksize: int) -> Iterator[pd.DataFrame]:
        # A generator, so that errors pandas raises while it reads the header also come out of next().
        text, n = self.layout.text, len(self.layout.names)
        with pd.read_csv(
            fh,
            header=0 if skip else None,
            names=list(range(n)),
            index_col=False,
            dtype={j: object if text[j] else np.float64 for j in range(n)},
            na_values={j: [""] if text[j] else sorted(NA_TOKENS) for j in range(n)},
            keep_default_na=False,
            chunksize=chunksize,
            engine="c",
            encoding="utf-8",
        ) as reader:
            yield from reader

    def _locate(self, source: Source, cursor: _Cursor, index: int, exc: ValueError) -> DataError:
        names, n = self.layout.names, len(self.layout.names)
        while (found := cursor.at(index)) is not None:
            line, row = found
            if len(row) != n:
                return _wrong_count(source, line, n, self.origin, len(row))
            for j, cell in enumerate(row):
                if not self.layout.text[j] and not _is_number_cell(cell):
                    return DataError(
                        f"dataset {source.name!r} line {line}, column {names[j]!r}: expected a number (the "
                        f"column is numeric in the first {_PEEK_ROWS} records); got {cell!r}. {_FIX_VALUE}"
                    )
            index += 1
        return DataError(
            f"dataset {source.name!r}: cannot be parsed as CSV; got {str(exc).strip()!r}. "
            "Fix the file (Clarify reads the Python csv 'excel' dialect)."
        )


def open_csv(
    name: str,
    sources: Sequence[Source],
    *,
    headers: Sequence[str] | None,
    refs: dict[str, int | str | None],
    excluded: Sequence[int | str] | None,
) -> tuple[DatasetSchema, Callable[[int], Iterator[Chunk]]]:
    """Peek at the CSV file(s): header row, column names and types; return the schema and the reader."""
    header_row = tuple(headers) if headers is not None else None
    names, origin = header_row, "from 'headers'"
    peek: list[list[str]] = []
    for source in sources:
        with closing(csv_records(source)) as records:
            head = list(itertools.islice(records, _PEEK_ROWS + 1))
        if not head:
            continue
        if names is None:  # the first file with data, and no 'headers': sniff
            first = head[0][1]
            strings = {r for r in [*refs.values(), *(excluded or [])] if isinstance(r, str)}
            if _looks_like_header(first, [row for _, row in head[1:]], strings):
                header_row, names, origin = tuple(first), _header_names(source, first), "from the header row"
            else:
                names, origin = tuple(f"column_{j}" for j in range(len(first))), "from the first row"
        rows = head[1:] if tuple(head[0][1]) == header_row else head
        for line, row in rows:
            if len(row) != len(names):
                raise _wrong_count(source, line, len(names), origin, len(row))
        peek.extend(row for _, row in rows)
        if len(peek) >= _PEEK_ROWS:
            break
    if names is None:
        raise DataError(f"dataset {name!r}: is empty; got no record. Point the dataset at a file with data.")
    if not peek:
        raise DataError(
            f"dataset {name!r}: has a header row but no records; got only {list(names)!r}. "
            "Point the dataset at a file with data."
        )
    text = [not is_numeric(column) for column in zip(*peek, strict=True)]
    layout = layout_for(names, text, where=f"dataset {name!r}", refs=refs, excluded=excluded)
    return make_schema(layout, names), _CsvReader(tuple(sources), layout, header_row, origin)
