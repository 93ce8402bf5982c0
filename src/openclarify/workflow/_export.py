"""``openclarify workflow export``: the same workflow as an AWS Step Functions state machine or a SageMaker
Pipelines definition, generated offline (no AWS call, no credentials).

Both targets run the openclarify image (``--image-uri``) as SageMaker jobs and share one layout under
``--s3-prefix``: ``code/`` is the workflow file's folder (upload it there; relative paths are read from it),
``<workflow>/<step>/`` each step's output. A ``train`` step is a training job whose ``{step}`` is
``/opt/ml/model`` (its named outputs end up in ``model.tar.gz``); ``analyze`` and ``command`` are
processing jobs (inputs ``analysis_config`` and ``dataset``, output ``analysis_result``); a train step's
``model.tar.gz`` given to a processing job is unpacked into ``/opt/ml/processing/steps/<step>/`` first.

Neither Step Functions nor SageMaker Pipelines can read a number out of a file, so a ``gate`` is two
states: a Lambda (``--gate-lambda-arn``, a placeholder: yours to deploy) that reads each check's value
and returns ``{"check0": 0.57, "check1": "Rings", ...}`` (a ``value`` check: the number at the JMESPath in
the JSON file, ``member`` of the ``archive`` when it is a train step's output; ``top_feature``: the
feature with the largest global attribution in ``analysis``; ``bias``: the metric's absolute value), then
a ``Choice`` (a ``ConditionStep``) that compares those values with the workflow's thresholds. ``deploy``
is CreateModel -> CreateEndpointConfig (with ``ExplainerConfig`` when the step has ``explainer_config``)
-> CreateEndpoint in Step Functions; SageMaker Pipelines has no endpoint step, so there it is the
CreateModel step alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args
from unittest import mock

from ..errors import ConfigError, MissingDependencyError
from ..io import write_atomic
from ._spec import _REFERENCE, Check, Step, Workflow

__all__ = ["EXPORTERS", "TARGETS", "ExportOptions", "ExportTarget", "export_workflow"]

ExportTarget = Literal["stepfunctions", "sagemaker-pipelines"]
TARGETS: Final[tuple[ExportTarget, ...]] = get_args(ExportTarget)
_SDK_HINT: Final = "exporting to SageMaker Pipelines needs the SageMaker SDK: pip install 'sagemaker>=2.200,<3'"
_DOCUMENT: Final = "the workflow"
PROCESSING: Final = "/opt/ml/processing"
CODE_CHANNEL: Final = "/opt/ml/input/data/code"


@dataclass(frozen=True)
class ExportOptions:
    """What the workflow file does not say: placeholders to replace with your account's values."""

    role_arn: str = "arn:aws:iam::111122223333:role/openclarify-workflow"
    image_uri: str = "111122223333.dkr.ecr.us-east-1.amazonaws.com/openclarify:latest"
    s3_prefix: str = "s3://openclarify-workflows-111122223333"
    gate_lambda_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:openclarify-gate-values"
    instance_type: str = "ml.m5.large"
    region: str = "us-east-1"


def _cannot(where: str, message: str) -> ConfigError:
    return ConfigError([(where, message)], document=_DOCUMENT)


@dataclass(frozen=True)
class _Artifact:
    """The ``model.tar.gz`` of a train step (known only once the job ran)."""

    step: str


Source = str | _Artifact


