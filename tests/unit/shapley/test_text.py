"""kernel_shap_text: exactness against brute force, efficiency, determinism, bounded model calls."""

from __future__ import annotations

import itertools
import math
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from openclarify.errors import ApproximationWarning, ConfigError, DataError
from openclarify.shapley import kernel_shap_text
from openclarify.shapley._text import text_value
from openclarify.text import Segmenter, TextMasker

WEIGHTS = {"good": 2.0, "great": 1.5, "bad": -1.75, "product": 0.25, "not": -0.5}


def bow_linear(frame: pd.DataFrame) -> np.ndarray:
    """Bag-of-words linear scores (two outputs); '<UNK>' and unknown words weigh 0."""
    s = np.array([sum(WEIGHTS.get(t, 0.0) for t in str(x).lower().split()) for x in frame["text"]])
    return np.stack([s, -2.0 * s + 1.0], axis=1)


def nonlinear(frame: pd.DataFrame) -> np.ndarray:
    out = []
    for row in frame.itertuples(index=False):
        toks = str(row.text).lower().split()
        s = sum(WEIGHTS.get(t, 0.0) for t in toks)
        inter = 1.0 if ("not" in toks and "good" in toks) else 0.0
        extra = 0.0
        if hasattr(row, "rating"):
            extra = 0.3 * float(row.rating) + (0.7 if row.color == "red" else -0.2) * (1 + len(toks) % 3)
        z = s - 1.5 * inter + extra
        out.append([1 / (1 + math.exp(-z)), math.tanh(z) * len(toks)])
    return np.array(out)


def brute_force(model, record: pd.Series, baseline: pd.DataFrame, text_col: str, seg: Segmenter) -> np.ndarray:
    """Exact Shapley values of the players (tabular columns in order, text units in place) by enumeration."""
    columns = list(record.index)
    text = record[text_col]
    segs = seg(text)
    players: list[tuple[str, int]] = []
    for c in columns:
        if c == text_col:
            players += [(c, u) for u in range(len(segs))]
        else:
            players.append((c, -1))
    n = len(players)
    values = {}
    for mask in itertools.product([False, True], repeat=n):
        rows = []
        for _, b in baseline.iterrows():
            row = {}
            units = np.array([m for m, p in zip(mask, players, strict=True) if p[0] == text_col], dtype=bool)
            for c in columns:
                if c == text_col:
                    row[c] = TextMasker(text, segs, b[c]).mask(units[None, :])[0]
                else:
                    keep = mask[players.index((c, -1))]
                    row[c] = record[c] if keep else b[c]
            rows.append(row)
        values[mask] = np.asarray(model(pd.DataFrame(rows, columns=columns))).mean(axis=0)
    phi = np.zeros((n, len(next(iter(values.values())))))
    for mask, v in values.items():
        s = sum(mask)
        for i in range(n):
            if mask[i]:
                continue
            with_i = list(mask)
            with_i[i] = True
            w = math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
            phi[i] += w * (values[tuple(with_i)] - v)
    return phi


def test_bag_of_words_linear_model_is_exact_at_any_budget() -> None:
    words = "this good product is not bad and great but bad again good".split()
    text = " ".join(words * 3)  # 36 tokens: sampled, far from enumeration
    X = pd.DataFrame({"text": [text, "good", "bad product"]})
    res = kernel_shap_text(
        bow_linear, X, pd.DataFrame({"text": ["<UNK>"]}), text_columns=["text"], num_samples=300, seed=3
    )
    assert not res.exact[0]
    expected = np.array([WEIGHTS.get(w, 0.0) for w in words * 3])
    np.testing.assert_allclose(res.phi[0][:, 0], expected, atol=1e-10)
    np.testing.assert_allclose(res.phi[0][:, 1], -2.0 * expected, atol=1e-10)
    np.testing.assert_allclose(res.phi[1][:, 0], [2.0], atol=1e-12)
    assert res.partial_texts(2) == ["bad", "product"]
    np.testing.assert_allclose(res.base_value[:, 1], 1.0)


