"""Mergeable counts of one facet split: the only thing the bias metrics read.

Every Clarify bias metric but FT is a function of how many rows fall in each cell of
``group value x facet (a or d) x label positive x prediction positive``. :class:`BiasCounts` holds that
table as integers, so the counts of any split of the rows, merged, equal the counts of the whole, and
the metrics computed from them are the same bits. GE needs nothing more: its benefit
``b = yhat - y + 1`` is 0 for a false negative, 2 for a false positive and 1 otherwise.

Group values are kept in a canonical form: one slot per distinct value that has at least one row, in
ascending order (what ``np.unique`` gives smclarify's CDD), so that counts built from differently
coded chunks merge by value and compare equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._typing import BoolArray, IntArray

__all__ = ["BiasCounts", "GroupValue", "facet_value_counts"]

GroupValue = int | float | str
"""A value of the group variable (numpy scalars are converted to Python ones)."""

# table axes: [group slot, facet (0 = a, 1 = d), label positive, prediction positive]
_CELLS = 8


@dataclass(frozen=True, eq=False)
class BiasCounts:
    """Row counts of one facet split (facet *d* against all other rows *a*).

    ``table[g, f, y, p]`` is the number of rows of group slot ``g`` (``groups[g]``; one slot when there is
    no group variable), facet ``f`` (1 = in *d*), label ``y`` (1 = positive) and prediction ``p``
    (1 = positive; always 0 when ``has_predicted`` is false). Use :meth:`from_arrays` or
    :func:`facet_value_counts` to build one, :meth:`merge` to add the counts of other rows.
    """

    table: IntArray
    groups: tuple[GroupValue, ...] | None
    has_predicted: bool

    def __post_init__(self) -> None:
        table = np.array(self.table, dtype=np.int64)  # a private, read-only copy
        n_slots = 1 if self.groups is None else len(self.groups)
        if table.shape != (n_slots, 2, 2, 2):
            raise ValueError(f"BiasCounts: table must have shape ({n_slots}, 2, 2, 2); got {table.shape}")
        if (table < 0).any():
            raise ValueError("BiasCounts: counts must be non-negative")
        if not self.has_predicted and table[..., 1].any():
            raise ValueError("BiasCounts: positive predictions counted but has_predicted is False")
        table.setflags(write=False)
        object.__setattr__(self, "table", table)

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def empty(cls, *, has_predicted: bool = False, has_group: bool = False) -> BiasCounts:
        """Counts of no rows (the neutral element of :meth:`merge`)."""
        return cls(np.zeros((0 if has_group else 1, 2, 2, 2), np.int64), () if has_group else None, has_predicted)

    @classmethod
    def from_arrays(
        cls,
        facet: BoolArray,
        label: BoolArray,
        predicted: BoolArray | None = None,
        group: IntArray | None = None,
        group_values: Sequence[Any] | None = None,
    ) -> BiasCounts:
        """Count the rows of one split in a single ``np.bincount`` pass.

        Parameters
        ----------
        facet
            Row is in the sensitive facet *d*, boolean, shape ``(n,)``.
        label
            Observed label is positive, boolean, shape ``(n,)``.
        predicted
            Predicted label is positive, boolean, shape ``(n,)``; ``None`` for pre-training only.
        group
            Integer code of each row's group-variable value, shape ``(n,)``, in ``0 .. len(group_values) - 1``;
            ``None`` when there is no group variable (CDDL and CDDPL then report an error).
        group_values
            The value of each code (several codes may share a value); default: the codes themselves.
        """
        n = label.shape[0] if label.ndim == 1 else -1
        codes = _as_bool("facet", facet, n).astype(np.intp) - 1  # d = value 0, a = no value (-1)
        return facet_value_counts(codes, 1, label, predicted, group, group_values)[0]

    # -- merging and derived counts -------------------------------------------------------------------------

    def merge(self, other: BiasCounts) -> BiasCounts:
        """The counts of the rows of both (exact: integer addition, groups matched by value)."""
        if self.has_predicted != other.has_predicted:
            raise ValueError("BiasCounts.merge: one side counts predictions and the other does not")
        if (self.groups is None) != (other.groups is None):
            raise ValueError("BiasCounts.merge: one side has a group variable and the other does not")
        if self.groups is None or other.groups is None:
            return BiasCounts(self.table + other.table, None, self.has_predicted)
        if self.groups == other.groups:
            return BiasCounts(self.table + other.table, self.groups, self.has_predicted)
        keys, slot = _layout(list(self.groups) + list(other.groups))
        table = np.zeros((len(keys), 2, 2, 2), np.int64)
        np.add.at(table, slot, np.concatenate([self.table, other.table]))
        return BiasCounts(table, keys, self.has_predicted)

    @property
    def n_rows(self) -> int:
        """Number of rows counted."""
        return int(self.table.sum())

    @property
    def confusion(self) -> IntArray:
        """Counts summed over groups, shape ``(2, 2, 2)``: ``[facet (1 = d), label, prediction]``."""
        out: IntArray = self.table.sum(axis=0)
        return out

    @property
    def benefit_counts(self) -> tuple[int, int, int]:
        """Rows with GE benefit ``b = yhat - y + 1`` equal to 0, 1 and 2 (over both facets)."""
        c = self.confusion.sum(axis=0)  # [label, prediction]
        return int(c[1, 0]), int(c[0, 0] + c[1, 1]), int(c[0, 1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BiasCounts):
            return NotImplemented
        return (
            self.has_predicted == other.has_predicted
            and self.groups == other.groups
            and np.array_equal(self.table, other.table)
        )

    def __repr__(self) -> str:
        groups = "None" if self.groups is None else f"{len(self.groups)} values"
        return f"BiasCounts(n_rows={self.n_rows}, groups={groups}, has_predicted={self.has_predicted})"


def facet_value_counts(
    codes: IntArray,
    n_values: int,
    label: BoolArray,
    predicted: BoolArray | None = None,
    group: IntArray | None = None,
    group_values: Sequence[Any] | None = None,
    weights: IntArray | None = None,
) -> list[BiasCounts]:
    """One-vs-rest counts for every value of a categorical facet, in one ``np.bincount`` pass.

    ``codes[i]`` is the facet value of row ``i`` in ``0 .. n_values - 1``, or ``-1`` for a row that has none
    of the values (it is always in facet *a*). Entry ``v`` of the result is the split "facet value ``v``
    (*d*) against every other row (*a*)". ``weights[i]`` (non-negative integers) counts row ``i`` that many
    times: a row may stand for every record with the same values. The other parameters are those of
    :meth:`BiasCounts.from_arrays`.
    """
    if label.ndim != 1:
        raise ValueError(f"label must be one-dimensional; got shape {label.shape}")
    n = label.shape[0]
    y = _as_bool("label", label, n)
    codes = np.asarray(codes)
    if codes.shape != (n,) or codes.dtype.kind not in "iu":
        raise ValueError(f"facet codes must be integers of shape ({n},); got {codes.dtype} {codes.shape}")
    if n and (int(codes.min()) < -1 or int(codes.max()) >= n_values):
        raise ValueError(f"facet codes must lie in -1 .. {n_values - 1}")
    n_bins = n_values + 1  # bin 0: rows with none of the values

    key = codes.astype(np.intp) + 1
    if group is None:
        keys: tuple[GroupValue, ...] | None = None
        n_groups = 1
    else:
        g = np.asarray(group)
        values = list(range(int(g.max()) + 1 if g.size else 0)) if group_values is None else list(group_values)
        if g.shape != (n,) or g.dtype.kind not in "iu":
            raise ValueError(f"group codes must be integers of shape ({n},); got {g.dtype} {g.shape}")
        if n and (int(g.min()) < 0 or int(g.max()) >= len(values)):
            raise ValueError(f"group codes must lie in 0 .. {len(values) - 1}")
        keys, slot = _layout(values)
        n_groups = len(keys)
        key = key * n_groups + slot[g]
    key = key * 2 + y
    if predicted is not None:
        key = key * 2 + _as_bool("predicted", predicted, n)
    else:
        key = key * 2
    if weights is None:
        counts = np.bincount(key, minlength=n_bins * n_groups * 4).astype(np.int64, copy=False)
    else:
        w = np.asarray(weights)
        if w.shape != (n,) or w.dtype.kind not in "iu" or (n and int(w.min()) < 0):
            raise ValueError(f"weights must be non-negative integers of shape ({n},); got {w.dtype} {w.shape}")
        if n and int(w.sum()) >= 1 << 53:
            raise ValueError("weights: more than 2**53 rows cannot be counted exactly")
        # float64 sums of integers below 2**53 are exact
        counts = np.rint(np.bincount(key, weights=w, minlength=n_bins * n_groups * 4)).astype(np.int64)
    per_value = counts.reshape(n_bins, n_groups, 2, 2)
    total = per_value.sum(axis=0)
    if keys is not None:  # keep only the group values that occur
        present = total.reshape(n_groups, 4).any(axis=1)
        keys = tuple(k for k, p in zip(keys, present.tolist(), strict=True) if p)
        per_value, total = per_value[:, present], total[present]
    out = []
    for v in range(n_values):
        d = per_value[1 + v]
        out.append(BiasCounts(np.stack([total - d, d], axis=1), keys, predicted is not None))
    return out


def _as_bool(name: str, x: BoolArray, n: int) -> BoolArray:
    a = np.asarray(x)
    if a.dtype != np.bool_ or a.shape != (n,):
        raise ValueError(f"{name} must be a boolean array of shape ({n},); got {a.dtype} {a.shape}")
    return a


def _scalar(v: Any) -> GroupValue:
    out: GroupValue = v.item() if isinstance(v, np.generic) else v
    return out


def _layout(values: Sequence[Any]) -> tuple[tuple[GroupValue, ...], npt.NDArray[np.intp]]:
    """The distinct values in ascending order, and the slot of each input value among them."""
    distinct: dict[GroupValue, None] = dict.fromkeys(_scalar(v) for v in values)
    try:
        keys = tuple(sorted(distinct))
    except TypeError as exc:
        raise ValueError(f"group values must be mutually comparable (all numbers or all strings); {exc}") from None
    where = {k: i for i, k in enumerate(keys)}
    return keys, np.array([where[_scalar(v)] for v in values], dtype=np.intp)
