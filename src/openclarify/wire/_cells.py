"""One feature value on the wire: how a record's cells are written into a request body."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["JSON_CELLS", "CellFormat", "cells", "json_text", "json_value"]


def json_text(text: str) -> str:
    """A string as JSON, non-ASCII characters kept as they are."""
    return json.dumps(text, ensure_ascii=False)


def _json_float(number: float) -> str:
    # json.dumps writes floats with repr() too; inf becomes Infinity, which Python's json reads back.
    return repr(number) if number - number == 0 else json.dumps(number)


class CellFormat(NamedTuple):
    """How one content type writes a value; a missing value (None, NaN, NA) is ``missing``."""

    float: Callable[[float], str]
    text: Callable[[str], str]
    true: str
    false: str
    missing: str


JSON_CELLS: Final = CellFormat(_json_float, json_text, "true", "false", "null")


def _scalar_cell(value: Any, fmt: CellFormat) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return fmt.missing
    if isinstance(value, (bool, np.bool_)):
        return fmt.true if value else fmt.false
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return fmt.missing if number != number else fmt.float(number)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return fmt.text(value if isinstance(value, str) else str(value))


def cells(column: pd.Series, fmt: CellFormat) -> list[str]:
    """One column as encoded cells; floats as ``repr``, the shortest text that reads back to the same float64.

    Each distinct value is formatted once: the masked records of an explanation repeat a few
    baseline values many times, and formatting a float costs about a microsecond.
    """
    # Extension dtypes (Int64 with NA, string, category) as objects: their own to_numpy may turn
    # integers into floats.
    values = column.to_numpy() if isinstance(column.dtype, np.dtype) else column.to_numpy(dtype=object)
    kind = values.dtype.kind
    if kind == "f":
        # Distinct by bit pattern, so -0.0 and 0.0 stay apart.
        codes, uniques = pd.factorize(values.astype(np.float64, copy=False).view(np.int64))
        texts = [fmt.missing if v != v else fmt.float(v) for v in uniques.view(np.float64).tolist()]
    elif kind == "b":
        return [fmt.true if v else fmt.false for v in values.tolist()]
    elif kind in "iu":
        codes, uniques = pd.factorize(values)
        texts = [str(v) for v in uniques.tolist()]
    elif kind == "O" and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(values)  # missing values get code -1: the last text
        texts = [fmt.text(v) for v in uniques.tolist()] + [fmt.missing]
    else:
        return [_scalar_cell(v, fmt) for v in column.tolist()]
    return [texts[c] for c in codes.tolist()]


def json_value(value: Any) -> Any:
    """A feature value as JSON can hold it: NaN and None become ``null``; numpy scalars become Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value
