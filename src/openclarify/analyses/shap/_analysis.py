"""``methods.shap``: Kernel SHAP values of every record, their global aggregate and the output files.

Tabular records get one player per explained feature (features not explained act together as one);
records with text get one player per unit of each text column (clarify-spec §2). A partition's result
holds its records' values, scores and mergeable sums; the driver streams the local files from them in
record order and merges the sums.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from ..._typing import AggMethod, BoolArray, FloatArray, IntArray
from ...config import AnalysisConfig, ShapConfig
from ...data import DataChunk
from ...errors import ConfigError, DataError, ModelError, OpenClarifyWarning
from ...models import Predictor
from ...outputs import (
    BASELINE_CSV,
    LOCAL_SHAP_CSV,
    LOCAL_SHAP_JSONL,
    PREDICTIONS_JSONL,
    LocalShapCsvWriter,
    LocalShapJsonlWriter,
    PredictionsJsonlWriter,
    TopTextAggregator,
    encode_json,
    kernel_shap_section,
    write_baseline_csv,
)
from ...shapley import CoalitionCache, TextPlayer, base_value, blame_data, kernel_shap, kernel_shap_text
from ...text import Segmenter
from .._base import Finished, Job, Needs
from .._common import json_value, output_labels, resolve, text_columns
from .._sums import RecordSum
from . import _plan

__all__ = ["ShapAnalysis", "ShapPart", "ShapPlan", "ShapSummary"]

_MAX_LISTED = 10_000  # failed record numbers listed in analysis.json
_FAILED_RECORD = "the model gave no scores for this record; it is not explained"
_NO_JOIN = object()


@dataclass(frozen=True, slots=True)
class ShapPlan:
    """Everything a partition needs (the same for every partition)."""

    shap: ShapConfig
    baseline: pd.DataFrame
    labels: tuple[str, ...]
    feature_names: tuple[str, ...]  # explained features (tabular) or every feature (text)
    seed: int
    max_batch_rows: int
    threads: int
    # tabular
    players: tuple[tuple[str, ...], ...] = ()
    player_names: tuple[str, ...] = ()
    base_value: FloatArray | None = None
    # text
    text_columns: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    segmenter: Segmenter | None = None
    text_whitespace: str | None = None
    progress: Callable[[int], None] | None = None
    # coalitions of record numbers explained again (an online server's); never sent to other processes
    coalition_cache: CoalitionCache | None = None


@dataclass(slots=True)
class ShapPart:
    """One partition's result: local values and the sums that merge exactly.

    ``totals`` is ``(n, n_features, n_outputs)``: per record and feature, its value (a text feature: the
    sum of its units' values); ``ok`` marks the records the model gave scores for.
    """

    start: int
    n: int
    totals: FloatArray
    f_x: FloatArray
    ok: BoolArray
    aggregate: RecordSum
    base: RecordSum  # per-record base values (text); empty for tabular records
    model_rows: int
    model_calls: int
    model_seconds: float
    num_samples: int
    exact: bool
    label: list[Any] | None = None
    join_source: list[Any] | None = None
    text: Any = None  # the TextShapResult of a text partition
    stderr: FloatArray | None = None  # like totals: each local value's standard error (estimator "gp"; tabular)
    # with target_error: records whose errors stayed above it (global numbers), and the coalitions used
    not_met: list[int] = field(default_factory=list)
    used: int = 0
    record_num_samples: IntArray | None = None  # with target_error (tabular): the coalitions each record used


@dataclass(frozen=True, slots=True)
class ShapSummary:
    """What a finished SHAP analysis computed (``global_values`` is ``(n_features, n_outputs)``)."""

    labels: tuple[str, ...]
    feature_names: tuple[str, ...]
    global_values: FloatArray
    expected_value: FloatArray
    first_phi: FloatArray
    first_fx: FloatArray
    n_rows: int
    n_baseline_rows: int
    num_samples: int
    exact: bool
    model_rows: int
    model_calls: int
    model_seconds: float
    text_columns: tuple[str, ...]
    top_text: tuple[dict[str, dict[str, float]], ...]
    failed_rows: tuple[int, ...]


def _terms(values: FloatArray, agg_method: AggMethod) -> FloatArray:
    if agg_method == "mean_abs":
        return np.abs(values)
    if agg_method == "mean_sq":
        return values * values
    return values


def _failed(phi: FloatArray, f_x: FloatArray) -> BoolArray:
    """Records the model gave no usable scores for (NaN from a predictor that skips failing records)."""
    finite = np.isfinite(f_x).all(axis=1)
    if phi.size:
        finite &= np.isfinite(phi).all(axis=(1, 2))
    return np.asarray(~finite, dtype=bool)


def run_tabular(
    plan: ShapPlan, chunk: DataChunk, model: Predictor, f_x: FloatArray | None = None, *, fold_records: bool = False
) -> ShapPart:
    """Explain a partition of tabular records; ``f_x``: their scores when already known; ``fold_records``:
    score them in the first call of their masked records (a few records explained online)."""
    shap = plan.shap
    res = kernel_shap(
        model,
        chunk.features,
        plan.baseline,
        num_samples=shap.num_samples,
        seed=plan.seed,
        use_logit=shap.use_logit,
        players=[list(p) for p in plan.players],
        player_names=list(plan.player_names),
        max_batch_rows=plan.max_batch_rows,
        first_row=chunk.start_row,
        base_value=plan.base_value,
        progress=plan.progress,
        n_jobs=plan.threads,
        f_x=f_x,
        fold_records=fold_records,
        coalition_cache=plan.coalition_cache,
        estimator=shap.estimator,
        target_error=shap.target_error,
    )
    phi = res.phi[:, : len(plan.feature_names), :]
    ok = ~_failed(phi, res.f_x)
    median = shap.agg_method == "median"
    return ShapPart(
        start=chunk.start_row,
        n=len(chunk.features),
        totals=phi,
        f_x=res.f_x,
        ok=ok,
        aggregate=RecordSum.of(chunk.start_row, _terms(phi, shap.agg_method), ok, keep_all=median),
        base=RecordSum(chunk.start_row, chunk.start_row + len(chunk.features)),  # no per-record base values
        model_rows=res.model_rows,
        model_calls=res.model_calls,
        model_seconds=res.model_seconds,
        num_samples=res.num_samples,
        exact=res.exact,
        label=chunk.label.tolist() if chunk.label is not None else None,
        join_source=chunk.join_source.tolist() if chunk.join_source is not None else None,
        stderr=np.where(ok[:, None, None], res.stderr[:, : len(plan.feature_names), :], np.nan)
        if res.stderr is not None
        else None,
        not_met=(chunk.start_row + np.flatnonzero(~res.target_met)).tolist() if res.target_met is not None else [],
        used=int(res.record_num_samples.sum()) if res.record_num_samples is not None else 0,
        record_num_samples=res.record_num_samples,
    )


def _by_column(players: Sequence[TextPlayer]) -> dict[int, list[int]]:
    """The record's players of each feature, in order."""
    out: dict[int, list[int]] = {}
    for p, player in enumerate(players):
        out.setdefault(player.column, []).append(p)
    return out


def run_text(plan: ShapPlan, chunk: DataChunk, model: Predictor, f_x: FloatArray | None = None) -> ShapPart:
    """Explain a partition of records with text; ``f_x``: their scores when already known."""
    shap = plan.shap
    assert plan.segmenter is not None  # noqa: S101 - a text plan has one
    res = kernel_shap_text(
        model,
        chunk.features,
        plan.baseline,
        text_columns=list(plan.text_columns),
        segmenter=plan.segmenter,
        num_samples=shap.num_samples,
        seed=plan.seed,
        use_logit=shap.use_logit,
        max_batch_rows=plan.max_batch_rows,
        first_row=chunk.start_row,
        progress=plan.progress,
        f_x=f_x,
        estimator=shap.estimator,
        target_error=shap.target_error,
    )
    n, n_out = len(chunk.features), res.f_x.shape[1]
    totals = np.zeros((n, len(plan.feature_names), n_out))
    ok = np.ones(n, dtype=bool)
    for i in range(n):
        phi = res.phi[i]
        if not (np.isfinite(phi).all() and np.isfinite(res.f_x[i]).all() and np.isfinite(res.base_value[i]).all()):
            ok[i] = False
            continue
        for j, idx in _by_column(res.players[i]).items():
            totals[i, j] = phi[idx].sum(axis=0)
    median = shap.agg_method == "median"
    return ShapPart(
        start=chunk.start_row,
        n=n,
        totals=totals,
        f_x=res.f_x,
        ok=ok,
        aggregate=RecordSum.of(chunk.start_row, _terms(totals, shap.agg_method), ok, keep_all=median),
        base=RecordSum.of(chunk.start_row, res.base_value[:, None, :], ok),
        model_rows=res.model_rows,
        model_calls=res.model_calls,
        model_seconds=res.model_seconds,
        num_samples=int(res.num_samples.max()) if n else 0,
        exact=bool(res.exact.all()),
        label=chunk.label.tolist() if chunk.label is not None else None,
        join_source=chunk.join_source.tolist() if chunk.join_source is not None else None,
        text=res,
        not_met=(chunk.start_row + np.flatnonzero(~res.target_met)).tolist() if res.target_met is not None else [],
        used=int(res.num_samples.sum()) if res.target_met is not None else 0,
    )


def _text_record(
    names: Sequence[str],
    kinds: Sequence[str],
    phi: FloatArray,
    players: Sequence[Any],
    by_column: Mapping[int, list[int]],
    units_of: Mapping[int, list[str]],
    join: object,
    stderr: FloatArray | None = None,
) -> Iterator[str]:
    """A text record's ``out.jsonl`` line, piece by piece (the same text as ``encode_json`` of the whole
    record): ``{"explanations": [{"feature_name", "data_type", "attributions": [...]}, ...],
    "join_source_value": ...}``, one attribution per unit of a text feature, one for any other feature; with
    ``stderr``, each attribution has a ``stderr`` beside it (one per label, as ``attribution``)."""
    yield '{"explanations": ['
    for j, name in enumerate(names):
        yield (
            (", " if j else "")
            + encode_json({"feature_name": name, "data_type": kinds[j]})[:-1]
            + ', "attributions": ['
        )
        idx = by_column.get(j, [])
        if j in units_of:
            for n, (p, unit) in enumerate(zip(idx, units_of[j], strict=True)):
                description = {"partial_text": unit, "start_idx": players[p].start}
                entry: dict[str, Any] = {"attribution": phi[p].tolist()}
                if stderr is not None:
                    entry["stderr"] = stderr[p].tolist()
                entry["description"] = description
                yield (", " if n else "") + encode_json(entry)
        else:
            entry = {"attribution": phi[idx[0]].tolist()}
            if stderr is not None:
                entry["stderr"] = stderr[idx[0]].tolist()
            yield encode_json(entry)
        yield "]}"
    yield "]"
    if join is not _NO_JOIN:
        yield ', "join_source_value": ' + encode_json(join)
    yield "}"


@dataclass(slots=True)
class _Driver:
    """The driver's side of a running SHAP analysis: the open files and what is counted in order."""

    csv: LocalShapCsvWriter | None = None
    jsonl: LocalShapJsonlWriter | None = None
    predictions: PredictionsJsonlWriter | None = None
    top: TopTextAggregator | None = None
    n_rows: int = 0
    model_rows: int = 0
    model_calls: int = 0
    model_seconds: float = 0.0
    num_samples: int = 0
    exact: bool = True
    first_phi: FloatArray = field(default_factory=lambda: np.zeros(0))
    first_fx: FloatArray = field(default_factory=lambda: np.zeros(0))
    failed_rows: list[int] = field(default_factory=list)
    empty_rows: list[int] = field(default_factory=list)
    not_met: list[int] = field(default_factory=list)
    used: int = 0

    def close(self) -> None:
        for f in (self.csv, self.jsonl, self.predictions):
            if f is not None:
                f.close()


class ShapAnalysis:
    key: ClassVar[str] = "shap"

    def __init__(self) -> None:
        self._driver = _Driver()

    # check and plan -----------------------------------------------------------------------------
    def check(self, config: AnalysisConfig, base_dir: Path | str | None) -> Needs:
        shap = config.methods.shap
        if shap is None:
            return Needs()
        problems: list[tuple[str, str]] = []
        if shap.image_config is not None:
            problems.append(("methods.shap.image_config", "image explanations are not supported; remove image_config."))
        inputs = (resolve(shap.baseline, base_dir),) if isinstance(shap.baseline, str) else ()
        return Needs(tuple(problems), inputs, int(shap.seed) if shap.seed is not None else None)

    def plan(self, job: Job) -> ShapPlan:
        config = job.config
        shap = config.methods.shap
        if shap is None:
            raise ConfigError("no shap method to plan.", path="methods.shap")
        problems = self.check(config, job.base_dir).problems
        if problems:
            raise ConfigError(list(problems))
        schema = job.schema
        options = job.options
        seed = job.seed
        text_cols: list[str] = []
        if shap.text_config is not None:
            text_cols = text_columns(job.dataset, options.text_columns)
            if not text_cols:
                schema = job.schema
                described = ", ".join(
                    f"{n} ({'categorical' if c else 'numerical'})"
                    for n, c in zip(schema.feature_names, schema.categorical, strict=True)
                )
                raise ConfigError(
                    f"no column holds free text; the features are {described}. Give a dataset with a text column, "
                    "or remove text_config to explain the features as tabular ones.",
                    path="methods.shap.text_config",
                )
            # a text column holds strings even where the file had only numbers in it
            schema = dataclasses.replace(
                schema,
                categorical=tuple(
                    c or n in text_cols for n, c in zip(schema.feature_names, schema.categorical, strict=True)
                ),
            )
            job.schema = schema
            baseline = _plan.text_baseline(config, shap, job.dataset, schema, text_cols, job.base_dir, seed)
        else:
            baseline = _plan.baseline(config, shap, job.dataset, job.base_dir, seed)
        model = job.model
        # name the outputs before the long part of the job, so a label_headers mismatch fails at once
        try:
            n_outputs = model.predict(baseline).shape[1]
        except DataError as exc:  # a model failing on a missing number of the baseline: name its record
            raise (blame_data(exc, model, [("baseline", baseline, 0)]) or exc) from exc.__cause__
        labels = tuple(output_labels(config, n_outputs, getattr(model, "label_headers", None)))
        common: dict[str, Any] = {
            "shap": shap,
            "baseline": baseline,
            "labels": labels,
            "seed": seed,
            "max_batch_rows": options.max_batch_rows,
            "threads": options.threads,
            # a callback does not travel to another process: there the driver counts each part as it comes back
            "progress": options.progress if job.executor.in_process else None,
        }
        names = list(schema.feature_names)
        if text_cols:
            text_set = set(text_cols)
            kinds = tuple(
                "free_text" if n in text_set else ("categorical" if c else "numerical")
                for n, c in zip(names, schema.categorical, strict=True)
            )
            tc = shap.text_config
            assert tc is not None  # noqa: S101 - text columns come from text_config
            segmenter = Segmenter(tc.granularity, tc.language, whitespace=options.text_whitespace)
            self._driver.top = TopTextAggregator(shap.agg_method, tc.max_top_tokens)
            if options.on_start is not None:
                options.on_start(None, len(names))
            return ShapPlan(
                feature_names=tuple(names),
                text_columns=tuple(text_cols),
                kinds=kinds,
                segmenter=segmenter,
                text_whitespace=options.text_whitespace,
                **common,
            )
        players, explained = _plan.players(shap, schema)
        player_names = tuple(p[0] if len(p) == 1 else "+".join(p) for p in players)
        base = base_value(model, baseline, use_logit=shap.use_logit, max_batch_rows=options.max_batch_rows)
        if not np.isfinite(base.value).all():
            raise ModelError(
                "model: gave no scores for the baseline records, so nothing can be explained; got "
                f"{base.value.tolist()!r}. Check that the model answers for the baseline rows."
            )
        self._driver.model_rows += base.model_rows
        self._driver.model_calls += base.model_calls
        self._driver.model_seconds += base.model_seconds
        if options.on_start is not None:
            options.on_start(None, len(explained))
        return ShapPlan(
            feature_names=tuple(explained),
            players=tuple(tuple(p) for p in players),
            player_names=player_names,
            base_value=base.value,
            **common,
        )

    # run / merge --------------------------------------------------------------------------------
    def run(self, plan: ShapPlan, chunk: DataChunk, model: Predictor) -> ShapPart:
        return run_text(plan, chunk, model) if plan.text_columns else run_tabular(plan, chunk, model)

    def merge(self, a: ShapPart, b: ShapPart) -> ShapPart:
        """The sums and counts of two adjacent partitions. Local values are not carried along: the driver
        has written them already (see :meth:`consume`), so a merged part holds none."""
        return ShapPart(
            start=a.start,
            n=a.n + b.n,
            totals=b.totals[:0],
            f_x=b.f_x[:0],
            ok=b.ok[:0],
            aggregate=a.aggregate.merge(b.aggregate),
            base=a.base.merge(b.base),
            model_rows=a.model_rows + b.model_rows,
            model_calls=a.model_calls + b.model_calls,
            model_seconds=a.model_seconds + b.model_seconds,
            num_samples=max(a.num_samples, b.num_samples),
            exact=a.exact and b.exact,
            not_met=a.not_met + b.not_met,
            used=a.used + b.used,
            stderr=b.stderr[:0] if b.stderr is not None else None,
        )

    # the driver ---------------------------------------------------------------------------------
    def consume(self, plan: ShapPlan, part: ShapPart, job: Job) -> None:
        d = self._driver
        if d.n_rows == 0 and part.n:
            d.first_phi, d.first_fx = part.totals[0], part.f_x[0]
        if plan.text_columns:
            self._write_text(plan, part, job)
        else:
            self._write_tabular(plan, part, job)
        d.failed_rows.extend((part.start + np.flatnonzero(~part.ok)).tolist())
        d.n_rows += part.n
        if plan.progress is None and job.options.progress is not None and part.n:
            job.options.progress(part.n)
        d.model_rows += part.model_rows
        d.model_calls += part.model_calls
        d.model_seconds += part.model_seconds
        if part.n:
            d.num_samples = max(d.num_samples, part.num_samples) if plan.text_columns else part.num_samples
            d.exact = d.exact and part.exact
        d.not_met.extend(part.not_met)
        d.used += part.used

    def _write_tabular(self, plan: ShapPlan, part: ShapPart, job: Job) -> None:
        d = self._driver
        if plan.shap.save_local_shap_values and d.csv is None:
            schema = job.schema
            d.csv = LocalShapCsvWriter(
                job.stage.path(LOCAL_SHAP_CSV), plan.feature_names, plan.labels, schema.joinsource_name,
                stderr=plan.shap.save_local_shap_stderr,
            )  # fmt: skip
            d.predictions = PredictionsJsonlWriter(job.stage.path(PREDICTIONS_JSONL))
        if d.csv is not None:
            # a failed record's row has empty cells
            d.csv.write(part.totals, part.join_source, part.stderr if plan.shap.save_local_shap_stderr else None)
        if d.predictions is not None:
            d.predictions.write(part.f_x, part.label)

    def _write_text(self, plan: ShapPlan, part: ShapPart, job: Job) -> None:
        d = self._driver
        if plan.shap.save_local_shap_values and d.jsonl is None:
            d.jsonl = LocalShapJsonlWriter(job.stage.path(LOCAL_SHAP_JSONL))
            d.predictions = PredictionsJsonlWriter(job.stage.path(PREDICTIONS_JSONL))
        res = part.text
        names, kinds = plan.feature_names, plan.kinds
        text_set = set(plan.text_columns)
        js = part.join_source
        if d.predictions is not None:
            d.predictions.write(res.f_x, part.label)
        assert d.top is not None  # noqa: S101 - made by a text plan
        for i in range(part.n):
            phi, players = res.phi[i], res.players[i]
            if not part.ok[i]:
                if d.jsonl is not None:
                    failure: dict[str, Any] = {"explanations": [], "error": _FAILED_RECORD}
                    if js is not None:
                        failure["join_source_value"] = json_value(js[i])
                    d.jsonl.write(failure)
                continue
            by_column = _by_column(players)
            units_of: dict[int, list[str]] = {}
            for j, name in enumerate(names):
                idx = by_column.get(j, [])
                if name in text_set:
                    text = res.texts[i][j]
                    units_of[j] = [text[players[p].start : players[p].end] for p in idx]
                    if not idx:
                        d.empty_rows.append(part.start + i)
                    d.top.add(name, units_of[j], phi[idx])
            if d.jsonl is not None:
                join = json_value(js[i]) if js is not None else _NO_JOIN
                se = res.stderr[i] if plan.shap.save_local_shap_stderr and res.stderr is not None else None
                d.jsonl.write_parts(_text_record(names, kinds, phi, players, by_column, units_of, join, se))

    def close(self, plan: ShapPlan) -> None:
        self._driver.close()

    # finish -------------------------------------------------------------------------------------
    def finish(self, plan: ShapPlan, total: ShapPart | None, job: Job) -> Finished:
        d = self._driver
        d.close()
        if total is None or d.n_rows == 0:
            raise DataError(
                f"dataset '{job.location}': no records to explain; got 0 rows. Give a dataset with records."
            )
        how: Literal["mean", "median"] = "median" if plan.shap.agg_method == "median" else "mean"
        failed = d.failed_rows
        if plan.text_columns:
            if d.empty_rows:
                shown = ", ".join(str(r) for r in d.empty_rows[:5]) + (", ..." if len(d.empty_rows) > 5 else "")
                warnings.warn(
                    f"{len(d.empty_rows)} records have a text with no units (empty or whitespace only; records "
                    f"{shown}, numbered from 0): their text gets no attributions.",
                    OpenClarifyWarning,
                    stacklevel=4,
                )
            if total.base.count == 0:
                raise ModelError(
                    f"model: gave no scores for any of the {d.n_rows} records' coalitions; nothing was explained."
                )
            global_values = total.aggregate.aggregate(how)
            expected = total.base.aggregate("mean")[0]
            assert d.top is not None  # noqa: S101 - made by a text plan
            top_text = d.top.result(len(plan.labels))
            for k in range(len(plan.labels)):
                for name in plan.text_columns:
                    top_text[k].setdefault(name, {})
            section = kernel_shap_section(plan.labels, plan.feature_names, global_values, expected, top_text)
        else:
            if total.aggregate.count == 0:
                raise ModelError(f"model: gave no scores for any of the {d.n_rows} records; nothing was explained.")
            global_values = total.aggregate.aggregate(how)
            assert plan.base_value is not None  # noqa: S101 - a tabular plan has one
            expected = plan.base_value
            top_text = []
            section = kernel_shap_section(plan.labels, plan.feature_names, global_values, expected)
        extra: dict[str, Any] = {}
        if failed:
            if len(failed) == d.n_rows:
                raise ModelError(f"model: gave no scores for any of the {d.n_rows} records; nothing was explained.")
            shown = ", ".join(str(r) for r in failed[:10]) + (", ..." if len(failed) > 10 else "")
            warnings.warn(
                f"{len(failed)} of {d.n_rows} records could not be explained because the model "
                f"failed on them (records {shown}, numbered from 0); they are left out of the global values "
                "and listed in analysis.json under failed_records.",
                OpenClarifyWarning,
                stacklevel=4,
            )
            extra["failed_records"] = {"count": len(failed), "rows": failed[:_MAX_LISTED]}
        write_baseline_csv(job.stage.path(BASELINE_CSV), plan.baseline)
        result = ShapSummary(
            labels=plan.labels,
            feature_names=plan.feature_names,
            global_values=global_values,
            expected_value=expected,
            first_phi=d.first_phi,
            first_fx=d.first_fx,
            n_rows=d.n_rows,
            n_baseline_rows=len(plan.baseline),
            num_samples=d.num_samples,
            exact=d.exact,
            model_rows=d.model_rows,
            model_calls=d.model_calls,
            model_seconds=d.model_seconds,
            text_columns=plan.text_columns,
            top_text=tuple(top_text),
            failed_rows=tuple(failed),
        )
        summary: dict[str, Any] = {
            "labels": list(plan.labels),
            "n_rows": d.n_rows,
            "n_failed": len(failed),
            "n_baseline_rows": len(plan.baseline),
            "num_samples": d.num_samples,
            "exact": d.exact,
            "estimator": plan.shap.estimator,
            "seed": plan.seed,
            "seconds": None,
            "model_calls": d.model_calls,
            "model_rows": d.model_rows,
            "model_seconds": round(d.model_seconds, 3),
            "text_columns": list(plan.text_columns),
            "text_whitespace": plan.text_whitespace,
        }
        if plan.shap.target_error is not None:
            # which records reached the target (numbered from 0) and what they cost
            summary["target_error"] = {
                "target": plan.shap.target_error,
                "records_met": d.n_rows - len(d.not_met),
                "records_not_met": {"count": len(d.not_met), "rows": d.not_met[:_MAX_LISTED]},
                "mean_num_samples": round(d.used / d.n_rows, 3) if d.n_rows else 0.0,
            }
        return Finished("kernel_shap", section, extra, summary, result)
