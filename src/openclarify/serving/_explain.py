"""Online explanations: ``/invocations`` answers SageMaker Clarify's JSON with each record's Kernel SHAP values.

Built once per worker from the ``ClarifyExplainerConfig`` (clarify-spec §5), after the model loads: the
baseline is read (inline, a file or an ``s3://`` URI) in the format of requests, scored once, and the SHAP
analysis's plan made (:class:`openclarify.analyses.shap.OnlineShap`). Per request, on a model thread:

1. the records are decoded and typed as the baseline's columns (a numerical feature must hold numbers);
2. the model scores them once: the predictions, and the ``f_x`` of every explanation;
3. ``EnableExplanations`` (or the ``X-Amzn-SageMaker-Enable-Explanations`` header, which overrides it) is
   evaluated on each record's deserialised output: a CSV answer's row as a JSON array, a JSON answer's
   object; records it selects are explained, the others get ``null``;
4. the answer is ``{"version": "1.0", "predictions": {"content_type", "data"}, "label_headers",
   "explanations": {"kernel_shap": [...]}}`` (``{}`` when no record is explained).

A record's number (which keys its random coalitions) is its position in the request, plus the
``X-OpenClarify-First-Record`` header when given, so a record explained online gets exactly the values
``openclarify analyze`` gives the record of that number. Explanations are kept in a bounded LRU cache
keyed by (record number, record values); the model must be deterministic for the cache to be exact,
as it must for any explanation to be reproducible.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import jmespath
import numpy as np
import pandas as pd
from jmespath.exceptions import JMESPathError

from .._typing import Estimator, FloatArray
from ..analyses.shap import FeatureAttribution, OnlineShap, RecordExplanation, UnitAttribution
from ..config import ExplainerConfig
from ..errors import ConfigError, DataError, ModelError
from ..io import is_url, read_bytes
from ..models import check_scores
from ..text import WhitespaceMode
from ..wire import MediaType, RequestError, decode_request, record_objects
from ._frame import records_frame
from ._model import ServedModel

__all__ = [
    "DETAILS_HEADER",
    "ENABLE_HEADER",
    "FIRST_RECORD_HEADER",
    "DEFAULT_CACHE_SIZE",
    "Explainer",
    "build_explainer",
]

log = logging.getLogger("openclarify.serving")

ENABLE_HEADER: Final = "x-amzn-sagemaker-enable-explanations"
DETAILS_HEADER: Final = "x-openclarify-details"  # "true": add {"openclarify": {"expected_value", ...}} to the answer
FIRST_RECORD_HEADER: Final = "x-openclarify-first-record"  # the record number of the request's first record
DEFAULT_CACHE_SIZE: Final = 1024
_MAX_FIRST_RECORD: Final = 2**53
_TRUE: Final = "`true`"
_FALSE: Final = "`false`"
# fields that describe how SageMaker's explainer talks to a model container; openclarify serve calls its
# model in process, so they change nothing here (they are validated, and said so at start-up)
_CONTAINER_FIELDS: Final = {
    "content_template": "ContentTemplate",
    "label_index": "LabelIndex",
    "label_attribute": "LabelAttribute",
    "probability_attribute": "ProbabilityAttribute",
}


@dataclass(frozen=True, slots=True)
class _Expression:
    text: str
    compiled: Any  # a jmespath ParsedResult, or None for `true` / `false`
    constant: bool | None


def _compile(text: str | None, where: str) -> _Expression:
    if text is None or text.strip() == _TRUE:
        return _Expression(_TRUE, None, True)
    if text.strip() == _FALSE:
        return _Expression(_FALSE, None, False)
    try:
        return _Expression(text, jmespath.compile(text), None)
    except JMESPathError as exc:
        reason = " ".join(str(exc).split())
        raise RequestError(
            400, f"{where}: not a valid JMESPath expression ({reason}); got {text!r}. Send e.g. '`true`'."
        ) from None


def _baseline_body(config: ExplainerConfig, base_dir: Path | None) -> tuple[bytes, str]:
    """The baseline's bytes and where they came from (for messages)."""
    if config.shap_baseline is not None:
        return config.shap_baseline.encode("utf-8"), "ShapBaseline"
    uri = cast(str, config.shap_baseline_uri)
    path = uri if is_url(uri) or base_dir is None or os.path.isabs(uri) else str(base_dir / uri)
    where = f"ShapBaselineUri {uri!r}"
    try:
        return read_bytes(path), where
    except FileNotFoundError:
        raise ConfigError(f"{where}: not found; check the path or URI.", path="ShapConfig.ShapBaselineConfig") from None
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot be read ({exc.strerror or exc}).", path="ShapConfig.ShapBaselineConfig"
        ) from None