class _Layout:
    """Where each step's files are in S3 and inside the job that reads them."""

    def __init__(self, workflow: Workflow, options: ExportOptions) -> None:
        self.workflow = workflow
        self.prefix = options.s3_prefix.rstrip("/")

    def output(self, step: str) -> str:
        return f"{self.prefix}/{self.workflow.name}/{step}/"

    def code(self, relative: str) -> str:
        return f"{self.prefix}/code/{relative.lstrip('./')}" if not relative.startswith("../") else ""

    def source(self, text: str, where: str) -> tuple[Source, str]:
        """Where the file ``text`` names is: (an S3 URI or a train step's artifact, the path inside it)."""
        match = _REFERENCE.fullmatch(text)
        if match is not None:
            name, output = match.group(1), match.group(2)
            step = self.workflow.step(name)
            if step.type == "train":
                member = str(step.settings.get("outputs", {}).get(output, output)) if output else ""
                return _Artifact(name), member
            if step.type in ("analyze", "command"):
                member = str(step.settings.get("outputs", {}).get(output, output)) if output else ""
                return self.output(name), member
            raise _cannot(where, f"refers to the {step.type} step {name!r}, which writes no files to read.")
        if "{" in text:
            raise _cannot(where, f"a path in a job must be a file or a whole step reference; got {text!r}.")
        if text.startswith(("s3://", "/")):
            return text, ""
        uri = self.code(text)
        if not uri:
            raise _cannot(where, f"{text!r} is outside the workflow's folder, which is what is uploaded to code/.")
        return uri, ""


@dataclass
class _Input:
    name: str
    source: Source
    local: str
    unpack: bool


class _Job:
    """The inputs and the command line of one processing job."""

    def __init__(self, layout: _Layout, step: Step) -> None:
        self.layout, self.step = layout, step
        self.inputs: dict[str, _Input] = {}

    def path(self, text: str, where: str, name: str | None = None) -> str:
        """``text`` (a setting or an argument) as it reads inside the job, adding the input it needs."""
        if text == "{step}":
            return f"{PROCESSING}/output"
        if name is None and _REFERENCE.search(text) is None and not _looks_like_file(text):
            return text
        source, member = self.layout.source(text, where)
        found = next((i for i in self.inputs.values() if i.source == source), None)
        if found is None:
            key = name or (source.step if isinstance(source, _Artifact) else f"input{len(self.inputs)}")
            if isinstance(source, _Artifact):
                found = _Input(key, source, f"{PROCESSING}/steps/{source.step}", unpack=True)
            else:
                found = _Input(key, source, f"{PROCESSING}/input/{key}", unpack=False)
            self.inputs[key] = found
        if isinstance(source, _Artifact) or source.endswith("/"):
            return posixpath.join(found.local, member) if member else found.local
        return f"{found.local}/{posixpath.basename(source)}"

    def command(self, argv: list[str]) -> list[str]:
        """The container entrypoint: unpack train steps' artifacts, then run ``argv``."""
        prelude = [
            f"mkdir -p {i.local} && tar -xzf {PROCESSING}/input/{i.name}/model.tar.gz -C {i.local}"
            for i in self.inputs.values()
            if i.unpack
        ]
        return ["sh", "-c", " && ".join([*prelude, 'exec "$@"']), "sh", *argv]


def _looks_like_file(text: str) -> bool:
    return text.startswith("s3://") or ("/" in text and not text.startswith(("-", "/")) and "://" not in text)


def _argv(job: _Job, step: Step) -> list[str]:
    settings = step.settings
    where = f"steps[{step.name}]"
    args = [job.path(str(a), f"{where}.args") for a in settings.get("args", [])]
    if step.type == "analyze":
        if "model" not in settings:
            raise _cannot(
                f"{where}.endpoint_url", "an analyze step on an endpoint URL is not exported yet; use 'model'."
            )
        config = job.path(str(settings["config"]), f"{where}.config", "analysis_config")
        data = job.path(str(settings["data"]), f"{where}.data", "dataset")
        model = job.path(str(settings["model"]), f"{where}.model", "model")
        return ["openclarify", "analyze", "--config", config, "--data", data, "--model", model,
                "--output", f"{PROCESSING}/output", "--quiet", *args]  # fmt: skip
    return ["openclarify", *args]


def _train_argv(step: Step) -> list[str]:
    settings = step.settings
    args = [str(a).replace("{step}", "/opt/ml/model") for a in settings.get("args", [])]
    for a in args:
        if _REFERENCE.search(a):
            raise _cannot(f"steps[{step.name}].args", "a train step that reads another step's files is not exported.")
    if "script" in settings:
        run = ["python", str(settings["script"]), *args]
    else:
        algorithm = [] if settings["trainer"] == "blazingtext" else ["--algorithm", "huggingface"]
        run = ["openclarify", "train", *algorithm, "--output", "/opt/ml/model", *args]
    return ["sh", "-c", f'cd {CODE_CHANNEL} && exec "$@"', "sh", *run]


