"""Coalition plans and samplers for Kernel SHAP: full enumeration, border enumeration, paired stratified sampling.

The Shapley kernel gives every coalition of size ``s`` (out of ``n`` players) the weight
``(n - 1) / (C(n, s) * s * (n - s))``, so all coalitions of one size share the total mass
``(n - 1) / (s * (n - s))``. We sample *by size stratum*: the budget is split over sizes
deterministically (border sizes that fit are enumerated completely, as shap's "border trick"
does), coalitions inside a stratum are drawn uniformly **without replacement**, and each is
**paired** with its complement (Covert & Lee 2021, "Improving KernelSHAP"). A sampled coalition of
size ``s`` gets weight ``mass(s) / n_s``, so each stratum carries its exact kernel mass (the
deterministic weighting of Olsen & Jullum 2024). The split of the budget over sizes is either
uniform over sizes, i.e. proportional to leverage scores (Musco & Witter 2025), or proportional to
kernel mass.

When the budget covers all ``2**n - 2`` proper coalitions every stratum is enumerated and the
regression returns exact Shapley values.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, combinations
from math import comb

import numpy as np

from .._typing import BoolArray, FloatArray, SizeAllocation
from ._random import RowRandom

__all__ = [
    "CoalitionCache",
    "CoalitionPlan",
    "Stratum",
    "default_num_samples",
    "plan_coalitions",
    "sample_coalitions",
]

# Largest number of players for which every rank of a combination is an exact float64 integer
# (C(52, 26) < 2**53), so ranks can be drawn uniformly from 53-bit random numbers.
_MAX_RANK_PLAYERS = 52
# Below this many candidate pairs a stratum is sampled by shuffling all of them.
_SMALL_STRATUM = 4096
# Up to this many candidates, drawn ranks are looked up in a cached table of all halves (cheaper
# than unranking); above it they are unranked arithmetically.
# Largest table of a stratum built to pick sampled coalitions from by rank; bigger strata are unranked.
_SMALL_TABLE_BYTES = 1 << 20


def default_num_samples(n_players: int) -> int:
    """Clarify's default budget: ``min(2 * n + 2048, 2**n - 2)`` coalitions per record."""
    full = 2**n_players - 2 if n_players < 64 else 2**63
    return int(max(1, min(2 * n_players + 2048, full)))


@dataclass(frozen=True, slots=True)
class Stratum:
    """One size stratum: coalitions of ``size`` players and, unless ``middle``, their complements.

    ``n_pairs`` pairs are used; ``n_candidates`` pairs exist. A ``middle`` stratum (``2 * size ==
    n_players``) holds pairs whose two halves have the same size; it is represented by the half that
    contains player 0.
    """

    size: int
    n_pairs: int
    n_candidates: int
    middle: bool

    @property
    def enumerated(self) -> bool:
        return self.n_pairs == self.n_candidates


@dataclass(frozen=True, slots=True)
class CoalitionPlan:
    """How a budget of coalitions is spread over size strata for ``n_players`` players."""

    n_players: int
    strata: tuple[Stratum, ...]

    @property
    def exact(self) -> bool:
        """True when every proper coalition is evaluated (the result is the exact Shapley value)."""
        return all(s.enumerated for s in self.strata)

    @property
    def n_coalitions(self) -> int:
        return 2 * sum(s.n_pairs for s in self.strata)

    def weights(self) -> FloatArray:
        """Regression weight of each coalition, in the order :func:`sample_coalitions` returns them.

        Shape ``(n_coalitions,)``.
        """
        n = self.n_players
        out: list[FloatArray] = []
        for st in self.strata:
            if st.n_pairs == 0:
                continue
            # kernel mass of the whole size stratum, shared by the coalitions drawn from it; a half
            # and its complement always get the same weight (mass(s) == mass(n - s))
            mass_s = (n - 1) / (st.size * (n - st.size))
            out.append(np.full(st.n_pairs, mass_s / (2 * st.n_pairs if st.middle else st.n_pairs)))
        halves = np.concatenate(out) if out else np.zeros(0)
        return np.concatenate([halves, halves])


