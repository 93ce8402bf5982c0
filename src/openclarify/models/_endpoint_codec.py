"""Clarify's wire format for the endpoint client: records to request bodies, response bodies to scores.

Requests as clarify-spec §4.2 describes them (CSV without header, JSON Lines and JSON from
``content_template`` / ``record_template``), responses read as §4.3 does (``probability`` > ``label`` >
the whole value; column indexes for CSV, JMESPath for JSON), and the cut of records into requests.
"""

from __future__ import annotations

import ast
import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import jmespath
import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..config import PredictorConfig
from ..errors import ConfigError

__all__ = ["RequestCodec", "ResponseFormatError", "ResponseParser", "plan_batches", "snippet"]

_SNIPPET_BYTES: Final = 200


# ---------------------------------------------------------------------------------------------------
# request serialisation (clarify-spec §4.2)


def _csv_text(text: str) -> str:
    """A text cell, always quoted as ``csv.QUOTE_NONNUMERIC`` does (Clarify sends ``"This is a good product",5``).

    Quoting every string keeps commas, quotes and line breaks inside the value, and tells a number
    from a text that reads like one.
    """
    return '"' + text.replace('"', '""') + '"'


def _json_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _json_float(number: float) -> str:
    # json.dumps writes floats with repr() too; inf becomes Infinity, which Python's json reads back.
    return repr(number) if number - number == 0 else json.dumps(number)


class _CellFormat(NamedTuple):
    """How one content type writes a value; a missing value (None, NaN, NA) is ``missing``."""

    float: Callable[[float], str]
    text: Callable[[str], str]
    true: str
    false: str
    missing: str


_CSV_FORMAT: Final = _CellFormat(float.__repr__, _csv_text, "True", "False", "")
_JSON_FORMAT: Final = _CellFormat(_json_float, _json_text, "true", "false", "null")


def _scalar_cell(value: Any, fmt: _CellFormat) -> str:
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


def _cells(column: pd.Series, fmt: _CellFormat) -> list[str]:
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


_RECORD_PLACEHOLDER: Final = re.compile(
    r'"\$\{(?P<quoted>[^}]*)\}"|\$\{(?P<bare>[^}]*)\}|\$(?P<kind>features_kvp|feature_names|features)(?![A-Za-z0-9_])'
)
_CONTENT_PLACEHOLDER: Final = re.compile(r"\$(?P<kind>records|record)(?![A-Za-z0-9_])")
_NAMES_PLACEHOLDER: Final = re.compile(r"\$feature_names(?![A-Za-z0-9_])")


class _RecordTemplate:
    """A ``record_template`` (or JSON Lines ``content_template``) cut into text and placeholders once.

    Placeholders: ``$features`` (JSON array of the values), ``$feature_names`` (JSON array of the
    names), ``$features_kvp`` (JSON object name -> value) and ``"${name}"`` (one value; the quotes are
    part of the placeholder). Filling never rescans substituted text, so a value that reads
    ``$features`` stays as it is.
    """

    def __init__(self, template: str, feature_names: Sequence[str], *, compact: bool, path: str) -> None:
        self._item, colon = (",", ":") if compact else (", ", ": ")
        names = list(feature_names)
        # "key": prefixes of $features_kvp, as json.dumps writes them.
        self._keys = [_json_text(name) + colon for name in names]
        position = {name: i for i, name in enumerate(names)}
        self._parts: list[str | tuple[str, int]] = []
        last = 0
        for match in _RECORD_PLACEHOLDER.finditer(template):
            self._parts.append(template[last : match.start()])
            last = match.end()
            name = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
            if name is None:
                self._parts.append((match.group("kind"), -1))
                continue
            if name not in position:
                raise ConfigError(
                    f"placeholder ${{{name}}} names no feature; got {template!r}. "
                    f"The features are {names[:20]!r}{' ...' if len(names) > 20 else ''}.",
                    path=path,
                )
            self._parts.append(("value", position[name]))
        self._parts.append(template[last:])
        self._names_json = "[" + self._item.join(_json_text(name) for name in names) + "]"

    def render(self, cells: Sequence[str]) -> str:
        """The record whose values, already JSON-encoded, are ``cells``."""
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            kind, index = part
            if kind == "features":
                out.append("[" + self._item.join(cells) + "]")
            elif kind == "feature_names":
                out.append(self._names_json)
            elif kind == "features_kvp":
                out.append("{" + self._item.join(k + c for k, c in zip(self._keys, cells, strict=True)) + "}")
            else:
                out.append(cells[index])
        return "".join(out)


