"""Sampling in rounds until every value's standard error is below a target (``kernel_shap(target_error=)``).

The ``gp`` estimator gives each value a standard error, so a record can stop as soon as its errors are
small enough. A record's coalitions are the first ``h_r`` halves of one design drawn for the whole budget
(and their complements), relabelled per record as :mod:`._gp` does. The design is ordered so that each
round's share is itself a stratified design (of each size, as many halves as the plan of the round's
budget gives it) holding the rounds before it. Round ``r`` scores the halves a record does not have yet,
for the records still going, and solves with the design's first ``h_r`` halves; the budget doubles from
round to round up to ``num_samples``. A record's rounds, values and
errors depend only on the seed, its number and its own scores, so the bits do not depend on the others.

A record with text is a unit of its own (its players are its units) without a known base value: it
scores its empty coalition with its first round. Several units play their rounds side by side, so that
their masked records share model calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .._typing import BoolArray, FloatArray, IntArray, SizeAllocation
from ._coalitions import CoalitionPlan, plan_coalitions, sample_coalitions
from ._gp import DESIGN_ROW, permutations, solve_gp
from ._play import Game, Unit, _solve_context, logit, play
from ._random import RowRandom
from ._solve import solve

__all__ = ["Rounds", "play_rounds", "round_schedule"]

_ORDER_STREAM = (0x6A7B, 0x524F554E)


def round_schedule(n_players: int, budget: int) -> tuple[int, ...]:
    """The budget (coalitions) each round ends with: from ``max(64, 4n)``, doubling, to ``budget``."""
    first = min(budget, max(64, 4 * n_players))
    out = [first]
    while out[-1] < budget:
        out.append(min(budget, 2 * out[-1]))
    return tuple(out)


def _nested(
    plan: CoalitionPlan, seed: int, fused: bool, allocation: SizeAllocation
) -> tuple[BoolArray, tuple[int, ...]]:
    """The design's halves for rounds, and how many of them each round holds: round ``r`` has, of each
    size stratum, as many halves as the plan of its budget gives that stratum (the first of the stratum's
    halves in an order drawn from the seed), so every round is a stratified design holding the rounds
    before it."""
    shared = sample_coalitions(plan, DESIGN_ROW, seed, fused=fused)[0]
    halves = shared[: shared.shape[0] // 2]
    random = RowRandom(seed, DESIGN_ROW)
    groups, offset = [], 0
    for k, st in enumerate(plan.strata):
        group = halves[offset : offset + st.n_pairs]
        offset += st.n_pairs
        keys = random.uniform((*_ORDER_STREAM, k), len(group))[0]
        groups.append(group[np.argsort(keys, kind="stable")])
    taken = [0] * len(groups)
    blocks: list[BoolArray] = []
    ends: list[int] = []
    for r, budget in enumerate(round_schedule(plan.n_players, plan.n_coalitions)):
        counts = [s.n_pairs for s in plan_coalitions(plan.n_players, budget, allocation).strata]
        new = []
        for k, group in enumerate(groups):
            want = min(max(taken[k], counts[k]), len(group))
            new.append(group[taken[k] : want])
            taken[k] = want
        block = np.concatenate(new)
        if not len(block):
            continue
        keys = random.uniform((*_ORDER_STREAM, -1 - r), len(block))[0]  # mixed: the first ones are scored
        blocks.append(block[np.argsort(keys, kind="stable")])
        ends.append((ends[-1] if ends else 0) + len(block))
    return np.ascontiguousarray(np.concatenate(blocks)), tuple(ends)


def _exact(halves: BoolArray, perm: IntArray, odd: FloatArray, delta: FloatArray, plan: CoalitionPlan) -> FloatArray:
    """Kernel SHAP's regression on every coalition (exact), from the odd parts: a pair's values differ by
    twice its odd part, which is all the paired solve uses."""
    weights = plan.weights()
    weight_of = {int(s.size): w for s, w in zip(plan.strata, _stratum_weights(plan, weights), strict=True)}
    w_half = np.array([weight_of[int(k)] for k in halves.sum(axis=1)])
    z_half = halves[:, perm].transpose(1, 0, 2)
    z = np.concatenate([z_half, ~z_half], axis=1)
    values = np.concatenate([odd, -odd], axis=1)  # v(S) - v0 - (v(N\S) - v0) = 2 odd; the even part cancels
    base = np.zeros(delta.shape[1])
    return solve(z, np.concatenate([w_half, w_half]), values, base, delta, paired=True)


def _stratum_weights(plan: CoalitionPlan, weights: FloatArray) -> list[float]:
    """The weight of one coalition of each stratum, in the plan's order (as :meth:`CoalitionPlan.weights`)."""
    out, offset = [], 0
    for st in plan.strata:
        out.append(float(weights[offset]) if st.n_pairs else 0.0)
        offset += st.n_pairs
    return out