def _record_key(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Each record's values as a hashable tuple (floats exactly; NaN and None alike as None)."""
    rows: list[list[Any]] = frame.to_numpy(dtype=object).tolist()
    return [tuple(None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row) for row in rows]


# Cells made only of these characters are read as float64 at once (the same correctly rounded parse as
# records_frame's); anything else (NA tokens, "nan", text, quoted fields) takes records_frame's way.
_PLAIN_NUMBERS: Final = re.compile(r"[0-9eE.+\-]+")


def _numbers_frame(payload: Any, names: tuple[str, ...]) -> pd.DataFrame | None:
    """A CSV request of plain numbers only, every record ``len(names)`` wide, as a float64 frame; else None."""
    rows = payload.rows
    if not payload.csv or payload.quoted_columns or not rows or isinstance(rows[0], dict):
        return None
    if any(len(row) != len(names) for row in rows):
        return None
    cells = [cell for row in rows for cell in row]
    if not all(isinstance(c, str) and _PLAIN_NUMBERS.fullmatch(c) for c in cells):
        return None
    try:
        values = np.array(rows, dtype=np.float64)
    except (ValueError, OverflowError):
        return None
    if not np.isfinite(values).all():  # past the float64 range: records_frame says which
        return None
    return pd.DataFrame(values, columns=pd.Index(list(names)), copy=False)


class _Columns:
    """A predictor answering only some of its model's scores (``ProbabilityIndex``, ``--positive-only``)."""

    def __init__(self, predictor: Any, columns: list[int]) -> None:
        self.predictor = predictor
        self.columns = columns
        self.takes_text = getattr(predictor, "takes_text", False)

    def predict(self, records: pd.DataFrame) -> FloatArray:
        scores = check_scores(self.predictor.predict(records), len(records), source="model")
        return scores[:, self.columns]


class _Cache:
    """A thread-safe LRU of record explanations."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], RecordExplanation | None] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, key: tuple[Any, ...]) -> tuple[bool, RecordExplanation | None]:
        if self.size <= 0:
            return False, None
        with self._lock:
            if key not in self._items:
                return False, None
            self._items.move_to_end(key)
            self.hits += 1
            return True, self._items[key]

    def put(self, key: tuple[Any, ...], value: RecordExplanation | None) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Explainer:
    """The explaining side of a served model (see the module docstring); built by :func:`build_explainer`."""

    def __init__(
        self,
        config: ExplainerConfig,
        model: ServedModel,
        shap: OnlineShap,
        *,
        feature_names: tuple[str, ...],
        named: bool,
        output_names: tuple[str, ...] | None,
        features: Any,
        seed: int,
        cache_size: int,
        example: list[Any],
        explains_answer: bool = True,
    ) -> None:
        self.config = config
        self.model = model
        self.shap = shap
        self.feature_names = feature_names
        self.named = named  # feature_header goes in the answer
        self.label_headers = output_names
        self.features = features
        self.seed = seed
        self.expression = _compile(config.enable_explanations, "EnableExplanations")
        self.cache = _Cache(cache_size)
        self.example = example
        # the explanations' f_x are the answer's scores (no column picked, no logit): a request whose records
        # are all explained needs no model call of its own (tabular records are scored with their first
        # coalitions; records in the cache hold their scores)
        self.scores_explained = explains_answer and not config.use_logit
        self.fold = self.scores_explained and not shap.text
        kinds = shap.kinds
        self.numerical_set = frozenset(n for n, k in zip(feature_names, kinds, strict=True) if k == "numerical")
        self.all_numerical = len(self.numerical_set) == len(feature_names) and model.text_columns is not True
        self.as_text: frozenset[str] | bool = (
            True
            if model.text_columns is True
            else frozenset(n for n, k in zip(feature_names, kinds, strict=True) if k != "numerical")
        )

    @property
    def max_payload_bytes(self) -> int | None:
        """The request limit ``MaxPayloadInMB`` sets, if it does."""
        mb = self.config.max_payload_in_mb
        return mb * 1_048_576 if mb is not None else None

    def describe(self) -> dict[str, Any]:
        """What the live page needs to know (``GET /explainer``)."""
        text = self.config.text_config
        return {
            "feature_headers": list(self.feature_names),
            "feature_types": list(self.shap.kinds),
            "label_headers": list(self.label_headers) if self.label_headers is not None else None,
            "text": self.model.text_columns is True,
            "granularity": text.granularity if text is not None and self.shap.text else None,
            "language": text.language if text is not None and self.shap.text else None,
            "example": self.example,
            "expected_value": self.shap.base_value.tolist() if self.shap.base_value is not None else None,
            "num_samples": self.config.number_of_samples,
            "estimator": self.shap.plan.shap.estimator,
            "target_error": self.shap.plan.shap.target_error,
            "seed": self.seed,
            "enable_explanations": self.expression.text,
            "content_type": "text/csv",
        }

    # per request ---------------------------------------------------------------------------------
    def frame(self, body: bytes, media: MediaType, charset: str) -> tuple[pd.DataFrame, Any]:
        """The request's records, typed as the baseline's columns, and the decoded payload."""
        text_model = self.model.text_columns is True
        payload = decode_request(
            body, media, charset=charset, features=self.features, find_quoted=not text_model, inputs=text_model
        )
        if self.all_numerical:
            fast = _numbers_frame(payload, self.feature_names)
            if fast is not None:
                return fast, payload
        frame = records_frame(payload, feature_names=self.feature_names, text_columns=self.as_text)
        dtypes = frame.dtypes.tolist()
        for name, dtype in zip(self.feature_names, dtypes, strict=True):
            if name in self.numerical_set and dtype != np.float64:
                values = frame[name].tolist()
                bad = next((i for i, v in enumerate(values) if isinstance(v, str)), 0)
                raise RequestError(
                    400,
                    f"record {bad + 1}, column {name!r}: must be a number (a numerical feature); got "
                    f"{values[bad]!r}. Send a number, or leave the value empty for a missing one.",
                )
        return frame, payload

    def _selected(self, expression: _Expression, scores: FloatArray, accept: MediaType, top_k: Any) -> list[bool]:
        n = len(scores)
        if expression.constant is not None:
            return [expression.constant] * n
        if accept == "text/csv":
            outputs: list[Any] = scores.tolist()
        else:
            outputs = record_objects(scores, self.model.output_names, top_k)
        chosen = []
        for i, output in enumerate(outputs):
            try:
                value = expression.compiled.search(output)
            except JMESPathError as exc:
                raise RequestError(
                    400, f"EnableExplanations: {expression.text!r} fails on record {i + 1}'s output ({exc})."
                ) from None
            if not isinstance(value, bool):
                raise RequestError(
                    400,
                    f"EnableExplanations: must give true or false for every record; got {json.dumps(value)} for "
                    f"record {i + 1} (output {json.dumps(output)[:120]}). Compare, e.g. '[0]>`0.5`'.",
                )
            chosen.append(value)
        return chosen

    def respond(
        self,
        body: bytes,
        media: MediaType,
        charset: str,
        accept: MediaType,
        *,
        enable: str | None = None,
        details: bool = False,
        first_row: int = 0,
    ) -> bytes:
        """The whole answer to one request (runs on a model thread).

        Raises
        ------
        RequestError
            400 for a record the model or the explanation cannot take (its number in the request named).
        """
        try:
            return self._answer(body, media, charset, accept, enable, details, first_row)
        except DataError as exc:  # the estimator numbers records from 0 as in a dataset: say which of the request
            raise RequestError(400, _request_numbers(str(exc), first_row)) from None

    def _answer(
        self, body: bytes, media: MediaType, charset: str, accept: MediaType, enable: str | None, details: bool,
        first_row: int,
    ) -> bytes:  # fmt: skip
        model = self.model
        frame, payload = self.frame(body, media, charset)
        expression = self.expression if enable is None else _compile(enable, "X-Amzn-SageMaker-Enable-Explanations")
        n = len(frame)
        keys = _record_key(frame) if self.cache.size > 0 else []
        results: list[RecordExplanation | None] = [None] * n
        known = [False] * n  # the record's explanation is in results (from the cache, or made below)
        for i, key in enumerate(keys):
            known[i], results[i] = self.cache.get((first_row + i, *key))
        scores: FloatArray | None = None
        if expression.constant is True and self.scores_explained:
            if all(known) and all(r is not None for r in results):  # the explanations hold the answer's scores
                scores = np.stack([cast(RecordExplanation, r).f_x for r in results])
            elif self.fold and not any(known):
                scores = self._folded(frame, first_row, keys, results)
                known = [True] * n
        if scores is None:
            scores = model.score(frame)
        data = model.encode(scores, accept, payload)
        explained = scores
        if self.config.probability_index is not None:
            explained = scores[:, [self.config.probability_index]]
        chosen = self._selected(expression, scores, accept, payload.top_k)
        missing = [i for i in range(n) if chosen[i] and not known[i]]
        if missing:
            self._explain(frame, explained, missing, first_row, keys, results)
        answer: dict[str, Any] = {
            "version": "1.0",
            "predictions": {"content_type": accept, "data": data.decode("utf-8")},
        }
        if self.label_headers is not None:
            answer["label_headers"] = list(self.label_headers)
        if any(chosen):
            answer["explanations"] = {
                "kernel_shap": [
                    self._entry(r) if c and r is not None else None for r, c in zip(results, chosen, strict=True)
                ]
            }
        else:
            answer["explanations"] = {}
        if details:
            answer["openclarify"] = {
                "expected_value": [r.expected_value.tolist() if r is not None else None for r in results],
                "explained_scores": [r.f_x.tolist() if r is not None else None for r in results],
                "exact": [r.exact if r is not None else None for r in results],
                "num_samples": [r.num_samples if r is not None else None for r in results],
                "first_record": first_row,
            }
        return json.dumps(answer, ensure_ascii=False, allow_nan=False).encode("utf-8")

    def _folded(
        self, frame: pd.DataFrame, first_row: int, keys: list[tuple[Any, ...]], results: list[RecordExplanation | None]
    ) -> FloatArray:
        """Explain every record, their scores from the same model call as their first coalitions."""
        part = self.shap.explain(frame, first_row=first_row, fold=True)
        scores = check_scores(part.f_x, len(frame), source="model")
        for i, record in enumerate(self.shap.records(part)):
            results[i] = record
            if keys:
                self.cache.put((first_row + i, *keys[i]), record)
        return scores

    def _explain(
        self,
        frame: pd.DataFrame,
        explained: FloatArray,
        missing: Sequence[int],
        first_row: int,
        keys: list[tuple[Any, ...]],
        results: list[RecordExplanation | None],
    ) -> None:
        """Explain the records at ``missing`` (their scores ``explained`` known); runs of consecutive records
        go to the model together, each keeping its own record number."""
        runs: list[list[int]] = []
        for i in missing:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            start, stop = run[0], run[-1] + 1
            part = self.shap.explain(
                frame.iloc[start:stop].reset_index(drop=True), explained[start:stop], first_row=first_row + start
            )
            for i, record in zip(range(start, stop), self.shap.records(part), strict=True):
                results[i] = record
                if keys:
                    self.cache.put((first_row + i, *keys[i]), record)

    def _entry(self, record: RecordExplanation) -> list[dict[str, Any]]:
        if self.shap.text:
            return [self._text_feature(f) for f in record.features]
        return [self._feature(f) for f in record.features]

    def _feature(self, feature: FeatureAttribution) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.named:
            out["feature_header"] = feature.name
        out["attributions"] = [_values(feature)]
        return out

    def _text_feature(self, feature: FeatureAttribution) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.named:
            out["feature_header"] = feature.name
        out["feature_type"] = feature.kind
        if feature.kind == "text":
            out["attributions"] = [_unit(unit) for unit in feature.units]
        else:
            out["attributions"] = [_values(feature)]
        return out


def _values(feature: FeatureAttribution) -> dict[str, Any]:
    """A tabular feature's attribution (and, with the gp estimator, its standard errors beside it)."""
    assert feature.attribution is not None  # noqa: S101 - a tabular feature has its values
    out: dict[str, Any] = {"attribution": feature.attribution.tolist()}
    if feature.stderr is not None:
        out["stderr"] = feature.stderr.tolist()
    return out


def _unit(unit: UnitAttribution) -> dict[str, Any]:
    """A text unit's attribution, its standard errors (gp) and where it is, in out.jsonl's key order."""
    out: dict[str, Any] = {"attribution": unit.attribution.tolist()}
    if unit.stderr is not None:
        out["stderr"] = unit.stderr.tolist()
    out["description"] = {"partial_text": unit.partial_text, "start_idx": unit.start_idx}
    return out


# how the estimator and the model adapters name a record: its number in the dataset (from first_row), or
# its row in the batch the model was given (the whole request, when the request's records were scored)
_RECORD_NUMBER: Final = re.compile(r"^(?:dataset )?record (\d+) \(numbered from 0\)|^batch row (\d+)")


def _request_numbers(message: str, first_row: int) -> str:
    """An estimator's message with its leading record number said as the request's (from 1)."""

    def number(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return f"record {int(match.group(2)) + 1} of the request"
        n = int(match.group(1)) - first_row
        return f"record {n + 1} of the request" if n >= 0 else match.group(0)

    return _RECORD_NUMBER.sub(number, message, count=1)


def draw_seed() -> int:
    """A random seed in ``[0, 2**32 - 1]``, for an explainer config without ``Seed``."""
    return int(np.random.SeedSequence().entropy % 2**32)  # type: ignore[operator]


def first_record(value: str | None) -> int:
    """The ``X-OpenClarify-First-Record`` header as a record number (0 without it)."""
    if value is None:
        return 0
    text = value.strip()
    if not text.isdigit() or int(text) > _MAX_FIRST_RECORD:
        raise RequestError(400, f"{FIRST_RECORD_HEADER}: must be an integer from 0 to 2**53; got {value!r}.")
    return int(text)


def enable_override(value: str | None) -> str | None:
    """The ``X-Amzn-SageMaker-Enable-Explanations`` header (1 to 64 characters), or ``None``."""
    if value is None:
        return None
    if not 1 <= len(value) <= 64:
        raise RequestError(
            400, f"X-Amzn-SageMaker-Enable-Explanations: must be 1 to 64 characters; got {len(value)} characters."
        )
    return value


def build_explainer(
    config: ExplainerConfig,
    model: ServedModel,
    *,
    base_dir: Path | None = None,
    features: Any = None,
    cache_size: int = DEFAULT_CACHE_SIZE,
    text_whitespace: WhitespaceMode = "keep",
    seed: int | None = None,
    estimator: Estimator = "kernel",
    target_error: float | None = None,
) -> Explainer:
    """Read the baseline, score it and plan the explanations of ``model`` per ``config``.

    ``seed`` is used when the config has no ``Seed`` (the server draws one for all its workers); without
    either, one is drawn here.

    Raises
    ------
    ConfigError
        The baseline cannot be read or does not fit the model's records, the text configuration is
        missing for a text model, ``FeatureTypes``, ``FeatureHeaders`` or ``LabelHeaders`` do not fit, or
        ``ProbabilityIndex`` is past the model's scores.
    ModelError
        The model fails on the baseline.
    """
    for name, key in _CONTAINER_FIELDS.items():
        if getattr(config, name) is not None:
            log.info(
                "explainer: InferenceConfig.%s describes a model container's own input or output; the model is "
                "called in process, so it is not used",
                key,
            )
    where = "ShapConfig.ShapBaselineConfig"
    body, origin = _baseline_body(config, base_dir)
    media = cast(MediaType, config.baseline_mime_type)
    text_model = model.text_columns is True
    names = model.feature_names
    if config.feature_headers is not None:
        if names is not None and not text_model and tuple(config.feature_headers) != tuple(names):
            raise ConfigError(
                f"the model's features are {list(names)[:20]!r}; got {list(config.feature_headers)[:20]!r}. Give the "
                "model's names, or leave FeatureHeaders out.",
                path="InferenceConfig.FeatureHeaders",
            )
        names = tuple(config.feature_headers)
    try:
        payload = decode_request(body, media, features=features, find_quoted=True, inputs=text_model)
        typed = records_frame(payload, feature_names=names, text_columns=True if text_model else model.text_columns)
    except RequestError as exc:
        raise ConfigError(f"{origin}: {exc}", path=where) from None
    names = tuple(str(c) for c in typed.columns)
    if text_model and len(names) != 1:
        raise ConfigError(
            f"{origin}: a text model takes one text per record; got {len(names)} values per record.", path=where
        )
    kinds: list[Any]
    if text_model:
        kinds = ["text"]
    elif config.feature_types is not None:
        kinds = list(config.feature_types)
        if len(kinds) != len(names):
            raise ConfigError(
                f"must give one type per feature ({len(names)}: {list(names)[:20]!r}); got {len(kinds)}.",
                path="InferenceConfig.FeatureTypes",
            )
    else:  # inferred from the baseline, as SageMaker does: a number is numerical, anything else categorical
        kinds = ["numerical" if typed[n].dtype == np.float64 else "categorical" for n in names]
    as_text = frozenset(n for n, k in zip(names, kinds, strict=True) if k != "numerical")
    baseline = records_frame(payload, feature_names=names, text_columns=True if text_model else as_text)
    for name, kind in zip(names, kinds, strict=True):
        if kind == "numerical" and baseline[name].dtype != np.float64:
            raise ConfigError(
                f"{origin}: feature {name!r} is numerical but the baseline holds "
                f"{baseline[name].tolist()[:3]!r}. Give numbers, or type the feature categorical.",
                path=where,
            )
    predictor: Any = model.predictor
    n_scores = check_scores(predictor.predict(baseline), len(baseline), source="model").shape[1]
    answered = list(range(n_scores))[-1:] if model.positive_only else list(range(n_scores))
    if config.probability_index is not None:
        if config.probability_index >= len(answered):
            raise ConfigError(
                f"the model gives {len(answered)} scores per record; got index {config.probability_index}. Give an "
                f"index from 0 to {len(answered) - 1}.",
                path="InferenceConfig.ProbabilityIndex",
            )
        answered = [answered[config.probability_index]]
    if len(answered) != n_scores:
        predictor = _Columns(predictor, answered)
    if config.seed is not None:
        seed = config.seed
    elif seed is None:
        seed = draw_seed()
    max_rows = config.max_record_count or 16384
    example = [None if isinstance(v, float) and math.isnan(v) else v for v in baseline.iloc[0].tolist()]
    try:
        shap = OnlineShap(
            predictor,
            baseline,
            kinds=kinds,
            num_samples=config.number_of_samples,
            seed=seed,
            use_logit=config.use_logit,
            text_config=config.text_config,
            max_batch_rows=max_rows,
            text_whitespace=text_whitespace,
            estimator=estimator,
            target_error=target_error,
        )
    except DataError as exc:
        raise ModelError(f"model: failed on the baseline ({origin}): {exc}") from None
    outputs = model.output_names  # the answered scores' names (--positive-only: the second label's)
    n_explained = shap.n_outputs
    if config.label_headers is not None:
        if len(config.label_headers) != n_explained:
            raise ConfigError(
                f"must name each of the {n_explained} explained scores; got {len(config.label_headers)} "
                f"{list(config.label_headers)!r}.",
                path="InferenceConfig.LabelHeaders",
            )
        labels: tuple[str, ...] | None = tuple(config.label_headers)
    elif outputs is not None:
        labels = (outputs[config.probability_index],) if config.probability_index is not None else tuple(outputs)
    else:
        labels = None
    known = getattr(getattr(model.predictor, "estimator", None), "feature_names_in_", None)
    named = (
        config.feature_headers is not None or known is not None or not text_model and model.feature_names is not None
    )
    log.info(
        "explainer: %d features (%s), %s, seed %d",
        len(names),
        ", ".join(sorted(set(kinds))),
        f"{config.number_of_samples} samples" if config.number_of_samples else "the default budget",
        seed,
    )
    return Explainer(
        config,
        model,
        shap,
        feature_names=names,
        named=named,
        output_names=labels,
        features=features,
        seed=seed,
        cache_size=cache_size,
        example=example,
        explains_answer=predictor is model.predictor,
    )