@pytest.mark.parametrize("baseline", [["<UNK>"], ["[MASK]", ""]])
def test_short_texts_enumerated_match_brute_force(baseline: list[str]) -> None:
    seg = Segmenter("token", "en")
    X = pd.DataFrame({"text": ["not good at all", "Good, not bad!", "great"]})
    B = pd.DataFrame({"text": baseline})
    res = kernel_shap_text(nonlinear, X, B, text_columns=["text"], segmenter=seg, num_samples=10_000, seed=0)
    assert res.exact.all()
    for i in range(len(X)):
        np.testing.assert_allclose(res.phi[i], brute_force(nonlinear, X.iloc[i], B, "text", seg), atol=1e-12)
        np.testing.assert_allclose(res.phi[i].sum(0), res.f_x[i] - res.base_value[i], atol=1e-12)


def test_multimodal_record_every_unit_and_feature_is_a_player() -> None:
    seg = Segmenter("token", "en")
    X = pd.DataFrame({"rating": [4.0, 1.0], "text": ["not good", "bad product ok"], "color": ["red", "blue"]})
    B = pd.DataFrame({"rating": [3.0, 5.0], "text": ["[MASK]", "<UNK>"], "color": ["blue", "red"]})
    res = kernel_shap_text(nonlinear, X, B, text_columns=["text"], segmenter=seg, num_samples=5000, seed=1)
    assert [p.column for p in res.players[0]] == [0, 1, 1, 2]
    assert [p.column for p in res.players[1]] == [0, 1, 1, 1, 2]
    assert res.partial_texts(0) == [None, "not", "good", None]
    for i in range(len(X)):
        np.testing.assert_allclose(res.phi[i], brute_force(nonlinear, X.iloc[i], B, "text", seg), atol=1e-12)


def test_sampled_budget_keeps_efficiency_and_is_reproducible_across_batching() -> None:
    rng = np.random.default_rng(0)
    vocab = list(WEIGHTS) + ["x", "y", "z", "w"]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(5, 25))) for _ in range(12)]
    X = pd.DataFrame({"text": texts})
    B = pd.DataFrame({"text": ["<UNK>"]})
    kw = {"text_columns": ["text"], "num_samples": 64, "seed": 11}
    a = kernel_shap_text(nonlinear, X, B, **kw)
    b = kernel_shap_text(nonlinear, X, B, max_batch_rows=7, max_batch_chars=300, **kw)
    first = kernel_shap_text(nonlinear, X.iloc[:5], B, **kw)
    rest = kernel_shap_text(nonlinear, X.iloc[5:], B, first_row=5, **kw)
    for i in range(len(X)):
        np.testing.assert_allclose(a.phi[i].sum(0), a.f_x[i] - a.base_value[i], atol=1e-10)
        np.testing.assert_array_equal(a.phi[i], b.phi[i])
        np.testing.assert_array_equal(a.phi[i], (first.phi[i] if i < 5 else rest.phi[i - 5]))
    c = kernel_shap_text(nonlinear, X, B, text_columns=["text"], num_samples=64, seed=12)
    assert any(not np.array_equal(a.phi[i], c.phi[i]) for i in range(len(X)) if not a.exact[i])


def test_long_document_is_sent_in_bounded_calls() -> None:
    calls: list[tuple[int, int]] = []

    def model(frame: pd.DataFrame) -> np.ndarray:
        calls.append((len(frame), sum(len(t) for t in frame["text"])))
        return bow_linear(frame)

    words = ["good", "bad", "product", "filler"] * 750  # 3000 tokens
    X = pd.DataFrame({"text": [" ".join(words)]})
    with pytest.warns(ApproximationWarning, match="minimum-norm"):
        res = kernel_shap_text(
            model,
            X,
            pd.DataFrame({"text": ["<UNK>"]}),
            text_columns=["text"],
            num_samples=400,
            seed=0,
            max_batch_chars=200_000,
        )
    assert len(res.players[0]) == 3000
    assert max(c for _, c in calls) <= 200_000 + 3000 * 8  # one record over the bound at most
    assert sum(r for r, _ in calls) == 1 + 400 + 1  # f(x), the coalitions, the empty coalition
    np.testing.assert_allclose(res.phi[0].sum(0), res.f_x[0] - res.base_value[0], atol=1e-8)


