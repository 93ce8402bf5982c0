"""``text/csv`` on ``/invocations``, each direction's encoder beside its decoder.

Requests: no header, one record per line (clarify-spec §4.2); the endpoint client quotes every text
(``"This is a good product",5``), the proxy only where needed, and the server reads RFC 4180 / the excel
dialect. Responses: one line of comma-separated scores per record, floats with ``repr()``; the client
reads score and label columns by index, and one line of N single scores for N records (§4.3).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Final

import pandas as pd

from .._typing import FloatArray
from ._base import Payload, RequestError, ResponseFormatError
from ._cells import CellFormat, cells
from ._select import Selector

__all__ = [
    "CSV_CELLS",
    "CsvRequest",
    "csv_cell_value",
    "decode_csv_request",
    "decode_csv_response",
    "encode_csv_records",
    "encode_csv_scores",
]


# ---------------------------------------------------------------------------------------------------
# requests


def _quote(text: str) -> str:
    """A text cell, always quoted as ``csv.QUOTE_NONNUMERIC`` does (Clarify sends ``"This is a good product",5``).

    Quoting every string keeps commas, quotes and line breaks inside the value, and tells a number
    from a text that reads like one.
    """
    return '"' + text.replace('"', '""') + '"'


CSV_CELLS: Final = CellFormat(float.__repr__, _quote, "True", "False", "")


class CsvRequest:
    """Records as a ``text/csv`` request body from the endpoint client: one line per record."""

    one_record_per_request = False

    def encode(self, columns: Sequence[pd.Series]) -> list[bytes]:
        """One encoded line per record, in order."""
        texts = [cells(c, CSV_CELLS) for c in columns]
        if len(texts) == 1:
            # A lone missing value would be a blank line, which readers skip: write "" (as csv.writer does).
            return [(c if c else '""').encode() for c in texts[0]]
        return [",".join(row).encode() for row in zip(*texts, strict=True)]

    def body(self, pieces: Sequence[bytes]) -> bytes:
        """The request body of a batch."""
        return b"\n".join(pieces)

    def body_size(self, piece_bytes: int, count: int) -> int:
        """Bytes of ``body`` for ``count`` pieces holding ``piece_bytes`` bytes in all."""
        return piece_bytes + count - 1


def encode_csv_records(rows: Iterable[Sequence[Any]]) -> bytes:
    """Records as a CSV body (no header): strings quoted when needed, floats with ``repr()``, missing empty."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, dialect="excel", lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row])
    return out.getvalue().encode()


# One RFC 4180 field and what ends it: a quoted field (group 1 is the quote) or a plain one.
_CSV_FIELD = re.compile(r'(?:(")([^"]*(?:""[^"]*)*)"|([^,"\r\n]*))(,|\r\n|\n|\r|\Z)')


def _quoted_columns(text: str, rows: list[list[str]]) -> frozenset[int] | None:
    """Positions of the columns with a quoted field, or ``None`` if the body is not plain RFC 4180.

    The csv module does not say which fields were quoted; this second pass does, and it is trusted
    only when it reads the very same records (the excel dialect also accepts stray quotes).
    """
    if '"' not in text:
        return frozenset()
    records: list[list[str]] = []
    record: list[str] = []
    quoted: set[int] = set()
    for quote, inside, plain, end in _CSV_FIELD.findall(text):
        if quote:
            quoted.add(len(record))
            record.append(inside.replace('""', '"'))
        else:
            record.append(plain)
        if end != ",":
            if record != [""] or quote:  # a blank line is no record
                records.append(record)
            record = []
    return frozenset(quoted) if records == rows else None


def decode_csv_request(text: str, find_quoted: bool) -> Payload:
    """A ``text/csv`` body as records of strings; ``find_quoted``: work out which columns had quoted fields."""
    # The csv module, not pandas: pandas pads a short row with empty strings, which would go unnoticed.
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))
    reader = csv.reader(io.StringIO(text, newline=""), dialect="excel")
    try:
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise RequestError(400, f"text/csv body line {reader.line_num}: not valid CSV ({exc}).") from None
    quoted = _quoted_columns(text, rows) if find_quoted else None
    return Payload(rows, (None,) * len(rows), csv=True, quoted_columns=quoted)


# ---------------------------------------------------------------------------------------------------
# responses


def encode_csv_scores(scores: FloatArray) -> bytes:
    """One line per record, the scores comma-separated with ``repr()``."""
    return "".join([",".join(map(repr, row)) + "\n" for row in scores.tolist()]).encode()


def csv_cell_value(cell: str) -> Any:
    """A CSV cell: a number, or a stringified list (``"[0.1,0.6,0.3]"``, ``"['cat','dog']"``)."""
    text = cell.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError, RecursionError, MemoryError):
                raise ResponseFormatError(f"cannot read the cell {cell!r} as a list") from None
    return text


def decode_csv_response(text: str, n_records: int, selector: Selector, labels: list[Any] | None) -> list[Any]:
    """One item per record from a CSV answer (its score cell, or its row); its labels appended to ``labels``."""
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    # A model with one score per record may answer N records on one line ('0.6,0.3', clarify-spec §4.3).
    if (
        n_records > 1
        and len(rows) == 1
        and len(rows[0]) == n_records
        and selector.index in (None, 0)
        and not any(c.strip().startswith("[") for c in rows[0])
    ):
        rows = [[cell] for cell in rows[0]]
    if len(rows) != n_records:
        raise ResponseFormatError(f"expected {n_records} CSV rows, one per record; got {len(rows)}")
    items: list[Any] = []
    for i, row in enumerate(rows):
        if selector.index is None:
            items.append(csv_cell_value(row[0]) if len(row) == 1 else row)
        else:
            items.append(csv_cell_value(selector.select(row, f"row {i}")))
    if labels is not None:
        labels.extend(_csv_labels(row, selector.label_index) for row in rows)
    return items


def _csv_labels(row: list[str], index: int | None) -> Any:
    if index is None or not -len(row) <= index < len(row):
        return None
    try:
        return csv_cell_value(row[index])
    except ResponseFormatError:
        return None
