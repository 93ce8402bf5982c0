"""A ``choice`` step when run: the first branch that holds, else the default, else States.NoChoiceMatched;
and the same step exported to Step Functions and SageMaker Pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openclarify.cli import main
from openclarify.workflow import WorkflowFailed, export_workflow, parse_workflow, run_workflow
from support.asl import asl_problems


def _workflow(folder: Path, r2: float, rows: int, *, default: bool = True):
    (folder / "metrics.json").write_text(json.dumps({"r2": r2, "rows": rows}))
    route = {"name": "route", "type": "choice", "choices": [
        {"all": [{"value": "metrics.json#r2", ">=": 0.8}, {"value": "metrics.json#rows", ">=": 1000}],
         "next": "ship"},
        {"any": [{"value": "metrics.json#r2", ">=": 0.5}, {"value": "metrics.json#rows", "<": 100}],
         "next": "more-data"},
    ]}  # fmt: skip
    steps = [route, {"name": "ship", "type": "succeed"}, {"name": "more-data", "type": "succeed"}]
    if default:
        route["default"] = "rejected"
        steps.append({"name": "rejected", "type": "fail", "error": "ModelBelowThreshold"})
    return parse_workflow({"name": "w", "steps": steps}, folder)


@pytest.mark.parametrize(
    ("r2", "rows", "reached", "outcome"),
    [
        (0.9, 5000, "ship", "choices[0]"),
        (0.9, 500, "more-data", "choices[1]"),  # the first needs both; the second one of its two
        (0.3, 50, "more-data", "choices[1]"),
        (0.3, 500, "rejected", "default"),
    ],
)
def test_the_first_choice_that_holds_is_taken(tmp_path, r2, rows, reached, outcome):
    workflow = _workflow(tmp_path, r2, rows)
    if reached == "rejected":
        with pytest.raises(WorkflowFailed, match="step rejected: ModelBelowThreshold"):
            run_workflow(workflow, runs=tmp_path / "runs")
        (run,) = (tmp_path / "runs").iterdir()
    else:
        run = run_workflow(workflow, runs=tmp_path / "runs").run
    state = json.loads((run / "state.json").read_text())
    route = state["steps"]["route"]
    assert route["outcome"] == outcome and route["next_step" if reached != "rejected" else "outcome"]
    assert set(state["steps"]) == {"route", reached}
    held = [c["held"] for c in route["choices"]]
    assert held == [r2 >= 0.8 and rows >= 1000, r2 >= 0.5 or rows < 100]
    assert [c["passed"] for c in route["choices"][1]["checks"]] == [r2 >= 0.5, rows < 100]
    assert json.loads((run / "route" / "checks.json").read_text()) == route["choices"]


def test_no_choice_and_no_default_fails_as_step_functions_does(tmp_path, capsys):
    workflow = _workflow(tmp_path, 0.3, 500, default=False)
    with pytest.raises(WorkflowFailed, match=r"States\.NoChoiceMatched: .*r2 = 0\.3 not >= 0\.8"):
        run_workflow(workflow, runs=tmp_path / "runs")
    (tmp_path / "w.json").write_text(json.dumps(dict(workflow.source)))
    assert main(["workflow", "run", str(tmp_path / "w.json"), "--runs", str(tmp_path / "cli")]) == 7
    assert "States.NoChoiceMatched" in capsys.readouterr().err


def test_a_choice_exports_to_one_asl_choice_state(tmp_path):
    machine = json.loads(export_workflow(_workflow(tmp_path, 0.9, 5000), "stepfunctions"))
    states = machine["States"]
    assert states["route"]["Resource"] == "arn:aws:states:::lambda:invoke" and states["route"]["Next"] == "route-choice"
    assert [c["name"] for c in states["route"]["Parameters"]["Payload"]["checks"]] == [f"check{i}" for i in range(4)]
    assert states["route-choice"] == {"Type": "Choice", "Default": "rejected", "Choices": [
        {"And": [{"Variable": "$.steps.route.check0", "NumericGreaterThanEquals": 0.8},
                 {"Variable": "$.steps.route.check1", "NumericGreaterThanEquals": 1000.0}], "Next": "ship"},
        {"Or": [{"Variable": "$.steps.route.check2", "NumericGreaterThanEquals": 0.5},
                {"Variable": "$.steps.route.check3", "NumericLessThan": 100.0}], "Next": "more-data"},
    ]}  # fmt: skip
    no_default = json.loads(export_workflow(_workflow(tmp_path, 0.9, 5000, default=False), "stepfunctions"))
    assert "Default" not in no_default["States"]["route-choice"]


def test_a_choice_exports_to_nested_condition_steps(tmp_path):
    pytest.importorskip("sagemaker")
    definition = json.loads(export_workflow(_workflow(tmp_path, 0.9, 5000), "sagemaker-pipelines"))
    steps = [(s["Name"], s["Type"]) for s in definition["Steps"]]
    assert steps == [("route", "Lambda"), ("route-choice0", "Condition")]
    first = definition["Steps"][1]["Arguments"]
    assert [c["Type"] for c in first["Conditions"]] == ["GreaterThanOrEqualTo", "GreaterThanOrEqualTo"]
    assert first["IfSteps"] == []  # a succeed step is the pipeline's end
    (second,) = first["ElseSteps"]
    assert second["Name"] == "route-choice1"
    (either,) = second["Arguments"]["Conditions"]
    assert either["Type"] == "Or" and [c["Type"] for c in either["Conditions"]] == [
        "GreaterThanOrEqualTo", "LessThan"]  # fmt: skip
    (rejected,) = second["Arguments"]["ElseSteps"]
    assert rejected["Type"] == "Fail" and rejected["Name"] == "rejected"


def test_the_exported_choice_follows_the_asl_rules(tmp_path):
    for default in (True, False):
        assert asl_problems(json.loads(export_workflow(_workflow(tmp_path, 0.9, 5000, default=default),
                                                        "stepfunctions"))) == []  # fmt: skip
