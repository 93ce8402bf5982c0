"""``kernel_shap_text(target_error=)``: records with text sampled in rounds until every standard error is
below the target, checked against exact values, with the same bits for any split of the records and any
grouping of their rounds, and fewer masked records than the fixed budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openclarify.errors import ConfigError
from openclarify.shapley import _text, kernel_shap_text
from openclarify.text import Segmenter

SEG = Segmenter("token", "en")
BASE = pd.DataFrame({"t": ["<UNK>"]})
WORDS = [f"w{i}" for i in range(40)]


def _model(seed: int = 0):
    g = np.random.default_rng(seed)
    w = g.normal(size=len(WORDS))

    def score(frame: pd.DataFrame) -> np.ndarray:
        out = []
        for text in frame["t"]:
            present = [int(t[1:]) for t in text.split() if t.startswith("w")]
            s = sum(w[i] for i in present)
            s += 1.2 * (3 in present) * (5 in present) * (7 in present)  # a three-way interaction
            out.append([1 / (1 + np.exp(-s / 2)), np.tanh(s / 4)])
        return np.array(out)

    return score


def _texts(lengths, seed: int = 1) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    return pd.DataFrame({"t": [" ".join(g.choice(WORDS, size=n, replace=False)) for n in lengths]})


def test_rounds_stop_each_record_on_its_own_errors_and_the_values_are_close_to_exact():
    model, X = _model(), _texts([0, 1, 2, 6, 9, 11, 12, 12, 13])
    res = kernel_shap_text(model, X, BASE, text_columns=["t"], segmenter=SEG, num_samples=3000, seed=5,
                           estimator="gp", target_error=0.004)  # fmt: skip
    exact = kernel_shap_text(model, X, BASE, text_columns=["t"], segmenter=SEG, num_samples=2**13, seed=0)
    assert exact.exact.all() and res.target_met is not None and res.target_met.all()
    z = []
    for i in range(len(X)):
        m = len(res.players[i])
        np.testing.assert_allclose(res.phi[i].sum(axis=0), res.f_x[i] - res.base_value[i], rtol=0, atol=1e-9)
        assert (res.stderr[i] <= 0.004).all()
        assert res.num_samples[i] <= min(3000, 2**m - 2) if m > 1 else res.num_samples[i] == 0
        if m <= 6:  # a budget of every coalition: exact, no error
            assert res.exact[i] and not res.stderr[i].any()
            np.testing.assert_allclose(res.phi[i], exact.phi[i], rtol=1e-9, atol=1e-12)
        else:
            assert not res.exact[i]
            z.extend(((res.phi[i] - exact.phi[i]) / res.stderr[i]).ravel().tolist())
    assert len(set(res.num_samples[4:].tolist())) > 1  # records stop at different rounds
    assert np.mean(np.abs(z) <= 1.96) >= 0.85 and np.max(np.abs(z)) < 5
    # fewer masked records than one fixed budget that reaches the same errors for every record
    fixed = kernel_shap_text(model, X, BASE, text_columns=["t"], segmenter=SEG, num_samples=int(res.num_samples.max()),
                             seed=5, estimator="gp")  # fmt: skip
    assert res.model_rows < fixed.model_rows


def test_the_same_bits_for_any_split_of_the_records_and_any_grouping_of_their_rounds(monkeypatch):
    model, X = _model(2), _texts([10, 14, 8, 20, 16, 11], seed=3)
    kwargs = {"text_columns": ["t"], "segmenter": SEG, "num_samples": 1024, "seed": 9, "estimator": "gp",
              "target_error": 0.003}  # fmt: skip
    whole = kernel_shap_text(model, X, BASE, **kwargs)
    parts = [kernel_shap_text(model, X.iloc[a:b], BASE, first_row=a, **kwargs) for a, b in ((0, 2), (2, 6))]
    monkeypatch.setattr(_text, "ROUND_GROUP", 1)
    alone = kernel_shap_text(model, X, BASE, **kwargs)
    for i in range(len(X)):
        part = parts[0] if i < 2 else parts[1]
        j = i if i < 2 else i - 2
        for other in (part.phi[j], alone.phi[i]):
            assert np.array_equal(whole.phi[i], other)
        assert np.array_equal(whole.stderr[i], alone.stderr[i])
    assert np.array_equal(whole.num_samples, alone.num_samples)
    assert np.array_equal(whole.target_met, np.concatenate([p.target_met for p in parts]))
    assert alone.model_calls > whole.model_calls  # grouped rounds share model calls


def test_a_target_the_budget_cannot_reach_is_reported_per_record():
    model, X = _model(), _texts([15, 3, 18])
    res = kernel_shap_text(model, X, BASE, text_columns=["t"], segmenter=SEG, num_samples=200, seed=1,
                           estimator="gp", target_error=1e-9)  # fmt: skip
    assert res.target_met.tolist() == [False, True, False]  # the 3-token record is exact
    assert res.num_samples.tolist() == [200, 6, 200]
    with pytest.raises(ConfigError, match="target_error: needs estimator 'gp'"):
        kernel_shap_text(model, X, BASE, text_columns=["t"], segmenter=SEG, target_error=0.1)
    with pytest.raises(ConfigError, match="target_error: must be a finite number"):
        kernel_shap_text(model, X, BASE, text_columns=["t"], segmenter=SEG, estimator="gp",
                         target_error=float("inf"))  # fmt: skip


def test_the_gp_estimators_default_budget_for_a_long_text_stays_within_its_cap(monkeypatch):
    """Without num_samples a record gets 2M + 2048 coalitions; with gp, no more than the cap its solve takes
    (here lowered to 500, so that a 200-token text shows it)."""
    monkeypatch.setattr(_text, "GP_MAX_NUM_SAMPLES", 500)
    words = [f"w{i % 40}" for i in range(200)]
    X = pd.DataFrame({"t": [" ".join(words), "w1 w2 w3"]})
    res = kernel_shap_text(_model(), X, BASE, text_columns=["t"], segmenter=SEG, seed=0, estimator="gp")
    assert res.num_samples.tolist() == [500, 6]
    plain = kernel_shap_text(_model(), X.iloc[:1], BASE, text_columns=["t"], segmenter=SEG, seed=0)
    assert plain.num_samples.tolist() == [2 * 200 + 2048]
