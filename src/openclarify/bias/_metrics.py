"""Clarify's pre- and post-training bias metrics, computed from :class:`BiasCounts`.

The formulas, edge rules and messages are smclarify's (bias-drift-spec.md section 3), quirks included:
``divide`` maps ``0/0`` to 0 and ``a/0`` to ``+-inf``; a difference of two ``+inf`` is 0 (an ``int`` 0 for
DCA, DCR, DAR, DRR, RD and SD, as smclarify writes it, ``0.0`` for AD and TE); the divergences are over the
collapsed binary label restricted to the outcomes present in both facets (so KL can be negative); CDD
takes the group values in ascending order. A metric that is undefined on the data gives a
:class:`MetricValue` with ``error`` set to smclarify's message, never an exception.

FT (Flip Test) is not here: it needs a kNN over the feature rows, which no count can replace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .._typing import FloatArray
from ._counts import BiasCounts

__all__ = [
    "POST_TRAINING",
    "PRE_TRAINING",
    "BiasMetric",
    "MetricValue",
    "divide",
    "post_training_metrics",
    "pre_training_metrics",
]

INF = math.inf


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric of one facet split: a ``value`` (may be ``+-inf``) or an ``error`` message."""

    name: str
    description: str
    value: float | None
    error: str | None = None


class _Undefined(Exception):
    """The metric is undefined on these counts; the message is the one written to analysis.json."""


def divide(a: float, b: float) -> float:
    """smclarify's division: ``0/0 -> 0.0``; ``a/0 -> +inf`` (``a > 0``) or ``-inf`` (``a < 0``)."""
    if b == 0:
        if a == 0:
            return 0.0
        return -INF if a < 0 else INF
    return a / b


def _minus(first: float, second: float, zero: float = 0) -> float:
    """``first - second``, but ``zero`` when both are ``+inf`` (smclarify's both-infinite rule)."""
    if first == second == INF:
        return zero
    return first - second


