"""Kernel SHAP for tabular records: sampler + game + constrained solver, for many rows at once."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from .._typing import ESTIMATOR_NAMES, BoolArray, Estimator, FloatArray, IntArray, SizeAllocation
from ..backends import get_executor
from ..errors import ApproximationWarning, ConfigError, DataError, ModelError
from ..models import CallablePredictor, Predictor, as_predictor
from ._coalitions import CoalitionCache, default_num_samples, plan_coalitions, sample_coalitions
from ._game import TabularGame, blame_data
from ._play import Unit, logit, play, play_on
from ._rounds import play_rounds

__all__ = [
    "ESTIMATORS",
    "GP_MAX_NUM_SAMPLES",
    "MAX_NUM_SAMPLES",
    "MAX_SEED",
    "BaseValue",
    "ShapResult",
    "base_value",
    "blame_data",
    "kernel_shap",
]

# Masked records built and solved together (bounds memory: about this many records x features).
_UNIT_RECORDS = 1 << 16
# Largest budget: every coalition of 20 players (2**20 - 2 <= 2**20). One record's coalitions then take
# about 2**20 x n_players bytes and 2**20 x n_baseline model rows (about 1 s and 300 MB for 40 features
# and one baseline row with a trivial model); the config's methods.shap.num_samples has the same bound.
MAX_NUM_SAMPLES = 1 << 20
#: The largest sampled budget the ``gp`` estimator takes (a design of 4,096 pairs: about 10 s to factorise once).
GP_MAX_NUM_SAMPLES: Final = 8192
#: How Shapley values are estimated from the sampled coalitions (``kernel_shap(estimator=...)``).
ESTIMATORS: Final[tuple[Estimator, ...]] = ESTIMATOR_NAMES
# Seeds key the counter-based generator modulo 2**64 (see _random.py): larger ones would repeat smaller ones.
MAX_SEED = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class ShapResult:
    """Local Shapley values of a batch of records.

    ``phi`` has shape ``(n_instances, n_players, n_outputs)``, ``f_x`` ``(n_instances, n_outputs)``
    and ``base_value`` ``(n_outputs,)``; ``phi.sum(axis=1) == f_x - base_value`` (efficiency).
    With ``use_logit`` all three are in log-odds.
    """

    phi: FloatArray
    base_value: FloatArray
    f_x: FloatArray
    player_names: tuple[str, ...]
    num_samples: int
    exact: bool
    model_rows: int
    model_calls: int
    model_seconds: float
    seconds: float
    #: like ``phi``: the standard error of each value (``estimator="gp"``; zeros when ``exact``), else None
    stderr: FloatArray | None = None
    estimator: str = "kernel"
    #: with ``target_error``: the coalitions each record used, and whether its largest standard error is
    #: at most the target (False: the budget ran out first); else None
    record_num_samples: IntArray | None = None
    target_met: BoolArray | None = None


def _as_frame(data: Any, columns: Sequence[str] | None, what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ConfigError(f"must be a 2-D table (n_rows, n_features); got an array of shape {arr.shape}.", path=what)
    if arr.dtype.kind in "biuf":
        arr = arr.astype(np.float64, copy=False)
    # an object Index: pandas 3 would otherwise infer an Arrow-backed string Index, slowly
    cols = pd.Index(
        list(columns) if columns is not None else [f"column_{i}" for i in range(arr.shape[1])], dtype=object
    )
    return pd.DataFrame(arr, columns=cols, copy=arr is not data)


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_seed_and_budget(seed: object, num_samples: object, maximum: int, why: str) -> None:
    """Refuse a seed outside ``[0, 2**64 - 1]`` (seeds are never reduced, so seed 2**64 is not seed 0) and a
    budget below 1 or above ``maximum`` (``why`` says what bounds it)."""
    if seed is not None and not (_is_int(seed) and 0 <= seed <= MAX_SEED):  # type: ignore[operator]
        raise ConfigError(f"must be an integer between 0 and 2**64 - 1; got {seed!r}.", path="seed")
    if num_samples is not None and not (_is_int(num_samples) and num_samples >= 1):  # type: ignore[operator]
        raise ConfigError(f"must be an integer >= 1; got {num_samples!r}.", path="num_samples")
    if num_samples is not None and num_samples > maximum:  # type: ignore[operator]
        raise ConfigError(f"must be at most {maximum} ({why}); got {num_samples!r}.", path="num_samples")


@dataclass(frozen=True, slots=True)
class BaseValue:
    """The mean score over the baseline rows (in log-odds with ``use_logit``) and what computing it cost."""

    value: FloatArray
    model_rows: int
    model_calls: int
    model_seconds: float


def check_target_error(target_error: object, estimator: str) -> None:
    """``target_error``: None, or a finite number > 0 with the ``gp`` estimator (whose errors it stops on)."""
    if target_error is None:
        return
    if isinstance(target_error, bool) or not isinstance(target_error, int | float) or not target_error > 0:
        raise ConfigError(f"must be a number > 0; got {target_error!r}.", path="target_error")
    if not np.isfinite(target_error):
        raise ConfigError(f"must be a finite number; got {target_error!r}.", path="target_error")
    if estimator != "gp":
        raise ConfigError(
            f"needs estimator 'gp' (the standard errors it stops on); got estimator {estimator!r}.",
            path="target_error",
        )


def base_value(
    model: Predictor, baseline: pd.DataFrame, *, use_logit: bool = False, max_batch_rows: int = 16384
) -> BaseValue:
    """``base_value`` of :func:`kernel_shap` for ``baseline``, computed once (pass ``.value`` to each call)."""
    game = TabularGame(model, baseline, np.arange(baseline.shape[1], dtype=np.int64), max_batch_rows)
    value = _mean_baseline_score(game, use_logit)
    return BaseValue(value, game.model_rows, game.model_calls, game.model_seconds)


def _mean_baseline_score(game: TabularGame, use_logit: bool) -> FloatArray:
    """The mean score over the game's baseline rows (log-odds with ``use_logit``), counted on ``game``."""
    try:
        scores = game.predict_all(game.baseline)
    except DataError as exc:
        raise (blame_data(exc, game.predictor, [("baseline", game.baseline, 0)]) or exc) from exc.__cause__
    value = scores.mean(axis=0)
    if use_logit:
        value = logit(value, "mean baseline score")
    return np.asarray(value, dtype=np.float64)


