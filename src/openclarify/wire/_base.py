"""What every ``/invocations`` format shares: the media types, the decoded request, the errors of both sides."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..errors import OpenClarifyError

__all__ = [
    "LABEL_PREFIX",
    "MEDIA_TYPES",
    "LabelSetError",
    "MediaType",
    "Payload",
    "PredictorFields",
    "RequestError",
    "ResponseFormatError",
    "short",
]

MediaType = Literal["text/csv", "application/jsonlines", "application/json"]
MEDIA_TYPES: tuple[MediaType, ...] = ("text/csv", "application/jsonlines", "application/json")
LABEL_PREFIX = "__label__"


class PredictorFields(Protocol):
    """The keys of Clarify's ``predictor`` object that shape requests and responses (clarify-spec §4.2, §4.3)."""

    @property
    def content_template(self) -> str | Mapping[str, str] | None: ...

    @property
    def record_template(self) -> str | None: ...

    @property
    def label(self) -> int | str | None: ...

    @property
    def probability(self) -> int | str | None: ...

    @property
    def label_headers(self) -> tuple[str, ...] | None: ...


class RequestError(OpenClarifyError, ValueError):
    """A request the server refuses; ``status`` is the HTTP status it answers with.

    400 malformed body, 406 unsupported ``Accept``, 413 body over the payload limit, 415 unsupported
    ``Content-Type``.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ResponseFormatError(Exception):
    """The response cannot be read as one score or score vector per record."""


class LabelSetError(ResponseFormatError):
    """A record's labels are not the labels of the fixed output order: a server that answers only its top
    k labels, or a label missing or repeated. ``record`` is the record's index in the answer."""

    def __init__(self, detail: str, record: int) -> None:
        super().__init__(f"the labels of record {record} {detail}")
        self.detail = detail
        self.record = record


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded request body.

    ``rows`` holds one list of raw values per record (strings from CSV, JSON values otherwise), or one
    ``{name: value}`` dict per record when the records named their features. ``top_k`` is BlazingText's
    ``k`` per record (``None``: the full score vector); ``blazingtext`` is true for BlazingText's JSON
    request ``{"instances": [...], "configuration": {"k": N}}``, which is answered in BlazingText's JSON
    shape (a top-level list). ``quoted_columns`` holds, for a CSV body, the positions of the columns
    with at least one quoted field (``None``: not known, or not CSV). ``huggingface`` is set for the
    Hugging Face inference toolkit's ``{"inputs": ...}`` request (``_hf.HfRequest``), answered in its shape.
    """

    rows: list[list[Any]] | list[dict[str, Any]]
    top_k: tuple[int | None, ...]
    blazingtext: bool = False
    csv: bool = False
    quoted_columns: frozenset[int] | None = None
    huggingface: Any = None

    @property
    def n_records(self) -> int:
        """Number of records in the request."""
        return len(self.rows)


def short(value: object, width: int = 80, *, ensure_ascii: bool = False) -> str:
    """A value as an error message shows it: JSON (a string as its ``repr``), cut to ``width`` characters."""
    text = json.dumps(value, ensure_ascii=ensure_ascii) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
