"""Counter-based random numbers keyed on (seed, record number, stream, position).

Every random number a record's coalitions use is a hash of the seed, the record's number in the
dataset, a stream label (which stratum, which redraw) and a position, so a record gets the same
coalitions whether it is explained alone, in a chunk of 8192 or on another worker, and no work is
spent on rows that are not explained. The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014),
vectorised over numpy ``uint64`` arrays (whose multiplication wraps modulo 2**64).
"""

from __future__ import annotations

import numpy as np

__all__ = ["RowRandom"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_MASK64 = (1 << 64) - 1


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (at least one dimension, so products wrap silently)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return np.asarray(x ^ (x >> _S31), dtype=np.uint64)


def _mix_int(value: int) -> int:
    return int(_mix(np.array([value & _MASK64], dtype=np.uint64))[0])


class RowRandom:
    """Random numbers for a set of records; ``rows`` are their numbers in the dataset."""

    def __init__(self, seed: int, rows: np.ndarray) -> None:
        seed_key = np.uint64(_mix_int(_mix_int(seed) ^ 0x5EED))
        self.n_rows = len(rows)
        self._row_keys = _mix(np.asarray(rows, dtype=np.uint64) ^ seed_key)  # (n_rows,)

    def bits(self, stream: tuple[int, ...], count: int) -> np.ndarray:
        """``count`` random 64-bit words per record for ``stream``, shape ``(n_rows, count)``."""
        key = 0
        for part in stream:
            key = _mix_int(key ^ (part & _MASK64))
        positions = _mix(np.arange(count, dtype=np.uint64) + np.uint64(key))
        return _mix(self._row_keys[:, None] ^ positions[None, :])

    def uniform(self, stream: tuple[int, ...], count: int) -> np.ndarray:
        """Uniform floats in ``[0, 1)`` with 53 random bits, shape ``(n_rows, count)``."""
        return np.asarray((self.bits(stream, count) >> _S11).astype(np.float64) * (1.0 / 2**53), dtype=np.float64)

    def integers(self, stream: tuple[int, ...], high: int, count: int) -> np.ndarray:
        """Uniform integers in ``[0, high)`` for ``high <= 2**53``, shape ``(n_rows, count)``."""
        return np.asarray(np.floor(self.uniform(stream, count) * high), dtype=np.int64)
