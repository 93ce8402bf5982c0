"""Kernel SHAP of the records of one request (online explanations), with the SHAP analysis's own plan and run.

:class:`OnlineShap` is built once when a server starts: it holds the baseline, its mean score (the base
value of tabular records), the players and the segmenter, exactly as :class:`ShapAnalysis` plans a job.
Each request's records then go through the analysis's own ``run_tabular`` / ``run_text`` as one partition
whose first record number is ``first_row`` (0 by default: a record's number is its position in the
request). So a record explained online has, bit for bit, the values ``openclarify analyze`` gives the
record with that number in a dataset, for the same baseline, ``num_samples`` and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..._typing import Estimator, FloatArray
from ...config import ShapConfig, TextConfig
from ...data import DataChunk
from ...errors import ConfigError, ModelError
from ...models import Predictor
from ...shapley import CoalitionCache, base_value, check_target_error
from ...text import Segmenter, WhitespaceMode
from ._analysis import ShapPart, ShapPlan, run_tabular, run_text

__all__ = ["FeatureAttribution", "OnlineShap", "RecordExplanation", "UnitAttribution"]

FeatureKind = Literal["numerical", "categorical", "text"]


@dataclass(frozen=True, slots=True)
class UnitAttribution:
    """One unit of a text: its text, where it starts in the record's text, its values ``(n_outputs,)``."""

    partial_text: str
    start_idx: int
    attribution: FloatArray
    stderr: FloatArray | None = None  # like attribution: each value's standard error (estimator "gp")


@dataclass(frozen=True, slots=True)
class FeatureAttribution:
    """One feature of a record: a tabular feature's values ``(n_outputs,)``, or a text feature's units."""

    name: str
    kind: FeatureKind
    attribution: FloatArray | None = None
    units: tuple[UnitAttribution, ...] = ()
    stderr: FloatArray | None = None  # like attribution (estimator "gp")


@dataclass(frozen=True, slots=True)
class RecordExplanation:
    """A record's explanation: ``f_x == expected_value + sum of every attribution`` (efficiency, exact)."""

    features: tuple[FeatureAttribution, ...]
    f_x: FloatArray
    expected_value: FloatArray
    num_samples: int
    exact: bool


