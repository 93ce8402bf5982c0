"""The workflow file: what runs after what, and the problems found before anything runs."""

from __future__ import annotations

import json

import pytest

from openclarify.errors import ConfigError
from openclarify.workflow import load_workflow, parse_workflow

STEPS = [
    {"name": "train", "type": "train", "script": "t.py", "outputs": {"model": "m.joblib"}},
    {"name": "gate", "type": "gate", "checks": [{"value": "{steps.train}/x.json#a", ">=": 1}], "on_fail": "no"},
    {"name": "deploy", "type": "deploy", "model": "{steps.train.model}"},
    {"name": "no", "type": "fail", "error": "Rejected"},
    {"name": "done", "type": "succeed"},
]


def test_steps_run_in_order_and_fail_steps_only_by_name(tmp_path):
    workflow = parse_workflow({"name": "w", "steps": STEPS}, tmp_path)
    after = {s.name: workflow.after(s) for s in workflow.steps}
    assert after == {"train": "gate", "gate": "deploy", "deploy": "done", "no": None, "done": None}
    assert workflow.step("gate").checks[0].comparison == ">=" and workflow.step("gate").on_fail == "no"
    (tmp_path / "w.json").write_text(json.dumps({"name": "w", "steps": STEPS}))
    assert load_workflow(tmp_path / "w.json").steps == workflow.steps


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        pytest.param({2: {"model": "{steps.train.weights}"}}, "steps[2]", "no output 'weights' (its outputs: model)",
                     id="unknown-output"),
        pytest.param({0: {"name": "gate"}}, "steps[1].name", "names must be unique", id="duplicate"),
        pytest.param({0: {"trainer": "xgboost"}}, "steps[0].trainer", "blazingtext or huggingface", id="trainer"),
        pytest.param({2: {"port": 70000}}, "steps[2].port", "an integer", id="port"),
        pytest.param({2: {"replicas": 2}}, "steps[2].replicas", "unknown key for a deploy step", id="unknown-key"),
        pytest.param({1: {"checks": [{"bias": "x", "metric": "DPL"}]}}, "steps[1].checks[0]", "abs_at_most",
                     id="bias-check"),
    ],
)  # fmt: skip
def test_problems_are_named_by_their_path(tmp_path, change, path, message):
    steps = [dict(s) for s in STEPS]
    for i, update in change.items():
        steps[i].update(update)
    with pytest.raises(ConfigError) as info:
        parse_workflow({"name": "w", "steps": steps}, tmp_path)
    assert any(p == path and message in m for p, m in info.value.errors), info.value.errors


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_workflow(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_workflow(tmp_path / "bad.yaml")


CHOICE = [
    {"name": "train", "type": "train", "script": "t.py", "outputs": {"metrics": "m.json"}},
    {"name": "route", "type": "choice", "choices": [
        {"all": [{"value": "{steps.train.metrics}#r2", ">=": 0.8}], "next": "big"},
        {"any": [{"value": "{steps.train.metrics}#r2", ">=": 0.5},
                 {"top_feature": "{steps.train}", "not_in": ["id", "row"]}], "next": "small"},
    ], "default": "no"},
    {"name": "big", "type": "succeed"},
    {"name": "small", "type": "succeed"},
    {"name": "no", "type": "fail"},
]  # fmt: skip


def test_a_choice_has_branches_tried_in_order_and_a_default(tmp_path):
    workflow = parse_workflow({"name": "w", "steps": CHOICE}, tmp_path)
    route = workflow.step("route")
    assert [(b.next, b.any, b.first, len(b.checks)) for b in route.branches] == [("big", False, 0, 1),
                                                                                 ("small", True, 1, 2)]  # fmt: skip
    assert [c.kind for c in route.checks] == ["value", "value", "top_feature"]
    assert route.on_fail == "no" and workflow.after(route) is None


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        pytest.param({"next": "big"}, "steps[1].next", "unknown key for a choice step", id="next-on-a-choice"),
        pytest.param({"default": "nowhere"}, "steps[1].default", "names no step; got 'nowhere'", id="default"),
        pytest.param({"choices": []}, "steps[1].choices", "non-empty list of choices", id="no-choices"),
        pytest.param({"choices": [{"all": [{"value": "m.json#a", ">": 1}], "any": [], "next": "big"}]},
                     "steps[1].choices[0]", "either 'all'", id="all-and-any"),
        pytest.param({"choices": [{"all": [{"value": "m.json#a", ">": 1}]}]}, "steps[1].choices[0].next",
                     "must name the step", id="no-next"),
        pytest.param({"choices": [{"all": [{"value": "m.json#a", ">": 1}], "next": "elsewhere"}]},
                     "steps[1].choices[0].next", "names no step; got 'elsewhere'", id="unknown-next"),
        pytest.param({"choices": [{"all": [{"value": "m.json", ">": 1}], "next": "big"}]},
                     "steps[1].choices[0].all[0].value", "FILE#jmespath", id="bad-check"),
        pytest.param({"choices": [{"all": [{"value": "{steps.big}/m.json#a", ">": 1}], "next": "big"}]},
                     "steps[1]", "not a step before it", id="later-step"),
        pytest.param({"choices": [{"when": [], "all": [{"value": "m.json#a", ">": 1}], "next": "big"}]},
                     "steps[1].choices[0].when", "unknown key for a choice", id="unknown-key"),
    ],
)  # fmt: skip
def test_problems_in_a_choice_are_named_by_their_path(tmp_path, change, path, message):
    steps = [dict(s) for s in CHOICE]
    steps[1].update(change)
    with pytest.raises(ConfigError) as info:
        parse_workflow({"name": "w", "steps": steps}, tmp_path)
    assert any(p == path and message in m for p, m in info.value.errors), info.value.errors
