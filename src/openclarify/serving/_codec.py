"""Wire formats of ``/invocations``: request bodies to records, scores to response bodies.

Requests (``Content-Type``) and responses (``Accept``) are ``text/csv``, ``application/jsonlines`` or
``application/json``, as Clarify sends and reads them (clarify-spec §4.2, §4.3), plus BlazingText's own
JSON and JSON Lines shapes. Floats are written with ``repr()``, so a score read back with ``float()`` is
bit-identical to the model's.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jmespath
import numpy as np
from jmespath.exceptions import JMESPathError

from .._typing import FloatArray
from ..errors import OpenClarifyError

__all__ = [
    "LABEL_PREFIX",
    "MEDIA_TYPES",
    "MediaType",
    "Payload",
    "RequestError",
    "choose_accept",
    "compile_features",
    "decode_request",
    "encode_csv_records",
    "encode_scores",
    "parse_content_type",
    "parse_media_type",
    "record_objects",
]

MediaType = Literal["text/csv", "application/jsonlines", "application/json"]
MEDIA_TYPES: tuple[MediaType, ...] = ("text/csv", "application/jsonlines", "application/json")
LABEL_PREFIX = "__label__"

# Spellings seen in the wild for the same three formats.
_ALIASES: dict[str, MediaType] = {
    "text/csv": "text/csv",
    "application/csv": "text/csv",
    "application/jsonlines": "application/jsonlines",
    "application/x-jsonlines": "application/jsonlines",
    "application/jsonl": "application/jsonlines",
    "application/json": "application/json",
}


class RequestError(OpenClarifyError, ValueError):
    """A request the server refuses; ``status`` is the HTTP status it answers with.

    400 malformed body, 406 unsupported ``Accept``, 413 body over the payload limit, 415 unsupported
    ``Content-Type``.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded request body.

    ``rows`` holds one list of raw values per record (strings from CSV, JSON values otherwise), or one
    ``{name: value}`` dict per record when the records named their features. ``top_k`` is BlazingText's
    ``k`` per record (``None``: the full score vector); ``blazingtext`` is true for BlazingText's JSON
    request ``{"instances": [...], "configuration": {"k": N}}``, which is answered in BlazingText's JSON
    shape (a top-level list). ``quoted_columns`` holds, for a CSV body, the positions of the columns
    with at least one quoted field (``None``: not known, or not CSV).
    """

    rows: list[list[Any]] | list[dict[str, Any]]
    top_k: tuple[int | None, ...]
    blazingtext: bool = False
    csv: bool = False
    quoted_columns: frozenset[int] | None = None

    @property
    def n_records(self) -> int:
        """Number of records in the request."""
        return len(self.rows)


def parse_media_type(header: str) -> tuple[str, dict[str, str]]:
    """Split ``type/subtype; key=value`` into the lower-cased type and its parameters."""
    head, *rest = header.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return head.strip().lower(), params


def parse_content_type(header: str | None, allowed: Sequence[MediaType] = MEDIA_TYPES) -> tuple[MediaType, str]:
    """The request's format and character set (``utf-8`` unless a ``charset`` parameter names another).

    Raises
    ------
    RequestError
        415 for a missing or unsupported content type or an unknown charset.
    """
    supported = ", ".join(allowed)
    if not header:
        raise RequestError(415, f"Content-Type: missing; send one of {supported}.")
    name, params = parse_media_type(header)
    media = _ALIASES.get(name)
    if media is None or media not in allowed:
        raise RequestError(415, f"Content-Type: unsupported; got {header!r}. Send one of {supported}.")
    charset = params.get("charset", "utf-8")
    try:
        codecs.lookup(charset)
    except LookupError:
        raise RequestError(415, f"Content-Type: unknown charset; got {charset!r}. Send UTF-8.") from None
    return media, charset


def choose_accept(header: str | None, content_type: MediaType) -> MediaType:
    """The response format for an ``Accept`` header: the first supported type by preference (``q``).

    A missing header, ``*/*`` or ``application/*`` answers in the request's own format.

    Raises
    ------
    RequestError
        406 when no listed type can be produced.
    """
    if not header or not header.strip():
        return content_type
    choices: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")):
        name, params = parse_media_type(item)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        if name and q > 0:
            choices.append((-q, i, name))
    for _, _, name in sorted(choices):
        if name in _ALIASES:
            return _ALIASES[name]
        if name == "*/*":
            return content_type
        if name == "text/*":
            return "text/csv"
        if name == "application/*":
            return content_type if content_type != "text/csv" else "application/json"
    raise RequestError(406, f"Accept: unsupported; got {header!r}. Accept one of {', '.join(MEDIA_TYPES)}.")


def compile_features(expression: str | None) -> Any:
    """Compile the ``--features`` JMESPath expression (where a JSON record holds its feature list)."""
    if expression is None:
        return None
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"--features: not a valid JMESPath expression; got {expression!r}.") from exc