@dataclass(frozen=True, slots=True)
class Rounds:
    """What a unit played in rounds returns: per record, the coalitions it used and whether its largest
    standard error is at most the target."""

    used: IntArray  # (n_rows,): coalitions evaluated (halves and complements)
    met: BoolArray  # (n_rows,)


@dataclass(slots=True, eq=False)
class _Going:
    """A unit's rounds so far. A unit without a base value (a record with text) scores its empty
    coalition with its first round."""

    unit: Unit
    halves: BoolArray
    schedule: tuple[int, ...]
    perm: IntArray
    odd: FloatArray  # (n_rows, n_halves, n_outputs): each record's odd parts scored so far
    phi: FloatArray
    stderr: FloatArray
    used: IntArray
    met: BoolArray
    active: IntArray  # the records still going
    base: FloatArray | None
    done: int = 0  # halves scored
    r: int = 0  # the next round


def _start(unit: Unit, design: tuple[BoolArray, tuple[int, ...]], seed: int) -> _Going:
    halves, schedule = design
    n, n_rows, n_out = unit.plan.n_players, len(unit.rows), unit.f_x.shape[1]
    return _Going(
        unit=unit,
        halves=halves,
        schedule=schedule,
        perm=permutations(seed, unit.rows, n),
        odd=np.zeros((n_rows, len(halves), n_out)),
        phi=np.zeros((n_rows, n, n_out)),
        stderr=np.zeros((n_rows, n, n_out)),
        used=np.zeros(n_rows, dtype=np.int64),
        met=np.zeros(n_rows, dtype=bool),
        active=np.arange(n_rows),
        base=unit.base_value,
    )


def _step(g: _Going) -> Unit | None:
    """The next round's coalitions of the records still going (None when the unit is done)."""
    if not len(g.active) or g.r == len(g.schedule):
        return None
    unit, active = g.unit, g.active
    new = g.halves[g.done : g.schedule[g.r]]
    # each active record's new halves and their complements, in its own labels
    z_half = new[:, g.perm[active]].transpose(1, 0, 2)
    parts = [z_half, ~z_half]
    if g.base is None:  # the record's empty coalition, scored once with its first round
        parts.append(np.zeros((len(active), 1, new.shape[1]), dtype=bool))
    return Unit(
        first=unit.first,
        rows=unit.rows[active],
        plan=unit.plan,
        weights=unit.weights,
        f_x=unit.f_x[active],
        base_value=g.base,
        data=unit.data if unit.base_value is None else unit.data.iloc[active],
        z=np.ascontiguousarray(np.concatenate(parts, axis=1)),
        final=False,
    )


