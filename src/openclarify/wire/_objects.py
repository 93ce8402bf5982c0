"""JSON records and JSON answers, shared by ``application/jsonlines`` and ``application/json``.

Requests: the shapes a JSON record may take (a list of values, ``{"features": [...]}``, BlazingText's
``{"source": ..., "k": N}``, ``$features_kvp``'s ``{name: value}``). Responses: one JSON object per record
(``{"label": [...], "prob": [...]}``, ``{"score": x}`` or ``{"scores": [...]}``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import jmespath
import numpy as np
from jmespath.exceptions import JMESPathError

from .._typing import FloatArray
from ._base import LABEL_PREFIX, Payload, RequestError, short

__all__ = ["check_k", "compile_features", "json_objects", "payload", "record", "record_objects"]


def compile_features(expression: str | None) -> Any:
    """Compile the ``--features`` JMESPath expression (where a JSON record holds its feature list)."""
    if expression is None:
        return None
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"--features: not a valid JMESPath expression; got {expression!r}.") from exc


def check_k(value: object, where: str) -> int:
    """BlazingText's ``k``: an integer >= 1, else 400."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(400, f"{where}: k must be an integer >= 1; got {value!r}.")
    return value


def record(value: object, where: str, features: Any) -> tuple[list[Any] | dict[str, Any], int | None]:
    """One JSON record: its feature values (or ``{name: value}``) and BlazingText's ``k`` if it has one."""
    k = None
    if features is not None:
        found = features.search(value)
        if found is None:
            raise RequestError(400, f"{where}: the --features expression finds nothing; got {short(value)}.")
        value = found
    elif isinstance(value, dict):
        if "source" in value:  # BlazingText JSON Lines: {"source": "text", "k": 2}
            if "k" in value:
                k = check_k(value["k"], where)
            value = value["source"]
            if not isinstance(value, str):
                raise RequestError(400, f"{where}: 'source' must be a string; got {short(value)}.")
        elif "features" in value:  # Clarify's content_template {"features":$features}
            value = value["features"]
        else:  # Clarify's $features_kvp: {"name": value, ...}
            if not value:
                raise RequestError(400, f"{where}: a record has no values; got {{}}.")
            if any(isinstance(v, list | dict) for v in value.values()):
                raise RequestError(400, f"{where}: feature values must not be lists or objects; got {short(value)}.")
            return value, None
    if isinstance(value, list):
        if any(isinstance(v, list | dict) for v in value):
            raise RequestError(400, f"{where}: a record must be a flat list of values; got {short(value)}.")
        if not value:
            raise RequestError(400, f"{where}: a record has no values; got [].")
        return value, k
    if isinstance(value, dict):
        raise RequestError(400, f"{where}: expected a list of feature values; got {short(value)}.")
    return [value], k


def payload(records: Iterable[tuple[list[Any] | dict[str, Any], int | None]], blazingtext: bool = False) -> Payload:
    """The decoded records of a JSON body; 400 when lists and ``{name: value}`` objects are mixed."""
    rows: list[Any] = []
    top_k: list[int | None] = []
    for row, k in records:
        rows.append(row)
        top_k.append(k)
    kinds = {type(row) for row in rows}
    if len(kinds) > 1:
        raise RequestError(400, "body: mixes records given as lists and as {name: value} objects; use one kind.")
    return Payload(rows, tuple(top_k), blazingtext)


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


def json_objects(
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
