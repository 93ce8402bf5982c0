"""The output folder end to end: names inside it, whole replacement, locking, signals, what reaches the terminal."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openclarify.cli import EXIT_CONFIG, EXIT_DATA, EXIT_OUTPUT, main
from openclarify.outputs import read_output_folder

ROOT = Path(__file__).resolve().parents[2]
ABALONE = ROOT / "data" / "abalone" / "abalone.csv"

MODEL = """\
import os
import time


def score(df):
    wait = os.environ.get("MODEL_SLEEP")
    if wait:
        time.sleep(float(wait))
    return df["Length"].to_numpy() * 2 + df["Diameter"].to_numpy() - df["Height"].to_numpy()
"""


def _config(**shap):
    return {
        "dataset_type": "text/csv",
        "label": "Rings",
        "predictor": {"model_name": "m", "content_type": "text/csv", "accept_type": "text/csv"},
        "methods": {
            "report": {"name": "report"},
            "shap": {
                "baseline": [["M", 0.5, 0.4, 0.1, 0.8, 0.3, 0.2, 0.2]],
                "num_samples": 40,
                "save_local_shap_values": True,
                "seed": 3,
                **shap,
            },
        },
    }


@pytest.fixture()
def job(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    lines = ABALONE.read_text().splitlines()[:21]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "config.json").write_text(json.dumps(_config()))
    return tmp_path


def _args(d: Path, out: Path, config: str = "config.json", *extra: object) -> list[str]:
    return [
        "analyze",
        "--config",
        str(d / config),
        "--data",
        str(d / "data.csv"),
        "--model",
        f"{d / 'model.py'}:score",
        "--output",
        str(out),
        "--quiet",
        *map(str, extra),
    ]


def _run(args, capsys):
    code = main(args)
    return code, capsys.readouterr().err


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.mark.parametrize(
    "name", ["../../escaped", "/tmp/openclarify-escaped", "sub/report", ".hidden", "a\\b"], ids=repr
)
def test_a_report_name_that_leaves_the_output_folder_is_a_config_error(job, capsys, name):
    config = _config()
    config["methods"]["report"]["name"] = name
    (job / "bad.json").write_text(json.dumps(config))
    code, err = _run(_args(job, job / "out", "bad.json"), capsys)
    assert code == EXIT_CONFIG, err
    assert "methods.report.name: must be a plain file name inside the output folder" in err
    assert not (job / "out").exists()
    assert not list(job.parent.glob("escaped*")) and not Path("/tmp/openclarify-escaped.html").exists()


def test_a_second_run_leaves_exactly_its_own_files_and_the_report_reads_them(job, capsys):
    out = job / "out"
    assert _run(_args(job, out), capsys)[0] == 0
    assert "explanations_shap/out.csv" in _files(out) and "report.html" in _files(out)
    config = _config(save_local_shap_values=False)
    config["methods"]["report"]["name"] = "second"
    (job / "second.json").write_text(json.dumps(config))
    code, err = _run(_args(job, out, "second.json"), capsys)
    assert code == 0, err
    assert _files(out) == [
        "analysis.json",
        "analysis_config.json",
        "explanations_shap/baseline.csv",
        "run_summary.json",
        "second.html",
        "second.ipynb",
        "second.pdf",
    ]
    # the first run's out.csv and predictions.jsonl are gone, so a report shows no local explanations
    folder = read_output_folder(out)
    assert folder.local_file is None and folder.n_records == 0 and folder.records == ()
    assert folder.config is not None and folder.config["methods"]["report"]["name"] == "second"


def test_a_folder_with_other_files_needs_overwrite(job, capsys):
    out = job / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = _run(_args(job, out), capsys)
    assert code == EXIT_OUTPUT
    assert "holds 1 file no openclarify job wrote ('keep.txt')" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == [".openclarify.lock", "keep.txt"]
    code, err = _run([*_args(job, out), "--overwrite"], capsys)
    assert code == 0, err
    assert "keep.txt" not in _files(out)
    # --overwrite never deletes what the job reads
    code, err = _run([*_args(job, job), "--overwrite"], capsys)
    assert code == EXIT_OUTPUT
    assert "an input of this job, which --overwrite would delete" in err
    assert (job / "data.csv").is_file() and (job / "model.py").is_file()


def _start(job: Path, out: Path, sleep: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MODEL_SLEEP": sleep}
    # a test run started in the background (`cmd &`) inherits SIGINT ignored, and Python then leaves it so
    return subprocess.Popen(
        [sys.executable, "-m", "openclarify", *_args(job, out)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads in the child yet
    )


def _wait_for_staging(out: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.is_dir() and any(p.name.startswith(".openclarify-staging-") for p in out.iterdir()):
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    raise AssertionError("the job did not start")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_stops_the_job_as_ctrl_c_does(job, signum):
    out = job / "out"
    proc = _start(job, out, "0.3")
    _wait_for_staging(out, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (143 if signum == signal.SIGTERM else 130), err
    assert ("stopped by SIGTERM" if signum == signal.SIGTERM else "interrupted") in err
    assert "no output was written" in err
    assert not out.exists()  # the job created the folder and leaves nothing


def test_a_second_job_into_the_same_folder_fails_and_a_killed_jobs_staging_is_cleared(job, capsys):
    out = job / "out"
    proc = _start(job, out, "0.3")
    _wait_for_staging(out, proc)
    code, err = _run(_args(job, out), capsys)
    assert code == EXIT_OUTPUT
    assert "another openclarify job is writing it (pid" in err
    proc.kill()
    proc.communicate(timeout=60)
    assert [p for p in out.iterdir() if p.name.startswith(".openclarify-staging-")]  # SIGKILL leaves it
    code, err = _run(_args(job, out), capsys)
    assert code == 0, err
    assert not [p for p in out.iterdir() if p.name.startswith(".openclarify-staging-")]
    assert "analysis.json" in _files(out)


def test_a_report_on_a_folder_whose_publish_was_stopped_is_refused(job, capsys):
    out = job / "out"
    assert _run(_args(job, out), capsys)[0] == 0
    # as a job killed half-way through publishing leaves it: a journal naming the files, no manifest
    manifest = out / ".openclarify-manifest.json"
    old = [f["path"] for f in json.loads(manifest.read_text())["files"]]
    manifest.unlink()
    (out / ".openclarify-publishing.json").write_text(json.dumps({"job": "x", "old": old, "new": []}))
    code, err = _run(["report", str(out), "--format", "html"], capsys)
    assert code == EXIT_DATA
    assert "a job was stopped while publishing its files here" in err
    assert _run(_args(job, out), capsys)[0] == 0  # the next job clears it
    assert not (out / ".openclarify-publishing.json").exists()


def test_control_characters_from_the_data_reach_the_terminal_escaped(job, capsys):
    lines = (job / "data.csv").read_text().splitlines()
    header = lines[0].split(",")
    header[6] = "Viscera\x1b[2J\x1b]0;pwned\x07_weight"
    (job / "data.csv").write_text("\n".join([",".join(header), *lines[1:]]) + "\n")
    (job / "by_position.py").write_text("def score(df):\n    return df.iloc[:, 6].to_numpy()\n")
    args = [a for a in _args(job, job / "out") if a != "--quiet"]
    args[args.index("--model") + 1] = f"{job / 'by_position.py'}:score"
    code, err = _run(args, capsys)
    assert code == 0, err
    assert "\x1b" not in err and "\x07" not in err
    # the only feature the model reads is the top feature, shown escaped
    assert "top features (label0): Viscera\\x1b[2J\\x1b]0;pwned\\x07_weight=" in err


def test_join_values_that_spreadsheets_run_as_formulas_are_written_as_they_are(job, capsys):
    """out.csv is data: a join value like '=1+2' or '-5' is kept byte for byte (not prefixed with a quote),
    as Clarify writes it; the README says to import it as text in a spreadsheet."""
    lines = (job / "data.csv").read_text().splitlines()
    values = ["=1+2", "+A1", "-5", "@SUM(A1)", '=HYPERLINK("http://x")']
    rows = [lines[0] + ",id"] + [f"{line},{values[i % len(values)]}" for i, line in enumerate(lines[1:])]
    (job / "data.csv").write_text("\n".join(rows) + "\n")
    config = _config()
    config["joinsource_name_or_index"] = "id"
    (job / "join.json").write_text(json.dumps(config))
    code, err = _run(_args(job, job / "out", "join.json"), capsys)
    assert code == 0, err
    with (job / "out" / "explanations_shap" / "out.csv").open(newline="") as handle:
        written = [row[0] for row in list(csv.reader(handle))[1:]]
    assert written == [values[i % len(values)] for i in range(20)]


def test_the_summary_times_the_report_apart_from_explaining(job, capsys):
    code = main([a for a in _args(job, job / "out") if a != "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    summary = json.loads((job / "out" / "run_summary.json").read_text())
    assert summary["report_seconds"] > 0
    assert summary["seconds"] < summary["report_seconds"]  # 20 records: the report is the larger part
    # the terminal shows the unrounded time to 2 decimals, the summary rounds it to 3: equal within 0.01
    drawn = re.search(r"report drawn in (\d+\.\d\d)s", err)
    assert drawn is not None, err
    assert abs(float(drawn.group(1)) - summary["report_seconds"]) <= 0.0051 + 1e-9


@pytest.mark.filterwarnings("always::FutureWarning")
def test_threads_is_the_flag_and_workers_its_deprecated_name(job, capsys):
    """--threads counts threads in analyze (as in serve); --workers, which counts processes in serve,
    still works here until 1.0, with a warning, and gives the same files."""
    assert _run([*_args(job, job / "a"), "--threads", "2"], capsys)[0] == 0
    code, err = _run([*_args(job, job / "b"), "--workers", "2"], capsys)
    assert code == 0, err
    assert "openclarify: warning: --workers: deprecated in 'analyze', where it counts threads; use --threads" in err
    assert (job / "a" / "explanations_shap" / "out.csv").read_bytes() == (
        job / "b" / "explanations_shap" / "out.csv"
    ).read_bytes()
    code, err = _run([*_args(job, job / "c"), "--threads", "2", "--workers", "2"], capsys)
    assert code == 2 and "give --threads only; --workers is its old name." in err