def test_record_without_units_and_logit() -> None:
    def proba(frame: pd.DataFrame) -> np.ndarray:
        s = bow_linear(frame)[:, 0]
        p = 1 / (1 + np.exp(-s))
        return np.stack([1 - p, p], axis=1)

    X = pd.DataFrame({"text": ["", "   \n ", None, "good product"]})
    res = kernel_shap_text(proba, X, pd.DataFrame({"text": ["<UNK>"]}), text_columns=["text"], use_logit=True, seed=0)
    assert [len(p) for p in res.phi] == [0, 0, 0, 2]
    np.testing.assert_allclose(res.phi[3][:, 1], [2.0, 0.25], atol=1e-9)  # log-odds of a linear score: exact
    np.testing.assert_allclose(res.f_x[0], res.base_value[0])


def test_bad_arguments() -> None:
    X = pd.DataFrame({"text": ["a b"]})
    B = pd.DataFrame({"text": ["<UNK>"]})
    with pytest.raises(ConfigError, match="unknown column 'nope'"):
        kernel_shap_text(bow_linear, X, B, text_columns=["nope"])
    with pytest.raises(ConfigError, match="at least one text column"):
        kernel_shap_text(bow_linear, X, B, text_columns=[])
    with pytest.raises(ConfigError, match="num_samples"):
        kernel_shap_text(bow_linear, X, B, text_columns=["text"], num_samples=0)
    with pytest.raises(ConfigError, match="baseline"):
        kernel_shap_text(bow_linear, X, B.iloc[:0], text_columns=["text"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, r"seed: must be an integer between 0 and 2\*\*64 - 1; got -1"),
        ({"seed": 2**64}, r"seed: must be an integer between 0 and 2\*\*64 - 1; got 18446744073709551616"),
        ({"seed": True}, r"seed: must be an integer between 0 and 2\*\*64 - 1; got True"),
        ({"num_samples": 1.5}, r"num_samples: must be an integer >= 1; got 1.5"),
        ({"num_samples": 10**9}, r"num_samples: must be at most 131072 \(2\*\*17"),
    ],
    ids=["negative-seed", "seed-2**64", "bool-seed", "float-budget", "budget-1e9"],
)
def test_seeds_and_budgets_out_of_range_are_refused(kwargs, message) -> None:
    """As kernel_shap: a seed is never reduced mod 2**64 (seed 2**64 would be seed 0), and a budget that
    cannot finish is refused before anything runs."""
    X = pd.DataFrame({"text": ["a b"]})
    B = pd.DataFrame({"text": ["<UNK>"]})
    with pytest.raises(ConfigError, match=message):
        kernel_shap_text(bow_linear, X, B, text_columns=["text"], **kwargs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), (float("nan"), ""), (5.0, "5"), (2.5, "2.5"), (np.float64(3.0), "3"), (7, "7"), ("x", "x")],
)
def test_text_value(value: object, expected: str) -> None:
    assert text_value(value) == expected


def test_no_warning_when_budget_pins_every_unit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernel_shap_text(
            bow_linear,
            pd.DataFrame({"text": ["good bad " * 20]}),
            pd.DataFrame({"text": ["<UNK>"]}),
            text_columns=["text"],
            num_samples=200,
            seed=0,
        )


