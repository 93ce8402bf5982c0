"""Configs generated offline by the real SageMaker SDK (``sagemaker<3``) parse, and give the right fields.

Each case builds SDK objects, calls ``sagemaker.clarify._AnalysisConfigGenerator`` (clarify-spec §0),
checks the SDK's own schema accepts the dict, parses it with openclarify and compares chosen fields.
The converse: documents the SDK schema rejects are rejected by openclarify too.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from openclarify.config import AnalysisConfig, BiasConfig, FacetConfig, PdpConfig, TextConfig, parse_analysis_config
from openclarify.errors import ConfigError

# The SDK reads AWS config files and prints a v3 banner on import; keep it offline and quiet.
os.environ.setdefault("AWS_CONFIG_FILE", "/dev/null")
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clarify: Any = pytest.importorskip("sagemaker.clarify")
SchemaError: Any = pytest.importorskip("schema").SchemaError

S3_IN = "s3://bucket/in/data.csv"
S3_OUT = "s3://bucket/out"
HEADERS = ["Target", "Age", "Workclass", "fnlwgt"]


def csv_data(**kwargs: Any) -> Any:
    args: dict[str, Any] = {"headers": HEADERS, "label": "Target", "dataset_type": "text/csv"}
    return clarify.DataConfig(s3_data_input_path=S3_IN, s3_output_path=S3_OUT, **{**args, **kwargs})


def shadow_model(**kwargs: Any) -> Any:
    args: dict[str, Any] = {
        "model_name": "my-model",
        "instance_type": "ml.m5.xlarge",
        "instance_count": 1,
        "accept_type": "text/csv",
        "content_type": "text/csv",
    }
    return clarify.ModelConfig(**{**args, **kwargs})


def explain(data: Any, model: Any, scores: Any, methods: Any) -> dict[str, Any]:
    result: dict[str, Any] = clarify._AnalysisConfigGenerator.explainability(data, model, scores, methods)
    return result


def attr(obj: Any, dotted: str) -> Any:
    """``obj`` followed along ``a.b.c`` (attributes of config objects, keys of mappings)."""
    for name in dotted.split("."):
        obj = obj[name] if isinstance(obj, Mapping) else getattr(obj, name)
    return obj


# Each case: () -> (SDK-generated analysis config, {dotted field of AnalysisConfig: expected value}).
Case = Callable[[], tuple[dict[str, Any], dict[str, Any]]]


def csv_label_baseline_samples_seed() -> tuple[dict[str, Any], dict[str, Any]]:
    shap = clarify.SHAPConfig(baseline=[[35, 1, 200000]], num_samples=100, seed=42, agg_method="mean_abs")
    return explain(csv_data(), shadow_model(), None, shap), {
        "dataset_type": "text/csv",
        "headers": tuple(HEADERS),
        "label": "Target",
        "predictor.model_name": "my-model",
        "predictor.instance_type": "ml.m5.xlarge",
        "predictor.initial_instance_count": 1,
        "predictor.content_type": "text/csv",
        "predictor.accept_type": "text/csv",
        "predictor.label": None,
        "probability_threshold": None,
        "methods.shap.baseline": ((35, 1, 200000),),
        "methods.shap.num_samples": 100,
        "methods.shap.seed": 42,
        "methods.shap.agg_method": "mean_abs",
        "methods.shap.use_logit": False,
        "methods.shap.save_local_shap_values": True,  # the SDK always writes its default, True
        "methods.report.name": "report",
        "methods.report.title": "Analysis Report",
    }


def model_scores_int() -> tuple[dict[str, Any], dict[str, Any]]:
    shap = clarify.SHAPConfig(baseline=[[35, 1, 200000]])
    return explain(csv_data(), shadow_model(), 1, shap), {"predictor.label": 1, "predictor.probability": None}


def model_scores_str() -> tuple[dict[str, Any], dict[str, Any]]:
    shap = clarify.SHAPConfig(baseline=[[35, 1, 200000]])
    model = shadow_model(accept_type="application/jsonlines")
    return explain(csv_data(), model, "score", shap), {
        "predictor.label": "score",
        "predictor.accept_type": "application/jsonlines",
    }


def model_predicted_label_config() -> tuple[dict[str, Any], dict[str, Any]]:
    scores = clarify.ModelPredictedLabelConfig(
        label="predicted_label",
        probability="probabilities",
        probability_threshold=0.7,
        label_headers=["cat", "dog"],
    )
    model = shadow_model(accept_type="application/jsonlines")
    return explain(csv_data(), model, scores, clarify.SHAPConfig(num_clusters=3)), {
        "predictor.label": "predicted_label",
        "predictor.probability": "probabilities",
        "predictor.label_headers": ("cat", "dog"),
        "probability_threshold": 0.7,
    }


def int_label_headers_and_indices() -> tuple[dict[str, Any], dict[str, Any]]:
    scores = clarify.ModelPredictedLabelConfig(label=0, probability=1, label_headers=[0, 1])
    data = csv_data(headers=None, label=0)
    return explain(data, shadow_model(), scores, clarify.SHAPConfig(num_clusters=2)), {
        "headers": None,
        "label": 0,
        "predictor.label": 0,
        "predictor.probability": 1,
        "predictor.label_headers": ("0", "1"),
    }


def jsonlines_content_template() -> tuple[dict[str, Any], dict[str, Any]]:
    data = csv_data(
        dataset_type="application/jsonlines",
        features="features",
        label="label",
        headers=["f1", "f2", "f3", "label"],
    )
    model = clarify.ModelConfig(
        endpoint_name="existing-ep",
        accept_type="application/jsonlines",
        content_type="application/jsonlines",
        content_template='{"features":$features}',
    )
    shap = clarify.SHAPConfig(baseline=[{"features": [0, 0, 0]}], num_samples=50, seed=123)
    return explain(data, model, "score", shap), {
        "dataset_type": "application/jsonlines",
        "features": "features",
        "label": "label",
        "predictor.endpoint_name": "existing-ep",
        "predictor.model_name": None,
        "predictor.content_template": '{"features":$features}',
        "predictor.label": "score",
        "methods.shap.baseline": ({"features": (0, 0, 0)},),
    }


def json_records_template() -> tuple[dict[str, Any], dict[str, Any]]:
    data = csv_data(dataset_type="application/json", features="[*].features", label="[*].label", headers=None)
    model = clarify.ModelConfig(
        endpoint_name="ep",
        content_type="application/json",
        accept_type="application/json",
        content_template='{"instances": $records}',
        record_template="$features",
    )
    scores = clarify.ModelPredictedLabelConfig(probability="predictions[*].score")
    return explain(data, model, scores, clarify.SHAPConfig(num_clusters=1)), {
        "dataset_type": "application/json",
        "features": "[*].features",
        "predictor.content_template": '{"instances": $records}',
        "predictor.record_template": "$features",
        "predictor.probability": "predictions[*].score",
    }


def num_clusters_use_logit() -> tuple[dict[str, Any], dict[str, Any]]:
    shap = clarify.SHAPConfig(num_clusters=5, use_logit=True, save_local_shap_values=False)
    return explain(csv_data(), shadow_model(), None, shap), {
        "methods.shap.baseline": None,
        "methods.shap.num_clusters": 5,
        "methods.shap.use_logit": True,
        "methods.shap.save_local_shap_values": False,
    }


def agg_method(name: str) -> Case:
    def case() -> tuple[dict[str, Any], dict[str, Any]]:
        shap = clarify.SHAPConfig(baseline=[[1, 2, 3]], agg_method=name)
        return explain(csv_data(), shadow_model(), None, shap), {"methods.shap.agg_method": name}

    return case


def features_to_explain() -> tuple[dict[str, Any], dict[str, Any]]:
    shap = clarify.SHAPConfig(baseline=[[1, 2, 3]], features_to_explain=["Age", "fnlwgt"])
    return explain(csv_data(), shadow_model(), None, shap), {"methods.shap.features_to_explain": ("Age", "fnlwgt")}


def text_config(granularity: str, language: str, code: str) -> Case:
    def case() -> tuple[dict[str, Any], dict[str, Any]]:
        text = clarify.TextConfig(granularity=granularity, language=language)
        shap = clarify.SHAPConfig(baseline=[["<UNK>"]], num_samples=1000, text_config=text)
        data = csv_data(headers=["Review Text"], label=None)
        return explain(data, shadow_model(), clarify.ModelPredictedLabelConfig(probability_threshold=0.5), shap), {
            "headers": ("Review Text",),
            "probability_threshold": 0.5,
            "methods.shap.baseline": (("<UNK>",),),
            "methods.shap.text_config": TextConfig(granularity=granularity, language=code),  # type: ignore[arg-type]
            "methods.shap.text_config.max_top_tokens": 50,
        }

    return case


def endpoint_predictor() -> tuple[dict[str, Any], dict[str, Any]]:
    model = clarify.ModelConfig(
        endpoint_name="existing-ep",
        content_type="text/csv",
        accept_type="application/json",
        target_model="model-a.tar.gz",
        custom_attributes="c=1",
    )
    scores = clarify.ModelPredictedLabelConfig(probability="score")
    return explain(csv_data(), model, scores, clarify.SHAPConfig(baseline=[[1, 2, 3]])), {
        "predictor.endpoint_name": "existing-ep",
        "predictor.model_name": None,
        "predictor.accept_type": "application/json",
        "predictor.target_model": "model-a.tar.gz",
        "predictor.custom_attributes": "c=1",
    }


def endpoint_name_prefix() -> tuple[dict[str, Any], dict[str, Any]]:
    model = shadow_model(endpoint_name_prefix="my-prefix", accelerator_type="ml.eia2.medium")
    return explain(csv_data(), model, None, clarify.SHAPConfig(baseline=[[1, 2, 3]])), {
        "predictor.endpoint_name_prefix": "my-prefix",
        "predictor.accelerator_type": "ml.eia2.medium",
    }


def excluded_columns_and_joinsource() -> tuple[dict[str, Any], dict[str, Any]]:
    data = csv_data(headers=["id", *HEADERS], joinsource="id", excluded_columns=["Workclass"])
    return explain(data, shadow_model(), None, clarify.SHAPConfig(baseline=[[1, 2]])), {
        "joinsource_name_or_index": "id",
        "excluded_columns": ("Workclass",),
        "headers": ("id", *HEADERS),
    }


def shap_and_pdp() -> tuple[dict[str, Any], dict[str, Any]]:
    methods = [
        clarify.SHAPConfig(baseline=[[1, 2, 3]]),
        clarify.PDPConfig(features=["Age"], grid_resolution=20),
    ]
    return explain(csv_data(), shadow_model(), None, methods), {
        "methods.pdp": PdpConfig(grid_resolution=20, top_k_features=10, features=("Age",)),
    }


def pdp_only() -> tuple[dict[str, Any], dict[str, Any]]:
    pdp = clarify.PDPConfig(features=["Age", 2])
    return explain(csv_data(), shadow_model(), None, pdp), {
        "methods.shap": None,
        "methods.pdp.grid_resolution": 15,
        "methods.pdp.features": ("Age", 2),
    }


def image_classification() -> tuple[dict[str, Any], dict[str, Any]]:
    data = csv_data(dataset_type="application/x-image", headers=None, label=None)
    model = shadow_model(content_type="image/jpeg", accept_type=None)
    image = clarify.ImageConfig(model_type="IMAGE_CLASSIFICATION", num_segments=20, segment_compactness=5)
    scores = clarify.ModelPredictedLabelConfig(label_headers=["a", "b"])
    return explain(data, model, scores, clarify.SHAPConfig(num_samples=500, image_config=image)), {
        "dataset_type": "application/x-image",
        "predictor.content_type": "image/jpeg",
        "methods.shap.image_config.model_type": "IMAGE_CLASSIFICATION",
        "methods.shap.image_config.num_segments": 20,
    }


def bias_and_explainability() -> tuple[dict[str, Any], dict[str, Any]]:
    bias = clarify.BiasConfig(
        label_values_or_threshold=[1],
        facet_name="Age",
        facet_values_or_threshold=[40],
        group_name="Workclass",
    )
    cfg = clarify._AnalysisConfigGenerator.bias_and_explainability(
        csv_data(),
        shadow_model(),
        clarify.ModelPredictedLabelConfig(probability_threshold=0.8),
        clarify.SHAPConfig(baseline=[[1, 2, 3]]),
        bias,
        pre_training_methods="all",
        post_training_methods=["DPPL", "DI"],
    )
    return cfg, {
        "label_values_or_threshold": (1,),
        "facet": (FacetConfig(name_or_index="Age", value_or_threshold=(40,)),),
        "group_variable": "Workclass",
        "probability_threshold": 0.8,
        "methods.pre_training_bias": BiasConfig(methods="all"),
        "methods.post_training_bias": BiasConfig(methods=("DPPL", "DI")),
    }


def time_series() -> tuple[dict[str, Any], dict[str, Any]]:
    ts_data = clarify.TimeSeriesDataConfig(
        target_time_series="target",
        item_id="id",
        timestamp="ts",
        related_time_series=["r1"],
        static_covariates=["s1", "s2"],
        dataset_format=clarify.TimeSeriesJSONDatasetFormat.COLUMNS,
    )
    data = csv_data(dataset_type="application/json", headers=None, label=None, time_series_data_config=ts_data)
    model = clarify.ModelConfig(
        endpoint_name="ts-ep",
        content_type="application/json",
        accept_type="application/json",
        content_template='{"instances": $records}',
        record_template="$features",
        time_series_model_config=clarify.TimeSeriesModelConfig(forecast="predictions[*].mean"),
    )
    asv = clarify.AsymmetricShapleyValueConfig(
        direction="chronological",
        granularity="fine_grained",
        num_samples=10,
        baseline={"related_time_series": "mean", "static_covariates": {"item1": [1, 2]}},
    )
    return explain(data, model, None, asv), {
        "time_series_data_config.dataset_format": "columns",
        "time_series_data_config.static_covariates": ("s1", "s2"),
        "predictor.time_series_predictor_config.forecast": "predictions[*].mean",
        "methods.asymmetric_shapley_value.granularity": "fine_grained",
        "methods.asymmetric_shapley_value.num_samples": 10,
        "methods.asymmetric_shapley_value.baseline.static_covariates.item1": (1, 2),
    }


CASES = [
    pytest.param(csv_label_baseline_samples_seed, id="csv-label-baseline-samples-seed"),
    pytest.param(model_scores_int, id="model-scores-int"),
    pytest.param(model_scores_str, id="model-scores-str"),
    pytest.param(model_predicted_label_config, id="model-predicted-label-config"),
    pytest.param(int_label_headers_and_indices, id="int-label-headers"),
    pytest.param(jsonlines_content_template, id="jsonlines-content-template"),
    pytest.param(json_records_template, id="json-records-template"),
    pytest.param(num_clusters_use_logit, id="num-clusters-use-logit"),
    pytest.param(agg_method("median"), id="agg-median"),
    pytest.param(agg_method("mean_sq"), id="agg-mean-sq"),
    pytest.param(features_to_explain, id="features-to-explain"),
    pytest.param(text_config("token", "english", "en"), id="text-token-english"),
    pytest.param(text_config("sentence", "japanese", "ja"), id="text-sentence-japanese"),
    pytest.param(text_config("paragraph", "multi-language", "xx"), id="text-paragraph-multi"),
    pytest.param(text_config("token", "norwegian bokmål", "nb"), id="text-token-norwegian"),
    pytest.param(text_config("sentence", "es", "es"), id="text-sentence-es-code"),
    pytest.param(text_config("token", "lij", "lij"), id="text-token-ligurian-code"),
    pytest.param(endpoint_predictor, id="endpoint-name"),
    pytest.param(endpoint_name_prefix, id="endpoint-name-prefix"),
    pytest.param(excluded_columns_and_joinsource, id="excluded-columns-joinsource"),
    pytest.param(shap_and_pdp, id="shap-and-pdp"),
    pytest.param(pdp_only, id="pdp-only"),
    pytest.param(image_classification, id="image-classification"),
    pytest.param(bias_and_explainability, id="bias-and-explainability"),
    pytest.param(time_series, id="time-series-asv"),
]


@pytest.mark.parametrize("case", CASES)
def test_sdk_generated_config_parses(case: Case) -> None:
    document, expected = case()
    clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(copy.deepcopy(document))
    cfg = parse_analysis_config(document)
    assert isinstance(cfg, AnalysisConfig)
    for dotted, value in expected.items():
        assert attr(cfg, dotted) == value, dotted


# ---------------------------------------------------------------------------------------------------
# the converse: what the SDK schema rejects, openclarify rejects


def base_document() -> dict[str, Any]:
    return explain(csv_data(), shadow_model(), None, clarify.SHAPConfig(baseline=[[1, 2, 3]], num_samples=10))


def set_path(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    return document


REJECTED_BY_BOTH = [
    pytest.param("unknown_key", 1, "unknown_key", id="unknown-top-level-key"),
    pytest.param("methods.shap.num_sample", 10, "methods.shap.num_sample", id="unknown-shap-key"),
    pytest.param("predictor.model", "m", "predictor.model", id="unknown-predictor-key"),
    pytest.param("methods.report.file", "r", "methods.report.file", id="unknown-report-key"),
    pytest.param("dataset_type", "text/tsv", "dataset_type", id="dataset-type"),
    pytest.param("methods.shap.agg_method", "mean", "methods.shap.agg_method", id="agg-method"),
    pytest.param("methods.shap.num_samples", "10", "methods.shap.num_samples", id="num-samples-string"),
    # `schema` refuses a bool where an int is expected, as we do.
    pytest.param("methods.shap.num_samples", True, "methods.shap.num_samples", id="num-samples-bool"),
    pytest.param("methods.shap.seed", False, "methods.shap.seed", id="seed-bool"),
    pytest.param("headers", ["Target", 1, "Workclass", "fnlwgt"], "headers[1]", id="headers-item"),
    pytest.param("predictor.content_type", "image/jpg", "predictor.content_type", id="content-type-image-jpg"),
    pytest.param("predictor.endpoint_name_prefix", "-x", "predictor.endpoint_name_prefix", id="endpoint-prefix"),
    pytest.param("methods.pdp", {"features": ["Age"]}, "methods.pdp.grid_resolution", id="pdp-grid-resolution"),
    pytest.param("methods.report", {"title": "t"}, "methods.report.name", id="report-name"),
    pytest.param(
        "methods.shap.text_config",
        {"granularity": "word", "language": "english"},
        "methods.shap.text_config.granularity",
        id="granularity",
    ),
    pytest.param(
        "methods.shap.text_config",
        {"granularity": "token", "language": "klingon"},
        "methods.shap.text_config.language",
        id="language",
    ),
]


@pytest.mark.parametrize(("dotted", "value", "path"), REJECTED_BY_BOTH)
def test_rejected_by_sdk_schema_and_by_us(dotted: str, value: Any, path: str) -> None:
    document = set_path(base_document(), dotted, value)
    with pytest.raises(SchemaError):
        clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(copy.deepcopy(document))
    with pytest.raises(ConfigError) as info:
        parse_analysis_config(document)
    assert path in [p for p, _ in info.value.errors]


def test_missing_methods_rejected_by_both() -> None:
    document = base_document()
    del document["methods"]
    with pytest.raises(SchemaError, match="methods"):
        clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(copy.deepcopy(document))
    with pytest.raises(ConfigError, match=r"^methods: required key is missing"):
        parse_analysis_config(document)


def test_case_insensitive_like_the_sdk_schema() -> None:
    document = base_document()
    document["dataset_type"] = "Text/CSV"
    document["methods"]["shap"]["agg_method"] = "MEDIAN"
    document["predictor"]["accept_type"] = "TEXT/CSV"
    document["methods"]["shap"]["text_config"] = {"granularity": "TOKEN", "language": "ENGLISH"}
    del document["methods"]["shap"]["baseline"]
    clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(copy.deepcopy(document))
    cfg = parse_analysis_config(document)
    assert (cfg.dataset_type, cfg.methods.shap.agg_method) == ("text/csv", "median")  # type: ignore[union-attr]
    assert cfg.methods.shap.text_config == TextConfig(granularity="token", language="en")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("dotted", "value", "schema_accepts", "we_accept"),
    [
        # The container takes an int threshold; the SDK schema wants a Python float.
        pytest.param("probability_threshold", 1, False, True, id="int-threshold"),
        # The schema accepts no method at all (the SDK generator refuses it); so do we.
        pytest.param("methods", {}, True, False, id="empty-methods"),
        # Semantic ranges the schema does not check.
        pytest.param("methods.shap.num_samples", 0, True, False, id="zero-num-samples"),
    ],
)
def test_deliberate_differences_from_the_sdk_schema(
    dotted: str, value: Any, schema_accepts: bool, we_accept: bool
) -> None:
    document = set_path(base_document(), dotted, value)
    if dotted == "methods":
        document.pop("predictor")
    try:
        clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(copy.deepcopy(document))
        schema_ok = True
    except SchemaError:
        schema_ok = False
    try:
        parse_analysis_config(document)
        ours_ok = True
    except ConfigError:
        ours_ok = False
    assert (schema_ok, ours_ok) == (schema_accepts, we_accept)
