"""methods.pre_training_bias / post_training_bias end to end: analysis.json against formulas computed here
with pandas, Clarify's layout and strings, predictions from a model, and one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openclarify import parse_analysis_config, run_analysis
from openclarify.cli import main
from openclarify.errors import ConfigError, OpenClarifyWarning
from openclarify.models import CallablePredictor

N = 300


def _data(tmp: Path) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 70, N),
            "sex": rng.choice(["M", "F"], N, p=[0.6, 0.4]).astype(object),
            "region": rng.choice(["north", "south", "east"], N).astype(object),
            "income": rng.normal(50, 10, N).round(3),
        }
    )
    frame["y"] = (rng.random(N) < np.where(frame["sex"] == "M", 0.6, 0.35)).astype(int)
    frame.to_csv(tmp / "d.csv", index=False)
    return frame


def _config(methods: dict, **extra) -> object:
    doc = {
        "dataset_type": "text/csv",
        "label": "y",
        "label_values_or_threshold": [1],
        "facet": [
            {"name_or_index": "sex", "value_or_threshold": ["F"]},
            {"name_or_index": "region"},
            {"name_or_index": "age", "value_or_threshold": [40]},
        ],
        "group_variable": "region",
        "methods": methods,
        **extra,
    }
    return parse_analysis_config(doc)


def _metrics(entry: dict) -> dict[str, object]:
    return {m["name"]: m["value"] if m["value"] is not None else m["error"] for m in entry["metrics"]}


def _model(frame: pd.DataFrame) -> np.ndarray:
    z = 0.04 * (frame["age"].to_numpy(dtype=float) - 40) + (frame["sex"] == "M").to_numpy() * 0.8 - 0.3
    return (1 / (1 + np.exp(-z)))[:, None]


def _pre(d: pd.Series, y: pd.Series, group: pd.Series) -> dict[str, float]:
    """Clarify's pre-training metrics of facet mask ``d`` (spec §3), written out again with pandas."""
    a = ~d
    n_a, n_d = int(a.sum()), int(d.sum())
    qa, qd = y[a].mean(), y[d].mean()
    pa, pdd = np.array([1 - qa, qa]), np.array([1 - qd, qd])
    keep = (pa > 0) & (pdd > 0)
    pa, pdd = pa[keep], pdd[keep]
    mid = (pa + pdd) / 2
    cdd_num = 0.0
    for value in sorted(group.unique()):
        rows = group == value
        pos, neg = rows & (y == 1), rows & (y == 0)
        share_pos = (pos & d).sum() / pos.sum() if pos.sum() else 0.0
        share_neg = (neg & d).sum() / neg.sum() if neg.sum() else 0.0
        cdd_num += rows.sum() * (share_neg - share_pos)
    return {
        "CI": (n_a - n_d) / (n_a + n_d),
        "DPL": qa - qd,
        "KL": float(np.sum(pa * np.log(pa / pdd))),
        "JS": float(0.5 * (np.sum(pa * np.log(pa / mid)) + np.sum(pdd * np.log(pdd / mid)))),
        "LP": float(np.sqrt(np.sum((pa - pdd) ** 2))),
        "TVD": float(0.5 * np.sum(np.abs(pa - pdd))),
        "KS": float(np.max(np.abs(pa - pdd))),
        "CDDL": cdd_num / len(y),
    }


def test_pre_training_bias_matches_the_formulas_and_clarify_layout(tmp_path):
    frame = _data(tmp_path)
    config = _config({"pre_training_bias": {"methods": "all"}})
    result = run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out", chunksize=37)
    doc = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert list(doc) == ["version", "pre_training_bias_metrics"]  # no explanations in a bias-only job
    section = doc["pre_training_bias_metrics"]
    assert list(section) == ["label", "facets", "label_value_or_threshold"]
    assert section["label"] == "y" and section["label_value_or_threshold"] == "1"
    assert list(section["facets"]) == ["sex", "region", "age"]
    y, group = frame["y"], frame["region"]
    # a categorical value, one group
    (sex,) = section["facets"]["sex"]
    assert sex["value_or_threshold"] == "F"
    assert [m["name"] for m in sex["metrics"]] == sorted(_pre(frame["sex"] == "F", y, group))
    expected = _pre(frame["sex"] == "F", y, group)
    for name, value in _metrics(sex).items():
        assert value == pytest.approx(expected[name], abs=1e-12), name
    # one-vs-rest: one group per value, in order of first appearance
    assert [g["value_or_threshold"] for g in section["facets"]["region"]] == list(pd.unique(frame["region"]))
    for entry in section["facets"]["region"]:
        expected = _pre(frame["region"] == entry["value_or_threshold"], y, group)
        for name, value in _metrics(entry).items():
            assert value == pytest.approx(expected[name], abs=1e-12), (entry["value_or_threshold"], name)
    # a threshold: x > t, written as pandas' interval
    (age,) = section["facets"]["age"]
    assert age["value_or_threshold"] == f"(40, {frame['age'].max()}]"
    assert _metrics(age)["CI"] == pytest.approx(_pre(frame["age"] > 40, y, group)["CI"], abs=1e-15)
    assert result.n_rows == N
    assert result.sections is not None and result.sections["pre_training_bias_metrics"] == section


