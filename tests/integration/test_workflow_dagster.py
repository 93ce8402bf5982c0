"""The workflow's steps as a Dagster job (the documented recipe): the real train script, analyze, gate and a
server on 127.0.0.1, in the same run folders as `workflow run`; a failing gate fails the Dagster run."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from openclarify.errors import ConfigError
from openclarify.workflow import load_workflow, parse_workflow, run_workflow
from support.workflows import EXAMPLE, quick_abalone_workflow

dagster = pytest.importorskip("dagster")
from openclarify.workflow import dagster_job  # noqa: E402 - after the skip


def _events(result, kind: str) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type_value == kind]


def _runs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "workflow_runs" / "abalone").iterdir() if (p / "state.json").is_file())


def test_the_abalone_workflow_runs_as_a_dagster_job_and_reuses_a_workflow_run(tmp_path):
    workflow = load_workflow(quick_abalone_workflow(tmp_path))
    result = dagster_job(workflow).execute_in_process()
    assert result.success
    assert _events(result, "STEP_SUCCESS") == ["train", "explain", "gate", "deploy"]
    assert _events(result, "STEP_SKIPPED") == ["rejected"]
    (run,) = _runs(tmp_path)
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "succeeded" and state["dagster_run_id"] == result.run_id
    assert [state["steps"][s]["status"] for s in ("train", "explain", "gate", "deploy")] == ["succeeded"] * 4
    assert state["steps"]["deploy"]["url"].startswith("http://127.0.0.1:") and state["steps"]["deploy"]["stopped"]
    assert (run / "explain" / "analysis.json").is_file()
    # `workflow run` after the Dagster run: train and explain are reused from the Dagster run's folder
    second = run_workflow(workflow)
    assert second.steps["train"]["reused_from"] == run.name and second.steps["explain"]["reused_from"] == run.name


def test_a_failing_gate_fails_the_dagster_run_with_the_reason(tmp_path):
    workflow = load_workflow(quick_abalone_workflow(tmp_path, r2=0.99))
    result = dagster_job(workflow).execute_in_process(raise_on_error=False)
    assert not result.success
    assert _events(result, "STEP_SUCCESS") == ["train", "explain", "gate"]
    assert _events(result, "STEP_FAILURE") == ["rejected"] and _events(result, "STEP_SKIPPED") == ["deploy"]
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "ModelBelowThreshold" in failure.event_specific_data.error.message
    state = json.loads((_runs(tmp_path)[0] / "state.json").read_text())
    assert state["status"] == "failed" and "not >= 0.99" in json.dumps(state["steps"]["gate"]["checks"])


def test_the_example_recipe_builds_the_job_and_a_loop_is_refused(tmp_path):
    job = runpy.run_path(str(EXAMPLE / "dagster_job.py"))["abalone"]
    assert isinstance(job, dagster.JobDefinition) and job.name == "abalone"
    assert sorted(n.name for n in job.graph.nodes) == ["deploy", "explain", "gate", "rejected", "train"]
    looping = parse_workflow({"name": "w", "steps": [
        {"name": "a", "type": "command", "args": ["version"]},
        {"name": "b", "type": "command", "args": ["version"], "next": "a"},
    ]})  # fmt: skip
    with pytest.raises(ConfigError, match=r"loops \(a -> b -> a\)"):
        dagster_job(looping)
