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
