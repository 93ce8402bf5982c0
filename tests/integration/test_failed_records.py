"""Records the model gives no scores for (a predictor in skip-failures mode returns NaN rows): reported,
left out of the global values, never turned into attributions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from openclarify import ModelError, parse_analysis_config, run_analysis
from openclarify.errors import OpenClarifyWarning


class SkipsMarked:
    """A predictor that, like an endpoint predictor told to go on, answers NaN for records it fails on:
    here every record holding the marker (a = 13 or the word 'boom')."""

    def __init__(self, fail_baseline: bool = False) -> None:
        self.fail_baseline = fail_baseline

    def predict(self, records: pd.DataFrame) -> np.ndarray:
        if "text" in records:
            s = np.array([t.count("good") - t.count("bad") for t in records["text"]], dtype=float)
            bad = np.array(["boom" in t for t in records["text"]])
        else:
            s = np.tanh(records["a"].to_numpy() * records["b"].to_numpy()) + records["c"].to_numpy()
            bad = records["a"].to_numpy() == 13.0
            if self.fail_baseline:
                bad |= records["a"].to_numpy() == 0.0
        out = np.stack([s, -s], axis=1)
        out[bad] = np.nan
        return out


def _config(headers=None, **shap):
    return parse_analysis_config(
        {
            "dataset_type": "text/csv",
            **({"headers": headers} if headers else {}),
            "predictor": {"content_type": "text/csv"},
            "methods": {"shap": {"save_local_shap_values": True, "seed": 3, **shap}},
        }
    )


def test_tabular_failed_records_are_reported_and_left_out(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30), "c": rng.normal(size=30)})
    frame.loc[[4, 17], "a"] = 13.0
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = _config(baseline=[[0.0, 0.0, 0.0]], num_samples=6)
    with pytest.warns(OpenClarifyWarning, match="2 of 30 records could not be explained.*records 4, 17"):
        res = run_analysis(cfg, model=SkipsMarked(), output_dir=tmp_path / "out", data=tmp_path / "d.csv", chunksize=7)
    assert res.failed_rows == (4, 17)
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert analysis["failed_records"] == {"count": 2, "rows": [4, 17]}
    local = pd.read_csv(tmp_path / "out" / "explanations_shap" / "out.csv")
    assert len(local) == 30
    assert local.iloc[[4, 17]].isna().all().all() and not local.drop(index=[4, 17]).isna().any().any()
    # the global values are those of the 28 explained records only
    ok = local.drop(index=[4, 17])
    for label in ("label0", "label1"):
        for f in "abc":
            expected = ok[f"{f}_{label}"].abs().mean()
            assert analysis["explanations"]["kernel_shap"][label]["global_shap_values"][f] == pytest.approx(expected)


def test_text_failed_record_gets_an_error_line(tmp_path):
    pd.DataFrame({"text": ["good good", "boom good", "bad"]}).to_csv(tmp_path / "d.csv", index=False, header=False)
    cfg = _config(["text"], baseline=[["<UNK>"]], text_config={"granularity": "token", "language": "en"})
    with pytest.warns(OpenClarifyWarning, match="1 of 3 records could not be explained"):
        res = run_analysis(cfg, model=SkipsMarked(), output_dir=tmp_path / "out", data=tmp_path / "d.csv")
    assert res.failed_rows == (1,)
    lines = [json.loads(x) for x in (tmp_path / "out" / "explanations_shap" / "out.jsonl").read_text().splitlines()]
    assert lines[1] == {"explanations": [], "error": "the model gave no scores for this record; it is not explained"}
    assert [a["description"]["partial_text"] for a in lines[0]["explanations"][0]["attributions"]] == ["good", "good"]


def test_model_failing_on_the_baseline_stops_the_job(tmp_path):
    pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 1.0], "c": [0.0, 1.0]}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ModelError, match="baseline"):
        run_analysis(
            _config(baseline=[[0.0, 0.0, 0.0]]),
            model=SkipsMarked(fail_baseline=True),
            output_dir=tmp_path / "out",
            data=tmp_path / "d.csv",
        )
    assert not (tmp_path / "out").exists()


def test_every_record_failing_stops_the_job(tmp_path):
    pd.DataFrame({"a": [13.0, 13.0], "b": [1.0, 1.0], "c": [0.0, 1.0]}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ModelError, match="any of the 2 records"):
        run_analysis(_config(baseline=[[0.0, 0.0, 0.0]]), model=SkipsMarked(), output_dir=tmp_path / "out",
                     data=tmp_path / "d.csv")  # fmt: skip
    # nothing published: the folder holds only the checkpoint of the partition that ran, for a --resume
    assert [p.name for p in (tmp_path / "out").iterdir()] == [".openclarify-checkpoint"]
