"""``openclarify workflow run``: train -> explain -> gate -> deploy from a workflow file, on this machine."""

from __future__ import annotations

import click

from ._terminal import echo, safe

__all__ = ["EXIT_WORKFLOW_FAILED", "workflow"]

EXIT_WORKFLOW_FAILED = 7  # a step failed, a gate held the model back, or a fail step was reached


@click.group()
def workflow() -> None:
    """Run a train -> explain -> gate -> deploy workflow (a YAML or JSON file)."""


@workflow.command()
@click.argument("spec")
@click.option("--runs", default=None, help="Where run folders go. Default: workflow_runs/<name> beside the file.")
@click.option("--resume", default=None, help="Continue a run (its id, or 'last') at the step it had reached.")
@click.option("--no-reuse", is_flag=True, help="Run every step, even those whose inputs an earlier run had.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def run(spec: str, runs: str | None, resume: str | None, no_reuse: bool, debug: bool) -> None:
    """Run the workflow SPEC: each run in its own folder (state.json, a folder per step, logs/), steps whose
    inputs did not change since an earlier run reused. Exits with 7 when a step fails, a gate holds the
    model back or a fail step is reached."""
    from ..workflow import WorkflowFailed, load_workflow, run_workflow

    spec_workflow = load_workflow(spec)

    def say(line: str) -> None:
        echo(f"openclarify: {safe(line)}")

    try:
        result = run_workflow(spec_workflow, runs=runs, resume=resume, reuse=not no_reuse, log=say)
    except WorkflowFailed as exc:
        say(f"workflow {spec_workflow.name}: failed: {exc}")
        say(f"run folder: {exc.run}")
        raise click.exceptions.Exit(EXIT_WORKFLOW_FAILED) from None
    say(f"workflow {spec_workflow.name}: succeeded; run folder: {result.run}")


@workflow.command()
@click.argument("spec")
@click.option("--to", "target", required=True, help="stepfunctions (an ASL state machine) or sagemaker-pipelines.")
@click.option("--output", default=None, help="Write the JSON to this file (atomically). Default: stdout.")
@click.option("--role-arn", default=None, help="The jobs' IAM role. Default: a placeholder ARN.")
@click.option("--image-uri", default=None, help="The openclarify image the jobs run. Default: a placeholder.")
@click.option("--s3-prefix", default=None, help="Where code/ and the steps' outputs are. Default: a placeholder.")
@click.option("--gate-lambda-arn", default=None, help="The Lambda that reads a gate's values. Default: a placeholder.")
def export(spec: str, target: str, output: str | None, role_arn: str | None, image_uri: str | None,
           s3_prefix: str | None, gate_lambda_arn: str | None) -> None:  # fmt: skip
    """Write the workflow SPEC as an AWS Step Functions state machine or a SageMaker Pipelines definition
    (JSON, generated offline). Accounts, images and buckets are placeholders unless given."""
    from dataclasses import replace

    from ..workflow import ExportOptions, export_workflow, load_workflow

    spec_workflow = load_workflow(spec)
    given = {"role_arn": role_arn, "image_uri": image_uri, "s3_prefix": s3_prefix, "gate_lambda_arn": gate_lambda_arn}
    options = replace(ExportOptions(), **{k: v for k, v in given.items() if v is not None})
    text = export_workflow(spec_workflow, target, options, output=output)
    if output is None:
        click.echo(text, nl=False)
    else:
        echo(f"openclarify: workflow {safe(spec_workflow.name)}: {target} definition written to {safe(output)}")
