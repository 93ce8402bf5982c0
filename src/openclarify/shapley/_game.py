"""The tabular value function: coalitions -> masked records -> model scores averaged over the baseline.

``v(S) = mean_k f(x_S, b_k,-S)`` (the interventional game shap's KernelExplainer and Clarify use):
features in the coalition keep the record's value, the others take the value of baseline row ``k``.
Records of many explained rows are built and scored together in batches of up to
``max_batch_rows``, never one model call per coalition.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from .._typing import BoolArray, FloatArray, IntArray
from ..errors import DataError, ModelError
from ..models import Predictor
from ..models._protocol import batches_as_given, first_non_finite
from ._play import ModelCalls, Unit

__all__ = ["TabularGame", "blame_data"]

_FIX_MISSING = (
    "Fill in or drop the records with missing or infinite numbers, or use a model that accepts missing "
    "values (e.g. a pipeline with SimpleImputer)."
)


def blame_data(
    exc: DataError, predictor: Predictor, parts: Sequence[tuple[str, pd.DataFrame, int]]
) -> DataError | None:
    """A model failed on records holding a missing or infinite number (``exc``, from the predictor):
    the same error naming the first such record of ``parts`` (``(what, frame, number of its first row)``,
    in order), or None when none holds one (``exc`` then stands)."""
    for what, frame, first in parts:
        cell = first_non_finite(frame)
        if cell is None:
            continue
        row, column, value = cell
        name = getattr(predictor, "name", None)
        model = f"model {name!r}" if name is not None else "the model"
        cause = exc.__cause__
        said = (
            f"raised {type(cause).__name__} on records built from it: {cause}"
            if cause is not None
            else "returned a non-finite score for records built from it"
        )
        return DataError(
            f"{what} record {first + row} (numbered from 0), column {column!r}: {model} {said}; got {value!r}. "
            f"{_FIX_MISSING}"
        )
    return None


#: Characters of string cells in one model call, about (as the text estimator's ``max_batch_chars``).
MAX_BATCH_CHARS = 1 << 25


def _longest(column: np.ndarray) -> int:
    """Length of the longest string in ``column`` (0 for a numeric column)."""
    if column.dtype.kind in "biufcmM":
        return 0
    return max((len(v) for v in column.tolist() if isinstance(v, str)), default=0)


@dataclass(slots=True)
class TabularGame:
    """Masked-record builder and model caller for one set of explained rows.

    ``player_of_feature[j]`` is the player that owns feature column ``j``. A game counts its own model
    calls; work running elsewhere uses its own :meth:`fresh` copy and reports its counts back.
    It is a :class:`~._play.Game`: a unit's ``data`` is its explained records (a frame), scored at once.
    """

    fused: ClassVar[bool] = False
    one_blas_thread: ClassVar[bool] = False

    predictor: Predictor
    baseline: pd.DataFrame
    player_of_feature: IntArray
    max_batch_rows: int
    model_seconds: float = 0.0
    model_rows: int = 0
    model_calls: int = 0
    # records scored in the same model call as the first masked records (one call fewer, for a few
    # records explained at once); their scores land in prefix_scores
    prefix: pd.DataFrame | None = None
    prefix_scores: FloatArray | None = None
    _numeric: bool = field(init=False)
    _base_cols: list[np.ndarray] = field(init=False)
    _base_longest: int = field(init=False)  # characters of the baseline's longest strings, per column summed

    def __post_init__(self) -> None:
        self._numeric = all(pd.api.types.is_float_dtype(t) for t in self.baseline.dtypes)
        self._base_cols = (
            [] if self._numeric else [self.baseline.iloc[:, j].to_numpy() for j in range(self.baseline.shape[1])]
        )
        self._base_longest = sum(_longest(column) for column in self._base_cols)

    def predict(self, records: pd.DataFrame, *, as_given: bool = False) -> FloatArray:
        """The model's scores of ``records``, counted (``as_given``: a call bounded by characters, not filled
        up to a multiple of ROW_MULTIPLE rows)."""
        start = time.perf_counter()
        with batches_as_given() if as_given else contextlib.nullcontext():
            scores = self.predictor.predict(records)
        self.model_seconds += time.perf_counter() - start
        self.model_rows += len(records)
        self.model_calls += 1
        return scores

    def fresh(self) -> TabularGame:
        """The same game with its own (zero) call counts; the baseline is measured once, not again."""
        game = object.__new__(TabularGame)
        for name in (
            "predictor",
            "baseline",
            "player_of_feature",
            "max_batch_rows",
            "_numeric",
            "_base_cols",
            "_base_longest",
        ):
            object.__setattr__(game, name, getattr(self, name))
        game.model_seconds, game.model_rows, game.model_calls = 0.0, 0, 0
        game.prefix = game.prefix_scores = None
        return game

    def calls(self) -> ModelCalls:
        return ModelCalls(self.model_rows, self.model_calls, self.model_seconds)

    def count(self, calls: ModelCalls) -> None:
        self.model_rows += calls.rows
        self.model_calls += calls.calls
        self.model_seconds += calls.seconds

    def score(self, unit: Unit) -> None:
        """Values of ``unit``'s coalitions for its records ``unit.data``, now."""
        x_unit: pd.DataFrame = unit.data
        if unit.plan.n_coalitions and unit.z is not None:
            try:
                unit.values = self.values(x_unit, unit.z)
            except DataError as exc:
                parts = [("dataset", x_unit, int(unit.rows[0])), ("baseline", self.baseline, 0)]
                raise (blame_data(exc, self.predictor, parts) or exc) from exc.__cause__
            if self.prefix_scores is not None:  # the records' own scores came with their coalitions'
                scores, self.prefix_scores = self.prefix_scores, None
                if scores.shape != unit.f_x.shape:
                    raise ModelError(
                        f"model: returned {scores.shape[1]} scores per record for the explained rows but "
                        f"{unit.f_x.shape[1]} for the baseline rows. Return the same number of scores for every record."
                    )
                unit.f_x[...] = scores  # a view of the caller's f_x
        else:
            unit.values = np.zeros((len(x_unit), 0, unit.f_x.shape[1]))

    def flush(self) -> None:
        """Nothing is held back: :meth:`score` scores at once."""

    def predict_all(self, records: pd.DataFrame) -> FloatArray:
        """Scores of ``records`` in calls of at most ``max_batch_rows`` records."""
        parts = [
            self.predict(records.iloc[i : i + self.max_batch_rows]) for i in range(0, len(records), self.max_batch_rows)
        ]
        if not parts:
            return np.zeros((0, 0))
        if len({p.shape[1] for p in parts}) > 1:
            raise ModelError(
                "model: returned different numbers of scores per record for different batches. "
                "Return the same number of scores for every record."
            )
        return np.concatenate(parts)

    def values(self, x: pd.DataFrame, z: BoolArray) -> FloatArray:
        """Mean model score over the baseline rows for every (row, coalition).

        Parameters
        ----------
        x
            The explained records, ``n_instances`` rows, columns in the baseline's order.
        z
            Coalitions, shape ``(n_instances or 1, n_coalitions, n_players)``.

        Returns
        -------
        values
            Shape ``(n_instances, n_coalitions, n_outputs)``.
        """
        n_rows, n_coal = len(x), z.shape[1]
        n_base = len(self.baseline)
        per_row = n_coal * n_base
        identity = bool(np.array_equal(self.player_of_feature, np.arange(len(self.player_of_feature))))
        limit = self.max_batch_rows
        by_chars = False  # calls bounded by characters go as they are (no copies of a huge cell to fill them up)
        if self._numeric:
            x_data: list[np.ndarray] = [x.to_numpy(dtype=np.float64)]
            b_data = [self.baseline.to_numpy(dtype=np.float64)]
        else:
            x_data = [x.iloc[:, j].to_numpy() for j in range(x.shape[1])]
            b_data = self._base_cols
            # a masked record holds the longest strings of its columns at worst: calls of about
            # MAX_BATCH_CHARS characters, so one huge cell never makes a call of thousands of its copies
            widest = sum(_longest(xj) for xj in x_data) + self._base_longest
            fit = MAX_BATCH_CHARS // max(1, widest)
            if fit < limit:
                limit, by_chars = max(1, fit), True
        # Slices of (rows, coalitions) whose masked records fill about one model call each; the
        # records are built by broadcasting, without gathering index arrays.
        if per_row <= limit:
            step_r, step_c = max(1, limit // per_row), n_coal
        else:
            step_r, step_c = 1, max(1, limit // n_base)
        out: FloatArray | None = None
        for r0 in range(0, n_rows, step_r):
            r1 = min(n_rows, r0 + step_r)
            for c0 in range(0, n_coal, step_c):
                c1 = min(n_coal, c0 + step_c)
                zs = z[r0:r1] if z.shape[0] > 1 else z[:1]
                mask = zs[:, c0:c1] if identity else zs[:, c0:c1][..., self.player_of_feature]
                records = self._records(mask, x_data, b_data, r0, r1)
                if self.prefix is not None:  # the explained records themselves, in the same call
                    n_prefix = len(self.prefix)
                    if self._numeric:  # one array: pd.concat costs as much as building the masked records
                        stacked = np.concatenate([self.prefix.to_numpy(dtype=np.float64), records.to_numpy()])
                        both = pd.DataFrame(stacked, columns=self.baseline.columns, copy=False)
                    else:
                        both = pd.concat([self.prefix, records], ignore_index=True)
                    self.prefix = None
                    scores = self.predict(both, as_given=by_chars)
                    self.prefix_scores, scores = scores[:n_prefix], scores[n_prefix:]
                else:
                    scores = self.predict(records, as_given=by_chars)
                if out is None:
                    out = np.empty((n_rows, n_coal, scores.shape[1]))
                elif scores.shape[1] != out.shape[2]:
                    raise ModelError(
                        f"model: returned {scores.shape[1]} scores per record for one batch and {out.shape[2]} "
                        "for another. Return the same number of scores for every record."
                    )
                block = scores.reshape(r1 - r0, c1 - c0, n_base, -1)
                out[r0:r1, c0:c1] = block[:, :, 0] if n_base == 1 else block.mean(axis=2)
        if out is None:
            return np.zeros((n_rows, n_coal, 0))
        return out

    def _records(
        self, mask: BoolArray, x_data: list[np.ndarray], b_data: list[np.ndarray], r0: int, r1: int
    ) -> pd.DataFrame:
        """Records for rows ``r0:r1`` x the coalitions in ``mask`` x every baseline row."""
        n_rows = r1 - r0
        n_coal = mask.shape[1]
        n_base = len(self.baseline)
        if mask.shape[0] == 1 and n_rows > 1:
            mask = np.broadcast_to(mask, (n_rows, *mask.shape[1:]))
        m4 = mask[:, :, None, :]  # (rows, coalitions, 1, features)
        total = n_rows * n_coal * n_base
        if self._numeric:
            # Flat, contiguous operands: each record's values repeated per (coalition, baseline row),
            # the baseline rows tiled, then one np.where over 1-D arrays (broadcasting the small
            # feature axis instead makes numpy loop in steps of n_features and runs ~2x slower).
            n_feat = m4.shape[-1]
            x_rep = np.repeat(x_data[0][r0:r1], n_coal * n_base, axis=0).reshape(-1)
            b_rep = np.tile(b_data[0].reshape(-1), n_rows * n_coal)
            keep = np.broadcast_to(m4, (n_rows, n_coal, n_base, n_feat)).reshape(-1)
            data = np.where(keep, x_rep, b_rep).reshape(total, n_feat)
            return pd.DataFrame(data, columns=self.baseline.columns, copy=False)
        columns = {}
        for j, name in enumerate(self.baseline.columns):
            xj = x_data[j][r0:r1][:, None, None]
            bj = b_data[j][None, None, :]
            columns[name] = np.where(m4[..., j], xj, bj).reshape(total)
        return pd.DataFrame(columns).astype(self.baseline.dtypes.to_dict())
