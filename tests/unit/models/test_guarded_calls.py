"""What a model may do to the job from inside a call: change its input, end the program, fail on missing numbers."""

from __future__ import annotations

import os
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from openclarify.errors import DataError, ModelError
from openclarify.models import CallablePredictor, SklearnPredictor, check_scores, load_model

RECORDS = pd.DataFrame(
    {"sex": pd.Series(["M", "F", "I"], dtype=object), "a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]},
)
NUMERIC = RECORDS[["a", "b"]]


def _vandal(df: pd.DataFrame) -> pd.Series:
    """Scores a + b, then changes its input every way pandas allows."""
    out = df["a"] + df["b"]
    df["a"] = 0.0
    df.iloc[0, 2] = 99.0
    df.loc[:, "b"] = -1.0
    df["sex"] = df["sex"].map({"M": 0, "F": 1, "I": 2})
    del df["sex"]
    df.columns = ["x", "y"]
    df.index = df.index + 10
    return out


def test_a_model_that_changes_its_frame_leaves_the_callers_frame_alone():
    records = RECORDS.copy()
    predictor = CallablePredictor(_vandal, name="m")
    np.testing.assert_array_equal(predictor.predict(records)[:, 0], [1.0, 1.0, 3.0])
    pd.testing.assert_frame_equal(records, RECORDS)
    np.testing.assert_array_equal(predictor.predict(records)[:, 0], [1.0, 1.0, 3.0])  # the same again


def test_a_model_that_maps_a_column_sees_the_original_values_every_call():
    def model(df):
        df["sex"] = df["sex"].map({"M": 0.0, "F": 1.0, "I": 2.0})
        return df["sex"] + df["a"]

    predictor = CallablePredictor(model, name="m")
    for _ in range(3):
        np.testing.assert_array_equal(predictor.predict(RECORDS)[:, 0], [0.0, 2.0, 4.0])
    assert RECORDS["sex"].tolist() == ["M", "F", "I"]


def test_a_numpy_model_may_write_into_its_array():
    records = NUMERIC.copy()

    def model(x):
        x[:, 0] = 100.0
        x *= 2
        return x.sum(axis=1)

    predictor = CallablePredictor(model, name="m", as_numpy=True)
    np.testing.assert_array_equal(predictor.predict(records)[:, 0], [202.0, 200.0, 202.0])
    pd.testing.assert_frame_equal(records, NUMERIC)


@pytest.mark.parametrize("as_frame", [pytest.param(True, id="frame"), pytest.param(False, id="array")])
def test_an_estimator_whose_transformer_writes_into_its_input_leaves_the_records_alone(as_frame):
    def zero_first_column(x):
        if isinstance(x, pd.DataFrame):
            x.iloc[:, 0] = 0.0
        else:
            x[:, 0] = 0.0
        return x

    fit_on = NUMERIC if as_frame else NUMERIC.to_numpy()
    model = make_pipeline(FunctionTransformer(zero_first_column), LinearRegression()).fit(fit_on, [1.0, 2.0, 3.0])
    records = NUMERIC.copy()
    predictor = SklearnPredictor(model, name="m")
    assert predictor.as_frame is as_frame
    first = predictor.predict(records)
    pd.testing.assert_frame_equal(records, NUMERIC)
    np.testing.assert_array_equal(predictor.predict(records), first)


def test_input_protection_is_cheap_on_a_large_batch():
    """A copy of a 16,384-record batch costs far less than any model call (measured: ~10-60 us)."""
    import time

    big = pd.DataFrame(np.random.default_rng(0).normal(size=(16384, 8)), columns=[f"f{i}" for i in range(8)])
    predictor = CallablePredictor(lambda df: np.zeros(len(df)), name="m")
    predictor.predict(big)
    start = time.perf_counter()
    for _ in range(20):
        predictor.predict(big)
    assert (time.perf_counter() - start) / 20 < 0.05  # generous: a shared machine


# --- a model that ends the program --------------------------------------------------------------


def _exit_zero(df):
    sys.exit(0)


def _exit_three(df):
    sys.exit(3)


def _exit_message(df):
    raise SystemExit("giving up")


def _os_exit(df):
    os._exit(0)


def _os_exit_caught(df):
    try:
        os._exit(5)
    except BaseException:  # noqa: BLE001 - a model that swallows everything
        pass
    return np.zeros(len(df))


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        pytest.param(
            _exit_zero,
            "model 'm': ended the program with sys.exit() on a batch of 3 records; got exit code 0. "
            "Return scores, or raise an exception to report a failure.",
            id="sys.exit(0)",
        ),
        pytest.param(
            _exit_three,
            "model 'm': ended the program with sys.exit() on a batch of 3 records; got exit code 3. "
            "Return scores, or raise an exception to report a failure.",
            id="sys.exit(3)",
        ),
        pytest.param(
            _exit_message,
            "model 'm': ended the program with sys.exit() on a batch of 3 records; got exit code 'giving up'. "
            "Return scores, or raise an exception to report a failure.",
            id="sys.exit(text)",
        ),
        pytest.param(
            _os_exit,
            "model 'm': tried to end the process with os._exit() on a batch of 3 records; got exit status 0. "
            "Return scores, or raise an exception to report a failure.",
            id="os._exit(0)",
        ),
        pytest.param(
            _os_exit_caught,
            "model 'm': tried to end the process with os._exit() on a batch of 3 records; got exit status 5. "
            "Return scores, or raise an exception to report a failure.",
            id="os._exit-caught-by-the-model",
        ),
    ],
)
def test_a_model_that_exits_is_a_model_error(fn, message):
    real_exit = os._exit
    with pytest.raises(ModelError) as info:
        CallablePredictor(fn, name="m").predict(RECORDS)
    assert str(info.value) == message
    assert os._exit is real_exit  # the guard is gone once no model call runs