def test_blockwise_normal_equations_and_min_norm_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    import openclarify.shapley._solve as solve_module
    from openclarify.shapley import plan_coalitions, sample_coalitions, solve

    rng = np.random.default_rng(0)
    n = 300
    plan = plan_coalitions(n, 3000)
    z = sample_coalitions(plan, np.array([7]), 1, fused=True)
    values = rng.normal(size=(1, z.shape[1], 3))
    args = (z, plan.weights(), values, np.zeros(3), rng.normal(size=(1, 3)))
    whole = solve(*args, paired=True)
    monkeypatch.setattr(solve_module, "_ROWS_PER_BLOCK_ELEMENTS", 10_000)  # forces the blockwise path
    np.testing.assert_allclose(solve(*args, paired=True), whole, rtol=1e-9, atol=1e-12)
    # fewer coalition pairs than players: the minimum-norm solution, equal to least squares' own
    small = plan_coalitions(n, 200)
    zs = sample_coalitions(small, np.array([7]), 1, fused=True)
    vs = rng.normal(size=(1, zs.shape[1], 3))
    fx = rng.normal(size=(1, 3))
    phi = solve(zs, small.weights(), vs, np.zeros(3), fx, paired=True)
    half = zs.shape[1] // 2
    zf = zs[0, :half].astype(float)
    design = zf[:, :-1] - zf[:, -1:]
    target = (vs[0, :half] - vs[0, half:] + np.where(zs[0, :half, -1:], -1.0, 1.0) * fx) / 2.0
    expected = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(phi[0, :-1], expected, atol=1e-9)
    np.testing.assert_allclose(phi[0].sum(0), fx[0], atol=1e-9)


# --- memory ------------------------------------------------------------------------------------------


def test_baseline_rows_of_a_long_text_split_over_calls_give_the_same_values() -> None:
    calls: list[int] = []

    def model(frame: pd.DataFrame) -> np.ndarray:
        calls.append(sum(len(t) for t in frame["text"]))
        return nonlinear(frame)

    X = pd.DataFrame(
        {"text": ["good product, not bad at all " * 6, "great"], "rating": [4.0, 2.0], "color": ["red"] * 2}
    )
    B = pd.DataFrame(
        {"text": ["<UNK>", "[MASK]", "", "x", "bad"], "rating": [1.0, 2.0, 3.0, 4.0, 5.0], "color": ["blue"] * 5}
    )
    kw = {"text_columns": ["text"], "num_samples": 100, "seed": 2}
    whole = kernel_shap_text(nonlinear, X, B, **kw)  # type: ignore[arg-type]
    calls.clear()
    split = kernel_shap_text(model, X, B, max_batch_chars=400, **kw)  # type: ignore[arg-type]
    assert max(calls[1:]) <= 400  # a coalition of the long record: 5 baseline rows of about 200 characters
    for i in range(len(X)):
        np.testing.assert_array_equal(split.phi[i], whole.phi[i])
        np.testing.assert_array_equal(split.base_value[i], whole.base_value[i])
        np.testing.assert_allclose(split.phi[i].sum(0), split.f_x[i] - split.base_value[i], atol=1e-12)