def test_the_same_bits_for_any_chunking(tmp_path):
    _data(tmp_path)
    config = _config({"pre_training_bias": {"methods": "all"}})
    texts = []
    for i, chunksize in enumerate([1, 7, 64, 10_000]):
        run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / f"o{i}", chunksize=chunksize)
        texts.append((tmp_path / f"o{i}" / "analysis.json").read_bytes())
    assert len(set(texts)) == 1


def test_post_training_bias_from_a_model(tmp_path):
    frame = _data(tmp_path)
    config = _config(
        {"post_training_bias": {"methods": "all"}}, probability_threshold=0.6, predictor={"content_type": "text/csv"}
    )
    model = CallablePredictor(_model, name="logit")
    run_analysis(config, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "out", chunksize=50)
    section = json.loads((tmp_path / "out" / "analysis.json").read_text())["post_training_bias_metrics"]
    yhat = pd.Series(_model(frame)[:, 0] > 0.6)
    y = frame["y"] == 1
    d = frame["sex"] == "F"
    a = ~d

    def rate(mask: pd.Series, of: pd.Series) -> float:
        return float((mask & of).sum() / of.sum())

    (sex,) = section["facets"]["sex"]
    got = _metrics(sex)
    assert [m["name"] for m in sex["metrics"]] == sorted(got)
    assert got["FT"] == "FlipTest does not support non-numeric columns"  # region and sex are strings
    tp = lambda m: int((yhat & y & m).sum())  # noqa: E731
    fp = lambda m: int((yhat & ~y & m).sum())  # noqa: E731
    fn = lambda m: int((~yhat & y & m).sum())  # noqa: E731
    tn = lambda m: int((~yhat & ~y & m).sum())  # noqa: E731
    assert got["DPPL"] == pytest.approx(rate(yhat, a) - rate(yhat, d), abs=1e-12)
    assert got["DI"] == pytest.approx(rate(yhat, d) / rate(yhat, a), abs=1e-12)
    assert got["AD"] == pytest.approx((tp(a) + tn(a)) / a.sum() - (tp(d) + tn(d)) / d.sum(), abs=1e-12)
    assert got["RD"] == pytest.approx(tp(a) / (tp(a) + fn(a)) - tp(d) / (tp(d) + fn(d)), abs=1e-12)
    assert got["TE"] == pytest.approx(fn(d) / fp(d) - fn(a) / fp(a), abs=1e-12)
    b = yhat.astype(int) - y.astype(int) + 1
    assert got["GE"] == pytest.approx(float(((b / b.mean()) ** 2 - 1).sum() / (2 * N)), abs=1e-12)


def test_bias_and_shap_in_one_job_keep_the_shap_section(tmp_path):
    _data(tmp_path)
    shap = {"baseline": [[40, "M", "north", 50.0]], "num_samples": 16, "seed": 1, "save_local_shap_values": True}
    both = _config(
        {"shap": shap, "pre_training_bias": {"methods": ["CI", "DPL"]}, "post_training_bias": {"methods": ["DI"]}},
        predictor={"content_type": "text/csv"},
    )
    alone = _config({"shap": shap}, predictor={"content_type": "text/csv"})
    model = CallablePredictor(_model, name="logit")
    run_analysis(both, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "both")
    run_analysis(alone, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "alone")
    doc = json.loads((tmp_path / "both" / "analysis.json").read_text())
    assert list(doc) == ["version", "explanations", "post_training_bias_metrics", "pre_training_bias_metrics"]
    assert doc["explanations"] == json.loads((tmp_path / "alone" / "analysis.json").read_text())["explanations"]
    assert [m["name"] for m in doc["pre_training_bias_metrics"]["facets"]["sex"][0]["metrics"]] == ["CI", "DPL"]
    assert (tmp_path / "both" / "explanations_shap" / "out.csv").read_bytes() == (
        tmp_path / "alone" / "explanations_shap" / "out.csv"
    ).read_bytes()