def _gate_payload(layout: _Layout, gate: Step) -> list[dict[str, Any]]:
    """What the gate's Lambda reads, one entry per check (``name`` is the key its answer has)."""
    entries: list[dict[str, Any]] = []
    for i, check in enumerate(gate.checks):
        where = f"steps[{gate.name}].checks[{i}]"
        text, _, jmespath = check.source.partition("#")
        source, member = layout.source(text, where)
        entry: dict[str, Any] = {"name": f"check{i}", "kind": check.kind}
        key = "file" if check.kind == "value" else "analysis"
        if isinstance(source, _Artifact):
            entry["archive"] = source
            entry["member"] = member
        else:
            entry[key] = source + member if member else source
        if check.kind == "value":
            entry["jmespath"] = jmespath
        elif check.kind == "top_feature" and check.label is not None:
            entry["label"] = check.label
        elif check.kind == "bias":
            entry.update(metric=check.metric, facet=check.facet)
        entries.append(entry)
    return entries


def _state_key(name: str) -> str:
    return name.replace("-", "_")


_ASL_COMPARE: Final = {">=": "NumericGreaterThanEquals", ">": "NumericGreaterThan", "<=": "NumericLessThanEquals",
                       "<": "NumericLessThan", "==": "NumericEquals", "!=": "NumericEquals"}  # fmt: skip


def _asl_conditions(check: Check, variable: str) -> list[dict[str, Any]]:
    if check.kind == "value":
        comparison = check.comparison or ">="  # a value check always has one
        rule = {"Variable": variable, _ASL_COMPARE[comparison]: check.bound}
        return [{"Not": rule}] if comparison == "!=" else [rule]
    if check.kind == "top_feature":
        return [{"Not": {"Variable": variable, "StringEquals": v}} for v in check.values]
    return [{"Variable": variable, "NumericLessThanEquals": check.bound}]


def _asl_rule(check: Check, variable: str) -> dict[str, Any]:
    """One check as one ASL rule (a top_feature check with several names: none of them)."""
    conditions = _asl_conditions(check, variable)
    if len(conditions) == 1:
        return conditions[0]
    return {"Not": {"Or": [c["Not"] for c in conditions]}}


def _asl_value(value: Any, key: str, out: dict[str, Any]) -> None:
    if isinstance(value, _Artifact):
        out[f"{key}.$"] = f"$.steps.{_state_key(value.step)}.ModelArtifacts.S3ModelArtifacts"
    else:
        out[key] = value


#: SageMaker names (jobs, models, endpoints) have at most 63 characters; an execution's default name is a
#: 36-character UUID, so the part before it keeps to 63 - 36 - 1.
_NAME_PREFIX: Final = 26


def _job_name(workflow: Workflow, step: str) -> str:
    """The SageMaker name of a step's job in one execution: ``<workflow>-<step>-<execution name>``, the first
    part shortened (its start and a digest of the whole) when it would not leave room for a UUID."""
    prefix = re.sub(r"[^A-Za-z0-9-]", "-", f"{workflow.name}-{step}")
    if len(prefix) > _NAME_PREFIX:
        digest = hashlib.sha256(prefix.encode()).hexdigest()[:6]
        prefix = f"{prefix[: _NAME_PREFIX - 7].rstrip('-')}-{digest}"
    return f"States.Format('{prefix}-{{}}', $$.Execution.Name)"


