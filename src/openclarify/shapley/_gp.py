"""Shapley values by Gaussian-process regression on the odd part of the game, with a standard error.

Write a game on ``n`` players in the ±1 encoding ``y_i = 2 z_i - 1`` and in its Fourier basis,
``v(S) = sum_T a_T prod_{i in T} y_i``. A parity ``prod_{i in T} y_i`` of odd order ``|T|`` has Shapley value
``2 / |T|`` for each of its players and an even one has none, so the Shapley values depend only on the odd
part ``v_odd(S) = (v(S) - v(N \\ S)) / 2``, and they are ``phi_i = sum_{T odd, i in T} 2 a_T / |T|``
(Fumagalli et al. 2026 build their estimator on the same fact). Paired sampling observes ``v_odd`` exactly
at every drawn coalition, and ``v_odd(N) = (f(x) - E) / 2``.

We put a Gaussian prior on the odd coefficients, independent, with the same variance ``w_k`` for every
term of order ``k`` and a total variance per order that decays (:class:`Prior`): most of a model's
attribution is in its main effects, less in its three-way terms, and so on. The prior of ``v_odd`` is
then a Gaussian process whose covariance depends only on the Hamming distance of two coalitions (a sum
of Krawtchouk polynomials), and ``phi`` is a linear function of the process, so its posterior mean and
covariance given the observed ``v_odd`` are closed forms: ``phi = G' K^-1 o``, ``Cov(phi) = s2 (C - G'
K^-1 G)``. The estimate averages the posteriors of several priors (:data:`PRIORS`), each weighted by its
marginal likelihood with the scale ``s2`` profiled out (Bayesian model averaging; its spread adds to the
variance). With the smallest priors the estimate approaches Kernel SHAP's main-effects regression; larger
ones explain the interactions the samples show instead of leaving them as noise, which is where Kernel
SHAP's error comes from. The marginal likelihood is taken on the full coalition and the first
:data:`SCORED` halves of the design (drawn in random order), which costs ``q**2`` per record and prior
instead of ``m**2``; the values themselves use every observation.

``K`` depends only on the coalitions. Every record gets the same design up to a relabelling of its
players (a permutation drawn from the seed and the record's number, which leaves Hamming distances alone),
so one Cholesky factorisation per prior serves every record, and a record costs a few small matrix
products, done in blocks of a fixed width so that a record's bits do not depend on the records around it.
The posterior interpolates ``v_odd(N)``, so the values add up to ``f(x) - E`` up to rounding (the rest is
spread equally). The standard error is the posterior standard deviation of each value.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from math import comb
from typing import Any, Final, NamedTuple, cast

import numpy as np

from .._typing import BoolArray, FloatArray, IntArray
from ._random import RowRandom

__all__ = ["DESIGN_ROW", "PRIORS", "SCORED", "GPDesign", "Prior", "design_for", "permutations", "shuffled", "solve_gp"]


class Prior(NamedTuple):
    """A prior on the odd Fourier coefficients: total variance 1 for the main effects, ``rho`` for the
    three-way terms, ``rho * tau**((k - 3) / 2)`` for order ``k`` above (none with ``tau = 0``)."""

    rho: float
    tau: float


#: The priors averaged over, each weighted by its marginal likelihood.
PRIORS: Final[tuple[Prior, ...]] = (
    *(Prior(r, r) for r in (1e-7, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 1.0)),
    Prior(1e-5, 0.1), Prior(1e-3, 0.3), Prior(1e-2, 1.0), Prior(0.1, 1.0),
    # nothing above order 3 (a tree ensemble of depth 4 has no odd part beyond it): exact once m > n + C(n, 3)
    Prior(1e-2, 0.0), Prior(0.1, 0.0), Prior(1.0, 0.0),
)  # fmt: skip
# Columns per matrix product: one record pays for this many, and every product has the same shape.
_WIDTH = 4
# Relative jitter on K's diagonal: the game is observed without noise, but K is nearly singular for small rho.
_JITTER = 1e-10
# Smallest pivot (relative to the prior variance) of the observations the marginal likelihood does not see
# for a prior to be used: below it, K is singular but for its jitter there, and the values would be noise.
_USABLE_PIVOT = 1e-6
# A prior with nothing above order 3 spans n + C(n, 3) parities: past them its pivots are at the jitter's
# scale. When the marginal likelihood's first observations do not reach that far, the observations after
# them are checked per record instead: the prior is used only where they are explained within its span.
# The check takes this many observations past the span, and at most _CHECK_MAX in all.
_CHECK_EXTRA = 64
_CHECK_MAX = 1024
# Observations past the span lie in it when their whitened residuals are this much smaller than those of the
# observations that make it: a relative misfit e gives about e**2 / jitter, so games within ~1e-6 of the span.
_CHECK_RATIO = 1e-2
# A stream of the record-keyed random numbers no coalition sampler uses: the relabelling of the players.
_PERMUTATION_STREAM = (0x6A7B, 0x5045524D)
_ORDER_STREAM = (0x6A7B, 0x4F524452)
#: The record number the shared design is drawn for (no dataset reaches it): a design is keyed on the seed.
DESIGN_ROW: Final = np.array([2**64 - 1], dtype=np.uint64)


@lru_cache(maxsize=256)
def _krawtchouk(n: int) -> FloatArray:
    """``K[k, d]``: the elementary symmetric polynomial ``e_k`` of ``n`` signs of which ``d`` are -1."""
    table = np.zeros((n + 1, n + 1))
    for k in range(n + 1):
        for d in range(n + 1):
            table[k, d] = sum((-1) ** j * comb(n - d, k - j) * comb(d, j) for j in range(max(0, k - n + d), k + 1))
    table.flags.writeable = False
    return table


def _weights(n: int, prior: Prior) -> FloatArray:
    """The prior variance ``w_k`` of one odd Fourier coefficient of order ``k`` (index ``k``)."""
    rho, tau = prior.rho, prior.tau
    w = np.zeros(n + 1)
    for k in range(1, n + 1, 2):
        total = 1.0 if k == 1 else rho * tau ** ((k - 3) / 2)
        w[k] = total / comb(n, k)
    return w


#: The marginal likelihood that weighs the priors is taken on the full coalition and the first this many
#: drawn halves (the design's halves are in random order): it costs q**2 per record and prior, while the
#: values use every observation at m * n.
SCORED: Final = 192


@dataclass(frozen=True, slots=True)
class GPDesign:
    """What one prior needs for every record of one design (observations: the full coalition, then the
    drawn halves): ``gain = K^-1 G`` (``G`` = Cov(observations, phi)), so that ``phi = gain' o``; for the
    marginal likelihood on the first ``q`` observations, ``L_q^-1`` (``L_q`` the Cholesky factor of their
    ``K``) and ``log det K_q``; and the posterior variance of ``phi`` at unit scale."""

    prior: Prior
    gain: FloatArray  # (m + 1, n)
    inverse: FloatArray  # (q, q), lower
    logdet: float
    variance: FloatArray  # (n,)
    #: False when the prior explains every observation only through K's jitter (a pivot of L is at the
    #: jitter's scale) while the marginal likelihood sees only the first q: its values could not be trusted
    usable: bool = True
    #: a prior of finite rank that is not usable as such: ``L_r^-1`` of the first r observations, which
    #: reach past its span (from observation ``span`` on its pivots are the jitter's) for a check per record
    check: FloatArray | None = None
    span: int = 0

    @property
    def nbytes(self) -> int:
        return int(self.inverse.nbytes + self.gain.nbytes + (self.check.nbytes if self.check is not None else 0))


def _design(halves: BoolArray, prior: Prior, scored: int) -> GPDesign:
    from scipy.linalg import cho_solve, solve_triangular

    m_half, n = halves.shape
    y = np.empty((m_half + 1, n))
    y[0] = 1.0
    np.subtract(2.0 * halves, 1.0, out=y[1:])
    w = _weights(n, prior)
    profile = w @ _krawtchouk(n)  # covariance as a function of the Hamming distance
    distance = np.rint((n - y @ y.T) / 2.0).astype(np.int64)
    k = profile[distance]
    k[np.diag_indices_from(k)] += _JITTER * profile[0]
    chol = np.linalg.cholesky(k)
    # G[j, i] = y_ji * sum_k w_k (2 / k) e_{k-1}(y_j without i): e_{k-1} depends on how many of the others are -1
    coef = np.array([w[k] * 2.0 / k for k in range(1, n + 1)])
    shape = coef @ _krawtchouk(n - 1)
    negative = y < 0
    others = negative.sum(axis=1, keepdims=True) - negative
    cross = y * shape[others]
    # prior Cov(phi_i, phi_i) = sum_k w_k (2 / k)**2 C(n - 1, k - 1)
    before = sum(w[k] * 4.0 / k**2 * comb(n - 1, k - 1) for k in range(1, n + 1, 2))
    reduced = solve_triangular(chol, cross, lower=True, check_finite=False)  # L^-1 G
    variance = np.maximum(before - np.einsum("ji,ji->i", reduced, reduced), 0.0)
    gain = np.asarray(cho_solve((chol, True), cross, check_finite=False))
    q = min(scored, len(chol))
    # the leading block of L is the Cholesky factor of the leading block of K
    inverse = np.asarray(solve_triangular(chol[:q, :q], np.eye(q), lower=True, check_finite=False))
    logdet = float(2.0 * np.log(np.diag(chol)[:q]).sum())
    # a prior with (almost) nothing above some order has fewer terms than a large design has observations:
    # past them it explains the observations only through the jitter (or a variance too small to trust),
    # and it is left out when the marginal likelihood does not see that. A prior with nothing above order
    # 3 has a span of finitely many parities: when its first q observations pass the span, the marginal
    # likelihood sees whether the data lie in it; when they do not, it is checked per record on
    # observations past its span
    pivots = np.diag(chol) ** 2 / profile[0]
    tiny = np.flatnonzero(pivots <= _USABLE_PIVOT)
    usable = not len(tiny) or tiny[-1] < q or (prior.tau == 0.0 and tiny[0] < q)
    check, span = None, 0
    if not usable and prior.tau == 0.0 and tiny[0] + _CHECK_EXTRA <= min(len(chol), _CHECK_MAX):
        span = int(tiny[0])
        r = span + _CHECK_EXTRA
        check = np.asarray(solve_triangular(chol[:r, :r], np.eye(r), lower=True, check_finite=False))
    return GPDesign(prior, gain, inverse, logdet, variance, usable, check, span)


_cache_lock = threading.Lock()
_cache: OrderedDict[tuple[bytes, int, Prior, int], GPDesign] = OrderedDict()
_cache_bytes = 0
_CACHE_MAX_BYTES = 256 << 20


_blas: tuple[Any, bool] | None = None  # (threadpoolctl's controller, whether scipy.linalg was loaded then)


def one_blas_thread(with_scipy: bool = False) -> AbstractContextManager[Any]:
    """A context with every loaded BLAS on one thread (``with_scipy``: scipy's own BLAS too, loading it).

    The controller is made once: making one costs about 10 ms. scipy ships a BLAS of its own (this
    module's factorisations), which a controller made before scipy.linalg was loaded would not limit,
    so it is made again once scipy.linalg is there.
    """
    global _blas
    if with_scipy:
        import scipy.linalg  # noqa: F401 - scipy's own BLAS, which the controller must see
    if _blas is None or (not _blas[1] and "scipy.linalg" in sys.modules):
        from threadpoolctl import ThreadpoolController

        _blas = (ThreadpoolController(), "scipy.linalg" in sys.modules)
    return cast("AbstractContextManager[Any]", _blas[0].limit(limits=1, user_api="blas"))


def design_for(halves: BoolArray, prior: Prior, scored: int = SCORED) -> GPDesign:
    """:class:`GPDesign` of ``halves`` (the drawn halves, shape ``(m, n)``) under ``prior``, kept in a
    bounded cache: the records of one seed and budget share it."""
    global _cache_bytes
    key = (np.packbits(halves, axis=1).tobytes(), halves.shape[1], prior, scored)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    # on one BLAS thread: a threaded factorisation may round differently, and every record's bits depend on it
    with one_blas_thread(with_scipy=True):
        design = _design(halves, prior, scored)
    size = design.nbytes
    with _cache_lock:
        if key not in _cache and size <= _CACHE_MAX_BYTES:
            _cache[key] = design
            _cache_bytes += size
            while _cache_bytes > _CACHE_MAX_BYTES and len(_cache) > 1:
                _, old = _cache.popitem(last=False)
                _cache_bytes -= old.nbytes
    return design


def shuffled(halves: BoolArray, seed: int) -> BoolArray:
    """The design's halves in an order drawn from the seed: the first :data:`SCORED` are a random subset."""
    keys = RowRandom(seed, DESIGN_ROW).uniform(_ORDER_STREAM, len(halves))[0]
    return halves[np.argsort(keys, kind="stable")]


def permutations(seed: int, rows: IntArray, n_players: int) -> IntArray:
    """Each record's relabelling of the shared design: ``z_record[:, i] = z_design[:, perm[i]]``, keyed on
    the seed and the record's number. Shape ``(len(rows), n_players)``."""
    keys = RowRandom(seed, rows).uniform(_PERMUTATION_STREAM, n_players)
    return np.argsort(keys, axis=1, kind="stable").astype(np.int64)


def _fits(design: GPDesign, blocks: FloatArray) -> BoolArray:
    """Per column of ``blocks``: whether the observations past ``design``'s span are explained within it (their
    whitened residuals :data:`_CHECK_RATIO` of those of the observations that make the span, or less)."""
    assert design.check is not None  # noqa: S101 - a checked design has one
    r, span = len(design.check), design.span
    z = np.matmul(design.check, blocks[:, :r, :])  # (blocks, r, width): L_r^-1 o_r
    z2 = z * z
    regular = z2[:, :span, :].mean(axis=1)
    past = z2[:, span:, :].mean(axis=1)
    return np.asarray(past <= _CHECK_RATIO * regular, dtype=bool)


def solve_gp(
    halves: BoolArray,
    perm: IntArray,
    odd: FloatArray,
    delta: FloatArray,
    priors: tuple[Prior, ...] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Shapley values and their standard errors of records that share the design ``halves``.

    Parameters
    ----------
    halves
        The design's drawn halves, shape ``(m, n)`` (their complements were drawn too).
    perm
        Each record's relabelling (:func:`permutations`), shape ``(R, n)``.
    odd
        ``(v(S) - v(N \\ S)) / 2`` at each record's relabelled halves, shape ``(R, m, O)``.
    delta
        ``f(x) - E``, shape ``(R, O)``.

    Returns
    -------
    phi, stderr
        Both of shape ``(R, n, O)``, in each record's own player order; ``phi.sum(1) == delta``.
    """
    n_rows, m, n_out = odd.shape
    n = halves.shape[1]
    # one column per (record, output), in blocks of a fixed width: a matrix product of one shape computes
    # each column with the same operations wherever it sits, so a record's bits do not depend on the others
    columns = n_rows * n_out
    width = _WIDTH
    n_blocks = -(-columns // width)
    obs = np.zeros((m + 1, n_blocks * width))
    obs[0, :columns] = (delta / 2.0).reshape(-1)
    obs[1:, :columns] = odd.transpose(1, 0, 2).reshape(m, columns)
    blocks = np.ascontiguousarray(obs.reshape(m + 1, n_blocks, width).transpose(1, 0, 2))
    # Bayesian model averaging over the priors: each weighted by its marginal likelihood (scale profiled)
    scores, means, variances = [], [], []
    designs = [design_for(halves, prior) for prior in (PRIORS if priors is None else priors)]
    usable = [d for d in designs if d.usable]
    checked = [d for d in designs if not d.usable and d.check is not None]
    if not usable:
        usable, checked = designs, []
    # the priors of finite rank share their span (orders 1 and 3): one check serves them all
    fits = _fits(checked[0], blocks) if checked else None
    for design in usable + checked:
        q = len(design.inverse)
        half = np.matmul(design.inverse, blocks[:, :q, :])  # (blocks, q, width): L_q^-1 o_q
        s2 = np.maximum((half * half).sum(axis=1), 1e-300) / q  # (blocks, width)
        score = 0.5 * q * np.log(s2) + 0.5 * design.logdet
        if fits is not None:
            # where the observations past the span lie in it, the full marginal likelihood of these priors
            # (their pivots there are the jitter's) outweighs every other by far: they alone are used; where
            # they do not, these priors are left out
            score = np.where(fits, score, np.inf) if not design.usable else np.where(fits, np.inf, score)
        scores.append(score)
        means.append(np.matmul(design.gain.T, blocks))  # (blocks, n, width)
        variances.append(design.variance[None, :, None] * s2[:, None, :])
    score = np.asarray(scores)  # (C, blocks, width)
    weight = np.exp(-(score - score.min(axis=0)))
    weight /= weight.sum(axis=0)
    mean = np.asarray(means)
    phi_b = (weight[:, :, None, :] * mean).sum(axis=0)  # (blocks, n, width)
    second = (weight[:, :, None, :] * (np.asarray(variances) + mean**2)).sum(axis=0)
    variance_b = np.maximum(second - phi_b**2, 0.0)
    phi = phi_b.transpose(1, 0, 2).reshape(n, -1)[:, :columns]
    variance = variance_b.transpose(1, 0, 2).reshape(n, -1)[:, :columns]
    obs = obs[:, :columns]
    total = delta.reshape(-1)
    phi += (total - phi.sum(axis=0)) / n  # what rounding left of efficiency
    stderr = np.sqrt(variance)
    exact_zero = np.all(obs == 0.0, axis=0)
    stderr[:, exact_zero] = 0.0
    # back to (R, n, O) in each record's own labels: its player i is the design's player perm[i]
    phi_r = phi.reshape(n, n_rows, n_out).transpose(1, 0, 2)
    se_r = stderr.reshape(n, n_rows, n_out).transpose(1, 0, 2)
    index = perm[:, :, None]
    return np.take_along_axis(phi_r, index, axis=1), np.take_along_axis(se_r, index, axis=1)
