"""build_analysis_config writes what the real SageMaker SDK generates for the same settings, and refuses bad ones.

Each parity case gives the same settings to :func:`build_analysis_config` and to the SDK's own classes
(``sagemaker<3``: ``DataConfig``, ``BiasConfig``, ``ModelConfig``, ``ModelPredictedLabelConfig``,
``SHAPConfig``, ``PDPConfig``, ``TextConfig`` through ``_AnalysisConfigGenerator``, clarify-spec §0), and
compares the two documents as JSON text: the same keys, values and key order. ``max_top_tokens`` is the
one key the SDK cannot write (its ``TextConfig`` has no such argument): that case compares the rest.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import pytest

from openclarify.config import (
    FacetConfig,
    build_analysis_config,
    format_analysis_config,
    parse_analysis_config,
    write_analysis_config,
)
from openclarify.errors import ConfigError, OutputError

os.environ.setdefault("AWS_CONFIG_FILE", "/dev/null")
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clarify: Any = pytest.importorskip("sagemaker.clarify")

HEADERS = ["Sex", "Length", "Diameter", "Height", "Whole_weight", "Shucked_weight", "Viscera_weight",
           "Shell_weight", "Rings"]  # fmt: skip
DATA = {"dataset_type": "text/csv", "headers": HEADERS, "label": "Rings"}
SHADOW = {
    "model_name": "abalone",
    "instance_type": "ml.m5.xlarge",
    "accept_type": "text/csv",
    "content_type": "text/csv",
}


def sdk_data(**kw: Any) -> Any:
    args = {"s3_data_input_path": "s3://bucket/in/train.csv", "s3_output_path": "s3://bucket/out", **DATA, **kw}
    return clarify.DataConfig(**args)


def sdk_model(**kw: Any) -> Any:
    args = {**SHADOW, "instance_count": 1, **kw}
    return clarify.ModelConfig(**args)


def tabular_shap_file_baseline() -> tuple[dict[str, Any], dict[str, Any]]:
    ours = {**DATA, **SHADOW, "shap": True, "baseline": "s3://bucket/baseline.csv", "num_samples": 100,
            "agg_method": "mean_abs", "seed": 7}  # fmt: skip
    shap = clarify.SHAPConfig(baseline="s3://bucket/baseline.csv", num_samples=100, agg_method="mean_abs", seed=7)
    return ours, clarify._AnalysisConfigGenerator.explainability(sdk_data(), sdk_model(), None, shap)


def text_shap() -> tuple[dict[str, Any], dict[str, Any]]:
    data = {"headers": ["Review Text", "Rating"], "label": "Rating"}
    ours = {**DATA, **data, **SHADOW, "shap": True, "baseline": [["<UNK>"]], "num_samples": 500,
            "granularity": "sentence", "language": "english", "save_local_shap_values": True}  # fmt: skip
    text = clarify.TextConfig(granularity="sentence", language="english")
    shap = clarify.SHAPConfig(baseline=[["<UNK>"]], num_samples=500, text_config=text)
    return ours, clarify._AnalysisConfigGenerator.explainability(sdk_data(**data), sdk_model(), None, shap)


def pdp_with_shap() -> tuple[dict[str, Any], dict[str, Any]]:
    ours = {**DATA, **SHADOW, "shap": True, "num_clusters": 3, "use_logit": True, "save_local_shap_values": False,
            "pdp": True, "grid_resolution": 8, "probability_threshold": 0.6, "predictor_label": 0}  # fmt: skip
    shap = clarify.SHAPConfig(num_clusters=3, use_logit=True, save_local_shap_values=False)
    pdp = clarify.PDPConfig(grid_resolution=8)
    scores = clarify.ModelPredictedLabelConfig(label=0, probability_threshold=0.6)
    return ours, clarify._AnalysisConfigGenerator.explainability(sdk_data(), sdk_model(), scores, [shap, pdp])


def pre_and_post_bias() -> tuple[dict[str, Any], dict[str, Any]]:
    facets = [FacetConfig(name_or_index="Sex", value_or_threshold=("F", "I")),
              FacetConfig(name_or_index="Length", value_or_threshold=(0.5,))]  # fmt: skip
    ours = {**DATA, **SHADOW, "pre_training_bias": "all", "post_training_bias": ["DPPL", "DI"],
            "label_values_or_threshold": [9], "facet": facets, "group_variable": "Height"}  # fmt: skip
    bias = clarify.BiasConfig([9], ["Sex", "Length"], [["F", "I"], [0.5]], group_name="Height")
    sdk = clarify._AnalysisConfigGenerator.bias(sdk_data(), bias, sdk_model(), None, "all", ["DPPL", "DI"])
    return ours, sdk


def pre_training_bias_alone() -> tuple[dict[str, Any], dict[str, Any]]:
    ours = {**DATA, "pre_training_bias": ["CI", "DPL"], "label_values_or_threshold": [9],
            "facet": [FacetConfig(name_or_index="Sex")]}  # fmt: skip
    bias = clarify.BiasConfig([9], "Sex")
    return ours, clarify._AnalysisConfigGenerator.bias_pre_training(sdk_data(), bias, ["CI", "DPL"])


def post_training_bias_from_predicted_labels() -> tuple[dict[str, Any], dict[str, Any]]:
    headers = [*HEADERS, "predicted"]
    facet = [FacetConfig(name_or_index="Sex", value_or_threshold=("M",))]
    ours = {**DATA, "headers": headers, "predicted_label": "predicted", "post_training_bias": "all",
            "label_values_or_threshold": [9], "facet": facet}  # fmt: skip
    data = sdk_data(headers=headers, predicted_label="predicted")
    bias = clarify.BiasConfig([9], "Sex", ["M"])
    return ours, clarify._AnalysisConfigGenerator.bias_post_training(data, bias, None, "all", None)


def everything() -> tuple[dict[str, Any], dict[str, Any]]:
    headers = [*HEADERS, "id"]
    facets = [FacetConfig(name_or_index="Sex", value_or_threshold=("F",)),
              FacetConfig(name_or_index="Length", value_or_threshold=(0.5,))]  # fmt: skip
    ours = {**DATA, "headers": headers, "joinsource_name_or_index": "id", "excluded_columns": ["Height"],
            **SHADOW, "predictor_probability": 1, "label_headers": ["young", "old"], "probability_threshold": 0.5,
            "shap": True, "baseline": [["M", 0.5, 0.4, 0.5, 0.2, 0.1, 0.1]], "num_samples": 64, "seed": 3,
            "agg_method": "median", "features_to_explain": ["Length", "Sex"],
            "pdp": True, "pdp_features": ["Length", "Diameter"], "grid_resolution": 10, "top_k_features": 5,
            "pre_training_bias": "all", "post_training_bias": "all", "label_values_or_threshold": [9],
            "facet": facets, "group_variable": "Diameter"}  # fmt: skip
    data = sdk_data(headers=headers, joinsource="id", excluded_columns=["Height"])
    shap = clarify.SHAPConfig(baseline=[["M", 0.5, 0.4, 0.5, 0.2, 0.1, 0.1]], num_samples=64, seed=3,
                              agg_method="median", features_to_explain=["Length", "Sex"])  # fmt: skip
    pdp = clarify.PDPConfig(features=["Length", "Diameter"], grid_resolution=10, top_k_features=5)
    bias = clarify.BiasConfig([9], ["Sex", "Length"], [["F"], [0.5]], group_name="Diameter")
    scores = clarify.ModelPredictedLabelConfig(probability=1, probability_threshold=0.5, label_headers=["young", "old"])
    generate = clarify._AnalysisConfigGenerator.bias_and_explainability
    return ours, generate(data, sdk_model(), scores, [shap, pdp], bias, "all", "all")


def endpoint_json_lines() -> tuple[dict[str, Any], dict[str, Any]]:
    data = {"dataset_type": "application/jsonlines", "features": "features", "headers": ["f1", "f2", "f3", "y"],
            "label": "label"}  # fmt: skip
    predictor = {"endpoint_name": "existing-ep", "accept_type": "application/jsonlines",
                 "content_type": "application/jsonlines", "content_template": '{"features":$features}'}  # fmt: skip
    ours = {**data, **predictor, "predictor_label": "predicted_label", "predictor_probability": "probabilities",
            "report_name": "abalone", "report_title": "Abalone", "shap": True, "use_logit": True,
            "baseline": [{"features": [0, 0, 0]}]}  # fmt: skip
    shap = clarify.SHAPConfig(baseline=[{"features": [0, 0, 0]}], use_logit=True)
    scores = clarify.ModelPredictedLabelConfig(label="predicted_label", probability="probabilities")
    sdk = clarify._AnalysisConfigGenerator.explainability(
        clarify.DataConfig(s3_data_input_path="s3://b/in", s3_output_path="s3://b/out", **data),
        clarify.ModelConfig(**predictor),
        scores,
        shap,
    )
    sdk["methods"]["report"] = {"name": "abalone", "title": "Abalone"}  # the SDK cannot rename its report
    return ours, sdk


PARITY = [
    pytest.param(tabular_shap_file_baseline, id="tabular-shap-file-baseline"),
    pytest.param(text_shap, id="text-shap"),
    pytest.param(pdp_with_shap, id="pdp-with-shap"),
    pytest.param(pre_and_post_bias, id="pre-and-post-bias"),
    pytest.param(pre_training_bias_alone, id="pre-training-bias-alone"),
    pytest.param(post_training_bias_from_predicted_labels, id="post-training-bias-predicted-labels"),
    pytest.param(everything, id="everything"),
    pytest.param(endpoint_json_lines, id="endpoint-json-lines"),
]


@pytest.mark.parametrize("case", PARITY)
def test_the_document_is_what_the_sdk_generates(case):
    settings, sdk = case()
    clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(json.loads(json.dumps(sdk)))
    ours = build_analysis_config(**settings)
    assert json.dumps(ours) == json.dumps(sdk)  # the same keys, values and key order
    clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(json.loads(json.dumps(ours)))


def test_max_top_tokens_is_the_one_key_the_sdk_cannot_write():
    settings, sdk = text_shap()
    ours = build_analysis_config(**settings, max_top_tokens=20)
    assert ours["methods"]["shap"]["text_config"].pop("max_top_tokens") == 20
    assert json.dumps(ours) == json.dumps(sdk)


def test_text_values_of_numeric_columns_become_numbers():
    facets = [FacetConfig(name_or_index="Sex", value_or_threshold=("1",)),
              FacetConfig(name_or_index="Length", value_or_threshold=("0.5",))]  # fmt: skip
    doc = build_analysis_config(**DATA, pre_training_bias="all", label_values_or_threshold=["9", "10"],
                                facet=facets, numeric_columns={"Rings", "Length"})  # fmt: skip
    assert doc["label_values_or_threshold"] == [9, 10]
    assert doc["facet"] == [{"name_or_index": "Sex", "value_or_threshold": ["1"]},
                            {"name_or_index": "Length", "value_or_threshold": [0.5]}]  # fmt: skip


def test_a_dataset_uri_is_written_after_the_dataset_type_and_read_back():
    doc = build_analysis_config(**DATA, dataset_uri="s3://bucket/train.csv", shap=True, report=False)
    assert list(doc)[:2] == ["dataset_type", "dataset_uri"]
    assert "report" not in doc["methods"]
    assert parse_analysis_config(doc).dataset_uri == "s3://bucket/train.csv"


BIAS = {"pre_training_bias": "all", "label_values_or_threshold": [9], "facet": [FacetConfig(name_or_index="Sex")]}

ERRORS = [
    pytest.param(
        {"shap": True, "label": "Ring"},
        r"^label: must be one of the dataset's columns; got 'Ring'\. "
        r"Did you mean 'Rings'\?",
        id="unknown-label",
    ),  # fmt: skip
    pytest.param(
        {**BIAS, "facet": [FacetConfig(name_or_index="Race")]},
        r"^facet\[0\]\.name_or_index: must be one of the model's input columns; got 'Race'",
        id="facet",
    ),
    pytest.param(
        {**BIAS, "facet": [FacetConfig(name_or_index="Rings")]},
        r"got 'Rings', which is the label",
        id="facet-is-the-label",
    ),
    pytest.param(
        {**BIAS, "pre_training_bias": ["CI", "DPPL"]},
        r"^methods\.pre_training_bias\.methods\[1\]: must be one of 'CI', .*; got 'DPPL'",
        id="code",
    ),
    pytest.param(
        {**BIAS, "label_values_or_threshold": None}, r"^label_values_or_threshold: required", id="no-label-values"
    ),
    pytest.param(
        {**BIAS, "label_values_or_threshold": ["nine"], "numeric_columns": {"Rings"}},
        r"^label_values_or_threshold\[0\]: must be a number, since column 'Rings' holds numbers; got 'nine'",
        id="label-value-not-a-number",
    ),
    pytest.param(
        {"shap": True, "baseline": [[0] * 8], "num_clusters": 2},
        r"^methods\.shap\.num_clusters: cannot be given together with a baseline",
        id="baseline-and-clusters",
    ),
    pytest.param(
        {"shap": True, "model_name": "m", "instance_type": "t", "endpoint_name": "ep"},
        r"^predictor\.endpoint_name: cannot be given together with model_name",
        id="model-and-endpoint",
    ),
    pytest.param(
        {"shap": True, "model_name": "m"},
        r"^predictor\.instance_type: required with model_name 'm'",
        id="model-without-instance-type",
    ),
    pytest.param(
        {"shap": True, "granularity": "token"},
        r"^methods\.shap\.text_config\.language: required",
        id="granularity-without-language",
    ),
    pytest.param(
        {"shap": True, "granularity": "token", "language": "en", "features_to_explain": ["Sex"]},
        r"^methods\.shap\.features_to_explain: is not supported with text_config",
        id="text-and-features",
    ),
    pytest.param({"pdp": True}, r"^methods\.pdp\.features: required without methods\.shap", id="pdp-no-features"),
    pytest.param(
        {"pdp_features": ["Lenght"]}, r"^methods\.pdp\.features\[0\]: .* Did you mean 'Length'\?", id="pdp-feature"
    ),
    pytest.param(
        {"pdp_features": ["Length"], "num_samples": 10},
        r"^methods\.shap\.num_samples: applies to methods\.shap only",
        id="shap-setting-without-shap",
    ),
    pytest.param(
        {"shap": True, "facet": [FacetConfig(name_or_index="Sex")]},
        r"^facet: applies to the bias methods",
        id="facet-without-bias",
    ),
    pytest.param({}, r"^methods: must hold at least one method", id="no-method"),
    pytest.param(
        {"shap": True, "num_samples": 0},
        r"^methods\.shap\.num_samples: must be an integer >= 1",
        id="checked-by-the-parser",
    ),
]


@pytest.mark.parametrize(("settings", "message"), ERRORS)
def test_bad_settings_are_config_errors_naming_the_key(settings, message):
    with pytest.raises(ConfigError, match=message):
        build_analysis_config(**{**DATA, **settings})


def test_every_problem_is_listed():
    with pytest.raises(ConfigError) as caught:
        settings = {**DATA, "label": "x"}
        build_analysis_config(**settings, shap=True, baseline=[[0] * 8], num_clusters=2, model_name="m")
    assert [path for path, _ in caught.value.errors] == [
        "label",
        "methods.shap.num_clusters",
        "predictor.instance_type",
    ]


def test_format_and_write(tmp_path):
    doc = build_analysis_config(**DATA, shap=True)
    text = format_analysis_config(doc)
    assert text.endswith("}\n") and text.startswith('{\n  "dataset_type": "text/csv",\n')
    assert json.loads(text) == doc
    write_analysis_config(doc, tmp_path / "sub" / "analysis_config.json")
    assert (tmp_path / "sub" / "analysis_config.json").read_text() == text
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["analysis_config.json"]  # no temporary file left


def test_an_invalid_document_is_never_written(tmp_path):
    target = tmp_path / "analysis_config.json"
    with pytest.raises(ConfigError, match=r"methods\.shap\.num_samples"):
        write_analysis_config({**build_analysis_config(**DATA, shap=True), "methods": {"shap": {"num_samples": -1}}},
                              target)  # fmt: skip
    assert not target.exists()


def test_an_unwritable_file_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"cannot be written"):
        write_analysis_config(build_analysis_config(**DATA, shap=True), tmp_path / "file" / "analysis_config.json")
