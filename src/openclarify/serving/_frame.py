"""Decoded records to the model's DataFrame, with the column types the analysis data layer gave them.

The analysis data layer types a column from the first records of the whole dataset: numeric (float64)
when every present value parses as a number, else text (Python ``str``, ``None`` where empty). The
server sees one request at a time, so it reads the types the client wrote: a quoted CSV field or a
JSON string is text (Clarify quotes strings: ``"This is a good product",5``), as is a value that does
not parse as a number; a column is numeric when all its values are numbers or missing. ``text_columns``
forces columns to text. Numbers are parsed correctly rounded, so a float the client wrote with
``repr()`` arrives bit-identical.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data._columns import is_numeric, to_float, to_text
from ..errors import DataError
from ..wire import RANGE_HINT, Payload, RequestError, number_text

__all__ = ["records_frame"]

# Cells made only of these characters are parsed with float() (correctly rounded, like pandas on repr()
# output) in one numpy call; anything else (NA tokens, "nan", text) goes through the data layer's rules.
_PLAIN_NUMBERS = re.compile(r"[0-9eE.+\-]*")


def _fast_floats(values: Sequence[Any]) -> np.ndarray | None:
    """``values`` as float64 when they are all plain numbers (or numeric strings); else ``None``."""
    first = values[0]
    try:
        if isinstance(first, str):
            if not all(isinstance(v, str) for v in values) or not _PLAIN_NUMBERS.fullmatch("".join(values)):
                return None
            return np.array(values, dtype=np.float64)
        if {type(v) for v in values} <= {float, int}:
            return np.array(values, dtype=np.float64)
    except (ValueError, OverflowError):
        return None
    return None


# A number written in decimal (not "inf" or "Infinity"): one that reads as infinite has overflowed.
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
# Past this many characters pandas reads no number (Python's int() limit): the column would turn to text.
_LONGEST_NUMBER = 4300
INF_FIX = "Write a finite number, or leave the value out (empty, null) for a missing one."


def _overflow(values: Sequence[Any], name: str, positions: Iterable[int]) -> RequestError | None:
    """The error for the first decimal number at ``positions`` that float64 cannot hold (read as inf)."""
    for i in positions:
        value = values[i]
        if isinstance(value, str) and _DECIMAL.fullmatch(value) and math.isinf(float(value)):
            return RequestError(
                400,
                f"record {i + 1}, column {name!r}: a number outside the float64 range; got {number_text(value)}. "
                f"{RANGE_HINT}",
            )
    return None


def _check_finite(values: Sequence[Any], name: str, floats: np.ndarray) -> None:
    """Refuse infinite numbers, as the analysis data layer does: a number past the range, or inf itself."""
    infinite = np.flatnonzero(np.isinf(floats)).tolist()
    if not infinite:
        return
    error = _overflow(values, name, infinite)
    if error is not None:
        raise error
    i = infinite[0]
    value = values[i] if isinstance(values[i], str) else float(floats[i])
    raise RequestError(
        400, f"record {i + 1}, column {name!r}: infinite numbers are not supported; got {value!r}. {INF_FIX}"
    )


def _record_number(row: int) -> str:
    return f"record {row + 1}"


def _column(values: Sequence[Any], name: str, text: bool) -> pd.Series:
    if not text:
        fast = _fast_floats(values)
        if fast is not None:
            _check_finite(values, name, fast)
            return pd.Series(fast, dtype=np.float64)
        if is_numeric(values):
            try:
                series = to_float(values, name, _record_number, "")
            except DataError as exc:  # the data layer's refusal (an infinite number) is the request's fault
                raise _overflow(values, name, range(len(values))) or RequestError(400, str(exc)) from None
            _check_finite(values, name, series.to_numpy())
            return series
        long = [i for i, v in enumerate(values) if isinstance(v, str) and len(v) > _LONGEST_NUMBER]
        error = _overflow(values, name, long)
        if error is not None:
            raise error
    return to_text(values)


def _names(payload: Payload, feature_names: Sequence[str] | None) -> tuple[str, ...]:
    rows = payload.rows
    if isinstance(rows[0], dict):
        keys = tuple(str(k) for k in rows[0])
        names = keys if feature_names is None else tuple(feature_names)
        known = set(names)
        for i, row in enumerate(rows):  # every record: a name no column takes would be dropped unseen
            if not row.keys() <= known:
                unknown = sorted(set(row) - known)
                origin = (
                    f"the features are {list(keys)[:20]!r} (from the first record)"
                    if feature_names is None
                    else f"the model's features are {list(feature_names)[:20]!r}"
                )
                raise RequestError(400, f"record {i + 1}: unknown feature names {unknown[:10]!r}; {origin}.")
        return names
    width = len(rows[0])
    if feature_names is None:
        return tuple(f"column_{j}" for j in range(width))
    return tuple(feature_names)


def records_frame(
    payload: Payload,
    *,
    feature_names: Sequence[str] | None = None,
    text_columns: frozenset[str] | bool = frozenset(),
) -> pd.DataFrame:
    """The DataFrame the model receives, one row per record, columns ``feature_names``.

    ``feature_names`` come from the model or the server's options (``column_0``, ``column_1``, ...
    when ``None``). ``text_columns`` names columns kept as text whatever they hold; ``True`` keeps
    every column as text (a text model).

    Raises
    ------
    RequestError
        400 when a record has the wrong number of values or misses a named feature.
    """
    if payload.n_records == 0:
        raise RequestError(400, "body: has no records; send at least one.")
    names = _names(payload, feature_names)
    n = len(names)
    rows = payload.rows
    columns: list[Sequence[Any]]
    if isinstance(rows[0], dict):
        columns = []
        for name in names:
            try:
                columns.append([row[name] for row in rows])
            except KeyError:
                missing = next(i for i, row in enumerate(rows) if name not in row)
                raise RequestError(400, f"record {missing + 1}: no value for feature {name!r}.") from None
    else:
        for i, row in enumerate(rows):
            if len(row) != n:
                origin = "the model's features" if feature_names is not None else "the first record"
                raise RequestError(
                    400,
                    f"record {i + 1}: expected {n} values ({origin}); got {len(row)}. "
                    "Send every record with the same number of values.",
                )
        columns = list(zip(*rows, strict=True)) if n > 1 else [[row[0] for row in rows]]
    text_all = text_columns is True
    forced: frozenset[str] = frozenset() if isinstance(text_columns, bool) else text_columns
    if payload.csv:  # a quoted field makes a text column
        quoted = payload.quoted_columns or frozenset()
        given = [j in quoted for j in range(n)]
    else:  # a JSON string makes a text column
        given = [any(isinstance(v, str) for v in values) for values in columns]
    series = [
        _column(values, name, text_all or name in forced or given[j])
        for j, (name, values) in enumerate(zip(names, columns, strict=True))
    ]
    if len(set(names)) < n:  # repeated names: the last column of a name wins, as in a dict
        return pd.DataFrame(dict(zip(names, series, strict=True)), copy=False)
    # The same frame as pd.DataFrame({name: column}), without building the column index from the names
    # again for every request (a string index is an Arrow array in pandas 3: the costliest part).
    frame = pd.DataFrame(dict(enumerate(series)), copy=False)  # the columns are new: no need to copy them
    frame.columns = _column_index(names)
    return frame


@functools.lru_cache(maxsize=64)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names))  # what pd.DataFrame({name: ...}) makes of the names; an Index is immutable