# -- the counts a metric reads ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Facet:
    """Confusion counts of one facet (Python ints)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def positives(self, predicted: bool) -> int:
        """Rows with a positive prediction (``predicted``) or a positive label."""
        return self.tp + (self.fp if predicted else self.fn)


def _facets(c: BiasCounts) -> tuple[_Facet, _Facet]:
    """Facet *a* and facet *d*."""
    m = c.confusion.tolist()  # [facet][label][prediction]
    a, d = ((_Facet(tp=f[1][1], fp=f[0][1], fn=f[1][0], tn=f[0][0])) for f in m)
    return a, d


def _require_nonempty(c: BiasCounts, d_msg: str, a_msg: str, a_first: bool = False) -> tuple[_Facet, _Facet]:
    a, d = _facets(c)
    checks = [(a.n, a_msg), (d.n, d_msg)] if a_first else [(d.n, d_msg), (a.n, a_msg)]
    for n, msg in checks:
        if n == 0:
            raise _Undefined(msg)
    return a, d


def _label_pdfs(c: BiasCounts) -> tuple[FloatArray, FloatArray]:
    """The label distributions (negative, positive) of *a* and *d* on the outcomes non-zero in both."""
    a, d = _facets(c)
    pa = [(a.tn + a.fp) / a.n, a.positives(False) / a.n] if a.n else [0.0, 0.0]
    pd = [(d.tn + d.fp) / d.n, d.positives(False) / d.n] if d.n else [0.0, 0.0]
    keep = [k for k in (0, 1) if pa[k] != 0 and pd[k] != 0]
    if not keep:
        raise _Undefined("No instance of common facet found, dataset may be too small")
    return np.array([pa[k] for k in keep]), np.array([pd[k] for k in keep])


# -- pre-training -----------------------------------------------------------------------------------------


def _ci(c: BiasCounts) -> float:
    a, d = _facets(c)
    if a.n == 0:
        raise _Undefined("CI: negated facet set is empty. Check that x[~facet] has non-zero length.")
    if d.n == 0:
        raise _Undefined("CI: facet set is empty. Check that x[facet] has non-zero length.")
    return float(a.n - d.n) / (a.n + d.n)


def _dpl(c: BiasCounts, predicted: bool = False) -> float:
    a, d = _require_nonempty(c, "Facet set is empty.", "Negative facet set is empty.", a_first=True)
    return a.positives(predicted) / a.n - d.positives(predicted) / d.n


def _kl(c: BiasCounts) -> float:
    pa, pd = _label_pdfs(c)
    return float(np.sum(pa * np.log(pa / pd)))


def _js(c: BiasCounts) -> float:
    pa, pd = _label_pdfs(c)
    p = 1 / 2 * (pa + pd)
    return float(0.5 * (np.sum(pa * np.log(pa / p)) + np.sum(pd * np.log(pd / p))))


def _lp(c: BiasCounts) -> float:
    pa, pd = _label_pdfs(c)
    return float(np.linalg.norm(pa - pd, 2))


def _tvd(c: BiasCounts) -> float:
    pa, pd = _label_pdfs(c)
    return float(0.5 * np.linalg.norm(pa - pd, 1))


def _ks(c: BiasCounts) -> float:
    pa, pd = _label_pdfs(c)
    return float(np.linalg.norm(pa - pd, np.inf))


def _cdd(c: BiasCounts, predicted: bool) -> float:
    """Conditional demographic disparity of the labels (or of the predictions, ``predicted``)."""
    if not c.groups:
        raise _Undefined("Group variable is empty or not provided")
    # per group slot: [facet, outcome] with outcome = label (or prediction) positive
    per = c.table.sum(axis=3) if not predicted else c.table.sum(axis=2)
    positives, negatives = int(per[:, :, 1].sum()), int(per[:, :, 0].sum())
    if positives == 0:
        raise _Undefined("No positive labels in set")
    if negatives == 0:
        raise _Undefined("No negative labels in set")
    dd = []
    for g in per.tolist():  # one group value at a time, ascending (np.unique order)
        (a_neg, a_pos), (d_neg, d_pos) = g
        share_pos = d_pos / (a_pos + d_pos) if a_pos + d_pos else 0
        share_neg = d_neg / (a_neg + d_neg) if a_neg + d_neg else 0
        dd.append(share_neg - share_pos)
    sizes = per.sum(axis=(1, 2)).astype(np.float64)
    return float(divide(np.sum(sizes * np.array(dd, dtype=np.float64)), np.sum(sizes)))


# -- post-training ----------------------------------------------------------------------------------------


def _di(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "Facet set is empty", "Negated facet set is empty", a_first=True)
    return divide(d.positives(True) / d.n, a.positives(True) / a.n)


def _dca(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "DCO: Facet set is empty", "DCO: Negated Facet set is empty")
    return _minus(divide(a.positives(False), a.positives(True)), divide(d.positives(False), d.positives(True)))


def _dcr(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "DCO: Facet set is empty", "DCO: Negated Facet set is empty")
    return _minus(divide(d.tn + d.fp, d.tn + d.fn), divide(a.tn + a.fp, a.tn + a.fn))


def _dar(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "DLR: Facet set is empty", "DLR: Negated Facet set is empty")
    return _minus(divide(a.tp, a.tp + a.fp), divide(d.tp, d.tp + d.fp))


def _drr(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "DLR: Facet set is empty", "DLR: Negated Facet set is empty")
    return _minus(divide(d.tn, d.tn + d.fn), divide(a.tn, a.tn + a.fn))


def _rd(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "DLA: Facet set is empty", "DLA: Negated Facet set is empty")
    return _minus(divide(a.tp, a.tp + a.fn), divide(d.tp, d.tp + d.fn))


def _sd(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "DLA: Facet set is empty", "DLA: Negated Facet set is empty")
    return _minus(divide(d.tn, d.tn + d.fp), divide(a.tn, a.tn + a.fp))


def _ad(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "Facet set is empty", "Negated Facet set is empty")
    return _minus(divide(a.tp + a.tn, a.n), divide(d.tp + d.tn, d.n), 0.0)


def _te(c: BiasCounts) -> float:
    a, d = _require_nonempty(c, "Facet set is empty", "Negated Facet set is empty")
    return _minus(divide(d.fn, d.fp), divide(a.fn, a.fp), 0.0)


def _ge(c: BiasCounts) -> float:
    """Generalized entropy with alpha = 2 of the benefits ``b = yhat - y + 1`` (all rows, both facets)."""
    n0, n1, n2 = c.benefit_counts
    n = n0 + n1 + n2
    if n == 0:
        raise _Undefined("dataset must be non-empty")
    mu = float(n1 + 2 * n2) / n
    if mu == 0:
        raise _Undefined(
            "All predicted labels are false negatives. "
            "There should be at least one prediction that is not false negative."
        )
    alpha = 2
    terms = [n_b * ((b / mu) ** alpha - 1) for b, n_b in ((0, n0), (1, n1), (2, n2))]
    return (terms[0] + terms[1] + terms[2]) / (n * alpha * (alpha - 1))


# -- registries -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BiasMetric:
    """A registered metric: its code, the description Clarify writes, and how to compute it."""

    code: str
    description: str
    needs_predicted: bool
    _compute: Callable[[BiasCounts], float]

    def __call__(self, counts: BiasCounts) -> MetricValue:
        """The metric on ``counts``; an undefined metric gives ``error`` instead of ``value``."""
        if self.needs_predicted and not counts.has_predicted:
            raise ValueError(f"{self.code} is a post-training metric: the counts hold no predicted labels")
        try:
            return MetricValue(self.code, self.description, self._compute(counts))
        except _Undefined as exc:
            return MetricValue(self.code, self.description, None, str(exc))


def _registry(post: bool, *rows: tuple[str, str, Callable[[BiasCounts], float]]) -> dict[str, BiasMetric]:
    return {code: BiasMetric(code, desc, post, fn) for code, desc, fn in sorted(rows)}


PRE_TRAINING: dict[str, BiasMetric] = _registry(
    False,
    ("CI", "Class Imbalance (CI)", _ci),
    ("DPL", "Difference in Positive Proportions in Labels (DPL)", _dpl),
    ("KL", "Kullback-Liebler Divergence (KL)", _kl),
    ("JS", "Jensen-Shannon Divergence (JS)", _js),
    ("LP", "L-p Norm (LP)", _lp),
    ("TVD", "Total Variation Distance (TVD)", _tvd),
    ("KS", "Kolmogorov-Smirnov Distance (KS)", _ks),
    ("CDDL", "Conditional Demographic Disparity in Labels (CDDL)", lambda c: _cdd(c, False)),
)
"""The 8 pre-training metrics by code, in name order (the order of analysis.json)."""

POST_TRAINING: dict[str, BiasMetric] = _registry(
    True,
    ("DPPL", "Difference in Positive Proportions in Predicted Labels (DPPL)", lambda c: _dpl(c, True)),
    ("DI", "Disparate Impact (DI)", _di),
    ("DCA", "Difference in Conditional Acceptance (DCA)", _dca),
    ("DCR", "Difference in Conditional Rejection (DCR)", _dcr),
    ("RD", "Recall Difference (RD)", _rd),
    ("SD", "Specificity Difference (SD)", _sd),
    ("DAR", "Difference in Acceptance Rates (DAR)", _dar),
    ("DRR", "Difference in Rejection Rates (DRR)", _drr),
    ("AD", "Accuracy Difference (AD)", _ad),
    ("CDDPL", "Conditional Demographic Disparity in Predicted Labels (CDDPL)", lambda c: _cdd(c, True)),
    ("TE", "Treatment Equality (TE)", _te),
    ("GE", "Generalized Entropy (GE)", _ge),
)
"""12 of Clarify's 13 post-training metrics by code, in name order; FT (Flip Test) needs the feature rows
(a kNN fitted on facet *a*) and is computed elsewhere."""


def _run(registry: dict[str, BiasMetric], counts: BiasCounts, methods: Iterable[str] | None) -> list[MetricValue]:
    codes = sorted(registry) if methods is None else sorted(set(methods))
    unknown = [code for code in codes if code not in registry]
    if unknown:
        raise ValueError(f"unknown bias metric codes {unknown}; known: {sorted(registry)}")
    return [registry[code](counts) for code in codes]


def pre_training_metrics(counts: BiasCounts, methods: Iterable[str] | None = None) -> list[MetricValue]:
    """The pre-training metrics ``methods`` (codes; ``None``: all), sorted by name."""
    return _run(PRE_TRAINING, counts, methods)


def post_training_metrics(counts: BiasCounts, methods: Iterable[str] | None = None) -> list[MetricValue]:
    """The post-training metrics ``methods`` (codes; ``None``: all but FT), sorted by name.

    ``counts`` must hold predictions (:meth:`BiasCounts.from_arrays` with ``predicted``).
    """
    return _run(POST_TRAINING, counts, methods)