def to_stepfunctions(workflow: Workflow, options: ExportOptions) -> dict[str, Any]:
    """The workflow as an Amazon States Language state machine (see the module docstring)."""
    layout = _Layout(workflow, options)
    states: dict[str, Any] = {}
    role = options.role_arn

    def following(step: Step) -> dict[str, Any]:
        after = workflow.after(step)
        return {"Next": after} if after is not None else {"End": True}

    resources = {"InstanceCount": 1, "InstanceType": options.instance_type, "VolumeSizeInGB": 30}
    for step in workflow.steps:
        key, settings = _state_key(step.name), step.settings
        if step.type == "train":
            environment = {k: str(v) for k, v in (settings.get("env") or {}).items()}
            states[step.name] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName.$": _job_name(workflow, step.name),
                    "RoleArn": role,
                    "AlgorithmSpecification": {
                        "TrainingImage": options.image_uri,
                        "TrainingInputMode": "File",
                        "ContainerEntrypoint": _train_argv(step),
                    },  # fmt: skip
                    "InputDataConfig": [
                        {
                            "ChannelName": "code",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": f"{layout.prefix}/code/",
                                    "S3DataDistributionType": "FullyReplicated",
                                }
                            },
                        }
                    ],  # fmt: skip
                    "OutputDataConfig": {"S3OutputPath": layout.output(step.name)},
                    "ResourceConfig": resources,
                    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                    **({"Environment": environment} if environment else {}),
                },
                "ResultPath": f"$.steps.{key}",
                **following(step),
            }
        elif step.type in ("analyze", "command"):
            job = _Job(layout, step)
            argv = _argv(job, step)
            inputs = []
            for i in job.inputs.values():
                s3: dict[str, Any] = {"LocalPath": f"{PROCESSING}/input/{i.name}", "S3DataType": "S3Prefix",
                                      "S3InputMode": "File"}  # fmt: skip
                _asl_value(i.source, "S3Uri", s3)
                inputs.append({"InputName": i.name, "S3Input": s3})
            output = "analysis_result" if step.type == "analyze" else "result"
            states[step.name] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    "ProcessingJobName.$": _job_name(workflow, step.name),
                    "RoleArn": role,
                    "AppSpecification": {"ImageUri": options.image_uri, "ContainerEntrypoint": job.command(argv)},
                    "ProcessingInputs": inputs,
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "OutputName": output,
                                "S3Output": {
                                    "S3Uri": layout.output(step.name),
                                    "LocalPath": f"{PROCESSING}/output",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ]
                    },  # fmt: skip
                    "ProcessingResources": {"ClusterConfig": resources},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                },
                "ResultPath": f"$.steps.{key}",
                **following(step),
            }
        elif step.type in ("gate", "choice"):
            payload = []
            for entry in _gate_payload(layout, step):
                rendered: dict[str, Any] = {}
                for k, v in entry.items():
                    _asl_value(v, k, rendered)
                payload.append(rendered)
            choice = f"{step.name}-choice"
            states[step.name] = {
                "Type": "Task",
                "Comment": "reads each check's value (Step Functions cannot read a file); the Choice compares",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": options.gate_lambda_arn, "Payload": {"checks": payload}},
                "ResultSelector": {f"check{i}.$": f"$.Payload.check{i}" for i in range(len(step.checks))},
                "ResultPath": f"$.steps.{key}",
                "Next": choice,
            }
            if step.type == "choice":
                rules = []
                for branch in step.branches:
                    per_check = [_asl_rule(c, f"$.steps.{key}.check{branch.first + k}")
                                 for k, c in enumerate(branch.checks)]  # fmt: skip
                    rule = per_check[0] if len(per_check) == 1 else {"Or" if branch.any else "And": per_check}
                    rules.append({**rule, "Next": branch.next})
                # without a Default, Step Functions fails the execution with States.NoChoiceMatched, as `run` does
                default = {"Default": step.on_fail} if step.on_fail is not None else {}
                states[choice] = {"Type": "Choice", "Choices": rules, **default}
                continue
            conditions = [c for i, check in enumerate(step.checks)
                          for c in _asl_conditions(check, f"$.steps.{key}.check{i}")]  # fmt: skip
            after = workflow.after(step)
            held = step.on_fail or f"{step.name}-held-back"
            if step.on_fail is None:
                states[held] = {"Type": "Fail", "Error": "GateHeldBack", "Cause": f"the gate {step.name} failed"}
            if after is None:
                after = f"{step.name}-passed"
                states[after] = {"Type": "Succeed"}
            states[choice] = {"Type": "Choice", "Choices": [{"And": conditions, "Next": after}], "Default": held}
        elif step.type == "deploy":
            model, where = str(settings["model"]), f"steps[{step.name}].model"
            source, _ = layout.source(model, where)
            container: dict[str, Any] = {"Image": options.image_uri}
            _asl_value(source if isinstance(source, _Artifact) else source, "ModelDataUrl", container)
            name = _job_name(workflow, step.name)
            states[step.name] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createModel",
                "Parameters": {"ModelName.$": name, "ExecutionRoleArn": role, "PrimaryContainer": container},
                "ResultPath": f"$.steps.{key}.model",
                "Next": f"{step.name}-endpoint-config",
            }
            config: dict[str, Any] = {
                "EndpointConfigName.$": name,
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName.$": name,
                                        "InstanceType": options.instance_type, "InitialInstanceCount": 1}],
            }  # fmt: skip
            if "explainer_config" in settings:
                config["ExplainerConfig"] = _explainer(workflow, step)
            states[f"{step.name}-endpoint-config"] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createEndpointConfig",
                "Parameters": config,
                "ResultPath": f"$.steps.{key}.endpoint_config",
                "Next": f"{step.name}-endpoint",
            }
            states[f"{step.name}-endpoint"] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createEndpoint",
                "Parameters": {"EndpointName.$": name, "EndpointConfigName.$": name},
                "ResultPath": f"$.steps.{key}.endpoint",
                **following(step),
            }
        elif step.type == "fail":
            states[step.name] = {"Type": "Fail", "Error": str(settings.get("error", "WorkflowFailed")),
                                 "Cause": str(settings.get("cause", "the workflow reached a fail step"))}  # fmt: skip
        else:
            states[step.name] = {"Type": "Succeed"}
    return {"Comment": f"openclarify workflow {workflow.name}", "StartAt": workflow.steps[0].name, "States": states}