class RequestCodec:
    """Turns records into request bodies for one content type (clarify-spec §4.2).

    Records are encoded one by one (``encode``) so that batches can be cut by size and a failing
    batch can be resent record by record without encoding again; ``body`` joins a batch.
    """

    def __init__(self, predictor: PredictorConfig, content_type: str, feature_names: Sequence[str]) -> None:
        self.content_type = content_type
        self.one_record_per_request = False
        template = predictor.content_template
        if template is not None and not isinstance(template, str):
            if content_type != "text/csv":
                raise ConfigError(
                    f"an object of templates is not supported by the endpoint client; got {dict(template)!r}. "
                    "Give one template string.",
                    path="predictor.content_template",
                )
            template = None
        self._record: _RecordTemplate | None = None
        self._occurrences = 1
        if content_type == "application/jsonlines":
            if template is None or "$features" not in template:
                raise ConfigError(
                    f"must contain the placeholder $features for content_type 'application/jsonlines'; "
                    f"got {template!r}. Example: '{{\"features\":$features}}'.",
                    path="predictor.content_template",
                )
            self._record = _RecordTemplate(template, feature_names, compact=True, path="predictor.content_template")
        elif content_type == "application/json":
            if template is None or _CONTENT_PLACEHOLDER.search(template) is None:
                raise ConfigError(
                    f"must contain the placeholder $records or $record for content_type 'application/json'; "
                    f"got {template!r}. Example: '{{\"instances\":$records}}'.",
                    path="predictor.content_template",
                )
            if predictor.record_template is None:
                raise ConfigError(
                    "required key is missing for content_type 'application/json'. Example: '$features' or "
                    "'$features_kvp'.",
                    path="predictor.record_template",
                )
            self._record = _RecordTemplate(
                predictor.record_template, feature_names, compact=False, path="predictor.record_template"
            )
            kinds = {m.group("kind") for m in _CONTENT_PLACEHOLDER.finditer(template)}
            if len(kinds) > 1:
                raise ConfigError(
                    f"must hold $records or $record, not both; got {template!r}.", path="predictor.content_template"
                )
            # $feature_names is the same for every request: fill it in now (SDK docstring, example 1).
            names = json.dumps(list(feature_names), ensure_ascii=False)
            template = _NAMES_PLACEHOLDER.sub(lambda _: names, template)
            # The content template is cut at its placeholders: literal pieces around the batch's records.
            pieces = _CONTENT_PLACEHOLDER.split(template)
            self._literals = [p.encode() for p in pieces[0::2]]
            self._occurrences = len(self._literals) - 1
            self.one_record_per_request = kinds == {"record"}

    def encode(self, records: pd.DataFrame) -> list[bytes]:
        """One encoded piece per record, in order."""
        columns = [records.iloc[:, j] for j in range(records.shape[1])]
        if self._record is None:  # text/csv
            cells = [_cells(c, _CSV_FORMAT) for c in columns]
            if len(cells) == 1:
                # A lone missing value would be a blank line, which readers skip: write "" (as csv.writer does).
                return [(c if c else '""').encode() for c in cells[0]]
            return [",".join(row).encode() for row in zip(*cells, strict=True)]
        render = self._record.render
        return [render(row).encode() for row in zip(*(_cells(c, _JSON_FORMAT) for c in columns), strict=True)]

    def body(self, pieces: Sequence[bytes]) -> bytes:
        """The request body of a batch."""
        if self.content_type != "application/json":
            return b"\n".join(pieces)
        inner = pieces[0] if self.one_record_per_request else b"[" + b", ".join(pieces) + b"]"
        return inner.join(self._literals)

    def body_size(self, piece_bytes: int, count: int) -> int:
        """Bytes of ``body`` for ``count`` pieces holding ``piece_bytes`` bytes in all."""
        if self.content_type != "application/json":
            return piece_bytes + count - 1
        inner = piece_bytes if self.one_record_per_request else piece_bytes + 2 * (count - 1) + 2
        return sum(len(x) for x in self._literals) + self._occurrences * inner


