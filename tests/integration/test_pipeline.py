"""run_analysis end to end on real files: computed baselines, features_to_explain, formats, chunking."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from openclarify import ConfigError, load_analysis_config, parse_analysis_config, run_analysis
from openclarify.models import CallablePredictor
from openclarify.shapley import kernel_shap


def _frame(rng, n=300):
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n).astype(object),
            "c": rng.normal(size=n),
        }
    )


def _score(df: pd.DataFrame) -> np.ndarray:
    colour = df["colour"].map({"red": 1.0, "green": 0.0, "blue": -1.0}).to_numpy(dtype=float)
    return np.tanh(df["a"].to_numpy() * df["b"].to_numpy()) + colour * df["c"].to_numpy()


MODEL = CallablePredictor(_score, name="score")


def _config(**shap):
    return parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "predictor": {"content_type": "text/csv"},
            "methods": {"shap": {"save_local_shap_values": True, **shap}},
        }
    )


def test_computed_baseline_with_categorical_column(tmp_path, rng):
    frame = _frame(rng)
    frame["y"] = 0
    frame.to_csv(tmp_path / "d.csv", index=False)
    res = run_analysis(
        _config(num_clusters=3, seed=4), model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.csv"
    )
    baseline = pd.read_csv(
        tmp_path / "out" / "explanations_shap" / "baseline.csv", header=None, names=["a", "b", "colour", "c"]
    )
    assert len(baseline) == 3 == res.n_baseline_rows
    assert set(baseline["colour"]) <= {"red", "green", "blue"}
    assert res.expected_value[0] == pytest.approx(_score(baseline).mean(), abs=1e-9)
    local = pd.read_csv(tmp_path / "out" / "explanations_shap" / "out.csv")
    np.testing.assert_allclose(local.sum(axis=1) + res.expected_value[0], _score(frame), atol=1e-9)


def test_features_to_explain_reports_only_those(tmp_path, rng):
    frame = _frame(rng, 50)
    frame["y"] = 1
    frame.to_csv(tmp_path / "d.csv", index=False)
    base = [[0.0, 0.0, "green", 0.0]]
    res = run_analysis(
        _config(baseline=base, features_to_explain=["c", 0], num_samples=100, seed=1),
        model=MODEL,
        output_dir=tmp_path / "out",
        data=tmp_path / "d.csv",
    )
    assert res.feature_names == ("a", "c")
    local = pd.read_csv(tmp_path / "out" / "explanations_shap" / "out.csv")
    assert list(local.columns) == ["a_label0", "c_label0"]
    # the values are those of the game with players a, c and {b, colour} (exact: 3 players)
    grouped = kernel_shap(
        MODEL,
        frame[["a", "b", "colour", "c"]],
        pd.DataFrame(base, columns=["a", "b", "colour", "c"]),
        players=[["a"], ["c"], ["b", "colour"]],
        num_samples=6,
    )
    np.testing.assert_allclose(local.to_numpy(), grouped.phi[:, :2, 0], atol=1e-12)
    with pytest.raises(ConfigError, match=r"features_to_explain\[0\]: not a model input feature; got 'zz'"):
        run_analysis(
            _config(baseline=base, features_to_explain=["zz"]),
            model=MODEL,
            output_dir=tmp_path / "o2",
            data=tmp_path / "d.csv",
        )


def test_label_headers_must_match_the_outputs(tmp_path, rng):
    frame = _frame(rng, 5)
    frame["y"] = 0
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "predictor": {"content_type": "text/csv", "label_headers": ["x", "y", "z"]},
            "methods": {"shap": {"baseline": [[0, 0, "red", 0]]}},
        }
    )
    with pytest.raises(ConfigError, match=r"predictor\.label_headers: names 3 outputs but the model returns 1"):
        run_analysis(cfg, model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.csv")
    assert not (tmp_path / "out").exists()


def test_parquet_and_csv_give_the_same_result(tmp_path, rng):
    frame = _frame(rng, 70)
    frame["y"] = 0.0
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    base = {"baseline": [[0.0, 0.0, "green", 0.0]], "num_samples": 10, "seed": 3}
    a = run_analysis(_config(**base), model=MODEL, output_dir=tmp_path / "o1", data=tmp_path / "d.csv")
    cfg = parse_analysis_config(
        {**json.loads(json.dumps(_config(**base).source, default=dict)), "dataset_type": "application/x-parquet"}
    )
    b = run_analysis(cfg, model=MODEL, output_dir=tmp_path / "o2", data=tmp_path / "d.parquet")
    np.testing.assert_array_equal(a.global_shap_values, b.global_shap_values)
    assert (tmp_path / "o1/explanations_shap/out.csv").read_bytes() == (
        tmp_path / "o2/explanations_shap/out.csv"
    ).read_bytes()


def test_chunk_size_batch_size_and_threads_do_not_change_the_files(tmp_path, rng):
    frame = _frame(rng, 260)
    frame["y"] = 0
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = _config(baseline=[[0.0, 0.0, "green", 0.0], [1.0, -1.0, "red", 2.0]], num_samples=8, seed=9)
    outputs = []
    for i, (chunk, batch, jobs) in enumerate([(8192, 65536, 1), (64, 1000, 1), (100, 7, 2)]):
        run_analysis(
            cfg,
            model=MODEL,
            output_dir=tmp_path / f"o{i}",
            data=tmp_path / "d.csv",
            chunksize=chunk,
            max_batch_rows=batch,
            n_jobs=jobs,
        )
        outputs.append(
            (
                (tmp_path / f"o{i}/analysis.json").read_bytes(),
                (tmp_path / f"o{i}/explanations_shap/out.csv").read_bytes(),
            )
        )
    assert outputs[0] == outputs[1] == outputs[2]


def test_relative_paths_in_the_config_are_relative_to_it(tmp_path, rng, monkeypatch):
    frame = _frame(rng, 10)
    frame["y"] = 0
    (tmp_path / "job").mkdir()
    frame.to_csv(tmp_path / "job" / "data.csv", index=False)
    (tmp_path / "job" / "base.csv").write_text("0,0,green,0\n")
    (tmp_path / "job" / "cfg.json").write_text(
        json.dumps(
            {
                "dataset_type": "text/csv",
                "dataset_uri": "data.csv",
                "label": "y",
                "predictor": {},
                "methods": {"shap": {"baseline": "base.csv"}},
            }
        )
    )
    monkeypatch.chdir(tmp_path)
    res = run_analysis(load_analysis_config("job/cfg.json"), model=MODEL, output_dir="out", config_dir="job")
    assert res.n_rows == 10 and res.n_baseline_rows == 1
    assert not (tmp_path / "out" / "explanations_shap" / "out.csv").exists()  # save_local_shap_values defaults to false


def test_folder_of_files_streams_with_identical_results_for_any_chunk_size(tmp_path, rng):
    frame = _frame(rng, 190)
    frame["y"] = 0
    (tmp_path / "data").mkdir()
    frame.iloc[:70].to_csv(tmp_path / "data" / "part-0.csv", index=False)  # file boundary inside a block
    frame.iloc[70:].to_csv(tmp_path / "data" / "part-1.csv", index=False)
    cfg = _config(baseline=[[0.0, 0.0, "green", 0.0]], num_samples=8, seed=2)
    results = []
    for i, chunk in enumerate([8192, 64, 128]):
        res = run_analysis(cfg, model=MODEL, output_dir=tmp_path / f"o{i}", data=tmp_path / "data", chunksize=chunk)
        assert res.n_rows == 190
        results.append((tmp_path / f"o{i}/analysis.json").read_bytes())
        results.append((tmp_path / f"o{i}/explanations_shap/out.csv").read_bytes())
    assert results[0] == results[2] == results[4] and results[1] == results[3] == results[5]
    local = pd.read_csv(tmp_path / "o0/explanations_shap/out.csv")
    np.testing.assert_allclose(local.sum(axis=1) + res.expected_value[0], _score(frame), atol=1e-9)
