"""``workflow export``: the example workflow as Step Functions ASL (checked against the ASL rules and
botocore's SageMaker request shapes) and as a SageMaker Pipelines definition built by the SDK."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from openclarify.errors import ConfigError
from openclarify.workflow import ExportOptions, export_workflow, load_workflow, parse_workflow
from support.asl import asl_problems as _asl_problems

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "abalone" / "workflow.yaml"
OPERATIONS = {
    "arn:aws:states:::sagemaker:createTrainingJob.sync": "CreateTrainingJob",
    "arn:aws:states:::sagemaker:createProcessingJob.sync": "CreateProcessingJob",
    "arn:aws:states:::sagemaker:createModel": "CreateModel",
    "arn:aws:states:::sagemaker:createEndpointConfig": "CreateEndpointConfig",
    "arn:aws:states:::sagemaker:createEndpoint": "CreateEndpoint",
}


def _static(value: Any) -> Any:
    """ASL Parameters with their ``key.$`` paths replaced by a value of the shape the API takes."""
    if isinstance(value, dict):
        return {(k[:-2] if k.endswith(".$") else k): ("abalone-x" if k.endswith(".$") else _static(v))
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_static(v) for v in value]
    return value


@pytest.fixture(scope="module")
def machine() -> dict[str, Any]:
    return json.loads(export_workflow(load_workflow(EXAMPLE), "stepfunctions"))


def test_the_state_machine_follows_the_asl_rules_and_each_sagemaker_call_fits_its_api(machine):
    assert machine["StartAt"] == "train"
    assert _asl_problems(machine) == []
    model = botocore.session.get_session().get_service_model("sagemaker")
    tasks = [s for s in machine["States"].values() if s.get("Resource") in OPERATIONS]
    assert len(tasks) == 5
    for state in tasks:
        shape = model.operation_model(OPERATIONS[state["Resource"]]).input_shape
        report = ParamValidator().validate(_static(state["Parameters"]), shape)
        assert not report.has_errors(), report.generate_report()


def test_train_analyze_gate_deploy_and_fail_become_their_states(machine):
    states = machine["States"]
    assert list(states) == ["train", "explain", "gate", "gate-choice", "deploy", "deploy-endpoint-config",
                            "deploy-endpoint", "rejected"]  # fmt: skip
    train = states["train"]["Parameters"]["AlgorithmSpecification"]
    assert train["ContainerEntrypoint"][-5:] == ["train.py", "--data", "../../data/abalone/abalone.csv", "--output",
                                                 "/opt/ml/model"]  # fmt: skip
    explain = states["explain"]["Parameters"]
    assert [i["InputName"] for i in explain["ProcessingInputs"]] == ["analysis_config", "dataset"]
    assert explain["ProcessingInputs"][1]["S3Input"]["S3Uri.$"] == "$.steps.train.ModelArtifacts.S3ModelArtifacts"
    assert explain["ProcessingOutputConfig"]["Outputs"][0]["OutputName"] == "analysis_result"
    argv = explain["AppSpecification"]["ContainerEntrypoint"]
    assert argv[4:6] == ["openclarify", "analyze"] and "/opt/ml/processing/steps/train/test.csv" in argv
    assert states["gate"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert states["gate"]["Parameters"]["Payload"]["checks"][0]["member"] == "metrics.json"
    choice = states["gate-choice"]
    assert choice["Choices"][0]["And"] == [
        {"Variable": "$.steps.gate.check0", "NumericGreaterThanEquals": 0.5},
        {"Not": {"Variable": "$.steps.gate.check1", "StringEquals": "Sex"}},
    ]
    assert choice["Choices"][0]["Next"] == "deploy" and choice["Default"] == "rejected"
    assert states["deploy-endpoint"]["End"] is True
    assert states["rejected"] == {"Type": "Fail", "Error": "ModelBelowThreshold",
                                  "Cause": "the model misses the business objective"}  # fmt: skip


def test_options_replace_the_placeholders_and_an_explainer_config_reaches_the_endpoint_config(tmp_path):
    (tmp_path / "explainer.json").write_text(json.dumps({"ClarifyExplainerConfig": {
        "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "1,2"}, "NumberOfSamples": 10}}}))  # fmt: skip
    workflow = parse_workflow({"name": "w", "steps": [
        {"name": "fit", "type": "train", "trainer": "blazingtext", "args": ["--train", "data.txt"]},
        {"name": "ship", "type": "deploy", "model": "{steps.fit}", "explainer_config": "explainer.json"},
    ]}, tmp_path)  # fmt: skip
    options = ExportOptions(role_arn="arn:aws:iam::1:role/r", image_uri="img:1", s3_prefix="s3://b/p/")
    machine = json.loads(export_workflow(workflow, "stepfunctions", options, output=str(tmp_path / "w.json")))
    assert json.loads((tmp_path / "w.json").read_text()) == machine
    assert _asl_problems(machine) == []
    config = machine["States"]["ship-endpoint-config"]["Parameters"]
    assert config["ExplainerConfig"]["ClarifyExplainerConfig"]["ShapConfig"]["NumberOfSamples"] == 10
    train = machine["States"]["fit"]["Parameters"]
    assert train["RoleArn"] == "arn:aws:iam::1:role/r" and train["AlgorithmSpecification"]["TrainingImage"] == "img:1"
    assert train["OutputDataConfig"]["S3OutputPath"] == "s3://b/p/w/fit/"
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateEndpointConfig")
    assert not ParamValidator().validate(_static(config), shape.input_shape).has_errors()


def test_the_sagemaker_pipelines_definition_is_built_by_the_sdk():
    pytest.importorskip("sagemaker")
    definition = json.loads(export_workflow(load_workflow(EXAMPLE), "sagemaker-pipelines"))
    assert definition["Version"] == "2020-12-01"
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert [(s["Name"], s["Type"]) for s in definition["Steps"]] == [
        ("train", "Training"),
        ("explain", "Processing"),
        ("gate", "Lambda"),
        ("gate-choice", "Condition"),
    ]
    condition = steps["gate-choice"]["Arguments"]
    assert condition["Conditions"][0] == {"Type": "GreaterThanOrEqualTo", "RightValue": 0.5,
                                          "LeftValue": {"Get": "Steps.gate.OutputParameters['check0']"}}  # fmt: skip
    assert [(s["Name"], s["Type"]) for s in condition["IfSteps"]] == [("deploy-CreateModel", "Model")]
    (fail,) = condition["ElseSteps"]
    assert fail["Type"] == "Fail"
    assert fail["Arguments"]["ErrorMessage"] == "ModelBelowThreshold: the model misses the business objective"
    inputs = steps["explain"]["Arguments"]["ProcessingInputs"]
    assert inputs[1]["S3Input"]["S3Uri"] == {"Get": "Steps.train.ModelArtifacts.S3ModelArtifacts"}


def test_a_target_or_a_workflow_it_cannot_express_is_a_config_error():
    workflow = load_workflow(EXAMPLE)
    with pytest.raises(ConfigError, match="must be one of stepfunctions, sagemaker-pipelines"):
        export_workflow(workflow, "airflow")
    looping = parse_workflow({"name": "w", "steps": [
        {"name": "a", "type": "command", "args": ["version"]},
        {"name": "b", "type": "command", "args": ["version"], "next": "a"},
    ]})  # fmt: skip
    assert _asl_problems(json.loads(export_workflow(looping, "stepfunctions"))) == []
    pytest.importorskip("sagemaker")
    with pytest.raises(ConfigError, match="cannot be expressed in SageMaker Pipelines"):
        export_workflow(looping, "sagemaker-pipelines")


def test_job_names_leave_room_for_an_execution_uuid_within_sagemakers_63_characters():
    steps = [{"name": "explain_the_model_on_the_holdout_set", "type": "analyze", "config": "c.json", "data": "d.csv",
              "model": "m.joblib"}]  # fmt: skip
    for name in ("abalone", "a-very-long-workflow-name-for-the-abalone-pipeline"):
        machine = json.loads(export_workflow(parse_workflow({"name": name, "steps": steps}), "stepfunctions"))
        formatted = machine["States"]["explain_the_model_on_the_holdout_set"]["Parameters"]["ProcessingJobName.$"]
        prefix = formatted.split("'")[1].replace("{}", "")
        job = prefix + "0b6f6d2e-8a1f-4bb5-9a51-4d7c8f0e2a11"  # a default execution name
        assert len(job) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", job), job
        assert prefix.startswith(name[:10])
