"""``openclarify config`` writes the config the real SageMaker SDK generates, and ``analyze`` runs it end to end.

Each case runs ``openclarify config`` on a real dataset (abalone, or clothing reviews for text), compares
the written document, as JSON text (keys, values and their order), with what the SDK's classes generate
offline for the same settings (clarify-spec §0), then runs ``openclarify analyze`` on it with a small
scikit-learn model saved with joblib. The SDK cannot write ``text_config.max_top_tokens`` (its
``TextConfig`` takes no such argument): the text case compares the rest.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from openclarify.cli import EXIT_CONFIG, main
from support.abalone import FEATURES, ROOT, abalone_classifier

os.environ.setdefault("AWS_CONFIG_FILE", "/dev/null")
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clarify: Any = pytest.importorskip("sagemaker.clarify")

HEADERS = [*FEATURES, "old"]
MODEL = ["--model-name", "abalone", "--instance-type", "ml.m5.xlarge", "--content-type", "text/csv",
         "--accept-type", "text/csv"]  # fmt: skip
BASELINE_ROW = ["M", 0.5, 0.4, 0.13, 0.8, 0.35, 0.17, 0.23]


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> Path:
    """model.joblib and test.csv (abalone: is it old?), baseline.csv; text_model.joblib and reviews.csv."""
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    d = tmp_path_factory.mktemp("config")
    abalone_classifier(d)
    (d / "baseline.csv").write_text("M,0.5,0.4,0.13,0.8,0.35,0.17,0.23\nF,0.6,0.48,0.16,1.1,0.5,0.24,0.3\n")
    reviews = pd.read_csv(ROOT / "data" / "reviews" / "reviews.csv.gz", nrows=1500)
    text = Pipeline([("cols", ColumnTransformer([("tfidf", TfidfVectorizer(min_df=3), "Review Text")])),
                     ("lr", LogisticRegression(max_iter=300))])  # fmt: skip
    joblib.dump(text.fit(reviews[["Review Text"]], reviews["Rating"] >= 4), d / "text_model.joblib")
    reviews[["Review Text", "Rating"]].iloc[1000:1003].to_csv(d / "reviews.csv", index=False)
    return d


def sdk_data(**kw: Any) -> Any:
    args = {"headers": HEADERS, "label": "old", "dataset_type": "text/csv", **kw}
    return clarify.DataConfig(s3_data_input_path="s3://bucket/in/test.csv", s3_output_path="s3://bucket/out", **args)


def sdk_model() -> Any:
    return clarify.ModelConfig(model_name="abalone", instance_type="ml.m5.xlarge", instance_count=1,
                               content_type="text/csv", accept_type="text/csv")  # fmt: skip


def _tabular_shap() -> dict[str, Any]:
    shap = clarify.SHAPConfig(baseline="baseline.csv", num_samples=40, agg_method="mean_abs", seed=1)
    return clarify._AnalysisConfigGenerator.explainability(sdk_data(), sdk_model(), None, shap)


def _text_shap() -> dict[str, Any]:
    data = sdk_data(headers=["Review Text", "Rating"], label="Rating")
    text = clarify.TextConfig(granularity="sentence", language="english")
    shap = clarify.SHAPConfig(baseline=[["<UNK>"]], num_samples=30, seed=2, text_config=text)
    return clarify._AnalysisConfigGenerator.explainability(data, sdk_model(), None, shap)


def _pdp_with_shap() -> dict[str, Any]:
    shap = clarify.SHAPConfig(num_clusters=2, num_samples=30, seed=3)
    pdp = clarify.PDPConfig(grid_resolution=5, top_k_features=2)
    return clarify._AnalysisConfigGenerator.explainability(sdk_data(), sdk_model(), None, [shap, pdp])


def _bias() -> dict[str, Any]:
    bias = clarify.BiasConfig([1], ["Sex", "Length"], [["F", "I"], [0.5]], group_name="Height")
    scores = clarify.ModelPredictedLabelConfig(probability_threshold=0.6)
    return clarify._AnalysisConfigGenerator.bias(sdk_data(), bias, sdk_model(), scores, "all", ["DPPL", "DI", "AD"])


def _everything() -> dict[str, Any]:
    shap = clarify.SHAPConfig(baseline=[BASELINE_ROW], num_samples=30, seed=4, agg_method="median",
                              features_to_explain=["Length", "Sex", "Shell_weight"])  # fmt: skip
    pdp = clarify.PDPConfig(features=["Length", "Diameter"], grid_resolution=4)
    bias = clarify.BiasConfig([1], ["Sex", "Length"], [["F"], [0.5]], group_name="Height")
    scores = clarify.ModelPredictedLabelConfig(probability_threshold=0.5)
    generate = clarify._AnalysisConfigGenerator.bias_and_explainability
    return generate(sdk_data(), sdk_model(), scores, [shap, pdp], bias, "all", "all")


BIAS_ARGS = ["--label-values", "1", "--facet", "Sex=F", "--facet-threshold", "Length=0.5", "--group-variable",
             "Height"]  # fmt: skip
CASES = [
    pytest.param(
        ["--shap", "--baseline", "baseline.csv", "--num-samples", "40", "--agg-method", "mean_abs", "--seed", "1"],
        _tabular_shap,
        {"kernel_shap"},
        id="tabular-shap-file-baseline",
    ),
    pytest.param(
        [
            "--dataset",
            "reviews.csv",
            "--label",
            "Rating",
            "--shap",
            "--baseline",
            '[["<UNK>"]]',
            "--num-samples",
            "30",
            "--seed",
            "2",
            "--text-granularity",
            "sentence",
            "--text-language",
            "english",
            "--max-top-tokens",
            "10",
        ],  # fmt: skip
        _text_shap,
        {"kernel_shap"},
        id="text-shap",
    ),
    pytest.param(
        [
            "--shap",
            "--num-clusters",
            "2",
            "--num-samples",
            "30",
            "--seed",
            "3",
            "--pdp",
            "--grid-resolution",
            "5",
            "--top-k-features",
            "2",
        ],  # fmt: skip
        _pdp_with_shap,
        {"kernel_shap", "pdp"},
        id="pdp-with-shap",
    ),
    pytest.param(
        [
            "--pre-training-bias",
            "--post-training-bias",
            "DPPL,DI,AD",
            "--label-values",
            "1",
            "--facet",
            "Sex=F,I",
            "--facet-threshold",
            "Length=0.5",
            "--group-variable",
            "Height",
            "--probability-threshold",
            "0.6",
        ],  # fmt: skip
        _bias,
        {"pre_training_bias_metrics", "post_training_bias_metrics"},
        id="pre-and-post-bias",
    ),
    pytest.param(
        [
            "--shap",
            "--baseline",
            json.dumps([BASELINE_ROW]),
            "--num-samples",
            "30",
            "--seed",
            "4",
            "--agg-method",
            "median",
            "--features-to-explain",
            "Length,Sex,Shell_weight",
            "--pdp-features",
            "Length,Diameter",
            "--grid-resolution",
            "4",
            "--pre-training-bias",
            "all",
            "--post-training-bias",
            *BIAS_ARGS,
            "--probability-threshold",
            "0.5",
        ],  # fmt: skip
        _everything,
        {"kernel_shap", "pdp", "pre_training_bias_metrics", "post_training_bias_metrics"},
        id="everything",
    ),
]


def _config(d: Path, args: list[str], capsys) -> tuple[int, str, str]:
    if "--dataset" not in args:
        args = ["--dataset", str(d / "test.csv"), "--label", "old", *args]
    code = main(["config", *[str(a) for a in args]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("args", "sdk", "sections"), CASES)
def test_the_config_is_the_sdks_and_analyze_runs_it(job, tmp_path, monkeypatch, capsys, args, sdk, sections):
    monkeypatch.chdir(job)  # relative paths: the dataset and baseline.csv beside the config
    target = job / f"{tmp_path.name}.json"
    code, out, err = _config(job, [*args, *MODEL, "--output", target], capsys)
    assert code == 0, err
    assert out == ""
    text = target.read_text()
    ours, expected = json.loads(text), sdk()
    clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(json.loads(text))
    if "--max-top-tokens" in args:  # the one key the SDK cannot write
        assert ours["methods"]["shap"]["text_config"].pop("max_top_tokens") == 10
    assert json.dumps(ours) == json.dumps(expected)  # the same keys, values and key order

    text_job = "--text-granularity" in args
    data, model = ("reviews.csv", "text_model.joblib") if text_job else ("test.csv", "model.joblib")
    analyze = ["analyze", "--config", str(target), "--data", str(job / data), "--model", str(job / model),
               "--output", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    assert main(analyze) == 0, capsys.readouterr().err
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    found = {*analysis.get("explanations", {}), *(k for k in analysis if k.endswith("_bias_metrics"))}
    assert found == sections
    if "pre_training_bias_metrics" in sections:
        assert list(analysis["pre_training_bias_metrics"]["facets"]) == ["Sex", "Length"]
    assert (tmp_path / "out" / "report.html").exists()  # the SDK's methods.report, drawn


def test_stdout_is_the_files_text_pretty_with_a_trailing_newline(job, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(job)
    args = ["--shap", "--baseline", "baseline.csv", "--pdp-features", "Length"]
    code, out, err = _config(job, args, capsys)
    assert code == 0, err
    assert out.startswith('{\n  "dataset_type": "text/csv",\n  "headers": [\n    "Sex",') and out.endswith("}\n")
    target = job / f"{tmp_path.name}.json"  # beside baseline.csv
    assert _config(job, [*args, "--output", target], capsys)[0] == 0
    assert target.read_text() == out
    doc = json.loads(out)
    assert doc["predictor"] == {}  # no SageMaker model named: analyze is given one with --model
    assert doc["methods"]["pdp"] == {"grid_resolution": 15, "top_k_features": 10, "features": ["Length"]}


def test_headerless_csv_with_headers_and_a_dataset_uri(job, tmp_path, capsys):
    rows = (job / "test.csv").read_text().splitlines()[1:]
    (tmp_path / "data.csv").write_text("\n".join(rows[:50]) + "\n")
    args = ["--dataset", tmp_path / "data.csv", "--headers", ",".join(HEADERS), "--label", "old", "--shap",
            "--dataset-uri", "data.csv", "--output", tmp_path / "c.json", "--no-report"]  # fmt: skip
    assert _config(job, args, capsys)[0] == 0
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["headers"] == HEADERS and doc["dataset_uri"] == "data.csv" and "report" not in doc["methods"]
    analyze = ["analyze", "--config", tmp_path / "c.json", "--model", job / "model.joblib", "--output",
               tmp_path / "out", "--quiet"]  # fmt: skip
    assert main([str(a) for a in analyze]) == 0, capsys.readouterr().err
    assert len((tmp_path / "out" / "explanations_shap" / "out.csv").read_text().splitlines()) == 51


def _latin1(d: Path) -> Path:
    path = d / "latin1.csv"
    path.write_bytes("Größe,old\n1,0\n".encode("latin-1"))
    return path


# (arguments after --dataset test.csv --label old, or with their own --dataset; the one line on stderr)
ERRORS: list[Any] = [
    pytest.param(
        ["--dataset", "test.csv", "--label", "Old", "--shap"],
        r"label: no column of that name in the dataset; got 'Old'\. Use one of the column names 'Sex'",
        id="unknown-label",
    ),  # fmt: skip
    pytest.param(
        ["--pre-training-bias", "--label-values", "1", "--facet", "Race"],
        r"facet\[0\]\.name_or_index: must be one of the model's input columns; got 'Race'\. They are 'Sex'",
        id="facet-not-in-header",
    ),  # fmt: skip
    pytest.param(
        ["--post-training-bias", "DPPL,DIX", "--label-values", "1", "--facet", "Sex"],
        r"methods\.post_training_bias\.methods\[1\]: must be one of 'DPPL', .*; got 'DIX'\. Did you mean 'DI",
        id="bad-method-code",
    ),  # fmt: skip
    pytest.param(
        ["--shap", "--baseline", json.dumps([BASELINE_ROW]), "--num-clusters", "2"],
        r"methods\.shap\.num_clusters: cannot be given together with a baseline",
        id="baseline-and-clusters",
    ),
    pytest.param(
        ["--pre-training-bias", "--label-values", "1", "--label-threshold", "5", "--facet", "Sex"],
        r"--label-values and --label-threshold: give one of them",
        id="label-values-and-threshold",
    ),
    pytest.param(
        ["--shap", "--model-name", "m", "--instance-type", "ml.m5.xlarge", "--endpoint-name", "ep"],
        r"predictor\.endpoint_name: cannot be given together with model_name",
        id="model-and-endpoint",
    ),
    pytest.param(
        ["--num-samples", "10", "--pdp-features", "Length"],
        r"methods\.shap\.num_samples: applies to methods\.shap only; got 10",
        id="shap-option-without-shap",
    ),
    pytest.param(
        ["--pre-training-bias", "--label-values", "1", "--facet-threshold", "Sex=0.5"],
        r"--facet-threshold Sex: a threshold needs a column of numbers",
        id="threshold-on-a-text-column",
    ),
    pytest.param(
        ["--pre-training-bias", "--label-values", "1", "--facet", "Sex", "--facet", "Sex=F"],
        r"each column once; got 'Sex' more than once",
        id="facet-twice",
    ),
    pytest.param(
        ["--shap", "--baseline", "[[1, 2]]"],
        r"methods\.shap\.baseline row 1: expected 8 values",
        id="baseline-of-the-wrong-width",
    ),
    pytest.param(
        ["--shap", "--baseline", "missing.csv"], r"--baseline: no such file .*missing\.csv", id="missing-baseline-file"
    ),
    pytest.param(
        ["--shap", "--label-values", "1"],
        r"label_values_or_threshold: applies to the bias methods only",
        id="bias-option-without-bias",
    ),  # fmt: skip
    pytest.param(["--label-values", "1"], r"no method: give --shap, --pdp", id="no-method"),
    pytest.param(
        ["--dataset", "missing.csv", "--shap"],
        r"dataset: no such file or directory; got 'missing\.csv'",
        id="missing-dataset",
    ),
    pytest.param(
        ["--dataset", _latin1, "--shap"],
        r"dataset '.*latin1\.csv' line 1 \(byte 2\): not valid UTF-8",
        id="unreadable-dataset",
    ),
    pytest.param(
        ["--dataset", "model.joblib", "--shap"], r"--dataset: cannot tell its format from the name", id="unknown-format"
    ),
]


@pytest.mark.parametrize(("args", "message"), ERRORS)
def test_a_bad_option_is_one_line_exit_2_and_nothing_written(job, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(job)
    args = [a(tmp_path) if callable(a) else a for a in args]
    target = tmp_path / "analysis_config.json"
    code, out, err = _config(job, [*args, "--output", target], capsys)
    assert code == EXIT_CONFIG, err
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("openclarify: config error: ")
    assert re.search(message, err), err
    assert list(tmp_path.iterdir()) == ([] if "latin1" not in str(args) else [tmp_path / "latin1.csv"])


def test_an_existing_output_file_is_left_alone_on_an_error(job, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(job)
    target = tmp_path / "analysis_config.json"
    target.write_text("{}\n")
    assert _config(job, ["--shap", "--label-values", "1", "--output", target], capsys)[0] == EXIT_CONFIG
    assert target.read_text() == "{}\n"


def test_json_lines_with_feature_names_is_the_sdks_and_runs(tmp_path, capsys):
    lines = [json.dumps({"features": [i, (i * 7) % 5, "ab"[i % 2]], "label": int(i % 3 == 0)}) for i in range(40)]
    (tmp_path / "data.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "model.py").write_text("def predict(df):\n    return (df['size'] + df['age']) / 10.0\n")
    template = '{"features":$features}'
    args = ["--dataset", tmp_path / "data.jsonl", "--features", "features", "--label", "label", "--headers",
            "size,age,kind,y", "--shap", "--baseline", '[{"features": [0, 0, "a"]}]', "--num-samples", "20",
            "--pre-training-bias", "--label-values", "1", "--facet", "kind=a", "--endpoint-name", "ep",
            "--content-type", "application/jsonlines", "--accept-type", "application/jsonlines",
            "--content-template", template, "--output", tmp_path / "c.json"]  # fmt: skip
    code, _, err = _config(tmp_path, args, capsys)
    assert code == 0, err
    data = clarify.DataConfig(s3_data_input_path="s3://b/in", s3_output_path="s3://b/out", features="features",
                              headers=["size", "age", "kind", "y"], label="label",
                              dataset_type="application/jsonlines")  # fmt: skip
    model = clarify.ModelConfig(endpoint_name="ep", content_type="application/jsonlines",
                                accept_type="application/jsonlines", content_template=template)  # fmt: skip
    shap = clarify.SHAPConfig(baseline=[{"features": [0, 0, "a"]}], num_samples=20)
    sdk = clarify._AnalysisConfigGenerator.bias_and_explainability(
        data, model, None, shap, clarify.BiasConfig([1], "kind", ["a"]), "all", None
    )
    assert (tmp_path / "c.json").read_text() == json.dumps(sdk, indent=2) + "\n"
    analyze = ["analyze", "--config", tmp_path / "c.json", "--data", tmp_path / "data.jsonl", "--model",
               f"{tmp_path / 'model.py'}:predict", "--output", tmp_path / "out", "--quiet"]  # fmt: skip
    assert main([str(a) for a in analyze]) == 0, capsys.readouterr().err
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert list(analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]) == ["size", "age", "kind"]
    assert list(analysis["pre_training_bias_metrics"]["facets"]) == ["kind"]