def test_infinity_and_metric_errors_are_written_as_clarify_does(tmp_path):
    frame = pd.DataFrame({"f": ["a", "a", "b", "b", "b"], "x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [0, 0, 1, 1, 0]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "f", "value_or_threshold": ["b"]}],
            "methods": {"post_training_bias": {"methods": ["DI", "CDDPL"]}},
            "predictor": {"content_type": "text/csv"},
        }
    )
    # facet a ("a") is never predicted positive, facet d sometimes: DI = +inf
    model = CallablePredictor(lambda x: (x["x"].to_numpy() >= 3)[:, None].astype(float), name="step")
    run_analysis(config, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    text = (tmp_path / "out" / "analysis.json").read_text()
    metrics = json.loads(text)["post_training_bias_metrics"]["facets"]["f"][0]["metrics"]
    assert metrics[0] == {
        "name": "CDDPL",
        "description": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
        "value": None,
        "error": "Group variable is empty or not provided",
    }
    assert metrics[1] == {"name": "DI", "description": "Disparate Impact (DI)", "value": "Infinity"}
    assert "NaN" not in text


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"facet": [{"name_or_index": "colour"}]}, "facet[0].name_or_index", "no column 'colour'"),
        ({"facet": [{"name_or_index": 9}]}, "facet[0].name_or_index", "out of range"),
        ({"facet": [{"name_or_index": "income"}]}, "facet[0].value_or_threshold", "threshold"),
        ({"facet": [{"name_or_index": "sex", "value_or_threshold": [40]}]}, None, None),  # never occurs: no error
        ({"group_variable": "y"}, "group_variable", "label"),
        ({"excluded_columns": ["sex"]}, "facet[0].name_or_index", "excluded"),
        ({"facet": [{"name_or_index": "region", "value_or_threshold": [1.5]}]}, None, None),  # never occurs
    ],
)
def test_bad_facets_get_one_line_errors(tmp_path, change, path, words):
    _data(tmp_path)
    doc = {
        "dataset_type": "text/csv",
        "label": "y",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "sex", "value_or_threshold": ["F"]}],
        "methods": {"pre_training_bias": {"methods": "all"}},
        **change,
    }
    config = parse_analysis_config(doc)
    if path is None:
        with pytest.warns(
            OpenClarifyWarning, match=r"facet\[0\]\.value_or_threshold: no record of '\w+' is in the group"
        ):
            run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
        section = json.loads((tmp_path / "out" / "analysis.json").read_text())["pre_training_bias_metrics"]
        entry = next(iter(section["facets"].values()))[0]
        assert _metrics(entry)["CI"] == "CI: facet set is empty. Check that x[facet] has non-zero length."
        return
    with pytest.raises(ConfigError) as err:
        run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    message = str(err.value)
    assert path in message and words in message and "\n" not in message
    assert not (tmp_path / "out" / "analysis.json").exists()


def test_post_training_needs_a_model_and_pre_training_does_not(tmp_path, capsys):
    _data(tmp_path)
    (tmp_path / "pre.json").write_text(
        json.dumps(
            {
                "dataset_type": "text/csv",
                "label": "y",
                "label_values_or_threshold": [1],
                "facet": [{"name_or_index": "sex"}],
                "methods": {"pre_training_bias": {"methods": "all"}, "report": {"name": "report", "title": "T"}},
            }
        )
    )
    code = main(["analyze", "--config", str(tmp_path / "pre.json"), "--data", str(tmp_path / "d.csv"), "--output",
                 str(tmp_path / "out")])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "pre-training bias metrics of 2 groups of 'sex' over 300 records" in captured.out + captured.err
    doc = json.loads((tmp_path / "pre.json").read_text())
    doc["methods"] = {"post_training_bias": {"methods": "all"}}
    doc["predictor"] = {"content_type": "text/csv"}
    with pytest.raises(ConfigError, match="methods.post_training_bias: needs a model"):
        run_analysis(parse_analysis_config(doc), model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "o2")


