"""The one Kernel SHAP loop: plan -> sample -> values -> solve, for any game.

A game (:class:`~._game.TabularGame` for tabular records, :class:`~._text.TextGame` for records with
text) hands the loop its records in *units*: records solved together, with one coalition plan. The
loop draws each unit's coalitions, has the game score them (the values), and solves the constrained
regression once they are in. A game may hold a unit's masked records back and send them in one model
call with the next units' (text records are small, and a fast model must not be called one record
at a time); the loop then solves the units in order as their values arrive.

Nothing here is a closure over shared state: a unit carries everything its solve needs, the work
function :func:`_play_work` is module-level, and each worker plays on its own :meth:`Game.fresh` copy
of the game, so independent units can run on any executor (:func:`play_on`).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._typing import BoolArray, FloatArray, IntArray
from ..backends import Executor
from ..errors import ModelError
from ._coalitions import CoalitionPlan, sample_coalitions
from ._gp import DESIGN_ROW, one_blas_thread, permutations, shuffled, solve_gp
from ._solve import solve

__all__ = ["Game", "ModelCalls", "Unit", "logit", "play", "play_on"]

_LOGIT_EPS = 1e-12
# Below this many players a regression is too small for BLAS threads to pay; they only cost wake-ups,
# and much more than that when another process keeps the cores busy.
THREADED_SOLVE_PLAYERS = 512


def logit(p: FloatArray, what: str) -> FloatArray:
    """``log(p / (1 - p))`` of model scores, which must be in [0, 1] (``what`` names them in the error)."""
    if np.any((p < 0) | (p > 1)):
        bad = p[(p < 0) | (p > 1)].ravel()[0]
        raise ModelError(
            f"methods.shap.use_logit: needs model scores in [0, 1]; got {float(bad)!r}. "
            f"Set use_logit to false or return probabilities ({what})."
        )
    q = np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS)
    return np.asarray(np.log(q) - np.log1p(-q), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class ModelCalls:
    """What scoring cost: records sent to the model, calls, and seconds inside them."""

    rows: int = 0
    calls: int = 0
    seconds: float = 0.0

    def __add__(self, other: ModelCalls) -> ModelCalls:
        return ModelCalls(self.rows + other.rows, self.calls + other.calls, self.seconds + other.seconds)


@dataclass(slots=True, eq=False)
class Unit:
    """Records solved together: one coalition plan, and what their solve needs.

    ``base_value`` is the value of the empty coalition when the game knows it for every record (the
    mean baseline score of a tabular game); ``None`` means it depends on the record (text): the loop
    then scores the empty coalition last, with the others, and such a unit holds one record.
    ``z`` may come from the game (coalitions every record shares); otherwise the loop draws them.
    """

    first: int  # position of its first record among the records the game explains
    rows: IntArray  # record numbers: coalitions are keyed on them
    plan: CoalitionPlan
    weights: FloatArray
    f_x: FloatArray  # (n_rows, n_outputs): the value of the full coalition
    base_value: FloatArray | None  # (n_outputs,)
    data: Any  # what the game builds the masked records from
    z: BoolArray | None = None  # (n_rows or 1, n_coalitions [+ 1 empty], n_players)
    values: FloatArray | None = None  # (n_rows, n_coalitions [+ 1], n_outputs), set by the game once scored
    phi: FloatArray | None = None  # (n_rows, n_players, n_outputs), set by the loop once solved
    base: FloatArray | None = None  # (n_outputs,): the base value the solve used
    estimator: str = "kernel"  # "kernel": Kernel SHAP's regression; "gp": see _gp.py
    stderr: FloatArray | None = None  # like phi: the standard error of each value ("gp"; 0 when exact)
    design: BoolArray | None = None  # "gp": the shared design's halves, (m, n_players)
    perm: IntArray | None = None  # "gp": each record's relabelling of the design, (n_rows, n_players)
    final: bool = True  # the unit's last scoring: the game may free what it builds the masked records from


class Game(Protocol):
    """A value function the loop plays: it scores units' coalitions and counts its model calls."""

    @property
    def fused(self) -> bool:
        """How the loop draws coalitions (see :func:`~._coalitions.sample_coalitions`)."""

    @property
    def one_blas_thread(self) -> bool:
        """Solve small regressions on one BLAS thread (many are solved one record at a time)."""

    def score(self, unit: Unit) -> None:
        """Score the coalitions ``unit.z`` of ``unit``'s records: set ``unit.values`` now, or during a
        later :meth:`score` or :meth:`flush` (the game may send them with later units' records)."""

    def flush(self) -> None:
        """Score everything held back."""

    def calls(self) -> ModelCalls:
        """The model calls this game made (its own, and those :meth:`count` added)."""

    def count(self, calls: ModelCalls) -> None:
        """Add the calls a worker's copy of this game made."""

    def fresh(self) -> Game:
        """The same game with nothing held back and no calls counted, for another worker."""


