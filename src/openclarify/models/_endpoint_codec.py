"""Clarify's wire format for the endpoint client: records to request bodies, response bodies to scores.

Requests as clarify-spec §4.2 describes them (CSV without header, JSON Lines and JSON from
``content_template`` / ``record_template``), responses read as §4.3 does (``probability`` > ``label`` >
the whole value; column indexes for CSV, JMESPath for JSON), and the cut of records into requests.

When an answer names its scores (``label`` next to ``probability``: ``{"label": ["__label__a",
"__label__b"], "prob": [0.7, 0.3]}``), every record's scores are put in one fixed order by its own
labels: BlazingText's hosting, for one, lists each record's labels most probable first.
"""

from __future__ import annotations

import ast
import csv
import io
import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, NamedTuple, cast

import jmespath
import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..config import PredictorConfig
from ..errors import ConfigError

__all__ = ["LabelSetError", "RequestCodec", "ResponseFormatError", "ResponseParser", "plan_batches", "snippet"]

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


class LabelSetError(ResponseFormatError):
    """A record's labels are not the labels of the fixed output order: a server that answers only its top
    k labels, or a label missing or repeated. ``record`` is the record's index in the answer."""

    def __init__(self, detail: str, record: int) -> None:
        super().__init__(f"the labels of record {record} {detail}")
        self.detail = detail
        self.record = record


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


def _label_key(value: Any) -> str | None:
    """The name a label gives its score: a string without fastText's ``__label__`` prefix, or an integer's
    digits (``1``, ``1.0`` and ``"1"`` name the same output); None for anything else."""
    if isinstance(value, str):
        return value.removeprefix("__label__")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _label_names(labels: Any) -> tuple[str, ...] | None:
    """``labels`` as distinct output names, or None when they are not a list of distinct names."""
    if not isinstance(labels, (list, tuple)) or not labels:
        return None
    names = tuple(_label_key(x) for x in labels)
    if any(name is None for name in names) or len(set(names)) != len(names):
        return None
    return cast(tuple[str, ...], names)


def _repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


#: Distinct label orders remembered per parser (a record's order -> where its scores go).
_MAX_ORDERS: Final = 4096


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
        except (ValueError, RecursionError):
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError, RecursionError, MemoryError):
                raise ResponseFormatError(f"cannot read the cell {cell!r} as a list") from None
    return text