class OnlineShap:
    """Explains records against a fixed baseline with the SHAP analysis's plan, one request at a time.

    Parameters
    ----------
    model
        The predictor; its scores, shape ``(n_records, n_outputs)``, are what is explained.
    baseline
        Baseline records with the columns and types of the records to explain; in a text column, the
        string that replaces an absent unit (``"<MASK>"``; ``""`` removes it).
    kinds
        ``"numerical"``, ``"categorical"`` or ``"text"`` per column of ``baseline``.
    num_samples, seed, use_logit
        As ``methods.shap``'s; ``num_samples=None`` is the default budget.
    text_config
        Granularity and language of the text columns (required when a column is ``"text"``).
    max_batch_rows
        The most records sent to the model in one call.

    Raises
    ------
    ConfigError
        ``kinds`` does not fit the baseline, or text columns come without ``text_config``.
    ModelError
        The model gives no finite scores for the baseline.
    """

    def __init__(
        self,
        model: Predictor,
        baseline: pd.DataFrame,
        *,
        kinds: Sequence[FeatureKind],
        num_samples: int | None,
        seed: int,
        use_logit: bool = False,
        text_config: TextConfig | None = None,
        max_batch_rows: int = 16384,
        text_whitespace: WhitespaceMode = "keep",
        estimator: Estimator = "kernel",
        target_error: float | None = None,
    ) -> None:
        names = tuple(str(c) for c in baseline.columns)
        if len(kinds) != len(names):
            raise ConfigError(f"must give one kind per column {list(names)!r}; got {list(kinds)!r}.", path="kinds")
        text_cols = tuple(n for n, k in zip(names, kinds, strict=True) if k == "text")
        if text_cols and text_config is None:
            raise ConfigError(
                f"the records have text features {list(text_cols)!r}, but no text configuration; got none. "
                "Give TextConfig with Language and Granularity.",
                path="ShapConfig.TextConfig",
            )
        self.model = model
        self.kinds: tuple[FeatureKind, ...] = tuple(kinds)
        self.feature_names = names
        check_target_error(target_error, estimator)
        shap = ShapConfig(
            num_samples=num_samples,
            use_logit=use_logit,
            seed=seed,
            text_config=text_config,
            estimator=estimator,
            target_error=target_error,
        )
        # a tabular plan's base value is the baseline's mean score: that one model call also checks the scores
        base = None if text_cols else base_value(model, baseline, use_logit=use_logit, max_batch_rows=max_batch_rows)
        scores = model.predict(baseline) if base is None else base.value[None, :]
        if not np.isfinite(scores).all():
            raise ModelError(
                f"model: gave no finite scores for the baseline records; got {scores[:3].tolist()!r}. Check "
                "that the model answers for the baseline."
            )
        self.n_outputs = int(scores.shape[1])
        common = {
            "shap": shap,
            "baseline": baseline,
            "labels": tuple(str(k) for k in range(self.n_outputs)),
            "feature_names": names,
            "seed": seed,
            "max_batch_rows": max_batch_rows,
            "threads": 1,
        }
        if text_cols:
            assert text_config is not None  # noqa: S101 - checked above
            for name in text_cols:  # as the analysis's text baseline: a missing text removes the unit
                baseline[name] = [v if isinstance(v, str) else "" for v in baseline[name].tolist()]
            segmenter = Segmenter(text_config.granularity, text_config.language, whitespace=text_whitespace)
            segmenter("Load the language now.")  # its pipeline (a missing tokenizer fails here, not per request)
            self.plan = ShapPlan(
                text_columns=text_cols,
                kinds=tuple("free_text" if k == "text" else k for k in kinds),
                segmenter=segmenter,
                text_whitespace=text_whitespace,
                **common,
            )
            self.base_value: FloatArray | None = None
        else:
            assert base is not None  # noqa: S101 - made above for a tabular plan
            self.base_value = base.value
            self.plan = ShapPlan(
                players=tuple((n,) for n in names),
                player_names=names,
                base_value=base.value,
                coalition_cache=CoalitionCache(),
                **common,
            )

    @property
    def text(self) -> bool:
        """Whether the records have text features (their base value then differs per record)."""
        return bool(self.plan.text_columns)

    def explain(
        self, records: pd.DataFrame, f_x: FloatArray | None = None, *, first_row: int = 0, fold: bool = False
    ) -> ShapPart:
        """The analysis's partition result for ``records``; ``f_x``, their scores if already known; ``fold``:
        tabular records are scored in the same model call as their first coalitions (one call fewer)."""
        chunk = DataChunk(start_row=first_row, features=records, label=None, join_source=None)
        if self.plan.text_columns:
            return run_text(self.plan, chunk, self.model, f_x)
        return run_tabular(self.plan, chunk, self.model, f_x, fold_records=fold)

    def records(self, part: ShapPart) -> list[RecordExplanation | None]:
        """One explanation per record of ``part`` (``None`` for a record the model gave no scores for)."""
        out: list[RecordExplanation | None] = []
        if not self.plan.text_columns:
            assert self.base_value is not None  # noqa: S101 - a tabular plan has one
            for i in range(part.n):
                if not part.ok[i]:
                    out.append(None)
                    continue
                se = part.stderr
                row = tuple(
                    FeatureAttribution(name, kind, part.totals[i, j], stderr=None if se is None else se[i, j])
                    for j, (name, kind) in enumerate(zip(self.feature_names, self.kinds, strict=True))
                )
                used = int(part.record_num_samples[i]) if part.record_num_samples is not None else part.num_samples
                exact = part.exact and used == part.num_samples
                out.append(RecordExplanation(row, part.f_x[i], self.base_value, used, exact))
            return out
        res = part.text
        for i in range(part.n):
            if not part.ok[i]:
                out.append(None)
                continue
            phi, players = res.phi[i], res.players[i]
            se = res.stderr[i] if res.stderr is not None else None
            by_column: dict[int, list[int]] = {}
            for p, player in enumerate(players):
                by_column.setdefault(player.column, []).append(p)
            features: list[FeatureAttribution] = []
            for j, (name, kind) in enumerate(zip(self.feature_names, self.kinds, strict=True)):
                idx = by_column.get(j, [])
                if kind == "text":
                    text = res.texts[i][j]
                    units = tuple(
                        UnitAttribution(
                            text[players[p].start : players[p].end],
                            players[p].start,
                            phi[p],
                            None if se is None else se[p],
                        )
                        for p in idx
                    )
                    features.append(FeatureAttribution(name, kind, units=units))
                else:
                    stderr = None if se is None else se[idx[0]]
                    features.append(FeatureAttribution(name, kind, attribution=phi[idx[0]], stderr=stderr))
            out.append(
                RecordExplanation(
                    tuple(features), res.f_x[i], res.base_value[i], int(res.num_samples[i]), bool(res.exact[i])
                )
            )
        return out