def plan_batches(
    sizes: Sequence[int], *, max_records: int, max_payload_bytes: int, body_size: Callable[[int, int], int]
) -> list[tuple[int, int]]:
    """Cut records into consecutive ``(start, stop)`` batches of at most ``max_records`` records whose
    body fits ``max_payload_bytes``; a record too large on its own goes alone."""
    spans: list[tuple[int, int]] = []
    start = total = 0
    for i, size in enumerate(sizes):
        count = i - start
        if count and (count >= max_records or body_size(total + size, count + 1) > max_payload_bytes):
            spans.append((start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        spans.append((start, len(sizes)))
    return spans


# ---------------------------------------------------------------------------------------------------
# response parsing (clarify-spec §4.3)


# json.loads(s) is JSONDecoder.decode: JSON whitespace around one value read by the (C) scanner.
_JSON_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_WHITESPACE: Final = " \t\n\r"


class ResponseFormatError(Exception):
    """The response cannot be read as one score or score vector per record."""


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ResponseFormatError(f"expected a number; got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ResponseFormatError(f"expected a number; got {value!r}")


def _vector(item: Any) -> list[float]:
    """A record's answer as its score vector: a number is one output, a list of numbers is one per element."""
    if isinstance(item, (list, tuple)):
        if not item:
            raise ResponseFormatError("expected a score or a list of scores; got an empty list")
        return [_number(v) for v in item]
    return [_number(item)]


def _float_matrix(items: list[Any]) -> FloatArray | None:
    """``items`` as a float64 matrix when every item is a float or every item is a list of floats of one
    length (the usual answer); ``None`` otherwise, and the items go through :func:`_vector` one by one."""
    if not items:
        return None
    first = items[0]
    if type(first) is float:
        if set(map(type, items)) <= {float}:
            return np.array(items, dtype=np.float64).reshape(len(items), 1)
        return None
    if type(first) is not list or not first:
        return None
    width = len(first)
    for item in items:
        if type(item) is not list or len(item) != width:
            return None
    if not set(map(type, itertools.chain.from_iterable(items))) <= {float}:
        return None
    return np.array(items, dtype=np.float64)


def _field_name(expression: Any) -> str | None:
    """The key when a compiled JMESPath expression is a bare field (``prob``), which ``dict.get`` finds
    exactly as JMESPath does; ``None`` for anything else."""
    tree = getattr(expression, "parsed", None)
    if isinstance(tree, dict) and tree.get("type") == "field" and not tree.get("children"):
        value = tree.get("value")
        return value if isinstance(value, str) else None
    return None


def _csv_cell_value(cell: str) -> Any:
    """A CSV cell: a number, or a stringified list (``"[0.1,0.6,0.3]"``, ``"['cat','dog']"``)."""
    text = cell.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ResponseFormatError(f"cannot read the cell {cell!r} as a list") from None
    return text


class ResponseParser:
    """Reads a response body as ``(n_records, n_outputs)`` scores (clarify-spec §4.3).

    Precedence: ``probability`` if set, else ``label``, else the whole CSV row / JSON Lines line / JSON
    item. CSV selectors are column indexes; JSON selectors are JMESPath expressions applied to a line
    (JSON Lines) or to the whole body (JSON, where they must give one item per record); an integer
    selector with a JSON type indexes the record's list.
    """

    def __init__(self, predictor: PredictorConfig, accept_type: str) -> None:
        self.accept_type = accept_type
        key = "probability" if predictor.probability is not None else "label"
        selector = predictor.probability if predictor.probability is not None else predictor.label
        self.selector_key = key
        self._selector = selector
        self._index: int | None = None
        self._path: Any = None
        self._field: str | None = None  # the JMESPath is a bare field name: dict.get does the same, faster
        # Names of the outputs, when the answer carries them: a `label` JMESPath next to `probability`
        # that gives the same list of label strings for every record ({"label": [...], "prob": [...]}).
        self.label_names: tuple[str, ...] | None = None
        self._label_path: Any = None
        if predictor.probability is not None and isinstance(predictor.label, str) and accept_type != "text/csv":
            try:
                self._label_path = jmespath.compile(predictor.label)
            except jmespath.exceptions.JMESPathError:
                self._label_path = None
        if selector is None:
            return
        if isinstance(selector, int):
            self._index = selector
        elif accept_type == "text/csv":
            if not selector.strip().isdigit():
                raise ConfigError(
                    f"must be a column index for accept_type 'text/csv'; got {selector!r}. "
                    "Give the 0-based column of the score(s) in the model's CSV answer.",
                    path=f"predictor.{key}",
                )
            self._index = int(selector)
        else:
            try:
                self._path = jmespath.compile(selector)
            except jmespath.exceptions.JMESPathError as exc:
                raise ConfigError(
                    f"is not a JMESPath expression ({exc}); got {selector!r}.", path=f"predictor.{key}"
                ) from None
            self._field = _field_name(self._path)

    def parse(self, body: bytes, n_records: int) -> FloatArray:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ResponseFormatError(f"the body is not UTF-8 ({exc})") from None
        if self.accept_type == "text/csv":
            items = self._csv(text, n_records)
        elif self.accept_type == "application/jsonlines":
            items = self._jsonlines(text, n_records)
        else:
            items = self._json(text, n_records)
        scores = _float_matrix(items) if len(items) == n_records else None
        if scores is None:
            vectors = [_vector(item) for item in items]
            width = len(vectors[0])
            for i, v in enumerate(vectors):
                if len(v) != width:
                    raise ResponseFormatError(f"record 0 has {width} scores but record {i} has {len(v)}")
            scores = np.array(vectors, dtype=np.float64).reshape(n_records, width)
        if not np.isfinite(scores).all():
            row = int(np.argwhere(~np.isfinite(scores))[0][0])
            raise ResponseFormatError(f"record {row} has a non-finite score {scores[row].tolist()!r}")
        return scores

    def _select(self, value: Any, where: str) -> Any:
        if self._path is not None:
            if self._field is not None and type(value) is dict:
                found = value.get(self._field)
            else:
                found = self._path.search(value)
            if found is None:
                raise ResponseFormatError(f"predictor.{self.selector_key} {self._selector!r} finds nothing in {where}")
            return found
        if self._index is not None:
            if not isinstance(value, list) or not -len(value) <= self._index < len(value):
                raise ResponseFormatError(
                    f"predictor.{self.selector_key} is {self._index} but {where} is {_short(value)} "
                    "(not a list that long)"
                )
            return value[self._index]
        return value

    def _csv(self, text: str, n_records: int) -> list[Any]:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
        # A model with one score per record may answer N records on one line ('0.6,0.3', clarify-spec §4.3).
        if (
            n_records > 1
            and len(rows) == 1
            and len(rows[0]) == n_records
            and self._index in (None, 0)
            and not any(c.strip().startswith("[") for c in rows[0])
        ):
            rows = [[cell] for cell in rows[0]]
        if len(rows) != n_records:
            raise ResponseFormatError(f"expected {n_records} CSV rows, one per record; got {len(rows)}")
        items: list[Any] = []
        for i, row in enumerate(rows):
            if self._index is None:
                items.append(_csv_cell_value(row[0]) if len(row) == 1 else row)
            else:
                items.append(_csv_cell_value(self._select(row, f"row {i}")))
        return items

    def _jsonlines(self, text: str, n_records: int) -> list[Any]:
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) != n_records:
            raise ResponseFormatError(f"expected {n_records} JSON lines, one per record; got {len(lines)}")
        items = []
        values = []
        scan = _JSON_SCAN
        for i, line in enumerate(lines):
            # json.loads without its Python layers: the C scanner on the line stripped of JSON whitespace;
            # anything it does not read whole goes to json.loads, for the same value or the same error
            text = line.strip(_JSON_WHITESPACE)
            try:
                value, end = scan(text, 0)
            except (StopIteration, ValueError):
                end = -1
            if end != len(text):
                try:
                    value = json.loads(line)
                except ValueError as exc:
                    raise ResponseFormatError(f"line {i} is not JSON ({exc})") from None
            values.append(value)
            items.append(self._select(value, f"line {i}"))
        if self._label_path is not None and self.label_names is None:
            self._learn_labels([self._label_path.search(v) for v in values], items)
        return items

    def _learn_labels(self, labels: list[Any], items: list[Any]) -> None:
        """Keep the label list as output names if every record has the same one, as long as its scores.
        A server that answers its top labels (a different order per record) gives no names: its outputs
        are positions (label0, label1, ...), as Clarify reads them."""
        first = labels[0] if labels else None
        if not isinstance(first, list) or not all(isinstance(x, str) for x in first):
            return
        if not isinstance(items[0], list) or len(items[0]) != len(first) or any(lab != first for lab in labels):
            return
        names = tuple(x.removeprefix("__label__") for x in first)
        if len(set(names)) == len(names):
            self.label_names = names

    def _json(self, text: str, n_records: int) -> list[Any]:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ResponseFormatError(f"the body is not JSON ({exc})") from None
        found = self._path.search(document) if self._path is not None else document
        if found is None:
            raise ResponseFormatError(f"predictor.{self.selector_key} {self._selector!r} finds nothing in the body")
        if n_records == 1 and not (isinstance(found, list) and len(found) == 1):
            # One record: the answer is its item, whether a number or a score vector.
            items = [found]
        elif isinstance(found, list) and len(found) == n_records:
            items = found
        else:
            what = f"{len(found)} items" if isinstance(found, list) else _short(found)
            raise ResponseFormatError(f"expected a list of {n_records} items, one per record; got {what}")
        if self._index is not None:
            items = [self._select(item, f"item {i}") for i, item in enumerate(items)]
        return items


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def snippet(body: bytes) -> str:
    """The first bytes of a body, on one line."""
    text = body[:_SNIPPET_BYTES].decode("utf-8", "replace")
    return text.replace("\r", "\\r").replace("\n", "\\n")
