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
    "RANGE_HINT",
    "MediaType",
    "Payload",
    "RequestError",
    "choose_accept",
    "compile_features",
    "decode_request",
    "encode_csv_records",
    "encode_scores",
    "number_text",
    "parse_content_type",
    "parse_media_type",
    "record_objects",
]

MediaType = Literal["text/csv", "application/jsonlines", "application/json"]
MEDIA_TYPES: tuple[MediaType, ...] = ("text/csv", "application/jsonlines", "application/json")
LABEL_PREFIX = "__label__"

# Text codecs of Python's that are no character set a client sends: they read escapes or domain names
# (and "undefined" refuses everything).
_PYTHON_CODECS = frozenset({"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape"})

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
        info = codecs.lookup(charset)
    except LookupError:
        raise RequestError(415, f"Content-Type: unknown charset; got {charset!r}. Send UTF-8.") from None
    # rot13, zlib, base64, hex, ...: codecs that bytes.decode() refuses (CodecInfo's flag, which str.encode
    # and bytes.decode read themselves)
    if not getattr(info, "_is_text_encoding", True):
        raise RequestError(
            415, f"Content-Type: unsupported charset (not a text encoding); got {charset!r}. Send UTF-8."
        )
    if info.name in _PYTHON_CODECS:
        raise RequestError(
            415,
            f"Content-Type: unsupported charset (a Python codec, not a character set); got {charset!r}. Send UTF-8.",
        )
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