def test_label_headers_name_a_single_score(tmp_path):
    frame = _data(tmp_path)
    frame["y"] = np.where(frame["y"] == 1, "yes", "no")
    frame.to_csv(tmp_path / "d.csv", index=False)
    config = _config(
        {"post_training_bias": {"methods": ["DPPL"]}},
        label_values_or_threshold=["yes"],
        predictor={"content_type": "text/csv", "label_headers": ["no", "yes"]},
    )
    model = CallablePredictor(_model, name="logit")
    run_analysis(config, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    section = json.loads((tmp_path / "out" / "analysis.json").read_text())["post_training_bias_metrics"]
    yhat = pd.Series(_model(frame)[:, 0] > 0.5)
    d = frame["sex"] == "F"
    expected = yhat[~d].mean() - yhat[d].mean()
    assert section["label_value_or_threshold"] == "yes"
    assert _metrics(section["facets"]["sex"][0])["DPPL"] == pytest.approx(expected, abs=1e-12)
    assert not math.isnan(expected)


def test_post_training_from_a_predicted_label_column_needs_no_model(tmp_path):
    frame = _data(tmp_path)
    rng = np.random.default_rng(5)
    frame["pred"] = np.where(rng.random(N) < 0.8, frame["y"], 1 - frame["y"])
    frame.to_csv(tmp_path / "d.csv", index=False)
    config = _config(
        {"pre_training_bias": {"methods": ["CI"]}, "post_training_bias": {"methods": ["DPPL", "AD", "FT"]}},
        predicted_label="pred",
        predictor={"content_type": "text/csv"},
    )
    run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "analysis.json").read_text())
    got = _metrics(doc["post_training_bias_metrics"]["facets"]["sex"][0])
    d = frame["sex"] == "F"
    yhat, y = frame["pred"] == 1, frame["y"] == 1
    assert got["DPPL"] == pytest.approx(yhat[~d].mean() - yhat[d].mean(), abs=1e-12)
    assert got["AD"] == pytest.approx((yhat == y)[~d].mean() - (yhat == y)[d].mean(), abs=1e-12)
    # the predicted label is not a feature: FT still sees region and sex as strings
    assert got["FT"] == "FlipTest does not support non-numeric columns"
    assert _metrics(doc["pre_training_bias_metrics"]["facets"]["sex"][0])["CI"] == pytest.approx(
        ((~d).sum() - d.sum()) / N, abs=1e-15
    )


def test_a_thresholded_label_with_a_predicted_label_column(tmp_path):
    """Regression: the label and the predicted label are positive above the same threshold."""
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"g": rng.choice(["u", "v"], 120).astype(object), "x": rng.normal(size=120)})
    frame["y"] = (3 + frame["x"] + rng.normal(size=120)).round(3)
    frame["pred"] = (3 + frame["x"]).round(3)
    frame.to_csv(tmp_path / "d.csv", index=False)
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "predicted_label": "pred",
            "label_values_or_threshold": [3.5],
            "facet": [{"name_or_index": "g", "value_or_threshold": ["v"]}],
            "methods": {"post_training_bias": {"methods": ["DPPL", "RD"]}},
            "predictor": {"content_type": "text/csv"},
        }
    )
    run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    section = json.loads((tmp_path / "out" / "analysis.json").read_text())["post_training_bias_metrics"]
    assert section["label_value_or_threshold"] == f"(3.5, {frame['y'].max()}]"
    d, yhat, y = frame["g"] == "v", frame["pred"] > 3.5, frame["y"] > 3.5
    got = _metrics(section["facets"]["g"][0])
    assert got["DPPL"] == pytest.approx(yhat[~d].mean() - yhat[d].mean(), abs=1e-12)
    recall = lambda m: (yhat & y & m).sum() / (y & m).sum()  # noqa: E731
    assert got["RD"] == pytest.approx(recall(~d) - recall(d), abs=1e-12)