class ResponseParser:
    """Reads a response body as ``(n_records, n_outputs)`` scores (clarify-spec §4.3).

    Precedence: ``probability`` if set, else ``label``, else the whole CSV row / JSON Lines line / JSON
    item. CSV selectors are column indexes; JSON selectors are JMESPath expressions applied to a line
    (JSON Lines) or to the whole body (JSON, where they must give one item per record); an integer
    selector with a JSON type indexes the record's list.

    Labels: with both ``probability`` and ``label`` set, ``label`` may give each record a list of label
    names as long as its score vector (``{"label": ["__label__a", "__label__b"], "prob": [0.7, 0.3]}``;
    a CSV column holding ``"['a','b']"``). The first answer read decides: if its first record has such
    a list, the outputs are named, and every record of every answer has its scores put in one fixed
    order by its own labels: ``predictor.label_headers`` when given (spelled as the model's labels, a
    ``__label__`` prefix may be left out), else the first record's order. A record whose labels are not
    exactly those (a server answering only its top k labels, a label missing or repeated) raises
    :class:`LabelSetError`; ``label_headers`` naming other labels than the answer's raise ConfigError.
    If the first record has a single label, or a list of another length than its scores, labels are
    not used (Clarify's positional outputs ``label0``, ``label1``, ...). ``parse`` may be called from
    several threads at once: the first answer parsed decides, under a lock.
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
        # Where each record's labels are, when `label` is set next to `probability`.
        self._label_path: Any = None
        self._label_field: str | None = None
        self._label_index: int | None = None
        label = predictor.label
        if predictor.probability is not None and label is not None:
            if accept_type == "text/csv":
                if isinstance(label, int) or label.strip().isdigit():
                    self._label_index = int(label)
            elif isinstance(label, str):
                try:
                    self._label_path = jmespath.compile(label)
                except jmespath.exceptions.JMESPathError:
                    self._label_path = None
                self._label_field = _field_name(self._label_path)
        self._label_headers = predictor.label_headers
        # Decided by the first answer read (under _lock): "names" (scores put in `_order` by their labels)
        # or "ignore" (the labels do not name the scores); None until then.
        self._mode: Literal["names", "ignore"] | None = None
        self._order: tuple[str, ...] = ()
        self._position: dict[str, int] = {}
        self._order_source = "the first answer"
        self._names: tuple[str, ...] | None = None
        self._columns_of: dict[tuple[Any, ...], list[int] | None] = {}
        self._lock = threading.Lock()
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
        has_labels = self._label_path is not None or self._label_index is not None
        labels: list[Any] | None = [] if has_labels and self._mode != "ignore" else None
        if self.accept_type == "text/csv":
            items = self._csv(text, n_records, labels)
        elif self.accept_type == "application/jsonlines":
            items = self._jsonlines(text, n_records, labels)
        else:
            items = self._json(text, n_records, labels)
        if labels is not None and self._named(labels[0], items[0]):
            scores = self._by_labels(items, labels)
        else:
            scores = self._positional(items, n_records)
        if not np.isfinite(scores).all():
            row = int(np.argwhere(~np.isfinite(scores))[0][0])
            raise ResponseFormatError(f"record {row} has a non-finite score {scores[row].tolist()!r}")
        return scores

    @property
    def label_names(self) -> tuple[str, ...] | None:
        """Names of the outputs, in the order of the scores, once an answer named them; else None."""
        return self._names

    def _positional(self, items: list[Any], n_records: int) -> FloatArray:
        scores = _float_matrix(items) if len(items) == n_records else None
        if scores is None:
            vectors = [_vector(item) for item in items]
            width = len(vectors[0])
            for i, v in enumerate(vectors):
                if len(v) != width:
                    raise ResponseFormatError(f"record 0 has {width} scores but record {i} has {len(v)}")
            scores = np.array(vectors, dtype=np.float64).reshape(n_records, width)
        return scores

    def _named(self, labels: Any, item: Any) -> bool:
        """Whether the scores are put in order by their labels; the first call decides, from its first record."""
        if self._mode is None:
            with self._lock:
                if self._mode is None:
                    self._decide(labels, len(_vector(item)))
        return self._mode == "names"

    def _decide(self, labels: Any, width: int) -> None:
        names = _label_names(labels)
        if names is None or len(names) != width:
            self._mode = "ignore"
            return
        headers = self._label_headers
        if headers:
            keys = tuple(h.removeprefix("__label__") for h in headers)
            if not set(names) <= set(keys):
                raise ConfigError(
                    f"the endpoint answers the labels {list(names)!r} (predictor.label), and label_headers must "
                    f"name the same labels so that each record's scores are matched to them by name; got "
                    f"{list(headers)!r}. Spell label_headers as the model's labels (a '__label__' prefix may "
                    "be left out), or leave label_headers out.",
                    path="predictor.label_headers",
                )
            # A first record with fewer labels (top k) fails in _by_labels, naming the record.
            order, shown, self._order_source = keys, tuple(headers), "predictor.label_headers"
        else:
            order = shown = names
        self._order = order
        self._position = {name: j for j, name in enumerate(order)}
        self._names = shown
        self._mode = "names"  # last: readers that see it see the order too

    def _by_labels(self, items: list[Any], labels: list[Any]) -> FloatArray:
        """Each record's scores put where its labels say, in the fixed order."""
        width = len(self._order)
        matrix = _float_matrix(items)
        vectors: FloatArray | list[list[float]] = matrix if matrix is not None else [_vector(i) for i in items]
        scores = np.empty((len(items), width), dtype=np.float64)
        for i, (vector, record_labels) in enumerate(zip(vectors, labels, strict=True)):
            columns = self._columns(record_labels, len(vector), i)
            if columns is None:
                scores[i] = vector
            else:
                scores[i, columns] = vector
        return scores

    def _columns(self, labels: Any, n_scores: int, record: int) -> list[int] | None:
        """Where the scores of a record with ``labels`` go (None: already in order), or LabelSetError."""
        key: tuple[Any, ...] | None = None
        if isinstance(labels, list) and all(type(x) in (str, int, float) for x in labels):  # True == 1: not bool
            key = (n_scores, *labels)
            if key in self._columns_of:
                return self._columns_of[key]
        names = _label_names(labels)
        if names is None or len(names) != n_scores or len(names) != len(self._order) or set(names) != set(self._order):
            raise LabelSetError(
                f"are not the labels {list(self._order)!r} of {self._order_source}; "
                f"got {_repr(labels)} for {n_scores} score{'s' if n_scores != 1 else ''}",
                record,
            )
        columns = None if names == self._order else [self._position[name] for name in names]
        if key is not None and len(self._columns_of) < _MAX_ORDERS:
            self._columns_of[key] = columns
        return columns

    def _label_of(self, value: Any) -> Any:
        if self._label_field is not None and type(value) is dict:
            return value.get(self._label_field)
        return self._label_path.search(value)

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

    def _csv(self, text: str, n_records: int, labels: list[Any] | None) -> list[Any]:
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
        if labels is not None:
            labels.extend(self._csv_labels(row) for row in rows)
        return items

    def _csv_labels(self, row: list[str]) -> Any:
        index = self._label_index
        if index is None or not -len(row) <= index < len(row):
            return None
        try:
            return _csv_cell_value(row[index])
        except ResponseFormatError:
            return None

    def _jsonlines(self, text: str, n_records: int, labels: list[Any] | None) -> list[Any]:
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) != n_records:
            raise ResponseFormatError(f"expected {n_records} JSON lines, one per record; got {len(lines)}")
        items = []
        scan = _JSON_SCAN
        for i, line in enumerate(lines):
            # json.loads without its Python layers: the C scanner on the line stripped of JSON whitespace;
            # anything it does not read whole goes to json.loads, for the same value or the same error
            text = line.strip(_JSON_WHITESPACE)
            try:
                value, end = scan(text, 0)
            except (StopIteration, ValueError, RecursionError):
                end = -1
            if end != len(text):
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                    raise ResponseFormatError(f"line {i} is not JSON ({exc})") from None
            items.append(self._select(value, f"line {i}"))
            if labels is not None:
                labels.append(self._label_of(value))
        return items

    def _json(self, text: str, n_records: int, labels: list[Any] | None) -> list[Any]:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
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
        if labels is not None:
            found_labels = self._label_of(document)
            if (
                isinstance(found_labels, list)
                and len(found_labels) == n_records
                and (n_records > 1 or isinstance(found_labels[0], list))
            ):
                labels.extend(found_labels)
            else:  # one record: its label list; otherwise no labels per record
                labels.extend([found_labels] if n_records == 1 else [None] * n_records)
        return items


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def snippet(body: bytes) -> str:
    """The first bytes of a body, on one line."""
    text = body[:_SNIPPET_BYTES].decode("utf-8", "replace")
    return text.replace("\r", "\\r").replace("\n", "\\n")