def test_record_that_needs_more_memory_than_allowed_stops_before_its_coalitions_are_drawn() -> None:
    calls: list[int] = []

    def model(frame: pd.DataFrame) -> np.ndarray:
        calls.append(len(frame))
        return bow_linear(frame)

    words = ["good", "bad", "product", "filler"] * 500  # 2000 tokens: the default budget is 6,050 coalitions
    X = pd.DataFrame({"text": ["good product", " ".join(words)], "rating": [1.0, 2.0]})
    B = pd.DataFrame({"text": ["<UNK>"], "rating": [0.0]})
    limit = 128 << 20  # the default budget's normal equations (2,001 x 2,001, copied) and BLAS threads take more
    with pytest.raises(DataError) as info:
        kernel_shap_text(model, X, B, text_columns=["text"], seed=0, first_row=7, memory_limit=limit)
    msg = str(info.value)
    assert msg.startswith(
        "record 8 (numbered from 0), column 'text': explaining its 2,001 players (2,000 token units of a text of "
        "11,999 characters, 1 other feature) with 6,050 coalitions needs about "
    )
    assert "of memory, more than the 128 MiB available; got num_samples=None (the default for its players). Set " in msg
    assert msg.endswith(" or less, use sentence or paragraph granularity, or split the text into shorter records.")
    assert calls == [2]  # f(x) of both records, and no coalition of the long one was built
    fit = int(msg.split("Set num_samples to ")[1].split(" ")[0].replace(",", ""))
    assert 100 < fit < 6050
    with pytest.warns(ApproximationWarning):
        res = kernel_shap_text(model, X, B, text_columns=["text"], seed=0, num_samples=fit, memory_limit=limit)
    np.testing.assert_allclose(res.phi[1].sum(0), res.f_x[1] - res.base_value[1], atol=1e-9)
    with pytest.raises(DataError, match="Set num_samples to"):
        kernel_shap_text(model, X, B, text_columns=["text"], seed=0, num_samples=fit + 200, memory_limit=limit)


def test_text_spacy_would_hold_whole_and_runs_too_long_to_split_are_data_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openclarify.text._segment as segment_module

    X = pd.DataFrame({"text": ["good product " * 100]})
    B = pd.DataFrame({"text": ["<UNK>"]})
    with pytest.raises(DataError) as info:
        kernel_shap_text(bow_linear, X, B, text_columns=["text"], num_samples=10, memory_limit=10_000)
    assert str(info.value).startswith(
        "record 0 (numbered from 0), column 'text': segmenting its text of 1,300 characters (spaCy holds a text "
        "without line breaks, tabs or runs of spaces whole) needs about "
    )
    assert str(info.value).endswith(
        "got granularity 'token'. Break the text into lines or shorter records, or use paragraph granularity."
    )
    monkeypatch.setattr(segment_module, "MAX_RUN_CHARS", 1000)
    with pytest.raises(DataError) as info:
        kernel_shap_text(bow_linear, X, B, text_columns=["text"], num_samples=10)
    assert str(info.value).startswith(
        "record 0 (numbered from 0), column 'text': 1,300 characters from offset 0 cannot be split for spaCy, "
        "which takes at most 1,000 at a time; got a text of 1,300 characters."
    )
    with pytest.raises(ConfigError, match="memory_limit"):
        kernel_shap_text(bow_linear, X, B, text_columns=["text"], memory_limit=-1)


def test_coalitions_counted_without_a_plan_and_memory_read_from_the_machine() -> None:
    from openclarify.shapley import plan_coalitions
    from openclarify.shapley._text import _available_memory, _n_coalitions

    for m in (1, 2, 3, 5, 11, 12, 40, 100):
        for budget in (1, 2, 3, 10, 255, 2048, 5000):
            assert _n_coalitions(m, budget) == plan_coalitions(m, budget).n_coalitions, (m, budget)
    if sys.platform.startswith("linux"):
        avail = _available_memory()
        assert avail is not None and 0 < avail < 1 << 50


def test_a_model_failing_on_a_missing_number_names_the_dataset_record() -> None:
    def strict(df: pd.DataFrame) -> np.ndarray:
        if df["stars"].isna().any():
            raise ValueError("Input contains NaN")
        return df["stars"].to_numpy() + df["text"].str.count("good").to_numpy()

    X = pd.DataFrame({"text": ["good day", "a good one", "fine"], "stars": [1.0, np.nan, 3.0]})
    B = pd.DataFrame({"text": ["<UNK>"], "stars": [2.0]})
    with pytest.raises(DataError, match=r"^dataset record 8 \(numbered from 0\), column 'stars': .*Input contains NaN"):
        kernel_shap_text(strict, X, B, text_columns=["text"], seed=0, first_row=7)
