"""The one Kernel SHAP loop over a game: units are independent work, on any executor, with the same bits."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from openclarify.backends import get_executor
from openclarify.models import CallablePredictor
from openclarify.shapley import kernel_shap, kernel_shap_text
from openclarify.shapley._coalitions import plan_coalitions
from openclarify.shapley._game import TabularGame
from openclarify.shapley._play import Unit, play, play_on
from openclarify.shapley._text import TextGame
from openclarify.text import Segmenter

WEIGHTS = {"good": 2.0, "great": 1.5, "bad": -1.75, "not": -0.5}


def text_model(frame: pd.DataFrame) -> np.ndarray:
    s = np.array([sum(WEIGHTS.get(t, 0.0) for t in str(x).lower().split()) for x in frame["text"]])
    inter = np.array([("not" in str(x) and "good" in str(x)) * 1.0 for x in frame["text"]])
    z = s - 1.5 * inter + 0.3 * frame["rating"].to_numpy(dtype=float)
    return np.stack([1 / (1 + np.exp(-z)), np.tanh(z)], axis=1)


def tabular_model(x: np.ndarray) -> np.ndarray:
    z = x[:, 0] * x[:, 1] - np.sin(x[:, 2]) + 0.5 * x[:, 3] ** 2 - x[:, 4]
    return np.stack([1 / (1 + np.exp(-z)), z], axis=1)


def _text_game(frame: pd.DataFrame, max_batch_rows: int = 64) -> TextGame:
    base = pd.DataFrame({"text": ["<UNK>"], "rating": [3.0]})
    predictor = CallablePredictor(text_model)
    return TextGame(
        predictor,
        frame.copy(),
        base,
        [0],
        {0: Segmenter("token", "en")},
        num_samples=40,
        allocation="leverage",
        max_batch_rows=max_batch_rows,
        max_batch_chars=1 << 20,
        memory_limit=None,
        first_row=100,
    )


def _reviews(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    words = ["good", "great", "bad", "not", "the", "fit", "size", "colour"]
    texts = [" ".join(rng.choice(words, size=int(k))) for k in rng.integers(0, 12, size=n)]
    return pd.DataFrame({"text": texts, "rating": rng.integers(1, 6, size=n).astype(float)})


def _solved(units: list[Unit]) -> list[tuple[int, bytes, bytes]]:
    out = []
    for u in units:
        assert u.phi is not None and u.base is not None
        out.append((u.first, u.phi.tobytes(), np.asarray(u.base).tobytes()))
    return out


def test_text_units_on_threads_give_the_bits_of_the_batched_loop() -> None:
    """A text game holds masked records back to batch them across records; played one unit per worker
    (no batching across records) the values are the same bits, and every model row is counted."""
    frame = _reviews(30)
    local = _text_game(frame)
    f_x = local.predict_records()
    batched = list(play(local, local.units(f_x), seed=7, use_logit=False))
    threaded = _text_game(frame)
    threaded.predict_records()
    spread = list(play_on(get_executor("threads", 3), threaded, threaded.units(f_x), seed=7, use_logit=False))
    assert _solved(batched) == _solved(spread)
    assert [u.first for u in spread] == list(range(30))
    assert local.calls().rows == threaded.calls().rows
    assert local.calls().calls < threaded.calls().calls  # the local loop batched records together


def test_text_loop_solves_in_order_while_holding_records_back() -> None:
    frame = _reviews(25)
    game = _text_game(frame, max_batch_rows=500)
    f_x = game.predict_records()
    first_calls = game.calls().calls
    order = [u.first for u in play(game, game.units(f_x), seed=1, use_logit=False)]
    assert order == list(range(25))
    rows = game.calls().rows - len(frame)
    assert game.calls().calls - first_calls == -(-rows // 500)  # full calls across records, one partial


def test_efficiency_holds_for_every_solved_unit() -> None:
    frame = _reviews(12)
    game = _text_game(frame)
    f_x = game.predict_records()
    for u in play(game, game.units(f_x), seed=3, use_logit=False):
        assert u.phi is not None and u.base is not None
        np.testing.assert_allclose(u.phi[0].sum(axis=0), f_x[u.first] - u.base, rtol=0, atol=1e-10)


def test_work_items_pickle() -> None:
    """What a worker gets (a game copy and its units) crosses a process boundary."""
    x = np.random.default_rng(0).normal(size=(6, 5))
    predictor = CallablePredictor(tabular_model, as_numpy=True)
    game = TabularGame(predictor, pd.DataFrame(x[:2]), np.arange(5), 1000)
    plan = plan_coalitions(5, 20)
    unit = Unit(0, np.arange(6), plan, plan.weights(), tabular_model(x), np.zeros(2), pd.DataFrame(x))
    # the predictor wraps a module-level function: the copy and the unit pickle
    again = pickle.loads(pickle.dumps((game.fresh(), unit)))
    solved = next(play(again[0], [again[1]], seed=5, use_logit=False))
    reference = next(play(game, [unit], seed=5, use_logit=False))
    assert solved.phi is not None and reference.phi is not None
    assert solved.phi.tobytes() == reference.phi.tobytes()


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_tabular_wrapper_same_bits_for_any_threads(n_jobs: int) -> None:
    x = np.random.default_rng(2).normal(size=(300, 5))
    ref = kernel_shap(tabular_model, x, x[:3], num_samples=24, seed=9, max_batch_rows=64)
    res = kernel_shap(tabular_model, x, x[:3], num_samples=24, seed=9, max_batch_rows=64, n_jobs=n_jobs)
    assert res.phi.tobytes() == ref.phi.tobytes()
    assert (res.model_rows, res.model_calls) == (ref.model_rows, ref.model_calls)


def test_text_wrapper_is_the_loop() -> None:
    frame = _reviews(10)
    game = _text_game(frame)
    f_x = game.predict_records()
    units = list(play(game, game.units(f_x), seed=11, use_logit=False))
    base = pd.DataFrame({"text": ["<UNK>"], "rating": [3.0]})
    res = kernel_shap_text(
        text_model, frame, base, text_columns=["text"], num_samples=40, seed=11, max_batch_rows=64, first_row=100
    )
    for u in units:
        assert u.phi is not None
        assert u.phi[0].tobytes() == res.phi[u.first].tobytes()
    assert res.model_calls == game.calls().calls


def test_one_blas_thread_covers_scipys_blas_when_scipy_came_after_the_controller(monkeypatch) -> None:
    import scipy.linalg  # noqa: F401 - scipy's own BLAS (the gp estimator's solves)
    from threadpoolctl import ThreadpoolController, threadpool_info

    from openclarify.shapley import _gp, _play

    every = ThreadpoolController()
    numpy_only = every.select(filepath=[c.filepath for c in every.lib_controllers if "numpy" in c.filepath])
    monkeypatch.setattr(_gp, "_blas", (numpy_only, False))  # as made before scipy was loaded
    with _play._solve_context(TextGame, 10):
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert len(blas) >= 1 and all(i["num_threads"] == 1 for i in blas)
    assert _gp._blas is not None and _gp._blas[1]