def _solve_context(game: Game, n_players: int) -> contextlib.AbstractContextManager[Any]:
    if not game.one_blas_thread or n_players >= THREADED_SOLVE_PLAYERS:
        return contextlib.nullcontext()
    return one_blas_thread()


def _sample(game: Game, unit: Unit, seed: int) -> None:
    if unit.z is None and unit.estimator == "gp" and not unit.plan.exact:
        # one design per seed and plan, its players relabelled per record (see _gp.py)
        n = unit.plan.n_players
        shared = (sample_coalitions(unit.plan, DESIGN_ROW, seed, fused=game.fused)[0] if unit.plan.n_coalitions
                  else np.zeros((0, n), dtype=bool))  # fmt: skip
        unit.perm = permutations(seed, unit.rows, n)
        unit.design = shuffled(shared[: shared.shape[0] // 2], seed)
        shared = np.concatenate([unit.design, ~unit.design])
        unit.z = np.ascontiguousarray(shared[:, unit.perm].transpose(1, 0, 2))
    z = unit.z if unit.z is not None else sample_coalitions(unit.plan, unit.rows, seed, fused=game.fused)
    if unit.base_value is None:
        if len(unit.rows) != 1:
            raise ValueError(f"unit: a unit without a base value holds one record; got {len(unit.rows)}.")
        z = np.concatenate([z, np.zeros((z.shape[0], 1, z.shape[2]), dtype=bool)], axis=1)  # the empty one last
    unit.z = z


def _solve(game: Game, unit: Unit, use_logit: bool) -> Unit:
    values, z = unit.values, unit.z
    if values is None or z is None:
        raise RuntimeError("unit: solved before its coalitions were scored.")
    if use_logit:
        values = logit(values, "masked records")
    n_coal, n_players = unit.plan.n_coalitions, z.shape[2]
    if unit.base_value is None:
        base = values[0, n_coal]
        values, z = values[:, :n_coal], z[:, :n_coal]
    else:
        base = unit.base_value
    stderr = None
    if n_players == 0:
        phi = np.zeros((len(unit.rows), 0, values.shape[2]))
    elif unit.design is not None and unit.perm is not None:
        half = n_coal // 2
        odd = (values[:, :half] - values[:, half:]) / 2.0
        with _solve_context(game, n_players):
            phi, stderr = solve_gp(unit.design, unit.perm, odd, unit.f_x - base[None, :])
    else:
        with _solve_context(game, n_players):
            phi = solve(z, unit.weights, values, base, unit.f_x, paired=True)
    if stderr is None and unit.plan.exact:
        stderr = np.zeros_like(phi)
    unit.phi, unit.base, unit.stderr = phi, base, stderr
    unit.z = unit.values = unit.design = None  # free the coalitions and their values
    return unit


def play(game: Game, units: Iterable[Unit], seed: int, use_logit: bool) -> Iterator[Unit]:
    """Explain ``units`` in order: draw each one's coalitions, score them, solve; yields solved units
    (``phi`` and ``base`` set) in the order of ``units``."""
    waiting: deque[Unit] = deque()
    for unit in units:
        _sample(game, unit, seed)
        waiting.append(unit)
        game.score(unit)
        while waiting and waiting[0].values is not None:
            yield _solve(game, waiting.popleft(), use_logit)
    game.flush()
    while waiting:
        yield _solve(game, waiting.popleft(), use_logit)


@dataclass(frozen=True, slots=True)
class _Work:
    game: Game
    units: tuple[Unit, ...]
    seed: int
    use_logit: bool


@dataclass(frozen=True, slots=True)
class _Played:
    units: tuple[Unit, ...]
    calls: ModelCalls


def _play_work(work: _Work) -> _Played:
    game = work.game.fresh()
    units = tuple(play(game, work.units, work.seed, work.use_logit))
    return _Played(units, game.calls())


def play_on(executor: Executor, game: Game, units: Iterable[Unit], seed: int, use_logit: bool) -> Iterator[Unit]:
    """:func:`play` with each unit on a worker of ``executor``, on its own copy of ``game`` (whose calls
    are counted on ``game``); yields in the order of ``units``, the same bits as :func:`play`."""
    for played in executor.map(_play_work, (_Work(game, (unit,), seed, use_logit) for unit in units)):
        game.count(played.calls)
        yield from played.units
