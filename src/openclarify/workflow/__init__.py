"""Train -> explain -> gate -> deploy: a declarative workflow run on one machine (``openclarify workflow``)."""

from __future__ import annotations

from ._dagster import dagster_job
from ._export import TARGETS, ExportOptions, ExportTarget, export_workflow
from ._run import RunResult, WorkflowFailed, run_workflow
from ._spec import COMPARISONS, STEP_TYPES, Branch, Check, Step, StepType, Workflow, load_workflow, parse_workflow

__all__ = [
    "COMPARISONS",
    "STEP_TYPES",
    "TARGETS",
    "Branch",
    "Check",
    "ExportOptions",
    "ExportTarget",
    "RunResult",
    "Step",
    "StepType",
    "Workflow",
    "WorkflowFailed",
    "dagster_job",
    "export_workflow",
    "load_workflow",
    "parse_workflow",
    "run_workflow",
]