def _flip_by_hand(x: np.ndarray, d: np.ndarray, yhat: np.ndarray) -> float:
    """smclarify's FT, written out: k-NN (k = 5, or 1 for 9 records or fewer in facet a) on facet a."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=5 if (~d).sum() > 9 else 1).fit(x[~d], yhat[~d])
    neighbours = knn.predict(x[d]).astype(bool)
    return float(((yhat[d] & ~neighbours).sum() - (~yhat[d] & neighbours).sum()) / d.sum())


@pytest.mark.parametrize("chunksize", [13, 10_000])
def test_flip_test_on_numeric_features(tmp_path, chunksize):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "s": rng.integers(0, 2, 200)})
    frame["y"] = (frame["a"] + 0.5 * frame["s"] > 0).astype(int)
    frame.to_csv(tmp_path / "d.csv", index=False)
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [
                {"name_or_index": "s", "value_or_threshold": [1]},
                {"name_or_index": "b", "value_or_threshold": [0.3]},
            ],
            "methods": {"post_training_bias": {"methods": ["FT"]}},
            "predictor": {"content_type": "text/csv"},
        }
    )

    def score(x: pd.DataFrame) -> np.ndarray:
        return (1 / (1 + np.exp(-(x["a"] - x["b"] + x["s"])))).to_numpy()[:, None]

    run_analysis(config, model=CallablePredictor(score, name="m"), data=tmp_path / "d.csv",
                 output_dir=tmp_path / "out", chunksize=chunksize)  # fmt: skip
    facets = json.loads((tmp_path / "out" / "analysis.json").read_text())["post_training_bias_metrics"]["facets"]
    yhat = score(frame)[:, 0] > 0.5
    # facet s: the features are a and b; facet b: a and s (the other facet stays in)
    expected_s = _flip_by_hand(frame[["a", "b"]].to_numpy(), frame["s"].to_numpy() == 1, yhat)
    expected_b = _flip_by_hand(frame[["a", "s"]].to_numpy(dtype=float), frame["b"].to_numpy() > 0.3, yhat)
    assert facets["s"][0]["metrics"] == [{"name": "FT", "description": "Flip Test (FT)", "value": expected_s}]
    assert facets["b"][0]["metrics"][0]["value"] == expected_b


def test_bootstrap_intervals_are_reproducible_and_bracket_the_metric(tmp_path):
    frame = _data(tmp_path)
    config = _config({"pre_training_bias": {"methods": ["CI", "DPL", "KL"]}})
    docs = []
    for i, (chunksize, seed) in enumerate([(50, 7), (10_000, 7), (50, 8)]):
        run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / f"o{i}", chunksize=chunksize,
                     bias_confidence=0.9, bias_bootstrap=400, bias_seed=seed)  # fmt: skip
        docs.append((tmp_path / f"o{i}" / "analysis.json").read_text())
    assert docs[0] == docs[1]  # the same seed: the same intervals, whatever the chunking
    assert docs[0] != docs[2]
    section = json.loads(docs[0])["pre_training_bias_metrics"]
    for facet in section["facets"].values():
        for group in facet:
            for metric in group["metrics"]:
                ci = metric["confidence_interval"]
                assert ci["level"] == 0.9 and ci["replicates"] == 400
                if metric["name"] == "KL":  # a divergence: replicates sit above 0, the estimate may sit below them
                    assert 0 <= ci["lower"] <= ci["upper"]
                else:
                    assert ci["lower"] <= metric["value"] <= ci["upper"], metric
    # CI of facet sex=F is (n_a - n_d) / n: about +-1.645 * 2 * sqrt(p (1 - p) / n) at 90%
    p = float((frame["sex"] == "F").mean())
    ci = section["facets"]["sex"][0]["metrics"][0]["confidence_interval"]
    assert (ci["upper"] - ci["lower"]) / 2 == pytest.approx(1.645 * 2 * math.sqrt(p * (1 - p) / N), rel=0.2)
    summary = json.loads((tmp_path / "o0" / "run_summary.json").read_text())
    assert summary["pre_training_bias_confidence_level"] == 0.9 and summary["pre_training_bias_bootstrap_seed"] == 7
    # the report shows them
    from openclarify.outputs import read_output_folder
    from openclarify.report import build_report, render_report

    html = render_report(build_report(read_output_folder(tmp_path / "o0")), "html").decode()
    assert f"90% interval: {ci['lower']:.4g} to {ci['upper']:.4g}" in html


@pytest.mark.parametrize(
    ("option", "value"), [("bias_confidence", 1.5), ("bias_confidence", 0), ("bias_bootstrap", 0), ("bias_seed", -1)]
)
def test_bad_bootstrap_options_are_config_errors(tmp_path, option, value):
    _data(tmp_path)
    config = _config({"pre_training_bias": {"methods": ["CI"]}})
    with pytest.raises(ConfigError, match=rf"^{option}: must be"):
        run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out", **{option: value})


def test_intersectional_facets(tmp_path):
    """openclarify's extension: a facet of several columns; its groups are combinations of their values."""
    frame = _data(tmp_path)
    doc = {
        "dataset_type": "text/csv",
        "label": "y",
        "label_values_or_threshold": [1],
        "facet": [
            {"name_or_index": ["sex", "region"], "value_or_threshold": [["F", "north"], ["F", "east"]]},
            {"name_or_index": ["region", "sex"]},
        ],
        "group_variable": "region",
        "methods": {"pre_training_bias": {"methods": ["CI", "DPL", "CDDL"]}},
    }
    run_analysis(parse_analysis_config(doc), model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    facets = json.loads((tmp_path / "out" / "analysis.json").read_text())["pre_training_bias_metrics"]["facets"]
    assert list(facets) == ["sex & region", "region & sex"]
    (chosen,) = facets["sex & region"]
    assert chosen["value_or_threshold"] == "F & north,F & east"
    d = (frame["sex"] == "F") & frame["region"].isin(["north", "east"])
    expected = _pre(d, frame["y"], frame["region"])
    for name, value in _metrics(chosen).items():
        assert value == pytest.approx(expected[name], abs=1e-12), name
    combos = list(dict.fromkeys(zip(frame["region"], frame["sex"], strict=True)))  # order of first appearance
    assert [g["value_or_threshold"] for g in facets["region & sex"]] == [f"{r} & {s}" for r, s in combos]
    for (region, sex), entry in zip(combos, facets["region & sex"], strict=True):
        d = (frame["region"] == region) & (frame["sex"] == sex)
        assert _metrics(entry)["CI"] == pytest.approx(((~d).sum() - d.sum()) / N, abs=1e-15)


@pytest.mark.parametrize(
    ("facet", "message"),
    [
        ({"name_or_index": ["sex", "income"]}, r"facet\[0\]\.name_or_index\[1\]: column 'income' is continuous"),
        ({"name_or_index": ["sex", "nope"]}, r"facet\[0\]\.name_or_index\[1\]: no column 'nope'"),
        (
            {"name_or_index": ["sex", "region"], "value_or_threshold": [["F"]]},
            r"facet\[0\]\.value_or_threshold\[0\]: must list one value per column of \['sex', 'region'\]",
        ),
    ],
)
def test_bad_intersectional_facets(tmp_path, facet, message):
    _data(tmp_path)
    doc = {
        "dataset_type": "text/csv",
        "label": "y",
        "label_values_or_threshold": [1],
        "facet": [facet],
        "methods": {"pre_training_bias": {"methods": ["CI"]}},
    }
    with pytest.raises(ConfigError, match=message):
        run_analysis(parse_analysis_config(doc), model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")


def test_bias_and_shap_share_one_pass_over_the_data(tmp_path, monkeypatch):
    """Analyses that need nothing of each other read the data together; PDP, which reads SHAP's results,
    runs in the next pass (with the bias analyses after it)."""
    from openclarify.data import Dataset

    _data(tmp_path)
    reads: list[int] = []
    real = Dataset.chunks

    def counting(self, chunksize=10_000):
        reads.append(chunksize)
        return real(self, chunksize)

    monkeypatch.setattr(Dataset, "chunks", counting)
    shap = {"baseline": [[40, "M", "north", 50.0]], "num_samples": 16, "seed": 1}
    model = CallablePredictor(_model, name="logit")
    bias = {"pre_training_bias": {"methods": ["CI"]}, "post_training_bias": {"methods": ["DI"]}}
    config = _config({"shap": shap, **bias}, predictor={"content_type": "text/csv"})
    run_analysis(config, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "a", chunksize=37)
    assert reads.count(37) == 1
    reads.clear()
    pdp = {"pdp": {"features": ["age"], "grid_resolution": 5}}
    config = _config({"shap": shap, **pdp, **bias}, predictor={"content_type": "text/csv"})
    run_analysis(config, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "b", chunksize=37)
    # SHAP's pass, PDP's plan (the feature's range), then PDP and both bias stages in one pass; alone they
    # would take five
    assert reads.count(37) == 3
    doc = json.loads((tmp_path / "b" / "analysis.json").read_text())
    assert list(doc) == ["version", "explanations", "post_training_bias_metrics", "pre_training_bias_metrics"]


def test_unnamed_scores_that_cannot_be_positive_are_a_config_error(tmp_path):
    """Two unnamed scores read as 'label0' / 'label1' never match the positive label 1: every prediction
    would be negative, so the job stops and says to name them."""
    _data(tmp_path)
    config = _config({"post_training_bias": {"methods": ["DPPL"]}}, predictor={"content_type": "text/csv"})
    model = CallablePredictor(lambda x: np.stack([1 - _model(x)[:, 0], _model(x)[:, 0]], axis=1), name="two")
    with pytest.raises(ConfigError, match=r"^predictor.label_headers: the model gives 2 scores, read as the labels"):
        run_analysis(config, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    named = _config(
        {"post_training_bias": {"methods": ["DPPL"]}},
        predictor={"content_type": "text/csv", "label_headers": ["0", "1"]},
    )
    run_analysis(named, model=model, data=tmp_path / "d.csv", output_dir=tmp_path / "out")


def test_a_positive_label_that_never_occurs_warns_and_the_metrics_say_why(tmp_path):
    _data(tmp_path)
    config = _config({"pre_training_bias": {"methods": ["CDDL", "DPL"]}}, label_values_or_threshold=[7])
    warned = r"label_values_or_threshold: no record's label 'y' is positive \(\[7\]\)"
    with pytest.warns(OpenClarifyWarning, match=warned):
        run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    section = json.loads((tmp_path / "out" / "analysis.json").read_text())["pre_training_bias_metrics"]
    got = _metrics(section["facets"]["sex"][0])
    assert got == {"CDDL": "No positive labels in set", "DPL": 0.0}


def test_the_counts_behind_the_metrics_are_written_and_shown(tmp_path):
    """analysis.json stays Clarify's; the counts of each group go to <stage>_bias_counts.json and the report."""
    frame = _data(tmp_path)
    frame["pred"] = (frame["age"] > 45).astype(int)
    frame.to_csv(tmp_path / "d.csv", index=False)
    config = _config(
        {
            "pre_training_bias": {"methods": ["CI"]},
            "post_training_bias": {"methods": ["DPPL"]},
            "report": {"name": "r"},
        },
        predicted_label="pred",
        predictor={"content_type": "text/csv"},
    )
    run_analysis(config, model=None, data=tmp_path / "d.csv", output_dir=tmp_path / "out")
    post = json.loads((tmp_path / "out" / "post_training_bias_counts.json").read_text())
    pre = json.loads((tmp_path / "out" / "pre_training_bias_counts.json").read_text())
    d, y, p = frame["sex"] == "F", frame["y"] == 1, frame["pred"] == 1
    (sex,) = post["facets"]["sex"]
    assert sex == {
        "value_or_threshold": "F",
        "records": [int(d.sum()), int((~d).sum())],
        "positive_labels": [int((y & d).sum()), int((y & ~d).sum())],
        "positive_predictions": [int((p & d).sum()), int((p & ~d).sum())],
        "confusion_matrix": [
            [int((y & p & m).sum()), int((~y & p & m).sum()), int((y & ~p & m).sum()), int((~y & ~p & m).sum())]
            for m in (d, ~d)
        ],
    }
    assert "confusion_matrix" not in pre["facets"]["sex"][0] and pre["label"] == "y"
    assert [g["value_or_threshold"] for g in pre["facets"]["region"]] == list(pd.unique(frame["region"]))
    html = (tmp_path / "out" / "r.html").read_text()
    n_d = int(d.sum())
    assert f'<tr><th>Records</th><td class="oc-num">{n_d:,}</td><td class="oc-num">{N - n_d:,}</td></tr>' in html
    assert "<tr><th>True positives</th>" in html


def test_a_model_whose_batches_differ_in_width_is_a_model_error(tmp_path):
    from openclarify.errors import ModelError

    _data(tmp_path)
    config = _config({"post_training_bias": {"methods": ["DPPL"]}}, predictor={"content_type": "text/csv"})
    calls = []

    def uneven(x: pd.DataFrame) -> np.ndarray:
        calls.append(len(x))
        return _model(x) if len(calls) < 3 else np.hstack([_model(x), _model(x)])

    with pytest.raises(ModelError, match=r"^model: returned 2 scores per record, but 1 before"):
        run_analysis(config, model=CallablePredictor(uneven, name="u"), data=tmp_path / "d.csv",
                     output_dir=tmp_path / "out", max_batch_rows=50)  # fmt: skip
