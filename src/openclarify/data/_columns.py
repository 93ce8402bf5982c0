"""Column typing shared by every reader: numeric vs categorical, value coercion, column references."""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openclarify._typing import FloatArray
from openclarify.errors import DataError

# pandas' default NA strings: in a numeric column these read as NaN. A categorical column keeps them as
# text (a country code "NA" is data); there only the empty string is missing.
NA_TOKENS = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
     "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)  # fmt: skip

Chunk = tuple[pd.DataFrame, pd.Series | None, pd.Series | None, pd.Series | None]
"""What a reader yields: features, label, join source, predicted label (each with a RangeIndex from 0)."""


def is_missing(value: object) -> bool:
    """Whether ``value`` is a missing number: None, NaN or one of pandas' NA strings."""
    if isinstance(value, str):
        return value in NA_TOKENS
    return value is None or (isinstance(value, float) and math.isnan(value))


def _beyond_float(value: object) -> object:
    """An integer too large for float64 as +-inf; any other value unchanged."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _LARGEST_FLOAT:
        return math.inf if value > 0 else -math.inf
    return value


_LARGEST_FLOAT = int(sys.float_info.max)


def _numbers(values: Sequence[object]) -> tuple[FloatArray, np.ndarray]:
    """Parse ``values`` as float64; also return a mask of the values that are present but not numbers."""
    series = pd.Series(list(values), dtype=object)
    missing = series.map(is_missing).to_numpy(bool)
    kinds = series.map(lambda v: isinstance(v, str | numbers.Real) and not isinstance(v, bool | np.bool_))
    wrong = ~missing & ~kinds.to_numpy(bool)
    candidates = series.where(~(missing | wrong), np.nan)
    try:
        parsed = pd.to_numeric(candidates, errors="coerce")
    except OverflowError:  # a JSON integer beyond float64 (10**400): infinite, as the text 1e400 would be
        parsed = pd.to_numeric(candidates.map(_beyond_float), errors="coerce")
    floats = np.asarray(parsed, dtype=np.float64)
    return floats, wrong | (~missing & np.isnan(floats))


def is_numeric(values: Sequence[object]) -> bool:
    """Whether every present value of a column parses as a number (booleans do not)."""
    return not _numbers(values)[1].any()


def has_number(values: Sequence[object]) -> bool:
    """Whether at least one value is a number (and not missing)."""
    floats, bad = _numbers(values)
    return bool((~bad & ~np.isnan(floats)).any())


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def to_text(values: Iterable[object]) -> pd.Series:
    """Categorical column: Python ``str`` values, ``None`` where missing (None, NaN or empty string)."""
    items = values.tolist() if isinstance(values, pd.Series) else values
    return pd.Series([_text(v) for v in items], dtype=object)


INF_FIX = "Write a finite number, or leave the value out (empty, null) for a missing one."


def to_float(values: Sequence[object], name: str, where: Callable[[int], str], fix: str) -> pd.Series:
    """Numeric column as float64, NaN where missing; a present value that is not a number raises.

    Infinite numbers (``inf``, ``Infinity``, ``1e999``) raise too: a computed (K-means) baseline cannot
    average them, scikit-learn estimators refuse them even where they take NaN, and they usually come
    from a division by zero upstream. Missing values stay NaN: some models take them.

    Raises
    ------
    DataError
        ``<where(row)>, column <name>: expected a number ...; got <value>. <fix>``, or
        ``<where(row)>, column <name>: infinite numbers are not supported; got <value>. ...``.
    """
    parsed = isinstance(values, pd.Series | np.ndarray) and values.dtype.kind in "fiu"  # by pandas or Arrow
    if parsed:
        floats = np.asarray(values, dtype=np.float64)
    else:
        floats, bad = _numbers(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where(row)}, column {name!r}: expected a number (the column is numeric); "
                f"got {list(values)[row]!r}. {fix}"
            )
    infinite = np.isinf(floats)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raw = None if parsed else list(values)[row]
        value = raw if isinstance(raw, str) else float(floats[row])  # the text as written, else the number
        raise DataError(f"{where(row)}, column {name!r}: infinite numbers are not supported; got {value!r}. {INF_FIX}")
    return pd.Series(floats, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Layout:
    """How the raw columns a reader produces map onto features, label and join source."""

    names: tuple[str, ...]  # of every raw column
    text: tuple[bool, ...]  # per raw column: categorical
    features: tuple[int, ...]
    label: int | None = None
    joinsource: int | None = None
    predicted: int | None = None

    def split(self, columns: Sequence[Sequence[object]], where: Callable[[int], str], fix: str) -> Chunk:
        """Coerce raw columns (positional) and split them into features, label and join source."""

        def column(j: int) -> pd.Series:
            values = columns[j]
            if self.text[j]:
                return to_text(values)
            return to_float(values, self.names[j], where, fix)

        features = pd.DataFrame({self.names[j]: column(j) for j in self.features})
        label = None if self.label is None else column(self.label).rename(self.names[self.label])
        join = None
        if self.joinsource is not None:
            join = column(self.joinsource).rename(self.names[self.joinsource])
        predicted = None
        if self.predicted is not None:
            predicted = column(self.predicted).rename(self.names[self.predicted])
        return features, label, join, predicted


def where_fixed(text: str) -> Callable[[int], str]:
    """A message prefix that does not depend on the row (for readers whose types cannot fail)."""
    return lambda _: text


def where_lines(prefix: str, lines: Sequence[int]) -> Callable[[int], str]:
    """A message prefix naming the file line of each row."""
    return lambda i: f"{prefix} line {lines[i]}"


def _available(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:20])
    more = f", ... ({len(names)} in all)" if len(names) > 20 else ""
    return f"Use one of the column names {shown}{more} or a 0-based index from 0 to {len(names) - 1}"


def resolve(key: str, ref: int | str, names: Sequence[str]) -> int:
    """Position of the column that ``ref`` (a name or a 0-based index) designates among ``names``.

    Raises
    ------
    DataError
        Unknown name, index out of range, or a reference that is neither a string nor an integer.
    """
    if isinstance(ref, str):
        if ref in names:
            return list(names).index(ref)
        raise DataError(f"{key}: no column of that name in the dataset; got {ref!r}. {_available(names)}.")
    if isinstance(ref, int) and not isinstance(ref, bool):
        if 0 <= ref < len(names):
            return ref
        raise DataError(f"{key}: column index out of range; got {ref!r}. {_available(names)}.")
    raise DataError(f"{key}: must be a column name or a 0-based index; got {ref!r}. {_available(names)}.")


def excluded_refs(excluded: Sequence[int | str] | None) -> list[tuple[str, int | str]]:
    """``excluded_columns`` as ``(key, ref)`` pairs for messages; rejects a bare string."""
    if excluded is None:
        return []
    if isinstance(excluded, str | bytes):
        raise DataError(
            f"excluded_columns: must be a list of column names or indices; got {excluded!r}. Write [{excluded!r}]."
        )
    return [(f"excluded_columns[{i}]", ref) for i, ref in enumerate(excluded)]


def layout_for(
    names: Sequence[str],
    text: Sequence[bool],
    *,
    where: str,
    refs: dict[str, int | str | None],
    excluded: Sequence[int | str] | None,
) -> Layout:
    """Resolve ``label``, ``predicted_label``, ``joinsource_name_or_index`` and ``excluded_columns``.

    The features are the remaining columns, in column order. The join source is always categorical, so
    identifiers such as ``"00123"`` keep their text.
    """
    found = {key: resolve(key, ref, names) for key, ref in refs.items() if ref is not None}
    dropped = set(found.values()) | {resolve(k, r, names) for k, r in excluded_refs(excluded)}
    features = tuple(j for j in range(len(names)) if j not in dropped)
    if not features:
        raise DataError(
            f"{where}: no feature column is left after removing the label, predicted label, join source "
            f"and excluded columns; got columns {list(names)!r}. Exclude fewer columns."
        )
    join = found.get("joinsource_name_or_index")
    flags = tuple(bool(t) or j == join for j, t in enumerate(text))
    return Layout(tuple(names), flags, features, found.get("label"), join, found.get("predicted_label"))