def plan_coalitions(n_players: int, num_samples: int, allocation: SizeAllocation = "leverage") -> CoalitionPlan:
    """Split ``num_samples`` coalitions over size strata; enumerate every stratum the budget covers.

    Parameters
    ----------
    n_players
        Number of players (features or feature groups), at least 2.
    num_samples
        Coalitions to evaluate per record, excluding the empty and the full coalition. An odd budget
        uses one coalition less, so that every coalition is paired with its complement.
    allocation
        ``"leverage"``: the sampled budget is spread uniformly over coalition sizes;
        ``"kernel"``: in proportion to the Shapley-kernel mass of each size.
    """
    n = n_players
    strata: list[tuple[int, int, bool]] = []  # (size, n_candidates, middle)
    count = 1  # comb(n, s), built up size by size and capped: a long text has thousands of players
    for s in range(1, n // 2 + 1):
        middle = 2 * s == n
        if count < _CANDIDATES_CAP:
            count = count * (n - s + 1) // s
        candidates = min(count, _CANDIDATES_CAP)
        strata.append((s, candidates // 2 if middle and count < _CANDIDATES_CAP else candidates, middle))
    budget = num_samples // 2
    if budget >= sum(c for _, c, _ in strata):
        return CoalitionPlan(n, tuple(Stratum(s, c, c, m) for s, c, m in strata))

    def share(s: int, middle: bool) -> float:
        if allocation == "kernel":
            mass = (n - 1) / (s * (n - s))
            return mass if middle else 2 * mass
        return 1.0 if middle else 2.0

    q = {s: share(s, m) for s, _, m in strata}
    pairs: dict[int, int] = {}
    remaining = {s: c for s, c, _ in strata}
    left = budget
    if left >= remaining[1]:
        # Singletons and their complements first: n pairs make every player identifiable (a
        # full-rank design) whatever else is drawn, and they carry the largest kernel weight.
        pairs[1] = remaining.pop(1)
        left -= pairs[1]
    while remaining:  # border trick: enumerate every stratum whose share covers it, then re-split
        total_q = sum(q[s] for s in remaining)
        fits = [s for s, c in remaining.items() if left * q[s] / total_q >= c]
        if not fits:
            break
        for s in fits:
            pairs[s] = remaining.pop(s)
            left -= pairs[s]
    if remaining:
        total_q = sum(q[s] for s in remaining)
        raw = {s: left * q[s] / total_q for s in remaining}
        alloc = {s: int(np.floor(v)) for s, v in raw.items()}
        # largest remainder, ties to smaller sizes (deterministic)
        order = sorted(remaining, key=lambda s: (-(raw[s] - alloc[s]), s))
        for s in order[: left - sum(alloc.values())]:
            alloc[s] += 1
        for s in remaining:
            pairs[s] = min(alloc[s], remaining[s])
    return CoalitionPlan(n, tuple(Stratum(s, pairs[s], c, m) for s, c, m in strata))


def _all_halves(n: int, size: int, middle: bool) -> BoolArray:
    """Every coalition of ``size`` players (containing player 0 when ``middle``), shape (n_candidates, n).

    Tables are cached up to a total size: text records each have their own number of players, and every
    record of a given length reuses the same singleton and pair tables.
    """
    key = (n, size, middle)
    with _tables_lock:
        table = _tables.get(key)
        if table is not None:
            _tables.move_to_end(key)
            return table
    table = _build_halves(n, size, middle)
    with _tables_lock:
        global _tables_bytes
        if key not in _tables:
            _tables[key] = table
            _tables_bytes += table.nbytes
            while _tables_bytes > _TABLES_MAX_BYTES and len(_tables) > 1:
                _, old = _tables.popitem(last=False)
                _tables_bytes -= old.nbytes
    return table


_TABLES_MAX_BYTES = 64 << 20
_tables: OrderedDict[tuple[int, int, bool], BoolArray] = OrderedDict()
_tables_bytes = 0
_tables_lock = threading.Lock()


def _build_halves(n: int, size: int, middle: bool) -> BoolArray:
    if middle:
        rest = size - 1
        n_rows = comb(n - 1, rest)
        members = np.fromiter(chain.from_iterable(combinations(range(1, n), rest)), dtype=np.int64, count=n_rows * rest)
        members = np.concatenate([np.zeros((n_rows, 1), dtype=np.int64), members.reshape(n_rows, rest)], axis=1)
    else:
        n_rows = comb(n, size)
        members = np.fromiter(chain.from_iterable(combinations(range(n), size)), dtype=np.int64, count=n_rows * size)
    z = np.zeros((n_rows, n), dtype=bool)
    if n_rows:
        z[np.repeat(np.arange(n_rows), size), members.ravel()] = True
    z.flags.writeable = False
    return z


@lru_cache(maxsize=64)
def _binomials(n: int) -> np.ndarray:
    table = np.zeros((n + 1, n + 1), dtype=np.int64)
    for a in range(n + 1):
        for b in range(a + 1):
            table[a, b] = comb(a, b)
    return table


def _unrank(ranks: np.ndarray, n: int, size: int | np.ndarray) -> BoolArray:
    """Lexicographic combination number ``ranks`` (any shape) -> membership masks ``(*shape, n)``.

    ``size`` (the number of members) may differ per element: one call unranks every stratum.
    """
    binom = _binomials(n)
    r = ranks.astype(np.int64).copy()
    k = np.broadcast_to(np.asarray(size, dtype=np.int64), r.shape).copy()
    out = np.zeros((*r.shape, n), dtype=bool)
    for i in range(n):
        # number of combinations of the remaining slots that start with player i
        c = binom[n - 1 - i, np.maximum(k - 1, 0)]
        take = (k > 0) & (r < c)
        out[..., i] = take
        r = np.where(take | (k == 0), r, r - c)
        k = k - take
    return out


def _distinct_ints(random: RowRandom, stream: int, high: int, count: int) -> np.ndarray:
    """Per record, ``count`` distinct integers uniform in ``[0, high)`` (repeats are redrawn)."""
    draws = random.integers((stream, 0), high, count)
    redraw = 0
    while count > 1:
        if not (np.diff(np.sort(draws, axis=1), axis=1) == 0).any():  # the common case: nothing to redraw
            break
        order = np.argsort(draws, axis=1, kind="stable")
        sorted_draws = np.take_along_axis(draws, order, axis=1)
        dup_sorted = np.zeros(draws.shape, dtype=bool)
        dup_sorted[:, 1:] = sorted_draws[:, 1:] == sorted_draws[:, :-1]
        if not dup_sorted.any():
            break
        dup = np.zeros(draws.shape, dtype=bool)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        redraw += 1
        draws = np.where(dup, random.integers((stream, redraw), high, count), draws)
    return draws


# Stratum sizes beyond this are never enumerated nor ranked (only n <= 52 players are ranked, and
# comb(52, 26) < 2**53): they are recorded as this number, which keeps the arithmetic small.
_CANDIDATES_CAP = 1 << 62
_SUBSETS_STREAM = -2  # the stream of _random_subsets, apart from the per-stratum streams 0, 1, ...
_KEY_BLOCK_ELEMENTS = 1 << 21


def _random_subsets(random: RowRandom, n: int, sizes: np.ndarray) -> BoolArray:
    """Per record, one uniform random subset of ``sizes[j]`` of the ``n`` players for every ``j``, all
    distinct within a record (repeats are redrawn): shape ``(n_rows, len(sizes), n)``.

    The subsets of every sampled size stratum are drawn in one pass, ranking random keys, which costs
    a few vectorised operations per record instead of several per stratum: text records have many
    players and many small strata.
    """
    rows, count = random.n_rows, len(sizes)
    below = np.arange(n)[None, None, :] < sizes[None, :, None]  # (1, count, n)

    # keys for this many subsets at a time (a long text: thousands of players x thousands of subsets)
    step = max(1, _KEY_BLOCK_ELEMENTS // max(1, rows * n))

    def draw(redraw: int) -> BoolArray:
        z = np.empty((rows, count, n), dtype=bool)
        for c0 in range(0, count, step):
            c1 = min(count, c0 + step)
            keys = random.uniform((_SUBSETS_STREAM, redraw, c0), (c1 - c0) * n).reshape(rows, c1 - c0, n)
            order = np.argsort(keys, axis=2)
            np.put_along_axis(z[:, c0:c1], order, np.broadcast_to(below[:, c0:c1], order.shape), axis=2)
        return z

    return _without_repeats(draw)


_HASH_MULTIPLIERS = np.array([0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB], dtype=np.uint64)


def _without_repeats(draw: Callable[[int], BoolArray]) -> BoolArray:
    """``draw(0)``, with every mask that repeats an earlier one of its record replaced from ``draw(1)``,
    ``draw(2)``, ... until none does."""
    z = draw(0)
    redraw = 0
    while True:
        dup = _repeats(z)
        if dup is None:
            return z
        redraw += 1
        z = np.where(dup.reshape(z.shape[0], z.shape[1], 1), draw(redraw), z)


def _repeats(z: BoolArray) -> np.ndarray | None:
    """Flags the masks of ``z`` (``(rows, count, n)``) that repeat an earlier mask of the same row, or
    None when there is none (the common case, found from a 64-bit hash of each mask; a hash match is
    checked exactly)."""
    rows, count, n = z.shape
    packed = np.packbits(z, axis=2).reshape(rows * count, -1)
    width = -(-packed.shape[1] // 8) * 8
    if width != packed.shape[1]:
        packed = np.concatenate([packed, np.zeros((packed.shape[0], width - packed.shape[1]), np.uint8)], axis=1)
    words = np.ascontiguousarray(packed).view(np.uint64)  # (rows * count, width / 8)
    h = np.repeat(np.arange(rows, dtype=np.uint64), count) * _HASH_MULTIPLIERS[0]
    for j in range(words.shape[1]):
        h = (h ^ words[:, j]) * _HASH_MULTIPLIERS[1 + j % 2]
        h ^= h >> np.uint64(29)
    h.sort()
    if not (h[1:] == h[:-1]).any():
        return None
    keyed = np.concatenate([np.repeat(np.arange(rows, dtype=np.int64), count).view(np.uint8).reshape(-1, 8), packed], 1)
    _, first = np.unique(keyed, axis=0, return_index=True)
    dup = np.ones(rows * count, dtype=bool)
    dup[first] = False
    return dup if dup.any() else None


def _distinct_masks(random: RowRandom, stream: int, n: int, size: int, middle: bool, count: int) -> BoolArray:
    """Fallback for many players: random subsets by random keys, repeats within a record redrawn."""
    rows = random.n_rows
    free = n - 1 if middle else n
    k = size - 1 if middle else size

    def draw(redraw: int) -> BoolArray:
        keys = random.uniform((stream, redraw), count * free).reshape(rows, count, free)
        picked = np.argpartition(keys, k - 1, axis=2)[:, :, :k]
        z = np.zeros((rows, count, free), dtype=bool)
        np.put_along_axis(z, picked, True, axis=2)
        if middle:
            z = np.concatenate([np.ones((rows, count, 1), dtype=bool), z], axis=2)
        return z

    return _without_repeats(draw)


def sample_coalitions(plan: CoalitionPlan, rows: np.ndarray, seed: int, *, fused: bool = False) -> BoolArray:
    """Draw the coalitions of ``plan`` independently for the records numbered ``rows``.

    Returns a boolean array of shape ``(len(rows), n_coalitions, n_players)``: the drawn halves of
    every stratum in order, then their complements in the same order (``z[:, h:] == ~z[:, :h]``
    with ``h = n_coalitions // 2``), which is the layout :func:`solve` exploits. Enumerated strata are the same
    for every record. A record's coalitions depend only on ``seed``, its number and the plan.

    ``fused`` draws every sparsely sampled stratum in one pass of random keys (the same distribution:
    uniform distinct subsets of each size) instead of ranking each stratum's draws; that is cheaper for
    one record at a time, as text records are explained, but draws other coalitions than the default.
    """
    random = RowRandom(seed, np.asarray(rows))
    n_rows = random.n_rows
    n = plan.n_players
    halves: list[BoolArray | None] = []
    ranked: list[tuple[int, np.ndarray, int]] = []  # (index in halves, ranks, size): unranked together below
    keyed: list[tuple[int, int, int]] = []  # (index in halves, size, count): drawn together below
    for stream, st in enumerate(plan.strata):
        if st.n_pairs == 0:
            continue
        half: BoolArray | None
        if st.enumerated:
            half = np.broadcast_to(_all_halves(n, st.size, st.middle), (n_rows, st.n_pairs, n))
        elif st.n_candidates <= _SMALL_STRATUM and 16 * st.n_pairs > st.n_candidates:
            keys = random.uniform((stream, -1), st.n_candidates)
            idx = np.argpartition(keys, st.n_pairs - 1, axis=1)[:, : st.n_pairs]
            idx.sort(axis=1)
            half = _all_halves(n, st.size, st.middle)[idx]
        elif fused and st.middle:
            half = _distinct_masks(random, stream, n, st.size, st.middle, st.n_pairs)
        elif fused:
            keyed.append((len(halves), st.size, st.n_pairs))
            half = None
        elif n <= _MAX_RANK_PLAYERS:
            ranks = _distinct_ints(random, stream, st.n_candidates, st.n_pairs)
            if st.n_candidates * n <= _SMALL_TABLE_BYTES:  # the table lists halves in rank order
                half = _all_halves(n, st.size, st.middle)[ranks]
            elif st.middle:  # halves containing player 0 <-> combinations of size-1 out of the other n-1
                rest = _unrank(ranks, n - 1, st.size - 1)
                half = np.concatenate([np.ones((*ranks.shape, 1), dtype=bool), rest], axis=2)
            else:
                ranked.append((len(halves), ranks, st.size))
                half = None
        elif st.middle:
            half = _distinct_masks(random, stream, n, st.size, st.middle, st.n_pairs)
        else:  # many players: every such stratum is drawn in one go below
            keyed.append((len(halves), st.size, st.n_pairs))
            half = None
        halves.append(half)
    if ranked:
        sizes = np.concatenate([np.full(r.shape, size, dtype=np.int64) for _, r, size in ranked], axis=1)
        masks = _unrank(np.concatenate([r for _, r, _ in ranked], axis=1), n, sizes)
        offset = 0
        for index, r, _ in ranked:
            halves[index] = masks[:, offset : offset + r.shape[1]]
            offset += r.shape[1]
    if keyed:
        sizes = np.concatenate([np.full(count, size, dtype=np.int64) for _, size, count in keyed])
        masks = _random_subsets(random, n, sizes)
        offset = 0
        for index, _, count in keyed:
            halves[index] = masks[:, offset : offset + count]
            offset += count
    n_half = plan.n_coalitions // 2
    out = np.empty((n_rows, 2 * n_half, n), dtype=bool)
    offset = 0
    for half in halves:
        assert half is not None  # noqa: S101 - every rank stratum was filled above
        out[:, offset : offset + half.shape[1]] = half
        offset += half.shape[1]
    np.logical_not(out[:, :n_half], out=out[:, n_half:])
    return out


class CoalitionCache:
    """Coalitions already drawn, kept for record numbers that are explained again and again.

    An online server numbers a request's records from 0, so the same few record numbers come back in every
    request: their coalitions (which depend only on the plan, the seed and the record number) are drawn once.
    Thread-safe; the least recently used are dropped past ``max_bytes``. The arrays are read-only.
    """

    def __init__(self, max_bytes: int = 32 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[object, ...], BoolArray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def draw(self, plan: CoalitionPlan, rows: np.ndarray, seed: int, *, fused: bool = False) -> BoolArray:
        """:func:`sample_coalitions` of the same arguments, from the cache when it holds them."""
        key = (plan, seed, fused, np.asarray(rows, dtype=np.int64).tobytes())
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        z = sample_coalitions(plan, rows, seed, fused=fused)
        z.flags.writeable = False
        if z.nbytes <= self.max_bytes:
            with self._lock:
                if key not in self._items:
                    self._items[key] = z
                    self._bytes += z.nbytes
                while self._bytes > self.max_bytes:
                    _, dropped = self._items.popitem(last=False)
                    self._bytes -= dropped.nbytes
        return z