def _take(game: Game, g: _Going, step: Unit, use_logit: bool, target: float) -> None:
    """Solve with the round ``step`` scored; the records whose errors are at most ``target`` stop."""
    values = step.values
    if values is None:
        raise RuntimeError("unit: a round's coalitions were not scored.")
    if use_logit:
        values = logit(values, "masked records")
    h, active, plan = g.schedule[g.r], g.active, g.unit.plan
    k = h - g.done
    if g.base is None:
        g.base, values = values[0, 2 * k].copy(), values[:, : 2 * k]
    base = g.base
    g.odd[active, g.done : h] = (values[:, :k] - values[:, k:]) / 2.0
    g.unit.f_x[active] = step.f_x  # the records' own scores, when the first call scored them
    delta = g.unit.f_x[active] - base[None, :]
    if plan.exact and h == len(g.halves):  # every coalition: the exact values, with no error
        p = _exact(g.halves, g.perm[active], g.odd[active], delta, plan)
        s = np.zeros_like(p)
    else:
        with _solve_context(game, plan.n_players):  # one BLAS thread where the plain loop uses one
            p, s = solve_gp(g.halves[:h], g.perm[active], g.odd[active, :h], delta)
    g.phi[active], g.stderr[active], g.used[active] = p, s, 2 * h
    ok = s.reshape(len(active), -1).max(axis=1, initial=0.0) <= target
    g.met[active] = ok
    g.active = active[~ok]
    g.done, g.r = h, g.r + 1


def _finish(g: _Going) -> tuple[Unit, Rounds]:
    unit = g.unit
    assert g.base is not None  # noqa: S101 - the first round scored it
    unit.phi, unit.stderr, unit.base = g.phi, g.stderr, g.base
    unit.z = unit.values = None
    return unit, Rounds(g.used, g.met)


def play_rounds(
    game: Game,
    units: Iterable[Unit],
    seed: int,
    use_logit: bool,
    target: float,
    allocation: SizeAllocation = "leverage",
    group: int = 1,
) -> Iterator[tuple[Unit, Rounds]]:
    """Explain ``units`` in rounds, ``group`` units at a time (each round of a group's units goes to the
    model together); sets each unit's ``phi``, ``stderr`` and ``base`` and yields it, in order, with how
    far each of its records went. A unit with no coalitions to sample (one player) is played as usual."""
    designs: dict[tuple[int, int], tuple[BoolArray, tuple[int, ...]]] = {}
    batch: list[Unit] = []
    for unit in units:
        batch.append(unit)
        if len(batch) >= group:
            yield from _play_group(game, batch, designs, seed, use_logit, target, allocation)
            batch = []
    if batch:
        yield from _play_group(game, batch, designs, seed, use_logit, target, allocation)


def _play_group(
    game: Game,
    units: list[Unit],
    designs: dict[tuple[int, int], tuple[BoolArray, tuple[int, ...]]],
    seed: int,
    use_logit: bool,
    target: float,
    allocation: SizeAllocation,
) -> Iterator[tuple[Unit, Rounds]]:
    going: list[_Going | None] = []
    done: dict[int, tuple[Unit, Rounds]] = {}
    for i, unit in enumerate(units):
        plan = unit.plan
        if not plan.n_coalitions:
            solved = next(play(game, [unit], seed, use_logit))
            n_rows = len(unit.rows)
            done[i] = solved, Rounds(np.zeros(n_rows, dtype=np.int64), np.ones(n_rows, dtype=bool))
            going.append(None)
            continue
        key = (plan.n_players, plan.n_coalitions)
        if key not in designs:
            designs[key] = _nested(plan, seed, game.fused, allocation)
        going.append(_start(unit, designs[key], seed))
    playing = [g for g in going if g is not None]
    while True:
        steps: list[tuple[_Going, Unit]] = []
        for g in playing:
            step = _step(g)
            if step is not None:
                steps.append((g, step))
        if not steps:
            break
        for _, step in steps:
            game.score(step)
        game.flush()
        for g, step in steps:
            _take(game, g, step, use_logit, target)
    for i, maybe in enumerate(going):
        yield done[i] if maybe is None else _finish(maybe)
