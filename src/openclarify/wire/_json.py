"""``application/json`` on ``/invocations``, each direction's encoder beside its decoder.

Requests: ``content_template`` with ``$records`` (a JSON array of the batch's records) or ``$record``
(one record per request), each record from ``record_template`` (clarify-spec §4.2); read back as
``{"instances": [...]}`` (with BlazingText's ``"configuration": {"k": N}``), a list of records or one
record. Responses: ``{"predictions": [objects]}`` (or BlazingText's top-level list), read back with
``predictor.probability`` / ``predictor.label`` as JMESPath on the whole body, one item per record (§4.3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pandas as pd

from ..errors import ConfigError
from ._base import Payload, RequestError, ResponseFormatError, short
from ._cells import JSON_CELLS, cells
from ._hf import decode_hf_request, is_hf_request
from ._objects import check_k, payload, record
from ._reading import JsonReader
from ._select import Selector
from ._template import RecordTemplate

__all__ = ["JsonRequest", "decode_json_request", "decode_json_response", "encode_json_scores"]


# ---------------------------------------------------------------------------------------------------
# requests

_CONTENT_PLACEHOLDER: Final = re.compile(r"\$(?P<kind>records|record)(?![A-Za-z0-9_])")
_NAMES_PLACEHOLDER: Final = re.compile(r"\$feature_names(?![A-Za-z0-9_])")


class JsonRequest:
    """Records as an ``application/json`` request body from the endpoint client: the content template around them."""

    def __init__(
        self, template: str | Mapping[str, str] | None, record_template: str | None, feature_names: Sequence[str]
    ) -> None:
        if not isinstance(template, str) or _CONTENT_PLACEHOLDER.search(template) is None:
            raise ConfigError(
                f"must contain the placeholder $records or $record for content_type 'application/json'; "
                f"got {template!r}. Example: '{{\"instances\":$records}}'.",
                path="predictor.content_template",
            )
        if record_template is None:
            raise ConfigError(
                "required key is missing for content_type 'application/json'. Example: '$features' or '$features_kvp'.",
                path="predictor.record_template",
            )
        self._record = RecordTemplate(record_template, feature_names, compact=False, path="predictor.record_template")
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

    def encode(self, columns: Sequence[pd.Series]) -> list[bytes]:
        """One encoded record per record, in order."""
        render = self._record.render
        return [render(row).encode() for row in zip(*(cells(c, JSON_CELLS) for c in columns), strict=True)]

    def body(self, pieces: Sequence[bytes]) -> bytes:
        """The request body of a batch."""
        inner = pieces[0] if self.one_record_per_request else b"[" + b", ".join(pieces) + b"]"
        return inner.join(self._literals)

    def body_size(self, piece_bytes: int, count: int) -> int:
        """Bytes of ``body`` for ``count`` pieces holding ``piece_bytes`` bytes in all."""
        inner = piece_bytes if self.one_record_per_request else piece_bytes + 2 * (count - 1) + 2
        return sum(len(x) for x in self._literals) + self._occurrences * inner


def decode_json_request(text: str, reader: JsonReader, features: Any, inputs: bool = False) -> Payload:
    """``{"instances": [...]}``, a list of records, or one record; with ``inputs`` (a text classifier) also
    the Hugging Face inference toolkit's ``{"inputs": ..., "parameters": ...}``."""
    try:
        body = reader.load(text, "application/json body")
    except json.JSONDecodeError as exc:
        raise RequestError(
            400, f"application/json body: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})."
        ) from None
    if inputs and is_hf_request(body):
        return decode_hf_request(body)
    if isinstance(body, dict) and "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise RequestError(400, f"application/json body: 'instances' must be a list; got {short(instances)}.")
        configuration = body.get("configuration")
        k: int | None = None
        if configuration is not None:
            if not isinstance(configuration, dict):
                raise RequestError(
                    400, f"application/json body: 'configuration' must be an object; got {short(configuration)}."
                )
            if "k" in configuration:
                k = check_k(configuration["k"], "application/json body: configuration")
        records = [record(v, f"application/json body: instances[{i}]", features) for i, v in enumerate(instances)]
        return payload(((row, k) for row, _ in records), blazingtext=k is not None)
    if isinstance(body, list):
        return payload(record(v, f"application/json body: [{i}]", features) for i, v in enumerate(body))
    return payload([record(body, "application/json body", features)])


# ---------------------------------------------------------------------------------------------------
# responses


def encode_json_scores(objects: Sequence[str], blazingtext: bool) -> bytes:
    """``{"predictions": [objects]}``, or BlazingText's top-level list of them."""
    listed = "[" + ", ".join(objects) + "]"
    return (listed if blazingtext else '{"predictions": ' + listed + "}").encode()


def decode_json_response(text: str, n_records: int, selector: Selector, labels: list[Any] | None) -> list[Any]:
    """One item per record, selected from the whole body; each record's labels appended to ``labels``."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ResponseFormatError(f"the body is not JSON ({exc})") from None
    found = selector.path.search(document) if selector.path is not None else document
    if found is None:
        raise ResponseFormatError(f"predictor.{selector.key} {selector.expression!r} finds nothing in the body")
    if n_records == 1 and not (isinstance(found, list) and len(found) == 1):
        # One record: the answer is its item, whether a number or a score vector.
        items = [found]
    elif isinstance(found, list) and len(found) == n_records:
        items = found
    else:
        what = f"{len(found)} items" if isinstance(found, list) else short(found, 60, ensure_ascii=True)
        raise ResponseFormatError(f"expected a list of {n_records} items, one per record; got {what}")
    if selector.index is not None:
        items = [selector.select(item, f"item {i}") for i, item in enumerate(items)]
    if labels is not None:
        found_labels = selector.label_of(document)
        if (
            isinstance(found_labels, list)
            and len(found_labels) == n_records
            and (n_records > 1 or isinstance(found_labels[0], list))
        ):
            labels.extend(found_labels)
        else:  # one record: its label list; otherwise no labels per record
            labels.extend([found_labels] if n_records == 1 else [None] * n_records)
    return items
