"""Weighted least squares for Kernel SHAP with the efficiency constraint enforced exactly.

Kernel SHAP (Lundberg & Lee 2017) solves ``min_phi sum_S w(S) (v(S) - v0 - z_S . phi)**2`` subject to
``sum(phi) = v(N) - v0``. As shap's KernelExplainer does, we eliminate the last player,
``phi_last = delta - sum(phi_rest)``, which turns the problem into an unconstrained least squares in
``n - 1`` unknowns whose design matrix is ``z_rest - z_last``. The constraint then holds to rounding
error for any budget, which soft penalties (captum's large ``inf_weight``) do not guarantee.
"""

from __future__ import annotations

import numpy as np

from .._typing import BoolArray, FloatArray

__all__ = ["solve"]


def _as_float(z: BoolArray) -> FloatArray:
    # np.copyto casts bool -> float64 several times faster than z.astype(np.float64) does
    out = np.empty(z.shape, dtype=np.float64)
    np.copyto(out, z)
    return out


def solve(
    z: BoolArray,
    weights: FloatArray,
    values: FloatArray,
    base_value: FloatArray,
    f_x: FloatArray,
    *,
    paired: bool = False,
) -> FloatArray:
    """Solve the constrained weighted regression for many records and outputs at once.

    Parameters
    ----------
    z
        Coalitions, shape ``(n_instances, n_coalitions, n_players)``, or ``(1, n_coalitions,
        n_players)`` when every record uses the same coalitions (then one Gram matrix serves all).
    weights
        Weight of each coalition, shape ``(n_coalitions,)``, shared by all records.
    values
        Value of each coalition, shape ``(n_instances, n_coalitions, n_outputs)``.
    base_value
        Value of the empty coalition, shape ``(n_outputs,)``.
    f_x
        Value of the full coalition, shape ``(n_instances, n_outputs)``.
    paired
        The second half of the coalitions are the complements of the first half, in the same order,
        with the same weights (as :func:`sample_coalitions` lays them out). The normal equations are
        then built from the halves alone, at half the cost: a half ``S`` and its complement have
        opposite design rows ``d`` and ``-d``.

    Returns
    -------
    phi
        Shape ``(n_instances, n_players, n_outputs)``; ``phi.sum(1) == f_x - base_value``.
    """
    _, n_coal, n_players = z.shape
    n_inst = values.shape[0]
    delta = f_x - base_value[None, :]  # (R, O)
    phi = np.zeros((n_inst, n_players, delta.shape[1]))
    if n_players == 1 or n_coal == 0:
        phi[:, -1, :] = delta
        return phi
    if paired:
        return _solve_paired(z, weights, values, base_value, delta, phi)
    zf = _as_float(z)
    last = zf[:, :, -1:]  # (R, C, 1)
    target = values - base_value[None, None, :] - last * delta[:, None, :]  # (R, C, O)
    weighted_t = (zf * weights[None, :, None]).transpose(0, 2, 1)  # (R, P, C)
    # With design = z_rest - z_last: design' W design and design' W target from z' W z and z' W target.
    full = np.matmul(weighted_t, zf)  # (R or 1, P, P)
    gram = full[:, :-1, :-1] - full[:, :-1, -1:] - full[:, -1:, :-1] + full[:, -1:, -1:]
    zt = np.matmul(weighted_t, target)  # (R, P, O)
    rhs = zt[:, :-1, :] - zt[:, -1:, :]
    try:
        if n_coal < n_players - 1:  # fewer equations than unknowns: singular, maybe not detectably so
            raise np.linalg.LinAlgError("underdetermined")
        rest = np.linalg.solve(np.broadcast_to(gram, (n_inst, *gram.shape[1:])), rhs)
    except np.linalg.LinAlgError:
        # too few coalitions to pin down every player: minimum-norm least squares, row by row
        sw = np.sqrt(weights)[:, None]
        design = zf[:, :, :-1] - last
        rest = np.stack(
            [
                np.linalg.lstsq(design[min(i, design.shape[0] - 1)] * sw, target[i] * sw, rcond=None)[0]
                for i in range(n_inst)
            ]
        )
    phi[:, :-1, :] = rest
    phi[:, -1, :] = delta - rest.sum(axis=1)
    return phi