def _text(body: bytes, charset: str) -> str:
    try:
        text = body.decode(charset)
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body: not valid {charset} at byte {exc.start}.") from None
    return text[1:] if text.startswith("\ufeff") else text


def _check_k(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(400, f"{where}: k must be an integer >= 1; got {value!r}.")
    return value


def _record(value: object, where: str, features: Any) -> tuple[list[Any] | dict[str, Any], int | None]:
    """One JSON record: its feature values (or ``{name: value}``) and BlazingText's ``k`` if it has one."""
    k = None
    if features is not None:
        found = features.search(value)
        if found is None:
            raise RequestError(400, f"{where}: the --features expression finds nothing; got {_short(value)}.")
        value = found
    elif isinstance(value, dict):
        if "source" in value:  # BlazingText JSON Lines: {"source": "text", "k": 2}
            if "k" in value:
                k = _check_k(value["k"], where)
            value = value["source"]
            if not isinstance(value, str):
                raise RequestError(400, f"{where}: 'source' must be a string; got {_short(value)}.")
        elif "features" in value:  # Clarify's content_template {"features":$features}
            value = value["features"]
        else:  # Clarify's $features_kvp: {"name": value, ...}
            if any(isinstance(v, list | dict) for v in value.values()):
                raise RequestError(400, f"{where}: feature values must not be lists or objects; got {_short(value)}.")
            return value, None
    if isinstance(value, list):
        if any(isinstance(v, list | dict) for v in value):
            raise RequestError(400, f"{where}: a record must be a flat list of values; got {_short(value)}.")
        if not value:
            raise RequestError(400, f"{where}: a record has no values; got [].")
        return value, k
    if isinstance(value, dict):
        raise RequestError(400, f"{where}: expected a list of feature values; got {_short(value)}.")
    return [value], k


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _payload(records: Iterable[tuple[list[Any] | dict[str, Any], int | None]], blazingtext: bool = False) -> Payload:
    rows: list[Any] = []
    top_k: list[int | None] = []
    for row, k in records:
        rows.append(row)
        top_k.append(k)
    kinds = {type(row) for row in rows}
    if len(kinds) > 1:
        raise RequestError(400, "body: mixes records given as lists and as {name: value} objects; use one kind.")
    return Payload(rows, tuple(top_k), blazingtext)


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


def _decode_csv(text: str, find_quoted: bool) -> Payload:
    # The csv module, not pandas: pandas pads a short row with empty strings, which would go unnoticed.
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))
    reader = csv.reader(io.StringIO(text, newline=""), dialect="excel")
    try:
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise RequestError(400, f"text/csv body line {reader.line_num}: not valid CSV ({exc}).") from None
    quoted = _quoted_columns(text, rows) if find_quoted else None
    return Payload(rows, (None,) * len(rows), csv=True, quoted_columns=quoted)


def _decode_jsonlines(text: str, features: Any) -> Payload:
    def records() -> Iterable[tuple[list[Any] | dict[str, Any], int | None]]:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"application/jsonlines body line {number}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RequestError(400, f"{where}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
            yield _record(value, where, features)

    return _payload(records())


def _decode_json(text: str, features: Any) -> Payload:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(
            400, f"application/json body: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})."
        ) from None
    if isinstance(body, dict) and "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise RequestError(400, f"application/json body: 'instances' must be a list; got {_short(instances)}.")
        configuration = body.get("configuration")
        k: int | None = None
        if configuration is not None:
            if not isinstance(configuration, dict):
                raise RequestError(
                    400, f"application/json body: 'configuration' must be an object; got {_short(configuration)}."
                )
            if "k" in configuration:
                k = _check_k(configuration["k"], "application/json body: configuration")
        records = [_record(v, f"application/json body: instances[{i}]", features) for i, v in enumerate(instances)]
        return _payload(((row, k) for row, _ in records), blazingtext=k is not None)
    if isinstance(body, list):
        return _payload(_record(v, f"application/json body: [{i}]", features) for i, v in enumerate(body))
    return _payload([_record(body, "application/json body", features)])


def decode_request(
    body: bytes, content_type: MediaType, *, charset: str = "utf-8", features: Any = None, find_quoted: bool = True
) -> Payload:
    """Decode a request body into records.

    - ``text/csv``: no header, one record per line, RFC 4180 quoting (a quoted field may hold commas,
      quotes and line breaks, kept as they are); blank lines are skipped.
    - ``application/jsonlines``: one JSON record per line.
    - ``application/json``: ``{"instances": [record, ...]}`` (with BlazingText's optional
      ``"configuration": {"k": N}``), a list of records, or a single record.

    A JSON record is a list of feature values, a lone value (a text), ``{"features": [...]}``
    (Clarify's ``content_template``), BlazingText's ``{"source": "...", "k": N}`` or ``{"name": value}``
    (Clarify's ``$features_kvp``); ``features``, a compiled JMESPath expression, picks the feature list
    out of each record instead.

    ``find_quoted=False`` skips working out which CSV columns had quoted fields
    (:attr:`Payload.quoted_columns` is then ``None``): a second pass over the body that only matters when
    columns are typed from the request, not for a text model whose every column is text.

    Raises
    ------
    RequestError
        400 when the body cannot be decoded.
    """
    text = _text(body, charset)
    if content_type == "text/csv":
        return _decode_csv(text, find_quoted)
    if content_type == "application/jsonlines":
        return _decode_jsonlines(text, features)
    return _decode_json(text, features)