def kernel_shap(
    model: Predictor | Callable[[Any], Any],
    X: Any,
    baseline: Any,
    *,
    num_samples: int | None = None,
    seed: int | None = None,
    use_logit: bool = False,
    players: Sequence[Sequence[str]] | None = None,
    player_names: Sequence[str] | None = None,
    max_batch_rows: int = 16384,
    allocation: SizeAllocation = "leverage",
    first_row: int = 0,
    base_value: FloatArray | None = None,
    progress: Callable[[int], None] | None = None,
    n_jobs: int = 1,
    f_x: FloatArray | None = None,
    fold_records: bool = False,
    coalition_cache: CoalitionCache | None = None,
    estimator: Estimator = "kernel",
    target_error: float | None = None,
) -> ShapResult:
    """Kernel SHAP values of ``X`` against a (multi-row) ``baseline``.

    Parameters
    ----------
    model
        A :class:`~openclarify.models.Predictor`, or a callable taking records and returning one score
        or score vector per record (it receives a 2-D array when ``X`` is an array, else a DataFrame).
    X
        Records to explain, shape ``(n_instances, n_features)``.
    baseline
        Reference records, shape ``(n_baseline, n_features)``; masked features take their values and
        ``base_value`` is the mean score over them.
    num_samples
        Coalitions evaluated per record, at most :data:`MAX_NUM_SAMPLES` (``2**20``); default
        ``min(2 * n_players + 2048, 2**n_players - 2)``. With ``num_samples >= 2**n_players - 2`` every
        coalition is enumerated and the values are exact.
    seed
        An integer in ``[0, 2**64 - 1]``. Makes the result bit-for-bit reproducible: a record's
        coalitions depend only on the seed and its record number (``first_row`` + its position),
        whatever the batch size or chunking.
    use_logit
        Explain ``logit(score)`` instead of the score.
    players
        Groups of feature columns that act as one player each; together they must cover every column
        exactly once. Default: one player per column.
    player_names
        Names of the players; default the column names (or ``"+".join`` of a group).
    max_batch_rows
        Largest number of records sent to the model in one call.
    allocation
        How the sampled budget is spread over coalition sizes (``"leverage"`` or ``"kernel"``).
    first_row
        Global row number of ``X``'s first row; sampling is keyed on global row numbers.
    base_value
        Mean baseline score if already known (skips one model call).
    progress
        Called with the number of rows finished after each group of rows.
    n_jobs
        Worker threads that build masked records, call the model and solve, each on its own group
        of rows. Results are bit-identical for any ``n_jobs``. Worth it when the model releases the
        GIL while it predicts (scikit-learn trees, numpy-heavy models) and is not multi-threaded
        itself; the model must be safe to call from several threads.
    f_x
        The model's scores of ``X`` if already known, shape ``(n_instances, n_outputs)`` (before
        ``use_logit``); skips one model call. They must be what the model answers for these records.
    fold_records
        Score ``X`` itself in the first model call of its masked records (one call fewer) when its
        records are solved together (a few records; ``n_jobs=1``); the values are the same.
    coalition_cache
        Where the drawn coalitions of record numbers explained again are kept (the same values).
    estimator
        ``"kernel"``: Kernel SHAP's constrained regression on each record's own coalitions. ``"gp"``:
        Gaussian-process regression on the odd part of the game (see ``_gp.py``), with a standard error
        for every value (``ShapResult.stderr``); every record shares one design up to a relabelling of
        its players drawn from its record number. Both are exact when the budget covers every coalition.
    target_error
        With ``estimator="gp"``: sample in rounds (``_rounds.py``) until every standard error of a record is
        at most this, or ``num_samples`` is spent; ``ShapResult.record_num_samples`` and ``target_met``
        say how far each record went. Rows are then explained one group after another (``n_jobs`` is not
        used) and ``coalition_cache`` / ``fold_records`` do not apply.

    Returns
    -------
    ShapResult

    Raises
    ------
    ConfigError
        Invalid parameters.
    ModelError
        The model failed or returned scores of the wrong shape.
    DataError
        The model failed, or returned a non-finite score, on records built from a record of ``X`` or
        ``baseline`` that holds a missing or infinite number: the error names that record and column.
        Models that accept missing values are called with them as usual.
    """
    started = time.perf_counter()
    frame = _as_frame(X, None, "X")
    columns = list(frame.columns)
    base = _as_frame(baseline, columns, "baseline")
    if list(base.columns) != columns:
        raise ConfigError(f"must have the columns of X {columns!r}; got {list(base.columns)!r}.", path="baseline")
    if len(base) == 0:
        raise ConfigError("needs at least one row; got 0.", path="baseline")
    if not isinstance(X, pd.DataFrame) and not isinstance(model, Predictor) and callable(model):
        predictor: Predictor = CallablePredictor(model, as_numpy=True)
    else:
        predictor = as_predictor(model)
    if max_batch_rows < 1:
        raise ConfigError(f"must be >= 1; got {max_batch_rows!r}.", path="max_batch_rows")
    if n_jobs < 1:
        raise ConfigError(f"must be >= 1; got {n_jobs!r}.", path="n_jobs")
    if estimator not in ESTIMATORS:
        raise ConfigError(f"must be one of {', '.join(ESTIMATORS)}; got {estimator!r}.", path="estimator")
    check_target_error(target_error, estimator)
    check_seed_and_budget(
        seed,
        num_samples,
        MAX_NUM_SAMPLES,
        "2**20: every coalition of 20 players; larger budgets do not finish in memory",
    )

    groups = [list(g) for g in players] if players is not None else [[c] for c in columns]
    owner = np.full(len(columns), -1, dtype=np.int64)
    for p, group in enumerate(groups):
        for name in group:
            if name not in columns:
                raise ConfigError(f"unknown column {name!r}; columns are {columns!r}.", path=f"players[{p}]")
            j = columns.index(name)
            if owner[j] >= 0:
                raise ConfigError(f"column {name!r} is in two groups.", path=f"players[{p}]")
            owner[j] = p
    if (owner < 0).any():
        missing = [c for c, o in zip(columns, owner, strict=True) if o < 0]
        raise ConfigError(f"every column must belong to a group; got no group for {missing!r}.", path="players")
    n_players = len(groups)
    if n_players == 0:
        raise ConfigError("needs at least one feature; got 0.", path="X")
    names = tuple(player_names) if player_names is not None else tuple("+".join(map(str, g)) for g in groups)

    budget = default_num_samples(n_players) if num_samples is None else int(num_samples)
    plan = plan_coalitions(n_players, budget, allocation)
    if estimator == "gp" and not plan.exact and plan.n_coalitions > GP_MAX_NUM_SAMPLES:
        raise ConfigError(
            f"must be at most {GP_MAX_NUM_SAMPLES} with estimator 'gp' (its solve grows with the cube of the "
            f"budget), or cover every coalition ({2**n_players - 2 if n_players < 64 else 'more'}); got {budget}. "
            "Use a smaller budget (the gp estimator needs fewer coalitions for the same error) or estimator 'kernel'.",
            path="num_samples",
        )
    if 1 < n_players and plan.n_coalitions < n_players - 1:
        warnings.warn(
            f"num_samples={budget} gives {plan.n_coalitions} coalitions for {n_players} players; the "
            f"regression is underdetermined. Use num_samples >= {2 * n_players}.",
            ApproximationWarning,
            stacklevel=2,
        )
    weights = plan.weights()
    if seed is None:
        seed = int(np.random.SeedSequence().entropy) & (2**64 - 1)  # type: ignore[arg-type]

    game = TabularGame(predictor, base, owner, max_batch_rows)
    if base_value is None:
        base_value = _mean_baseline_score(game, use_logit)
    base_value = np.asarray(base_value, dtype=np.float64)

    n_rows = len(frame)
    n_coal = plan.n_coalitions
    # rows solved together: about 4 model calls' worth of masked records, at most _UNIT_RECORDS
    rows_per_unit = max(1, min(_UNIT_RECORDS, 4 * max_batch_rows) // max(1, n_coal * len(base)))
    folded = fold_records and f_x is None and not use_logit and n_jobs == 1 and 0 < n_rows <= rows_per_unit
    rounds = target_error is not None and n_coal > 0
    folded = folded and n_coal > 0 and not rounds
    if f_x is not None:
        f_x_all = np.asarray(f_x, dtype=np.float64)
        if f_x_all.ndim != 2 or f_x_all.shape[0] != n_rows:
            raise ConfigError(f"must have shape ({n_rows}, n_outputs); got {f_x_all.shape}.", path="f_x")
    elif folded:  # scored with the first masked records; filled in once they are
        game.prefix = frame
        f_x_all = np.zeros((n_rows, base_value.shape[0]))
    else:
        try:
            f_x_all = game.predict_all(frame)
        except DataError as exc:
            raise (blame_data(exc, predictor, [("dataset", frame, first_row)]) or exc) from exc.__cause__
    if f_x_all.shape[1] != base_value.shape[0]:
        raise ModelError(
            f"model: returned {f_x_all.shape[1]} scores per record for the explained rows but "
            f"{base_value.shape[0]} for the baseline rows. Return the same number of scores for every record."
        )
    if use_logit:
        f_x_all = logit(f_x_all, "explained records")
    z_shared = sample_coalitions(plan, np.zeros(1, dtype=np.int64), 0) if plan.exact else None
    units = (
        Unit(
            first=start,
            rows=np.arange(first_row + start, first_row + min(n_rows, start + rows_per_unit), dtype=np.int64),
            plan=plan,
            weights=weights,
            f_x=f_x_all[start : start + rows_per_unit],
            base_value=base_value,
            data=frame.iloc[start : start + rows_per_unit],
            estimator=estimator,
            z=z_shared
            if z_shared is not None or coalition_cache is None or estimator != "kernel"
            else coalition_cache.draw(
                plan,
                np.arange(first_row + start, first_row + min(n_rows, start + rows_per_unit), dtype=np.int64),
                seed,
                fused=game.fused,
            ),
        )
        for start in range(0, n_rows, rows_per_unit)
    )
    phi = np.zeros((n_rows, n_players, base_value.shape[0]))
    stderr: FloatArray | None = None
    used: IntArray | None = None
    met: BoolArray | None = None
    if rounds:
        assert target_error is not None  # noqa: S101 - rounds need it
        used, met = np.zeros(n_rows, dtype=np.int64), np.zeros(n_rows, dtype=bool)
        played = []
        for unit, went in play_rounds(game, units, seed, use_logit, float(target_error), allocation):
            used[unit.first : unit.first + len(unit.rows)] = went.used
            met[unit.first : unit.first + len(unit.rows)] = went.met
            played.append(unit)
        solved: Iterable[Unit] = played
    elif n_jobs > 1 and n_rows > rows_per_unit:
        solved = play_on(get_executor("threads", n_jobs), game, units, seed, use_logit)
    else:
        solved = play(game, units, seed, use_logit)
    for unit in solved:
        assert unit.phi is not None  # noqa: S101 - the loop solved it
        phi[unit.first : unit.first + len(unit.rows)] = unit.phi
        if unit.stderr is not None:
            if stderr is None:
                stderr = np.zeros_like(phi)
            stderr[unit.first : unit.first + len(unit.rows)] = unit.stderr
        if progress is not None:
            progress(len(unit.rows))

    return ShapResult(
        phi=phi,
        base_value=base_value,
        f_x=f_x_all,
        player_names=names,
        num_samples=n_coal,
        exact=plan.exact,
        model_rows=game.model_rows,
        model_calls=game.model_calls,
        model_seconds=game.model_seconds,
        seconds=time.perf_counter() - started,
        stderr=stderr,
        estimator=estimator,
        record_num_samples=used,
        target_met=met,
    )
