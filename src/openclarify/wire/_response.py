"""Responses on ``/invocations``: the server's scores to bodies, and the endpoint client's bodies to scores.

When an answer names its scores (``label`` next to ``probability``: ``{"label": ["__label__a",
"__label__b"], "prob": [0.7, 0.3]}``), every record's scores are put in one fixed order by its own
labels: BlazingText's hosting, for one, lists each record's labels most probable first.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, cast

import numpy as np

from .._typing import FloatArray
from ..errors import ConfigError
from ._base import LabelSetError, MediaType, PredictorFields, ResponseFormatError
from ._csv import decode_csv_response, encode_csv_scores
from ._hf import HfRequest, encode_hf_scores
from ._json import decode_json_response, encode_json_scores
from ._jsonlines import decode_jsonlines_response, encode_jsonlines_scores
from ._objects import json_objects
from ._select import Selector

__all__ = ["ResponseParser", "encode_scores"]


def encode_scores(
    scores: FloatArray,
    accept: MediaType,
    *,
    output_names: Sequence[str] | None = None,
    top_k: Sequence[int | None] | None = None,
    blazingtext: bool = False,
    huggingface: HfRequest | None = None,
) -> bytes:
    """Encode the scores, shape ``(n_records, n_outputs)``, as the response body.

    - ``text/csv``: one line per record, the scores comma-separated (always the full vector, in
      the model's output order).
    - ``application/jsonlines``: one :func:`record_objects` object per line.
    - ``application/json``: ``{"predictions": [objects]}``; for BlazingText's JSON request
      (``blazingtext``), BlazingText's own top-level list of ``{"label": [...], "prob": [...]}``.

    For the Hugging Face inference toolkit's request (``huggingface``), its ``[{"label", "score"}]``
    shape in every Accept format (see ``_hf.py``).

    Every float is written with ``repr()``: it reads back bit-identical.
    """
    if huggingface is not None:
        return encode_hf_scores(scores, output_names, huggingface, accept)
    if accept == "text/csv":
        return encode_csv_scores(scores)
    objects = json_objects(scores, output_names, top_k)
    if accept == "application/jsonlines":
        return encode_jsonlines_scores(objects)
    return encode_json_scores(objects, blazingtext)


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


class ResponseParser:
    """Reads a response body as ``(n_records, n_outputs)`` scores (clarify-spec §4.3).

    Precedence: ``probability`` if set, else ``label``, else the whole CSV row / JSON Lines line / JSON
    item (:class:`~openclarify.wire._select.Selector`). JSON selectors are applied to a line (JSON
    Lines) or to the whole body (JSON, where they must give one item per record).

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

    def __init__(self, predictor: PredictorFields, accept_type: str) -> None:
        self.accept_type = accept_type
        self._selector = Selector(predictor, accept_type)
        self.selector_key = self._selector.key
        self._decode: Callable[[str, int, Selector, list[Any] | None], list[Any]] = (
            decode_csv_response
            if accept_type == "text/csv"
            else decode_jsonlines_response
            if accept_type == "application/jsonlines"
            else decode_json_response
        )
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

    def parse(self, body: bytes, n_records: int) -> FloatArray:
        """The scores, shape ``(n_records, n_outputs)``, of an answer to ``n_records`` records."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ResponseFormatError(f"the body is not UTF-8 ({exc})") from None
        labels: list[Any] | None = [] if self._selector.has_labels and self._mode != "ignore" else None
        items = self._decode(text, n_records, self._selector, labels)
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