def _floats(row: Sequence[float]) -> str:
    return ",".join(map(repr, row))


def _top_k(names: Sequence[str], row: list[float], k: int) -> dict[str, Any]:
    # BlazingText's shape: the k most probable labels, most probable first, with fastText's prefix;
    # ties keep the model's label order (a stable sort).
    order = sorted(range(len(row)), key=lambda j: -row[j])[:k]
    labels = [names[j] if names[j].startswith(LABEL_PREFIX) else LABEL_PREFIX + names[j] for j in order]
    return {"label": labels, "prob": [row[j] for j in order]}


def record_objects(
    scores: FloatArray, output_names: Sequence[str] | None, top_k: Sequence[int | None] | None = None
) -> list[dict[str, Any]]:
    """One JSON object per record.

    With class labels: ``{"label": [labels], "prob": [probabilities]}``, every label in the model's
    fixed order, or, for a record with a BlazingText ``k``, the top ``k`` labels (``__label__`` prefix)
    by probability. Without labels: ``{"score": x}`` for one output, ``{"scores": [...]}`` for several.
    """
    rows: list[list[float]] = scores.tolist()
    ks = top_k if top_k is not None else (None,) * len(rows)
    if output_names is not None:
        names = list(output_names)
        return [
            {"label": names, "prob": row} if k is None else _top_k(names, row, k)
            for row, k in zip(rows, ks, strict=True)
        ]
    if scores.shape[1] == 1:
        return [{"score": row[0]} for row in rows]
    return [{"scores": row} for row in rows]


def encode_scores(
    scores: FloatArray,
    accept: MediaType,
    *,
    output_names: Sequence[str] | None = None,
    top_k: Sequence[int | None] | None = None,
    blazingtext: bool = False,
) -> bytes:
    """Encode the scores, shape ``(n_records, n_outputs)``, as the response body.

    - ``text/csv``: one line per record, the scores comma-separated (always the full vector, in
      the model's output order).
    - ``application/jsonlines``: one :func:`record_objects` object per line.
    - ``application/json``: ``{"predictions": [objects]}``; for BlazingText's JSON request
      (``blazingtext``), BlazingText's own top-level list of ``{"label": [...], "prob": [...]}``.

    Every float is written with ``repr()``: it reads back bit-identical.
    """
    if accept == "text/csv":
        return "".join([_floats(row) + "\n" for row in scores.tolist()]).encode()
    objects = _json_objects(scores, output_names, top_k)
    if accept == "application/jsonlines":
        return "".join([obj + "\n" for obj in objects]).encode()
    listed = "[" + ", ".join(objects) + "]"
    return (listed if blazingtext else '{"predictions": ' + listed + "}").encode()


def _json_objects(
    scores: FloatArray, output_names: Sequence[str] | None, top_k: Sequence[int | None] | None
) -> list[str]:
    """:func:`record_objects` as the text ``json.dumps(obj, ensure_ascii=False)`` gives, built faster.

    ``json.dumps`` writes a finite float with ``float.__repr__`` and separates items with ``", "``, so a
    record is a fixed head (its labels) followed by the ``repr`` of its scores; records with a BlazingText
    ``k`` and non-finite scores (``NaN``, ``Infinity`` in JSON) go through ``json.dumps`` itself.
    """
    plain = top_k is None or all(k is None for k in top_k)
    if not plain or not np.isfinite(scores).all():
        return [json.dumps(obj, ensure_ascii=False) for obj in record_objects(scores, output_names, top_k)]
    rows: list[list[float]] = scores.tolist()
    if output_names is not None:
        head = '{"label": ' + json.dumps(list(output_names), ensure_ascii=False) + ', "prob": ['
        return [head + ", ".join(map(repr, row)) + "]}" for row in rows]
    if scores.shape[1] == 1:
        return ['{"score": ' + repr(row[0]) + "}" for row in rows]
    return ['{"scores": [' + ", ".join(map(repr, row)) + "]}" for row in rows]


def encode_csv_records(rows: Iterable[Sequence[Any]]) -> bytes:
    """Records as a CSV body (no header): strings quoted when needed, floats with ``repr()``, missing empty."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, dialect="excel", lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row])
    return out.getvalue().encode()


def json_value(value: Any) -> Any:
    """A feature value as JSON can hold it: NaN and None become ``null``; numpy scalars become Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value
