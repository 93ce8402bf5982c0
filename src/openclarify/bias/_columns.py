"""Column typing, value matching and the group strings of Clarify's bias metrics (spec sections 2.3-2.4).

smclarify types the label, the predicted label and each facet column as *categorical* or *continuous*
(:func:`column_kind`), then selects the positive / sensitive rows (:func:`positive_mask`): for a categorical
column the rows whose value is one of the configured values, for a continuous one the rows ``x > t`` of the
one configured threshold. Without configured values a facet is reported once per distinct value
(:func:`facet_codes`, order of first appearance). :func:`value_string` writes the ``value_or_threshold`` /
``label_value_or_threshold`` strings of ``analysis.json``.

Two openclarify rules replace smclarify's where it breaks on ordinary data:

* typing: one configured value that equals one of at most two distinct values of the column makes it
  categorical, so a 0/1 label with ``[1]`` no longer becomes the empty interval ``(1, 1]``;
* matching: numbers compare numerically (``1 == 1.0 == "1"``), everything else as strings; missing values
  never match; a bool column also matches ``"true"`` / ``"false"`` in any case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._typing import BoolArray, IntArray
from ..errors import ConfigError, DataError

__all__ = [
    "UNIQUENESS_THRESHOLD",
    "ColumnKind",
    "DtypeKind",
    "check_threshold",
    "column_kind",
    "dtype_kind",
    "kind_from_values",
    "matches",
    "facet_codes",
    "positive_mask",
    "value_string",
]

ColumnKind = Literal["categorical", "continuous"]

UNIQUENESS_THRESHOLD = 0.05
"""smclarify's cut: an int (or int-castable string) column whose ``nunique / count`` is at least this is
continuous."""

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


def _key(value: Any, *, bool_strings: bool = False) -> tuple[str, Any]:
    """The value as matching sees it: ``("n", number)`` for numbers and numeric strings, else ``("s", text)``.

    ``1``, ``1.0``, ``True`` and ``"1"`` give equal keys (Python's ``1 == 1.0`` with equal hashes);
    ``bool_strings`` also reads ``"true"`` / ``"false"`` (any case) as 1 / 0, for bool columns.
    """
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return ("n", int(value))
    if isinstance(value, float | np.floating):
        return ("n", float(value))
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return ("n", int(text))
        if _NUMBER.fullmatch(text):
            return ("n", float(text))
        if bool_strings and text.lower() in ("true", "false"):
            return ("n", int(text.lower() == "true"))
        return ("s", value)
    return ("s", str(value))


def _python(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _factorize(series: pd.Series[Any]) -> tuple[IntArray, list[Any]]:
    """Codes (order of first appearance, missing -> -1) and the distinct non-missing values; raises if none."""
    codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    if len(uniques) == 0:
        raise DataError(
            f"column {series.name!r}: every value is missing; got {len(series)} rows. "
            "Check that the column's name or index in the config points at the intended column."
        )
    return np.asarray(codes, dtype=np.int64), [_python(u) for u in uniques]


def _matches(uniques: Sequence[Any], values: Sequence[Any]) -> BoolArray:
    """For each distinct column value, whether it equals one of the configured ``values``."""
    bool_column = all(isinstance(u, bool | np.bool_) for u in uniques)
    wanted = {_key(v, bool_strings=bool_column) for v in values}
    return np.fromiter((_key(u) in wanted for u in uniques), dtype=np.bool_, count=len(uniques))


DtypeKind = Literal["category", "text", "bool", "float", "int", "other"]


def dtype_kind(series: pd.Series[Any]) -> DtypeKind:
    """What typing sees of a column's dtype."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        return "text"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    return "other"


def kind_from_values(kind: DtypeKind, uniques: Sequence[Any], count: int, values: Sequence[Any]) -> ColumnKind:
    """:func:`column_kind` of a column known by its dtype kind, its distinct non-missing values and how many
    non-missing values it holds (``count``): what a streaming reader can collect without keeping rows."""
    if kind == "category" or len(values) > 1:
        return "categorical"
    if len(values) == 1 and len(uniques) <= 2 and _matches(uniques, values).any():
        return "categorical"
    uniqueness = len(uniques) / count if count else 0.0
    if kind == "text":
        try:
            pd.Series(list(uniques), dtype=object).astype(np.int64)
        except (ValueError, TypeError, OverflowError):
            return "categorical"
        return "continuous" if uniqueness >= UNIQUENESS_THRESHOLD else "categorical"
    if kind == "float":
        return "continuous"
    if kind == "int":
        return "continuous" if uniqueness >= UNIQUENESS_THRESHOLD else "categorical"
    return "categorical"


def column_kind(series: pd.Series[Any], values: Sequence[Any]) -> ColumnKind:
    """Whether smclarify (with openclarify's one fix) treats the column as categorical or continuous.

    ``values`` is the configured list (``label_values_or_threshold`` or a facet's ``value_or_threshold``;
    empty for one-vs-all). The rules, in order: category dtype or several values -> categorical; one value
    equal to one of at most two distinct values -> categorical ([OC] fix); strings -> continuous if they
    cast to int and ``nunique / count >= UNIQUENESS_THRESHOLD``, else categorical; floats -> continuous;
    ints -> by the same uniqueness; bools and anything else -> categorical. Raises :class:`DataError` when
    every value is missing.
    """
    _, uniques = _factorize(series)
    return kind_from_values(dtype_kind(series), uniques, int(series.count()), values)


def matches(uniques: Sequence[Any], values: Sequence[Any]) -> BoolArray:
    """For each distinct value, whether it equals one of the configured ``values`` (numbers numerically,
    everything else as strings)."""
    return _matches(uniques, values)


def check_threshold(series: pd.Series[Any], values: Sequence[Any], *, what: str) -> float | int:
    """The one threshold of a continuous column, as a number; :class:`ConfigError` at ``what`` otherwise."""
    if len(values) != 1:
        raise ConfigError(
            f"column {series.name!r} is continuous, and threshold values must be provided for continuous "
            f"features: exactly one number t (the group is the rows with value > t); got {list(values)!r}. "
            "Give one threshold, or several values to treat the column as categorical.",
            path=what,
        )
    key = _key(values[0])
    if key[0] != "n" or isinstance(values[0], bool | np.bool_):
        raise ConfigError(
            f"the threshold of continuous column {series.name!r} must be a number; got {values[0]!r}. "
            "Give a number such as 40 or 2.5.",
            path=what,
        )
    threshold: float | int = key[1]
    return threshold


def _numeric(series: pd.Series[Any], *, what: str) -> pd.Series[Any]:
    try:
        return pd.to_numeric(series)
    except (ValueError, TypeError):
        raise ConfigError(
            f"a threshold needs a numeric column, but column {series.name!r} holds non-numeric values "
            f"such as {_factorize(series)[1][:3]!r}. Give the values of the group instead of a threshold.",
            path=what,
        ) from None


def positive_mask(series: pd.Series[Any], values: Sequence[Any], kind: ColumnKind, *, what: str) -> BoolArray:
    """The rows in the group: value equal to one of ``values`` (categorical) or ``> t`` (continuous).

    ``what`` is the config path named by errors (``"facet[0].value_or_threshold"``). A value that never
    occurs, or a threshold at or above the column's maximum, gives an all-False mask, not an error.
    """
    if kind == "continuous":
        threshold = check_threshold(series, values, what=what)
        above = _numeric(series, what=what) > threshold  # missing values compare False (or NA, filled below)
        return np.asarray(above.fillna(False), dtype=np.bool_)
    if not values:
        raise ValueError("positive_mask: a categorical group needs values; use facet_codes for one-vs-all")
    codes, uniques = _factorize(series)
    hit = np.append(_matches(uniques, values), False)  # code -1 (missing) indexes the trailing False
    return hit[codes]


def facet_codes(series: pd.Series[Any]) -> tuple[IntArray, list[Any]]:
    """One-vs-all groups: each row's index into ``values`` (distinct values in order of first appearance).

    Missing rows get -1; ``values`` are Python scalars (``str(values[i])`` is the group's string). Raises
    :class:`DataError` when every value is missing. The caller checks first that the column is categorical.
    """
    return _factorize(series)


def value_string(
    values: Sequence[Any],
    kind: ColumnKind,
    series: pd.Series[Any],
    *,
    extra: pd.Series[Any] | None = None,
    what: str = "value_or_threshold",
) -> str:
    """The ``value_or_threshold`` / ``label_value_or_threshold`` string written to ``analysis.json``.

    Categorical: the configured values joined by ``","`` in the config's spelling (``[1.0]`` -> ``"1.0"``);
    pass ``[value]`` for a one-vs-all group. Continuous: smclarify's interval text ``"(t, max]"``, ints
    staying ints and any float making both ends floats; ``max`` is over ``series`` and ``extra`` (give the
    label as ``extra`` for the predicted label). smclarify's degenerate breaks are kept: ``t == max`` (and
    ``t == abs(max)``) gives ``""``, ``t > max`` gives ``"(max, t]"``.
    """
    if kind == "categorical":
        return ",".join(str(v) for v in values)
    threshold = check_threshold(series, values, what=what)
    _factorize(series)  # all missing -> DataError
    maxima = [_numeric(s, what=what).max() for s in (series, extra) if s is not None]
    top = _python(max(m for m in maxima if not pd.isna(m)))
    breaks = [threshold] if abs(top) == threshold else [threshold, top]
    return ",".join(str(interval) for interval in pd.IntervalIndex.from_breaks(sorted(breaks)))
