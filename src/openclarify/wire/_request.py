"""Requests on ``/invocations``: the endpoint client's records to bodies, and the server's bodies to records."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ._base import MediaType, Payload, PredictorFields
from ._csv import CsvRequest, decode_csv_request
from ._json import JsonRequest, decode_json_request
from ._jsonlines import JsonLinesRequest, decode_jsonlines_request
from ._reading import ASCII_COMPATIBLE, JsonReader, body_text, too_deep

__all__ = ["RequestCodec", "decode_request"]


class RequestCodec:
    """Turns records into request bodies for one content type (clarify-spec §4.2).

    Records are encoded one by one (``encode``) so that batches can be cut by size and a failing
    batch can be resent record by record without encoding again; ``body`` joins a batch.
    """

    def __init__(self, predictor: PredictorFields, content_type: str, feature_names: Sequence[str]) -> None:
        self.content_type = content_type
        template = predictor.content_template
        if template is not None and not isinstance(template, str):
            if content_type != "text/csv":
                raise ConfigError(
                    f"an object of templates is not supported by the endpoint client; got {dict(template)!r}. "
                    "Give one template string.",
                    path="predictor.content_template",
                )
            template = None
        self._format: CsvRequest | JsonLinesRequest | JsonRequest
        if content_type == "application/jsonlines":
            self._format = JsonLinesRequest(template, feature_names)
        elif content_type == "application/json":
            self._format = JsonRequest(template, predictor.record_template, feature_names)
        else:
            self._format = CsvRequest()
        self.one_record_per_request = self._format.one_record_per_request

    def encode(self, records: pd.DataFrame) -> list[bytes]:
        """One encoded piece per record, in order."""
        return self._format.encode([records.iloc[:, j] for j in range(records.shape[1])])

    def body(self, pieces: Sequence[bytes]) -> bytes:
        """The request body of a batch."""
        return self._format.body(pieces)

    def body_size(self, piece_bytes: int, count: int) -> int:
        """Bytes of ``body`` for ``count`` pieces holding ``piece_bytes`` bytes in all."""
        return self._format.body_size(piece_bytes, count)


def decode_request(
    body: bytes,
    content_type: MediaType,
    *,
    charset: str = "utf-8",
    features: Any = None,
    find_quoted: bool = True,
    inputs: bool = False,
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

    ``inputs=True`` (a text classifier is served) also reads the Hugging Face inference toolkit's
    ``application/json`` request ``{"inputs": "text" | [...], "parameters": {...}}``
    (:attr:`Payload.huggingface` is then set, and :func:`encode_scores` answers in the toolkit's shape).

    Raises
    ------
    RequestError
        400 when the body cannot be decoded.
    """
    text = body_text(body, charset)
    try:
        if content_type == "text/csv":
            return decode_csv_request(text, find_quoted)
        # digits, "e", "+" and escapes are ASCII in these; another charset's text is looked at in UTF-8
        raw = body if codecs.lookup(charset).name in ASCII_COMPATIBLE else text.encode("utf-8", "surrogatepass")
        if content_type == "application/jsonlines":
            return decode_jsonlines_request(text, JsonReader(raw), features)
        return decode_json_request(text, JsonReader(raw), features, inputs)
    except RecursionError:  # a value json.loads could read, nested too deep for what comes after
        raise too_deep(f"{content_type} body", text) from None
