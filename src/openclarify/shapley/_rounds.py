"""Sampling in rounds until every value's standard error is below a target (``kernel_shap(target_error=)``).

The ``gp`` estimator gives each value a standard error, so a record can stop as soon as its errors are
small enough. A record's coalitions are the first ``h_r`` halves of one design drawn for the whole budget
(and their complements), relabelled per record as :mod:`._gp` does. The design is ordered so that each
round's share is itself a stratified design (of each size, as many halves as the plan of the round's
budget gives it) holding the rounds before it. Round ``r`` scores the halves a record does not have yet,
for the records still going, and solves with the design's first ``h_r`` halves; the budget doubles from
round to round up to ``num_samples``. A record's rounds, values and
errors depend only on the seed, its number and its own scores, so the bits do not depend on the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._typing import BoolArray, FloatArray, IntArray, SizeAllocation
from ._coalitions import CoalitionPlan, plan_coalitions, sample_coalitions
from ._gp import DESIGN_ROW, permutations, solve_gp
from ._play import Game, Unit, logit
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


def play_rounds(
    game: Game, unit: Unit, seed: int, use_logit: bool, target: float, allocation: SizeAllocation = "leverage"
) -> Rounds:
    """Explain ``unit`` (a tabular unit: its base value known) in rounds; sets ``unit.phi`` and
    ``unit.stderr`` and returns how far each record went."""
    plan = unit.plan
    n, n_rows = plan.n_players, len(unit.rows)
    assert unit.base_value is not None  # noqa: S101 - rounds are for tabular units
    base = unit.base_value
    halves, schedule = _nested(plan, seed, game.fused, allocation)
    perm = permutations(seed, unit.rows, n)
    n_out = unit.f_x.shape[1]
    odd = np.zeros((n_rows, len(halves), n_out))
    phi = np.zeros((n_rows, n, n_out))
    stderr = np.zeros((n_rows, n, n_out))
    used = np.zeros(n_rows, dtype=np.int64)
    met = np.zeros(n_rows, dtype=bool)
    active = np.arange(n_rows)
    done = 0
    for h in schedule:
        new = halves[done:h]
        # each active record's new halves and their complements, in its own labels
        z_half = new[:, perm[active]].transpose(1, 0, 2)
        z = np.ascontiguousarray(np.concatenate([z_half, ~z_half], axis=1))
        step = Unit(
            first=unit.first,
            rows=unit.rows[active],
            plan=plan,
            weights=unit.weights,
            f_x=unit.f_x[active],
            base_value=base,
            data=unit.data.iloc[active],
            z=z,
        )
        game.score(step)
        if step.values is None:
            game.flush()
        values = step.values
        if values is None:
            raise RuntimeError("unit: a round's coalitions were not scored.")
        if use_logit:
            values = logit(values, "masked records")
        k = h - done
        odd[active, done:h] = (values[:, :k] - values[:, k:]) / 2.0
        unit.f_x[active] = step.f_x  # the records' own scores, when the first call scored them
        if plan.exact and h == len(halves):  # every coalition: the exact values, with no error
            p = _exact(halves, perm[active], odd[active], unit.f_x[active] - base[None, :], plan)
            s = np.zeros_like(p)
        else:
            p, s = solve_gp(halves[:h], perm[active], odd[active, :h], unit.f_x[active] - base[None, :])
        phi[active], stderr[active], used[active] = p, s, 2 * h
        ok = s.reshape(len(active), -1).max(axis=1, initial=0.0) <= target
        met[active] = ok
        active = active[~ok]
        done = h
        if not len(active):
            break
    unit.phi, unit.stderr, unit.base = phi, stderr, base
    unit.z = unit.values = None
    return Rounds(used, met)
