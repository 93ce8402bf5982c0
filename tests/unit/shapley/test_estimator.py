"""kernel_shap's checks of its arguments, and which record a model failure is blamed on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openclarify.errors import ConfigError, DataError, ModelError
from openclarify.shapley import kernel_shap
from openclarify.shapley._estimator import MAX_NUM_SAMPLES

X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.5, 1.5, 2.5], "c": [0.0, 1.0, 0.0, 1.0]})
BASE = pd.DataFrame({"a": [0.0, 1.0], "b": [0.0, 0.0], "c": [0.0, 0.0]})


def _linear(df):
    return df["a"] + 2 * df["b"] - df["c"]


def _strict(df):
    x = df.to_numpy(dtype=float)
    if not np.isfinite(x).all():
        raise ValueError("Input contains NaN")
    return x.sum(axis=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"seed": -1}, "seed: must be an integer between 0 and 2**64 - 1; got -1.", id="negative"),
        pytest.param(
            {"seed": 2**64}, "seed: must be an integer between 0 and 2**64 - 1; got 18446744073709551616.", id="2**64"
        ),
        pytest.param({"seed": True}, "seed: must be an integer between 0 and 2**64 - 1; got True.", id="bool"),
        pytest.param({"seed": 1.5}, "seed: must be an integer between 0 and 2**64 - 1; got 1.5.", id="float"),
        pytest.param(
            {"num_samples": MAX_NUM_SAMPLES + 1},
            "num_samples: must be at most 1048576 (2**20: every coalition of 20 players; larger budgets do not "
            "finish in memory); got 1048577.",
            id="num_samples-too-large",
        ),
        pytest.param(
            {"num_samples": True},
            "num_samples: must be an integer >= 1; got True.",
            id="num_samples-bool",
        ),
    ],
)
def test_rejects_arguments(kwargs, message):
    with pytest.raises(ConfigError) as info:
        kernel_shap(_linear, X, BASE, **kwargs)
    assert str(info.value) == message


def test_seed_range_ends_are_distinct_and_accepted():
    args = (lambda df: df["a"] * df["b"] * df["c"] + df["a"] ** 2, pd.concat([X] * 3, ignore_index=True), BASE)
    low = kernel_shap(*args, num_samples=4, seed=0)
    high = kernel_shap(*args, num_samples=4, seed=2**64 - 1)
    assert not np.array_equal(low.phi, high.phi)


def test_a_model_failing_on_a_missing_number_names_the_dataset_record():
    records = X.copy()
    records.loc[2, "b"] = np.nan
    with pytest.raises(DataError) as info:
        kernel_shap(_strict, records, BASE, num_samples=6, seed=0, first_row=100)
    assert str(info.value) == (
        "dataset record 102 (numbered from 0), column 'b': model '_strict' raised ValueError on records "
        "built from it: Input contains NaN; got nan. Fill in or drop the records with missing or infinite "
        "numbers, or use a model that accepts missing values (e.g. a pipeline with SimpleImputer)."
    )


def test_a_model_returning_nan_for_a_missing_number_names_the_dataset_record():
    records = X.copy()
    records.loc[3, "a"] = np.nan
    with pytest.raises(DataError) as info:
        kernel_shap(_linear, records, BASE, num_samples=6, seed=0)
    assert str(info.value) == (
        "dataset record 3 (numbered from 0), column 'a': model '_linear' returned a non-finite score for "
        "records built from it; got nan. Fill in or drop the records with missing or infinite numbers, or "
        "use a model that accepts missing values (e.g. a pipeline with SimpleImputer)."
    )


def test_a_missing_number_in_the_baseline_names_the_baseline_record():
    base = BASE.copy()
    base.loc[1, "c"] = np.nan
    with pytest.raises(DataError) as info:
        kernel_shap(_strict, X, base, num_samples=6, seed=0)
    assert str(info.value).startswith(
        "baseline record 1 (numbered from 0), column 'c': model '_strict' raised ValueError on records built "
        "from it: Input contains NaN; got nan."
    )


def test_a_failure_on_finite_records_stays_a_model_error():
    def broken(df):
        raise RuntimeError("boom")

    with pytest.raises(ModelError, match=r"^model '.*broken' raised RuntimeError on a batch of 2 records: boom$"):
        kernel_shap(broken, X, BASE, num_samples=6, seed=0)


def test_missing_numbers_a_model_accepts_are_explained():
    records = X.copy()
    records.loc[1, "a"] = np.nan
    res = kernel_shap(lambda df: df.fillna(0.0).sum(axis=1), records, BASE, num_samples=6, seed=0)
    np.testing.assert_allclose(res.phi.sum(axis=1)[:, 0], res.f_x[:, 0] - res.base_value[0], atol=1e-12)


def test_the_caller_frames_survive_a_model_that_changes_its_input():
    records, base = X.copy(), BASE.copy()

    def vandal(df):
        out = df["a"] + 2 * df["b"] - df["c"]
        df["a"] = 0.0
        df.iloc[:, 1] = -5.0
        return out

    clean = kernel_shap(_linear, X, BASE, num_samples=6, seed=0, max_batch_rows=3)
    dirty = kernel_shap(vandal, records, base, num_samples=6, seed=0, max_batch_rows=3)
    np.testing.assert_array_equal(dirty.phi, clean.phi)
    np.testing.assert_array_equal(dirty.base_value, clean.base_value)
    pd.testing.assert_frame_equal(records, X)
    pd.testing.assert_frame_equal(base, BASE)


def _forest():
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(x, x[:, 0] * x[:, 1] + x[:, 2])
    return lambda df: model.predict(df.to_numpy())


@pytest.mark.parametrize("num_samples", [pytest.param(4, id="sampled"), pytest.param(None, id="exact")])
def test_scores_known_or_folded_into_the_coalitions_call_give_the_same_bits(num_samples):
    """``f_x`` given, or the records scored in their first coalitions' call (``fold_records``): the same
    values as scoring them apart, with one model call fewer."""
    model = _forest()
    plain = kernel_shap(model, X, BASE, seed=3, num_samples=num_samples)
    folded = kernel_shap(model, X, BASE, seed=3, num_samples=num_samples, fold_records=True)
    known = kernel_shap(model, X, BASE, seed=3, num_samples=num_samples, f_x=plain.f_x)
    for res in (folded, known):
        np.testing.assert_array_equal(res.phi, plain.phi)
        np.testing.assert_array_equal(res.f_x, plain.f_x)
        assert res.model_calls == plain.model_calls - 1
    # records solved in several units, or threads, or logits: the records are scored on their own
    many = kernel_shap(model, X, BASE, seed=3, num_samples=num_samples, fold_records=True, max_batch_rows=2)
    assert (
        many.model_calls == kernel_shap(model, X, BASE, seed=3, num_samples=num_samples, max_batch_rows=2).model_calls
    )
    with pytest.raises(ConfigError, match=r"f_x: must have shape \(4, n_outputs\)"):
        kernel_shap(model, X, BASE, seed=3, f_x=np.zeros((3, 1)))


def test_folded_scores_of_the_wrong_width_are_refused():
    calls = []

    def model(df):
        calls.append(len(df))
        return np.ones((len(df), 2)) if len(calls) > 1 else np.ones((len(df), 1))

    with pytest.raises(ModelError, match="returned 2 scores per record for the explained rows but 1"):
        kernel_shap(model, X, BASE, seed=3, fold_records=True)
