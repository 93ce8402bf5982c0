"""`openclarify workflow run` end to end: the real train script, analyze, a gate, a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from openclarify.cli import main
from support.workflows import quick_abalone_workflow as _workflow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "abalone"


def _state(run: Path) -> dict:
    return json.loads((run / "state.json").read_text())


def _runs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "workflow_runs" / "abalone").iterdir() if (p / "state.json").is_file())


def test_a_run_trains_explains_gates_and_deploys_then_a_rerun_reuses_what_did_not_change(tmp_path, capsys):
    spec = _workflow(tmp_path)
    assert main(["workflow", "run", str(spec)]) == 0
    (run,) = _runs(tmp_path)
    state = _state(run)
    assert state["status"] == "succeeded"
    assert [state["steps"][s]["status"] for s in ("train", "explain", "gate", "deploy")] == ["succeeded"] * 4
    assert "rejected" not in state["steps"]
    assert (run / "train" / "model.joblib").is_file() and (run / "explain" / "analysis.json").is_file()
    assert [c["passed"] for c in state["steps"]["gate"]["checks"]] == [True, True]
    deploy = state["steps"]["deploy"]
    assert deploy["url"].startswith("http://127.0.0.1:") and deploy["stopped"] is True
    assert "(/ping 200)" in capsys.readouterr().err
    assert (run / "logs" / "train.log").read_text().startswith("$ ")
    # the same inputs: train and explain come from the first run; a changed setting runs them again
    assert main(["workflow", "run", str(spec)]) == 0
    second = _state(_runs(tmp_path)[-1])
    assert second["steps"]["train"]["reused_from"] == run.name and second["steps"]["explain"]["reused_from"] == run.name
    assert "reused_from" not in second["steps"]["gate"]
    _workflow(tmp_path, trees=12)
    assert main(["workflow", "run", str(spec)]) == 0
    third = _state(_runs(tmp_path)[-1])
    assert "reused_from" not in third["steps"]["train"] and "reused_from" not in third["steps"]["explain"]


def test_runs_given_relative_to_the_current_folder_land_there(tmp_path, monkeypatch):
    """--runs is read from where the command runs, while the steps run in the workflow file's folder."""
    (tmp_path / "spec").mkdir()
    spec = _workflow(tmp_path / "spec")
    monkeypatch.chdir(tmp_path)
    assert main(["workflow", "run", str(spec), "--runs", "runs"]) == 0
    (run,) = [p for p in (tmp_path / "runs").iterdir() if (p / "state.json").is_file()]
    assert (run / "train" / "model.joblib").is_file()
    assert not (tmp_path / "spec" / "runs").exists()


def test_a_gate_that_fails_stops_the_run_before_deploy(tmp_path, capsys):
    spec = _workflow(tmp_path, r2=0.99)
    assert main(["workflow", "run", str(spec)]) == 7
    (run,) = _runs(tmp_path)
    state = _state(run)
    assert state["status"] == "failed"
    assert state["steps"]["gate"]["checks"][0]["passed"] is False
    assert "deploy" not in state["steps"]
    assert state["steps"]["rejected"]["error"].startswith("ModelBelowThreshold")
    err = capsys.readouterr().err
    assert "r2 = " in err and "not >= 0.99" in err and "ModelBelowThreshold" in err


def test_a_killed_run_resumes_at_the_step_it_was_in(tmp_path):
    spec = _workflow(tmp_path, samples=254)  # every coalition: explain takes a while
    command = [sys.executable, "-m", "openclarify", "workflow", "run", str(spec)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while True:  # until the explain step has started
            runs = _runs(tmp_path) if (tmp_path / "workflow_runs").exists() else []
            if runs and _state(runs[0])["steps"].get("explain", {}).get("status") == "running":
                break
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before explain started"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    (run,) = _runs(tmp_path)
    assert _state(run)["steps"]["explain"]["status"] == "running"  # as the kill left it
    train_model = (run / "train" / "model.joblib").stat().st_mtime_ns
    assert main(["workflow", "run", str(spec), "--resume", "last"]) == 0
    assert _runs(tmp_path) == [run]  # the same folder
    state = _state(run)
    assert state["status"] == "succeeded" and state["steps"]["deploy"]["status"] == "succeeded"
    assert (run / "train" / "model.joblib").stat().st_mtime_ns == train_model  # train was not run again
    assert (run / "explain" / "analysis.json").is_file()


def test_an_invalid_workflow_is_refused_with_every_problem(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "steps": [
                    {"name": "explain", "type": "analyze", "config": "c.json", "data": "{steps.train.test}"},
                    {"name": "gate", "type": "gate", "checks": [{"value": "m.json#r2", "~": 1}], "on_fail": "nowhere"},
                    {"name": "x", "type": "launch"},
                ],
            }
        )
    )
    assert main(["workflow", "run", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    for expected in (
        "steps[0]: an analyze step has either 'model' or 'endpoint_url'",
        "steps[0]: refers to {steps.train.test}, which is not a step before it",
        "steps[1].checks[0]: a value check has 'value' and one of",
        "steps[1].on_fail: names no step; got 'nowhere'",
        "steps[2].type: must be one of train, analyze, gate, choice, deploy, command, succeed, fail",
    ):
        assert expected in err
    assert not (tmp_path / "workflow_runs").exists()