def test_an_estimator_that_exits_is_a_model_error():
    class Quitter:
        feature_names_in_ = np.array(["a", "b"], dtype=object)

        def predict(self, x):
            sys.exit(2)

    with pytest.raises(ModelError, match=r"^model 'q': ended the program with sys.exit\(\) on a batch of 3 "):
        SklearnPredictor(Quitter(), name="q").predict(NUMERIC)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_os_exit_in_a_forked_child_still_ends_the_child():
    def model(df):
        pid = os.fork()
        if pid == 0:  # the child: multiprocessing's fork start method ends its workers this way
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        return np.full(len(df), float(os.waitstatus_to_exitcode(status)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork in a process with threads
        scores = CallablePredictor(model, name="m").predict(RECORDS)
    np.testing.assert_array_equal(scores[:, 0], [7.0, 7.0, 7.0])


def test_exit_guard_is_shared_by_threads():
    """Threads call the same predictor at once: one model call exits, the others keep working, and
    os._exit is the real one again when the last call ends."""
    real_exit = os._exit
    gate = threading.Barrier(4)

    def model(df):
        gate.wait(timeout=10)
        if df["a"].iloc[0] == 1.0:
            os._exit(1)
        return df["a"]

    predictor = CallablePredictor(model, name="m")
    results: dict[int, object] = {}

    def call(k: int) -> None:
        try:
            results[k] = predictor.predict(RECORDS.assign(a=float(k)))
        except ModelError as exc:
            results[k] = exc

    threads = [threading.Thread(target=call, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert isinstance(results[1], ModelError) and "os._exit()" in str(results[1])
    assert all(not isinstance(results[k], ModelError) for k in (0, 2, 3)), results
    assert os._exit is real_exit


def test_exits_while_the_model_file_is_imported(tmp_path):
    (tmp_path / "m.py").write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(ModelError) as info:
        load_model(f"{tmp_path / 'm.py'}:f")
    assert str(info.value) == (
        f"--model '{tmp_path / 'm.py'}': importing it ended the program with sys.exit(); got exit code 0. "
        "A model file must only define its function when it is imported."
    )
    (tmp_path / "o.py").write_text("import os\nos._exit(0)\n")
    with pytest.raises(ModelError, match=r"importing it tried to end the process with os._exit\(\); got exit status 0"):
        load_model(f"{tmp_path / 'o.py'}:f")


# --- missing and infinite numbers ---------------------------------------------------------------

WITH_NAN = pd.DataFrame({"a": [0.0, 1.0, np.nan], "b": [1.0, np.inf, 1.0]})


def _strict(df):
    x = df.to_numpy(dtype=float)
    if not np.isfinite(x).all():
        raise ValueError("Input contains NaN")
    return x.sum(axis=1)


def test_a_model_that_fails_on_missing_numbers_is_a_data_error():
    with pytest.raises(DataError) as info:
        CallablePredictor(_strict, name="m").predict(WITH_NAN)
    assert str(info.value) == (
        "batch row 1, column 'b': model 'm' raised ValueError on a batch of 3 records holding a missing or "
        "infinite number: Input contains NaN; got inf. Fill in or drop the records with missing or infinite "
        "numbers, or use a model that accepts missing values (e.g. a pipeline with SimpleImputer)."
    )
    assert isinstance(info.value.__cause__, ValueError)


def test_a_model_that_fails_on_finite_numbers_stays_a_model_error():
    with pytest.raises(ModelError, match=r"^model 'm' raised ValueError on a batch of 3 records: Input contains NaN$"):
        CallablePredictor(lambda df: _strict(df.assign(a=np.nan)), name="m").predict(NUMERIC)


def test_a_model_that_returns_nan_for_a_missing_number_is_a_data_error():
    with pytest.raises(DataError) as info:
        CallablePredictor(lambda df: df["a"] * 2, name="m").predict(WITH_NAN)
    assert str(info.value) == (
        "batch row 2, column 'a': model 'm' returned a non-finite score for a record holding a missing or "
        "infinite number; got nan. Fill in or drop the records with missing or infinite numbers, or use a "
        "model that accepts missing values (e.g. a pipeline with SimpleImputer)."
    )


def test_a_nan_score_for_a_record_without_missing_numbers_stays_a_model_error():
    with pytest.raises(ModelError, match="non-finite score for 1 of 3 records"):
        check_scores([1.0, np.nan, 2.0], 3, source="model 'm'", records=WITH_NAN.fillna(0.0).replace(np.inf, 0.0))


def test_a_model_that_accepts_missing_values_is_not_refused():
    train = pd.DataFrame({"a": [0.0, 1.0, np.nan, 3.0], "b": [1.0, 0.0, 1.0, np.nan]})
    model = make_pipeline(SimpleImputer(), LinearRegression()).fit(train, [1.0, 2.0, 3.0, 4.0])
    records = WITH_NAN.replace(np.inf, 2.0)
    scores = SklearnPredictor(model, name="m").predict(records)
    np.testing.assert_allclose(scores[:, 0], model.predict(records))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_os_exit_from_a_thread_the_model_started_fails_the_call():
    def model(df):
        worker = threading.Thread(target=os._exit, args=(4,))
        worker.start()
        worker.join()
        return df["a"]

    with pytest.raises(
        ModelError, match=r"tried to end the process with os._exit\(\) on a batch of 3 records; got exit status 4"
    ):
        CallablePredictor(model, name="m").predict(RECORDS)


class _ExitsWhenUnpickled:
    def __reduce__(self):
        return (sys.exit, (5,))


def test_a_joblib_file_that_exits_when_loaded(tmp_path):
    import joblib

    joblib.dump(_ExitsWhenUnpickled(), tmp_path / "m.joblib")
    with pytest.raises(ModelError) as info:
        load_model(tmp_path / "m.joblib")
    assert str(info.value) == (
        f"--model {str(tmp_path / 'm.joblib')!r}: loading it ended the program with sys.exit(); got exit code 5. "
        "Check what the file holds."
    )


def _tail_rounding(x: np.ndarray) -> np.ndarray:
    """a + b, rounded otherwise in the rows after the last whole block of 16 (as a BLAS does on some CPUs)."""
    out = x.sum(axis=1)
    out[len(out) // 16 * 16 :] += 1e-12
    return out


@pytest.mark.parametrize("as_numpy", [True, False])
def test_a_records_score_does_not_depend_on_its_batch(as_numpy):
    from openclarify.models import ROW_MULTIPLE

    sizes: list[int] = []

    def model(x):
        sizes.append(len(x))
        return _tail_rounding(np.asarray(x, dtype=np.float64))

    rng = np.random.default_rng(0)
    records = pd.DataFrame(rng.standard_normal((40, 2)), columns=["a", "b"])
    predictor = CallablePredictor(model, name="m", as_numpy=as_numpy)
    whole = predictor.predict(records)[:, 0]
    for n in (1, 3, 16, 25, 33):
        np.testing.assert_array_equal(predictor.predict(records.iloc[:n])[:, 0], whole[:n])
        np.testing.assert_array_equal(predictor.predict(records.iloc[-n:])[:, 0], whole[-n:])
    assert ROW_MULTIPLE == 16 and all(s % 16 == 0 for s in sizes)
    assert whole.tolist() == records.sum(axis=1).tolist()  # no row was in a tail


def test_the_filled_rows_are_copies_of_the_last_record_and_their_answers_are_dropped():
    seen: list[pd.DataFrame] = []

    def model(df):
        seen.append(df.copy())
        return (df["a"] * 10).to_numpy()

    out = CallablePredictor(model, name="m").predict(RECORDS)
    assert out[:, 0].tolist() == [0.0, 10.0, 20.0]
    (given,) = seen
    assert len(given) == 16 and given.index.tolist() == list(range(16))
    assert given.iloc[:3]["a"].tolist() == [0.0, 1.0, 2.0] and set(given.iloc[3:]["sex"]) == {"I"}


def test_a_batch_of_text_is_sent_as_it_is():
    from openclarify.models._protocol import batches_as_given
    from openclarify.shapley import kernel_shap_text

    seen: list[int] = []

    def model(df):
        seen.append(len(df))
        return df["t"].str.len().to_numpy(dtype=np.float64)

    texts = pd.DataFrame({"t": ["a short text", "a longer text of words"]})
    predictor = CallablePredictor(model, name="m")
    with batches_as_given():
        assert predictor.predict(texts)[:, 0].tolist() == [12.0, 22.0]
    assert seen == [2]
    assert predictor.predict(texts)[:, 0].tolist() == [12.0, 22.0] and seen[-1] == 16  # filled outside
    seen.clear()
    res = kernel_shap_text(predictor, texts, pd.DataFrame({"t": [""]}), text_columns=["t"], num_samples=20, seed=0)
    assert sum(seen) == res.model_rows and res.model_rows % 16  # the text game's rows, and no copies


@pytest.mark.parametrize("answer", [np.zeros(3), [1.0, 2.0], np.float64(1.0), pd.Series([1.0] * 15)])
def test_a_model_that_does_not_answer_every_row_of_a_filled_batch_is_a_model_error(answer):
    predictor = CallablePredictor(lambda df: answer, name="m")
    with pytest.raises(ModelError, match=r"^model 'm': expected one score or score vector for each of the 3 records; "
                                         r"got an array of shape \(\d*,?\) for a batch of 16"):  # fmt: skip
        predictor.predict(RECORDS)


def test_kernel_shap_gives_the_same_bits_in_any_partition_with_a_model_that_rounds_its_tail_otherwise():
    from openclarify.shapley import kernel_shap

    rng = np.random.default_rng(1)
    x = rng.standard_normal((37, 6))
    b = x.mean(axis=0, keepdims=True)

    def model(a):
        return _tail_rounding(np.tanh(a) + a[:, :1] * a[:, 1:2])

    predictor = CallablePredictor(model, name="m", as_numpy=True)
    whole = kernel_shap(predictor, x, b, num_samples=40, seed=3).phi
    for step in (1, 5, 25):
        parts = [kernel_shap(predictor, x[i : i + step], b, num_samples=40, seed=3, first_row=i).phi
                 for i in range(0, len(x), step)]  # fmt: skip
        np.testing.assert_array_equal(np.concatenate(parts), whole)
