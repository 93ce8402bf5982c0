"""The Hugging Face inference toolkit's ``application/json`` contract, for text classifiers, both directions.

Request: ``{"inputs": "text" | ["text", ...], "parameters": {"top_k": n | null}}``. Answer, as the
toolkit's ``text-classification`` pipeline gives it: per input the most probable ``{"label", "score"}``;
with ``top_k`` the ``n`` most probable (all labels for ``null``) as a list, most probable first. One
string in gives the list of its entries; a list in gives one entry per input. ``Accept: text/csv`` gives
a ``label,score`` header and one row per entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from .._typing import FloatArray
from ._base import Payload, RequestError, short

__all__ = ["HfRequest", "decode_hf_request", "encode_hf_scores", "is_hf_request"]

_ALL: Final = -1
_PARAMETERS: Final = ("top_k", "return_all_scores", "truncation")


@dataclass(frozen=True, slots=True)
class HfRequest:
    """How the toolkit's request asked to be answered: ``single`` (one string in), ``top_k`` (None: the
    best label only, as a dict; -1: every label; n: the n best, as a list)."""

    single: bool
    top_k: int | None


def is_hf_request(body: Any) -> bool:
    """Whether a JSON body is the toolkit's ``{"inputs": ..., "parameters": ...}`` object."""
    return isinstance(body, dict) and "inputs" in body and set(body) <= {"inputs", "parameters"}


def _top_k(parameters: dict[str, Any]) -> int | None:
    unknown = sorted(set(parameters) - set(_PARAMETERS))
    if unknown:
        raise RequestError(
            400, f"application/json body: parameters {unknown!r} are not supported; give only {list(_PARAMETERS)!r}."
        )
    if parameters.get("truncation", True) is not True:
        raise RequestError(400, "application/json body: parameters.truncation: texts are always cut at the max length.")
    if parameters.get("return_all_scores") is True:
        return _ALL
    if "top_k" not in parameters:
        return None
    k = parameters["top_k"]
    if k is None:
        return _ALL
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise RequestError(
            400, f"application/json body: parameters.top_k must be an integer >= 1 or null; got {short(k)}."
        )
    return k


def decode_hf_request(body: dict[str, Any]) -> Payload:
    """The texts of a toolkit request as one-column records."""
    inputs = body["inputs"]
    parameters = body.get("parameters")
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, dict):
        raise RequestError(400, f"application/json body: 'parameters' must be an object; got {short(parameters)}.")
    top_k = _top_k(parameters)
    single = isinstance(inputs, str)
    texts = [inputs] if single else inputs
    if not isinstance(texts, list) or not texts:
        raise RequestError(
            400, f"application/json body: 'inputs' must be a text or a list of texts; got {short(inputs)}."
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise RequestError(400, f"application/json body: inputs[{i}] must be a text; got {short(text)}.")
    return Payload([[t] for t in texts], tuple([None] * len(texts)), huggingface=HfRequest(single, top_k))


def _entries(row: Sequence[float], names: Sequence[str], top_k: int | None) -> list[dict[str, Any]]:
    order = sorted(range(len(row)), key=lambda j: -row[j])  # stable: ties keep the model's label order
    keep = 1 if top_k is None else len(order) if top_k == _ALL else top_k
    return [{"label": names[j], "score": float(row[j])} for j in order[:keep]]


def encode_hf_scores(scores: FloatArray, names: Sequence[str] | None, request: HfRequest, accept: str) -> bytes:
    """The toolkit's answer for ``scores``, shape ``(n_inputs, n_labels)``."""
    labels = list(names) if names is not None else [f"LABEL_{j}" for j in range(scores.shape[1])]
    per_input = [_entries(row.tolist(), labels, request.top_k) for row in scores]
    if accept == "text/csv":
        lines = ["label,score"] + [f"{_csv_cell(e['label'])},{e['score']!r}" for entries in per_input for e in entries]
        return ("\n".join(lines) + "\n").encode()
    shaped: list[Any] = [entries[0] if request.top_k is None else entries for entries in per_input]
    if request.single and request.top_k is not None:
        shaped = shaped[0]
    if accept == "application/jsonlines":
        return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in shaped).encode()
    return json.dumps(shaped, ensure_ascii=False).encode()


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text