_ASCII_COMPATIBLE = frozenset({"utf-8", "utf-8-sig", "ascii", "iso8859-1", "cp1252"})
_SURROGATE = re.compile("[\ud800-\udfff]")
# Decoders that never give a lone surrogate (UTF-8, -16 and -32 refuse them; ASCII and Latin-1 have none), by
# codecs.lookup() name; the text of any other is searched for one.
_SURROGATE_FREE = frozenset(
    {"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "ascii", "iso8859-1"}
)


def _text(body: bytes, charset: str) -> str:
    try:
        text = body.decode(charset)
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body: not valid {charset} at byte {exc.start}.") from None
    except UnicodeError as exc:  # a decoder that does not say where (utf-7 in some versions)
        raise RequestError(400, f"body: not valid {charset} ({exc}).") from None
    if codecs.lookup(charset).name not in _SURROGATE_FREE:
        found = _SURROGATE.search(text)
        if found is not None:  # utf-7 can spell one; nothing downstream can encode it again
            raise RequestError(
                400,
                f"body: not valid {charset} at character {found.start()} (a lone surrogate); got {found.group()!r}. "
                "Send the text as UTF-8.",
            )
    return text[1:] if text.startswith("\ufeff") else text


RANGE_HINT = "Send numbers within the float64 range (about ±1.8e308)."

# Which bodies may hold a number past the float64 range: their bytes mapped to shapes (digits to "0",
# e and E to "e", "+" kept, anything else a space) hold 200 digits in a row (with an exponent below 100)
# or an exponent of three digits. Only such a body pays for checking every number it holds: mapping and
# searching costs a few milliseconds a megabyte, a hook on every number a third of the decoding time.
_NUMBER_SHAPES = bytes(
    ord("0") if chr(c) in "0123456789" else ord("e") if chr(c) in "eE" else c if chr(c) == "+" else ord(" ")
    for c in range(256)
)
_LONG_DIGITS = b"0" * 200
_BIG_EXPONENT = re.compile(rb"e\+?000")
# An escape that may be half of a surrogate pair: only a body with one is searched for lone surrogates.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_JSON_STRING = re.compile(r'"(?:[^"\\]+|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def number_text(text: str) -> str:
    """A number as an error message shows it: whole when short, else its start and its length."""
    return repr(text) if len(text) <= 24 else f"'{text[:20]}...' ({len(text)} characters)"


class _OutOfRange(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _checked_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # float() rounds a finite number past the range to infinity
        raise _OutOfRange(text)
    return value


def _checked_int(text: str) -> int:
    # no integer of more than 309 digits is a float64 (and int() refuses more than 4300 of them)
    if len(text.lstrip("-")) > 309:
        raise _OutOfRange(text)
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise _OutOfRange(text) from None
    return value


def _depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode()
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


def _too_deep(where: str, text: str) -> RequestError:
    return RequestError(
        400,
        f"{where}: arrays or objects nested too deeply; got {_depth(text)} levels. "
        "Send each record as a flat list of values.",
    )


def _lone_surrogate(value: object) -> str | None:
    """The first string (value or key) of a decoded JSON value that holds a lone surrogate."""
    stack = [value]
    while stack:  # no recursion: the value may nest as deep as json.loads allowed
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return item
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                stack.append(inner)
                stack.append(key)
    return None


class _JsonReader:
    """``json.loads`` for the texts of one body, refusing what it would read wrong or fail on.

    Refused, with 400: a number past the float64 range (``float()`` makes it infinite, and ``int()``
    refuses one of more than 4300 digits), nesting past the recursion limit, and a lone surrogate (an
    escape ``\\ud800`` without its pair, which no encoder writes back). ``Infinity``, ``-Infinity`` and
    ``NaN`` are read as those floats (a numeric column then refuses an infinite one, as the analysis data
    layer does, and reads NaN as missing). ``raw`` is the body in an ASCII-compatible encoding: where
    numbers and escapes are looked for once, not per line.
    """

    def __init__(self, raw: bytes) -> None:
        shapes = raw.translate(_NUMBER_SHAPES)
        big = _LONG_DIGITS in shapes or _BIG_EXPONENT.search(shapes) is not None
        self._decoder = json.JSONDecoder(parse_float=_checked_float, parse_int=_checked_int) if big else None
        self._surrogates = _SURROGATE_ESCAPE.search(raw) is not None

    def load(self, text: str, where: str) -> Any:
        """The value of ``text``; raises ``json.JSONDecodeError`` for text that is not JSON."""
        try:
            value = json.loads(text) if self._decoder is None else self._decoder.decode(text)
        except _OutOfRange as exc:
            raise RequestError(
                400, f"{where}: a number outside the float64 range; got {number_text(exc.text)}. {RANGE_HINT}"
            ) from None
        except RecursionError:
            raise _too_deep(where, text) from None
        if self._surrogates:
            found = _lone_surrogate(value)
            if found is not None:
                raise RequestError(
                    400,
                    f"{where}: a string holds a lone surrogate; got {_short(found)}. Pair each \\uD800-\\uDBFF "
                    "escape with a \\uDC00-\\uDFFF one, or send the character itself as UTF-8.",
                )
        return value


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
            if not value:
                raise RequestError(400, f"{where}: a record has no values; got {{}}.")
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


# JSON Lines records end at a line break; U+2028, U+0085 and the like may stand unescaped inside a string.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _decode_jsonlines(text: str, reader: _JsonReader, features: Any) -> Payload:

    def records() -> Iterable[tuple[list[Any] | dict[str, Any], int | None]]:
        for number, line in enumerate(_LINE_BREAK.split(text), start=1):
            if not line.strip():
                continue
            where = f"application/jsonlines body line {number}"
            try:
                value = reader.load(line, where)
            except json.JSONDecodeError as exc:
                raise RequestError(400, f"{where}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
            yield _record(value, where, features)

    return _payload(records())


def _decode_json(text: str, reader: _JsonReader, features: Any) -> Payload:
    try:
        body = reader.load(text, "application/json body")
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
    try:
        if content_type == "text/csv":
            return _decode_csv(text, find_quoted)
        # digits, "e", "+" and escapes are ASCII in these; another charset's text is looked at in UTF-8
        raw = body if codecs.lookup(charset).name in _ASCII_COMPATIBLE else text.encode("utf-8", "surrogatepass")
        if content_type == "application/jsonlines":
            return _decode_jsonlines(text, _JsonReader(raw), features)
        return _decode_json(text, _JsonReader(raw), features)
    except RecursionError:  # a value json.loads could read, nested too deep for what comes after
        raise _too_deep(f"{content_type} body", text) from None


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