def _solve_paired(
    z: BoolArray, weights: FloatArray, values: FloatArray, base_value: FloatArray, delta: FloatArray, phi: FloatArray
) -> FloatArray:
    # base_value cancels in the difference of a pair's targets
    del base_value
    half = z.shape[1] // 2
    n_players = z.shape[2]
    # target of S minus target of its complement: (v(S) - v0 - z_last delta) - (v(S^c) - v0 - (1 - z_last) delta)
    last_b = z[:, :half, -1:]
    diff = values[:, :half] - values[:, half:] + np.where(last_b, -1.0, 1.0) * delta[:, None, :]
    if half < n_players - 1:
        # fewer equations than unknowns (a long text on a small budget): the minimum-norm solution
        rest: FloatArray = _min_norm(z[:, :half], diff / 2.0)
    else:
        gram, zd = _normal_equations(z[:, :half], weights[:half], diff)
        gram *= 2.0
        rhs = zd[:, :-1, :] - zd[:, -1:, :]
        try:
            rest = np.asarray(
                np.linalg.solve(np.broadcast_to(gram, (diff.shape[0], *gram.shape[1:])), rhs), dtype=np.float64
            )
        except np.linalg.LinAlgError:
            sw = np.sqrt(2.0 * weights[:half])[:, None]
            rest = np.stack(
                [
                    np.linalg.lstsq(_design(z[min(i, z.shape[0] - 1), :half]) * sw, diff[i] * sw / 2.0, rcond=None)[0]
                    for i in range(diff.shape[0])
                ]
            )
    phi[:, :-1, :] = rest
    phi[:, -1, :] = delta - rest.sum(axis=1)
    return phi


# Coalition rows turned into floats at a time when building normal equations (bounds the memory of
# long texts: rows x players float64 twice).
_ROWS_PER_BLOCK_ELEMENTS = 1 << 22


def _design(z: BoolArray) -> FloatArray:
    """Design rows ``d = z_rest - z_last`` of one record's coalitions ``(H, P)`` -> ``(H, P - 1)``."""
    zf = _as_float(z)
    return zf[:, :-1] - zf[:, -1:]


def _normal_equations(z: BoolArray, weights: FloatArray, target: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``D'WD`` (``(R or 1, P-1, P-1)``) of the design ``D = z_rest - z_last``, and ``Z'W target``
    (``(R, P, O)``).

    For a single shared coalition matrix with many players both are accumulated over blocks of rows, so
    memory stays at a block's worth of floats besides the ``P x P`` result.
    """
    n_sets, n_rows, n_players = z.shape
    if n_sets == 1 and target.shape[0] == 1 and n_rows * n_players > _ROWS_PER_BLOCK_ELEMENTS:
        step = max(1, _ROWS_PER_BLOCK_ELEMENTS // n_players)
        full = np.zeros((1, n_players, n_players))
        zt = np.zeros((1, n_players, target.shape[2]))
        for r0 in range(0, n_rows, step):
            zf = _as_float(z[0, r0 : r0 + step])
            weighted_t = (zf * weights[r0 : r0 + step, None]).T
            full[0] += weighted_t @ zf
            zt[0] += weighted_t @ target[0, r0 : r0 + step]
    else:
        zf = _as_float(z)
        weighted_t = (zf * weights[None, :, None]).transpose(0, 2, 1)  # (R or 1, P, H)
        full = np.matmul(weighted_t, zf)  # (R or 1, P, P)
        zt = np.matmul(weighted_t, target)  # (R, P, O)
    # in place, on a view of full: a long text's P x P matrix is not copied
    corner = full[:, -1:, -1:].copy()
    gram = full[:, :-1, :-1]
    gram -= full[:, :-1, -1:]
    gram -= full[:, -1:, :-1]
    gram += corner
    return gram, zt


def _min_norm(z: BoolArray, target: FloatArray) -> FloatArray:
    """Minimum-norm ``rest`` with ``D rest = target`` per record, ``D = z_rest - z_last`` of shape ``(H, P-1)``
    with ``H < P - 1``: ``rest = D' (D D')^-1 target`` (an ``H x H`` system instead of an SVD of ``D``); a
    rank-deficient ``D`` falls back to least squares. The weights do not matter: the fit is exact."""
    out = []
    for i in range(target.shape[0]):
        d = _design(z[min(i, z.shape[0] - 1)])
        try:
            out.append(d.T @ np.linalg.solve(d @ d.T, target[i]))
        except np.linalg.LinAlgError:
            out.append(np.linalg.lstsq(d, target[i], rcond=None)[0])
    return np.stack(out)
