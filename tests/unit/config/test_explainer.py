"""ClarifyExplainerConfig: the shapes SageMaker and its SDK write are read; the API's limits give one-line errors
with their paths; what the SDK writes validates against botocore's own CreateEndpointConfig model."""

from __future__ import annotations

import json
import os

import pytest

from openclarify.config import ExplainerConfig, TextConfig, load_explainer_config, parse_explainer_config
from openclarify.errors import ConfigError

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

SHAP = {"ShapBaselineConfig": {"ShapBaseline": "0,0,0"}}


def _sdk_document() -> dict:
    from sagemaker.explainer import (
        ClarifyExplainerConfig,
        ClarifyInferenceConfig,
        ClarifyShapBaselineConfig,
        ClarifyShapConfig,
        ClarifyTextConfig,
        ExplainerConfig,
    )

    shap = ClarifyShapConfig(
        shap_baseline_config=ClarifyShapBaselineConfig(shap_baseline='"<MASK>"'),
        number_of_samples=100,
        seed=123,
        use_logit=False,
        text_config=ClarifyTextConfig(language="en", granularity="token"),
    )
    inference = ClarifyInferenceConfig(label_headers=["a", "b"], max_record_count=10, feature_types=["text"])
    config = ExplainerConfig(
        clarify_explainer_config=ClarifyExplainerConfig(
            shap_config=shap, enable_explanations="`true`", inference_config=inference
        )
    )
    return config._to_request_dict()


def test_the_sdks_explainer_config_is_read_field_by_field():
    document = _sdk_document()
    got = parse_explainer_config(document)
    assert got == ExplainerConfig(
        enable_explanations="`true`",
        max_record_count=10,
        max_payload_in_mb=6,
        label_headers=("a", "b"),
        feature_types=("text",),
        baseline_mime_type="text/csv",
        shap_baseline='"<MASK>"',
        number_of_samples=100,
        use_logit=False,
        seed=123,
        text_config=TextConfig(granularity="token", language="en"),
    )
    # the same document wrapped as CreateEndpointConfig takes it, and unwrapped
    assert parse_explainer_config({"ExplainerConfig": document}) == got
    assert parse_explainer_config(document["ClarifyExplainerConfig"]) == got


