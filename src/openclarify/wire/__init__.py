"""SageMaker's ``/invocations`` formats, both directions: the one codec of the endpoint client and the server.

One module per format family, each format's encoder beside its decoder (clarify-spec §4.2, §4.3):

* ``_csv``, ``_jsonlines``, ``_json``: ``text/csv``, ``application/jsonlines``, ``application/json``;
  per format the client's request encoder and the server's request decoder, the server's response
  encoder and the client's response decoder.
* ``_cells`` (a value as a request cell), ``_template`` (``record_template``), ``_objects`` (JSON records
  and answers shared by both JSON formats), ``_reading`` (request bodies read safely), ``_select``
  (``predictor.probability`` / ``predictor.label``), ``_negotiate`` (``Content-Type`` / ``Accept``).
* ``_request`` and ``_response``: :class:`RequestCodec` / :func:`decode_request`, :func:`encode_scores` /
  :class:`ResponseParser`, picking the format.
* ``_upstream``: the proxy's side, records for an upstream server and its answers read back.
"""

from __future__ import annotations

from ._base import (
    LABEL_PREFIX,
    MEDIA_TYPES,
    LabelSetError,
    MediaType,
    Payload,
    PredictorFields,
    RequestError,
    ResponseFormatError,
)
from ._cells import json_value
from ._csv import encode_csv_records
from ._negotiate import choose_accept, parse_content_type, parse_media_type
from ._objects import compile_features, record_objects
from ._reading import RANGE_HINT, number_text
from ._request import RequestCodec, decode_request
from ._response import ResponseParser, encode_scores
from ._upstream import read_predictions, strip_label_prefix, upstream_body

__all__ = [
    "LABEL_PREFIX",
    "MEDIA_TYPES",
    "RANGE_HINT",
    "LabelSetError",
    "MediaType",
    "Payload",
    "PredictorFields",
    "RequestCodec",
    "RequestError",
    "ResponseFormatError",
    "ResponseParser",
    "choose_accept",
    "compile_features",
    "decode_request",
    "encode_csv_records",
    "encode_scores",
    "json_value",
    "number_text",
    "parse_content_type",
    "parse_media_type",
    "read_predictions",
    "record_objects",
    "strip_label_prefix",
    "upstream_body",
]