def _explainer(workflow: Workflow, step: Step) -> dict[str, Any]:
    path = workflow.base_dir / str(step.settings["explainer_config"])
    where = f"steps[{step.name}].explainer_config"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _cannot(where, f"cannot read {path} ({exc}).") from None
    if isinstance(document, Mapping) and "ExplainerConfig" in document:
        document = document["ExplainerConfig"]
    if isinstance(document, Mapping) and "ClarifyExplainerConfig" not in document:
        document = {"ClarifyExplainerConfig": document}
    return dict(document)


@contextmanager
def _offline_sdk() -> Iterator[Any]:
    """The SageMaker SDK with no network: a fake region, a given bucket, telemetry off, warnings quiet."""
    loggers = [logging.getLogger(n) for n in ("sagemaker", "sagemaker.config")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                import boto3
                import botocore.session
                import sagemaker
                from sagemaker.session import Session
                from sagemaker.telemetry import telemetry_logging
                from sagemaker.workflow.pipeline_context import PipelineSession
            except ImportError as exc:
                raise MissingDependencyError(_SDK_HINT) from exc
            with (
                mock.patch.object(Session, "default_bucket", return_value="openclarify-placeholder"),
                mock.patch.object(telemetry_logging, "_send_telemetry_request", return_value=None),
            ):
                core = botocore.session.Session()
                core.set_credentials("placeholder", "placeholder")
                boto = boto3.Session(botocore_session=core, region_name="us-east-1")
                yield sagemaker, PipelineSession(boto_session=boto, default_bucket="openclarify-placeholder")
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def to_sagemaker_pipelines(workflow: Workflow, options: ExportOptions) -> dict[str, Any]:
    """The workflow as a SageMaker Pipelines definition, built with the SDK's classes (see the module
    docstring); a ``next`` that loops back, or a step reached from two branches, cannot be expressed."""
    layout = _Layout(workflow, options)
    with _offline_sdk() as (sagemaker, session):
        from sagemaker.estimator import Estimator
        from sagemaker.lambda_helper import Lambda
        from sagemaker.model import Model
        from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
        from sagemaker.workflow import conditions as cond
        from sagemaker.workflow.condition_step import ConditionStep
        from sagemaker.workflow.fail_step import FailStep
        from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
        from sagemaker.workflow.model_step import ModelStep
        from sagemaker.workflow.pipeline import Pipeline
        from sagemaker.workflow.steps import TrainingStep

        role, image, kind = options.role_arn, options.image_uri, options.instance_type
        trained: dict[str, Any] = {}
        built: set[str] = set()

        def resolve(source: Source) -> Any:
            if isinstance(source, _Artifact):
                return trained[source.step].properties.ModelArtifacts.S3ModelArtifacts
            return source

        compare: dict[str, Callable[..., Any]] = {
            ">=": cond.ConditionGreaterThanOrEqualTo, ">": cond.ConditionGreaterThan,
            "<=": cond.ConditionLessThanOrEqualTo, "<": cond.ConditionLessThan, "==": cond.ConditionEquals,
            "!=": lambda left, right: cond.ConditionNot(cond.ConditionEquals(left=left, right=right)),
        }  # fmt: skip

        def chain(start: str | None, previous: Any) -> list[Any]:
            out: list[Any] = []
            name = start
            while name is not None:
                if name in built:
                    raise _cannot(f"steps[{name}]", "a step reached twice (a loop, or from two branches) "
                                                    "cannot be expressed in SageMaker Pipelines.")  # fmt: skip
                built.add(name)
                step = workflow.step(name)
                after: dict[str, Any] = {"depends_on": [previous]} if previous is not None else {}
                new: Any
                settings = step.settings
                if step.type == "train":
                    estimator = Estimator(
                        image_uri=image, role=role, instance_count=1, instance_type=kind, sagemaker_session=session,
                        container_entry_point=_train_argv(step), output_path=layout.output(name),
                        environment={k: str(v) for k, v in (settings.get("env") or {}).items()} or None,
                    )  # fmt: skip
                    code = sagemaker.inputs.TrainingInput(f"{layout.prefix}/code/", distribution="FullyReplicated")
                    new = TrainingStep(name=name, step_args=estimator.fit(inputs={"code": code}), **after)
                    trained[name] = new
                elif step.type in ("analyze", "command"):
                    job = _Job(layout, step)
                    argv = _argv(job, step)
                    entrypoint: list[Any] = job.command(argv)
                    processor = Processor(role=role, image_uri=image, instance_count=1, instance_type=kind,
                                          entrypoint=entrypoint, sagemaker_session=session)  # fmt: skip
                    inputs = [ProcessingInput(source=resolve(i.source), destination=f"{PROCESSING}/input/{i.name}",
                                              input_name=i.name) for i in job.inputs.values()]  # fmt: skip
                    output = "analysis_result" if step.type == "analyze" else "result"
                    outputs = [ProcessingOutput(source=f"{PROCESSING}/output", destination=layout.output(name),
                                                output_name=output, s3_upload_mode="EndOfJob")]  # fmt: skip
                    from sagemaker.workflow.steps import ProcessingStep

                    new = ProcessingStep(name=name, step_args=processor.run(inputs=inputs, outputs=outputs), **after)
                elif step.type in ("gate", "choice"):
                    payload = []
                    for entry in _gate_payload(layout, step):
                        payload.append({k: resolve(v) if isinstance(v, _Artifact) else v for k, v in entry.items()})
                    types = [LambdaOutputTypeEnum.String if c.kind == "top_feature" else LambdaOutputTypeEnum.Float
                             for c in step.checks]  # fmt: skip
                    reader = LambdaStep(
                        name=name, lambda_func=Lambda(function_arn=options.gate_lambda_arn, session=session),
                        inputs={"checks": payload}, outputs=[LambdaOutput(f"check{i}", t) for i, t in enumerate(types)],
                        **after,
                    )  # fmt: skip

                    def rule(i: int, check: Check, reader: Any = reader) -> Any:
                        value = reader.properties.Outputs[f"check{i}"]
                        if check.kind == "value":
                            comparison = check.comparison or ">="  # a value check always has one
                            return compare[comparison](left=value, right=check.bound)
                        if check.kind == "top_feature":
                            return cond.ConditionNot(cond.ConditionIn(value=value, in_values=list(check.values)))
                        return cond.ConditionLessThanOrEqualTo(left=value, right=check.bound)

                    out.append(reader)
                    if step.type == "gate":
                        held = (chain(step.on_fail, None) if step.on_fail is not None
                                else [FailStep(name=f"{name}-held-back",
                                               error_message=f"the gate {name} failed")])  # fmt: skip
                        rules = [rule(i, c) for i, c in enumerate(step.checks)]
                        passed = chain(workflow.after(step), None)
                        out.append(ConditionStep(name=f"{name}-choice", conditions=rules, depends_on=[reader],
                                                 if_steps=passed, else_steps=held))  # fmt: skip
                        return out
                    # a ConditionStep has two branches: the choices become nested ones, tried in order
                    otherwise: list[Any] = (
                        chain(step.on_fail, None) if step.on_fail is not None
                        else [FailStep(name=f"{name}-no-choice",
                                       error_message=f"States.NoChoiceMatched: no choice of {name} holds")]
                    )  # fmt: skip
                    for j in reversed(range(len(step.branches))):
                        branch = step.branches[j]
                        rules = [rule(branch.first + k, c) for k, c in enumerate(branch.checks)]
                        if branch.any and len(rules) > 1:
                            rules = [cond.ConditionOr(conditions=rules)]
                        taken = chain(branch.next, None)
                        otherwise = [ConditionStep(name=f"{name}-choice{j}", conditions=rules, depends_on=[reader],
                                                   if_steps=taken, else_steps=otherwise)]  # fmt: skip
                    out.extend(otherwise)
                    return out
                elif step.type == "deploy":
                    source, _ = layout.source(str(settings["model"]), f"steps[{name}].model")
                    model = Model(image_uri=image, model_data=resolve(source), role=role, sagemaker_session=session)
                    new = ModelStep(name=name, step_args=model.create(instance_type=kind), **after)
                elif step.type == "fail":
                    error = str(settings.get("error", "WorkflowFailed"))
                    cause = str(settings.get("cause", "the workflow reached a fail step"))
                    out.append(FailStep(name=name, error_message=f"{error}: {cause}", **after))
                    return out
                else:
                    return out
                out.append(new)
                previous = new
                name = workflow.after(step)
            return out

        steps = chain(workflow.steps[0].name, None)
        pipeline = Pipeline(name=workflow.name, steps=steps, sagemaker_session=session)
        definition: dict[str, Any] = json.loads(pipeline.definition())
    return definition


EXPORTERS: Final[dict[ExportTarget, Callable[[Workflow, ExportOptions], dict[str, Any]]]] = {
    "stepfunctions": to_stepfunctions,
    "sagemaker-pipelines": to_sagemaker_pipelines,
}


def export_workflow(
    workflow: Workflow, target: str, options: ExportOptions | None = None, *, output: str | None = None
) -> str:
    """The workflow as ``target``'s JSON document (indented, ending in a newline), also written atomically
    to ``output`` when given.

    Raises
    ------
    ConfigError
        ``target`` is not one of :data:`TARGETS`, or the workflow has a step the target cannot express.
    MissingDependencyError
        ``sagemaker-pipelines`` without the SageMaker SDK installed.
    """
    if target not in EXPORTERS:
        raise _cannot("--to", f"must be one of {', '.join(TARGETS)}; got {target!r}.")
    document = EXPORTERS[target](workflow, options or ExportOptions())
    text = json.dumps(document, indent=2) + "\n"
    if output is not None:
        write_atomic(output, text.encode())
    return text
