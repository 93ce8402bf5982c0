"""``openclarify workflow export`` on the command line: stdout, --output, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from openclarify.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "abalone" / "workflow.yaml"


def test_stepfunctions_to_stdout_and_sagemaker_pipelines_to_a_file(tmp_path, capsys):
    assert (
        main(["workflow", "export", str(EXAMPLE), "--to", "stepfunctions", "--role-arn", "arn:aws:iam::1:role/r"]) == 0
    )
    machine = json.loads(capsys.readouterr().out)
    assert (
        machine["StartAt"] == "train" and machine["States"]["train"]["Parameters"]["RoleArn"] == "arn:aws:iam::1:role/r"
    )
    out = tmp_path / "abalone.pipeline.json"
    assert main(["workflow", "export", str(EXAMPLE), "--to", "sagemaker-pipelines", "--output", str(out)]) == 0
    assert "definition written to" in capsys.readouterr().err
    assert [s["Name"] for s in json.loads(out.read_text())["Steps"]][:2] == ["train", "explain"]


def test_an_unknown_target_exits_2_with_one_line(capsys):
    assert main(["workflow", "export", str(EXAMPLE), "--to", "airflow"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "must be one of stepfunctions, sagemaker-pipelines" in line
