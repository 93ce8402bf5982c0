"""The proxy's side of ``/invocations``: records re-encoded for an upstream model server, and its answers read back.

The bodies written are the shapes :func:`~openclarify.wire.decode_request` reads (BlazingText's
``{"source": ..., "k": N}`` lines and ``{"instances": [...], "configuration": {"k": N}}``, Clarify's
``{"features": [...]}``, CSV); the answers read are those :func:`~openclarify.wire.encode_scores` and
BlazingText's hosting write.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pandas as pd

from .._typing import FloatArray
from ._base import LABEL_PREFIX, MediaType
from ._cells import json_value
from ._csv import encode_csv_records

__all__ = ["read_predictions", "strip_label_prefix", "upstream_body"]


def strip_label_prefix(label: object) -> str:
    """A label as text without fastText's ``__label__`` prefix."""
    text = str(label)
    return text[len(LABEL_PREFIX) :] if text.startswith(LABEL_PREFIX) else text


def upstream_body(frame: pd.DataFrame, to: MediaType, k: int | None) -> bytes:
    """The records in the upstream's format: a text alone when there is one text column, else a list."""
    text = frame.shape[1] == 1 and pd.api.types.is_object_dtype(frame.dtypes.iloc[0])
    if text:
        records: list[Any] = ["" if v is None else str(v) for v in frame.iloc[:, 0].tolist()]
    else:
        records = [[json_value(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    if to == "text/csv":
        return encode_csv_records([r] if text else r for r in records)
    if to == "application/jsonlines":
        extra = {} if k is None else {"k": k}
        lines = ({"source": r, **extra} if text else {"features": r} for r in records)
        return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    body: dict[str, Any] = {"instances": records}
    if k is not None:
        body["configuration"] = {"k": k}
    return json.dumps(body, ensure_ascii=False).encode()


def _answers(body: bytes, media: str) -> list[Any]:
    """The upstream's answer as one item per record (a JSON value, or a list of floats from CSV)."""
    text = body.decode("utf-8")
    if media == "text/csv":
        return [[float(v) for v in row] for row in csv.reader(io.StringIO(text, newline="")) if row]
    if media in ("application/jsonlines", "application/x-jsonlines", "application/jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    value = json.loads(text)
    if isinstance(value, dict) and "predictions" in value:
        value = value["predictions"]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of answers or {{'predictions': [...]}}; got {type(value).__name__}")
    return value


def _scores_of(item: Any) -> list[float]:
    if isinstance(item, dict):
        for key in ("prob", "scores", "score", "probabilities", "probability"):
            if key in item:
                item = item[key]
                break
        else:
            raise ValueError(f"an answer without 'prob', 'score' or 'scores'; got {str(item)[:80]}")
    values = item if isinstance(item, list) else [item]
    return [float(v) for v in values]


def read_predictions(
    body: bytes, media: str, n_records: int, labels: tuple[str, ...] | None
) -> tuple[FloatArray, tuple[str, ...] | None]:
    """Scores, shape ``(n_records, n_outputs)``, and their labels, from an upstream's answer.

    Answers with ``{"label": [...], "prob": [...]}`` (BlazingText's top-k, or a full vector) are
    placed by label: in ``labels`` order (a label an answer leaves out scores 0, as fastText leaves
    out labels below its threshold), else in sorted order of the labels answered.

    Raises
    ------
    ValueError
        The answer cannot be read, has the wrong number of records, or names an unknown label.
    """
    items = _answers(body, media)
    if len(items) != n_records:
        raise ValueError(f"expected {n_records} answers, one per record; got {len(items)}")
    labelled = [isinstance(item, dict) and "label" in item for item in items]
    if not any(labelled):
        rows = [_scores_of(item) for item in items]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("the answers have different numbers of scores")
        return np.asarray(rows, dtype=np.float64), None
    if not all(labelled):
        raise ValueError("some answers have labels and some do not")
    pairs = []
    for item in items:
        names = item["label"] if isinstance(item["label"], list) else [item["label"]]
        probs = _scores_of(item)
        if len(names) != len(probs):
            raise ValueError(f"an answer has {len(names)} labels and {len(probs)} probabilities")
        pairs.append(([strip_label_prefix(x) for x in names], probs))
    order = labels if labels is not None else tuple(sorted({x for names, _ in pairs for x in names}))
    index = {x: j for j, x in enumerate(order)}
    scores = np.zeros((n_records, len(order)), dtype=np.float64)
    for i, (names, probs) in enumerate(pairs):
        for name, p in zip(names, probs, strict=True):
            j = index.get(name)
            if j is None:
                raise ValueError(f"label {name!r} is not among the labels {list(order)[:20]!r}; pass --labels")
            scores[i, j] = p
    return scores, order