def test_what_the_sdk_writes_is_valid_for_botocores_create_endpoint_config():
    """The shapes read here are the API's: botocore validates the SDK's document in CreateEndpointConfig."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateEndpointConfig").input_shape
    params = {
        "EndpointConfigName": "explained",
        "ProductionVariants": [{"VariantName": "v", "ModelName": "m", "InstanceType": "ml.m5.xlarge"}],
        "ExplainerConfig": _sdk_document(),
    }
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    # and one botocore refuses (no LabelHeaders: its client checks lower bounds), openclarify refuses too
    bad = _sdk_document()
    bad["ClarifyExplainerConfig"]["InferenceConfig"]["LabelHeaders"] = []
    assert ParamValidator().validate({**params, "ExplainerConfig": bad}, shape).has_errors()
    with pytest.raises(ConfigError) as info:
        parse_explainer_config(bad)
    assert info.value.path == "ClarifyExplainerConfig.InferenceConfig.LabelHeaders"


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        pytest.param(
            {"ShapConfig": {}}, "ClarifyExplainerConfig.ShapConfig.ShapBaselineConfig", "required", id="no-baseline"
        ),
        pytest.param(
            {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "0", "ShapBaselineUri": "s3://b/k"}}},
            "ClarifyExplainerConfig.ShapConfig.ShapBaselineConfig",
            "exactly one of",
            id="two-baselines",
        ),
        pytest.param(
            {"ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "x" * 4097}}},
            "ClarifyExplainerConfig.ShapConfig.ShapBaselineConfig.ShapBaseline",
            "1 to 4096 characters",
            id="long-baseline",
        ),
        pytest.param(
            {"ShapConfig": {"ShapBaselineConfig": {"ShapBaselineUri": "ftp://x/y"}}},
            "ClarifyExplainerConfig.ShapConfig.ShapBaselineConfig.ShapBaselineUri",
            "s3:// or https://",
            id="ftp-uri",
        ),
        pytest.param(
            {"ShapConfig": {**SHAP, "NumberOfSamples": 0}},
            "ClarifyExplainerConfig.ShapConfig.NumberOfSamples",
            "integer >= 1",
            id="zero-samples",
        ),
        pytest.param(
            {"ShapConfig": {**SHAP, "Seed": -1}}, "ClarifyExplainerConfig.ShapConfig.Seed", ">= 0", id="negative-seed"
        ),
        pytest.param(
            {"ShapConfig": {**SHAP, "UseLogit": "no"}},
            "ClarifyExplainerConfig.ShapConfig.UseLogit",
            "true or false",
            id="logit-string",
        ),
        pytest.param(
            {"ShapConfig": {**SHAP, "TextConfig": {"Language": "klingon", "Granularity": "token"}}},
            "ClarifyExplainerConfig.ShapConfig.TextConfig.Language",
            "language",
            id="language",
        ),
        pytest.param(
            {"ShapConfig": {**SHAP, "TextConfig": {"Language": "en", "Granularity": "word"}}},
            "ClarifyExplainerConfig.ShapConfig.TextConfig.Granularity",
            "one of 'token', 'sentence', 'paragraph'",
            id="granularity",
        ),
        pytest.param(
            {"EnableExplanations": "[0>`0.5`", "ShapConfig": SHAP},
            "ClarifyExplainerConfig.EnableExplanations",
            "not a valid JMESPath expression",
            id="not-jmespath",
        ),
        pytest.param(
            {"EnableExplanations": "`true`" * 11, "ShapConfig": SHAP},
            "ClarifyExplainerConfig.EnableExplanations",
            "1 to 64 characters",
            id="long-expression",
        ),
        pytest.param(
            {"InferenceConfig": {"MaxPayloadInMB": 26}, "ShapConfig": SHAP},
            "ClarifyExplainerConfig.InferenceConfig.MaxPayloadInMB",
            "at most 25",
            id="payload",
        ),
        pytest.param(
            {"InferenceConfig": {"FeatureTypes": ["numerical", "categorical"]}, "ShapConfig": SHAP},
            "ClarifyExplainerConfig.InferenceConfig.FeatureTypes",
            "must contain 'text'",
            id="types-without-text",
        ),
        pytest.param(
            {"InferenceConfig": {"FeatureTypes": ["text", "image"]}, "ShapConfig": SHAP},
            "ClarifyExplainerConfig.InferenceConfig.FeatureTypes[1]",
            "one of",
            id="unknown-type",
        ),
        pytest.param(
            {"InferenceConfig": {"LabelHeaders": ["a", ""]}, "ShapConfig": SHAP},
            "ClarifyExplainerConfig.InferenceConfig.LabelHeaders[1]",
            "1 to 64 characters",
            id="empty-label",
        ),
        pytest.param(
            {"InferenceConfig": {"ProbabilityIndex": -1}, "ShapConfig": SHAP},
            "ClarifyExplainerConfig.InferenceConfig.ProbabilityIndex",
            ">= 0",
            id="index",
        ),
        pytest.param(
            {"ShapConfig": SHAP, "EnableExplanation": "`true`"},
            "ClarifyExplainerConfig.EnableExplanation",
            "Did you mean 'EnableExplanations'",
            id="typo",
        ),
    ],
)
def test_invalid_fields_name_their_path(document, path, message):
    with pytest.raises(ConfigError) as info:
        parse_explainer_config({"ClarifyExplainerConfig": document})
    assert info.value.path == path
    assert message in str(info.value)
    assert "\n" not in str(info.value)  # one problem, one line


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError) as info:
        parse_explainer_config(
            {"ClarifyExplainerConfig": {"EnableExplanations": "", "ShapConfig": {**SHAP, "NumberOfSamples": -1}}}
        )
    assert [p for p, _ in info.value.errors] == [
        "ClarifyExplainerConfig.EnableExplanations",
        "ClarifyExplainerConfig.ShapConfig.NumberOfSamples",
    ]
    assert str(info.value).startswith("2 problems in the explainer config:")


def test_files_are_read_and_their_problems_named(tmp_path):
    path = tmp_path / "explainer.json"
    path.write_text(json.dumps({"ClarifyExplainerConfig": {"ShapConfig": {**SHAP, "NumberOfSamples": 12}}}))
    assert load_explainer_config(path).number_of_samples == 12
    path.write_text('{"ClarifyExplainerConfig": ')
    with pytest.raises(ConfigError, match=r"explainer config '.*explainer.json': not valid JSON \(line 1"):
        load_explainer_config(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_explainer_config(tmp_path / "missing.json")
    path.write_text('{"ClarifyExplainerConfig": {"ShapConfig": {"NumberOfSamples": 1, "NumberOfSamples": 2}}}')
    with pytest.raises(ConfigError, match="duplicate key"):
        load_explainer_config(path)
