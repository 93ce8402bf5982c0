"""``application/jsonlines`` on ``/invocations``, each direction's encoder beside its decoder.

Requests: one line per record from ``content_template``, ``$features`` the record's JSON array
(clarify-spec §4.2), read back one JSON record per line. Responses: one JSON object per line, read back
with ``predictor.probability`` / ``predictor.label`` as JMESPath per line (§4.3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import pandas as pd

from ..errors import ConfigError
from ._base import Payload, RequestError, ResponseFormatError
from ._cells import JSON_CELLS, cells
from ._objects import payload, record
from ._reading import JsonReader
from ._select import Selector
from ._template import RecordTemplate

__all__ = ["JsonLinesRequest", "decode_jsonlines_request", "decode_jsonlines_response", "encode_jsonlines_scores"]


# ---------------------------------------------------------------------------------------------------
# requests


class JsonLinesRequest:
    """Records as an ``application/jsonlines`` request body from the endpoint client: one line per record."""

    one_record_per_request = False

    def __init__(self, template: str | None, feature_names: Sequence[str]) -> None:
        if template is None or "$features" not in template:
            raise ConfigError(
                f"must contain the placeholder $features for content_type 'application/jsonlines'; "
                f"got {template!r}. Example: '{{\"features\":$features}}'.",
                path="predictor.content_template",
            )
        self._record = RecordTemplate(template, feature_names, compact=True, path="predictor.content_template")

    def encode(self, columns: Sequence[pd.Series]) -> list[bytes]:
        """One encoded line per record, in order."""
        render = self._record.render
        return [render(row).encode() for row in zip(*(cells(c, JSON_CELLS) for c in columns), strict=True)]

    def body(self, pieces: Sequence[bytes]) -> bytes:
        """The request body of a batch."""
        return b"\n".join(pieces)

    def body_size(self, piece_bytes: int, count: int) -> int:
        """Bytes of ``body`` for ``count`` pieces holding ``piece_bytes`` bytes in all."""
        return piece_bytes + count - 1


# JSON Lines records end at a line break; U+2028, U+0085 and the like may stand unescaped inside a string.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def decode_jsonlines_request(text: str, reader: JsonReader, features: Any) -> Payload:
    """One JSON record per non-blank line."""

    def records() -> Iterable[tuple[list[Any] | dict[str, Any], int | None]]:
        for number, line in enumerate(_LINE_BREAK.split(text), start=1):
            if not line.strip():
                continue
            where = f"application/jsonlines body line {number}"
            try:
                value = reader.load(line, where)
            except json.JSONDecodeError as exc:
                raise RequestError(400, f"{where}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
            yield record(value, where, features)

    return payload(records())


# ---------------------------------------------------------------------------------------------------
# responses


def encode_jsonlines_scores(objects: Sequence[str]) -> bytes:
    """One JSON object per record, one per line."""
    return "".join([obj + "\n" for obj in objects]).encode()


# json.loads(s) is JSONDecoder.decode: JSON whitespace around one value read by the (C) scanner.
_JSON_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_WHITESPACE: Final = " \t\n\r"


def decode_jsonlines_response(text: str, n_records: int, selector: Selector, labels: list[Any] | None) -> list[Any]:
    """One item per record, selected from its line; each record's labels appended to ``labels``."""
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
        items.append(selector.select(value, f"line {i}"))
        if labels is not None:
            labels.append(selector.label_of(value))
    return items
